package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/route"
)

// Write path (DESIGN §3): documents are validated, given their shard, and
// batched per node in-process; each node gets one request per batch, all
// in parallel; the per-group quorum decides the outcome; the caller gets a
// cluster task.

// docParams are the per-call options of a document write.
type docParams struct {
	primaryKey   string
	skipCreation bool
	csvDelimiter string
	hasDelimiter bool
	metadata     string
}

func fromDocOptions(o *meilisearch.DocumentOptions) docParams {
	var p docParams
	if o != nil {
		if o.PrimaryKey != nil {
			p.primaryKey = *o.PrimaryKey
		}
		p.skipCreation = o.SkipCreation
		p.metadata = o.TaskCustomMetadata
	}
	return p
}

func fromCsvOptions(o *meilisearch.CsvDocumentsQuery) docParams {
	var p docParams
	if o != nil {
		p.primaryKey = o.PrimaryKey
		p.skipCreation = o.SkipCreation
		p.metadata = o.TaskCustomMetadata
		p.csvDelimiter = o.CsvDelimiter
		p.hasDelimiter = o.CsvDelimiter != ""
	}
	return p
}

// query builds the node query string for a write with primary key pk.
func (p docParams) query(pk string) url.Values {
	q := url.Values{}
	if pk != "" {
		q.Set("primaryKey", pk)
	}
	if p.skipCreation {
		q.Set("skipCreation", "true")
	}
	if p.hasDelimiter {
		q.Set("csvDelimiter", p.csvDelimiter)
	}
	if p.metadata != "" {
		q.Set("customMetadata", p.metadata)
	}
	return q
}

// docError turns a routing error into a Meilisearch-shaped *Error (the
// message names the document's position).
func docError(err error) error {
	var de *route.DocError
	if errors.As(err, &de) {
		status := http.StatusBadRequest
		if de.Code == route.CodePayloadTooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		e := newError(status, de.Code, "%s", de.Message)
		e.Err = err
		return e
	}
	return err
}

// writeOp is one document write through the cluster.
type writeOp struct {
	ix     *Index
	st     *indexState
	method string // POST (add or replace) or PUT (partial update)
	format route.Format
	params docParams
	pk     string
	// batchDocs > 0 makes one cluster task per batchDocs documents
	// (the InBatches variants).
	batchDocs int
	// stream sends a batch whenever a node's body reaches WithBatchBytes,
	// so a reader is never held whole in memory (documents are copied out
	// of the reader's buffer; otherwise the bodies refer to the input).
	stream   bool
	version  int64      // injected as _miroir_v when non-zero
	preTasks []NodeTask // index creation tasks to fold into the first cluster task
	fields   map[string]struct{}
	setPK    bool // the index had no known primary key before this write

	csvHeader []byte
	csvDelim  byte
}

// taskAcc accumulates one cluster task across flushed batches.
type taskAcc struct {
	docs     int64
	nodes    []NodeTask
	degraded []GroupShard
	sentTo   []bool
}

// flushResult is what one fan-out of node requests achieved.
type flushResult struct {
	nodes    []NodeTask
	degraded []GroupShard
}

// sendBatch sends bodies[ni] (nil: nothing; else a body as node.doBody
// takes it) to every node ni in parallel, then applies the quorum over
// shards. It returns the node tasks, or an error when some shard met
// quorum in no group.
func (c *Cluster) sendBatch(ctx context.Context, st *indexState, op, method, path string, q url.Values, ct string, bodies []any, docs []int, shards []int) (flushResult, error) {
	var targets []*node
	for ni, b := range bodies {
		if b != nil {
			targets = append(targets, c.nodes[ni])
		}
	}
	acks := make([]int64, len(c.nodes))
	for i := range acks {
		acks[i] = -1
	}
	errs := c.fanout(ctx, targets, func(ctx context.Context, n *node) error {
		resp, err := n.doBody(ctx, op, method, path, q, ct, bodies[n.idx])
		if err != nil {
			if isTransportError(err) {
				st.setVerified(n.idx, false) // it may come back empty: check again
			}
			return err
		}
		var info meilisearch.TaskInfo
		if err := json.Unmarshal(resp.Body, &info); err != nil {
			return fmt.Errorf("miroir: node %s: decoding task: %w", n.ID, err)
		}
		acks[n.idx] = info.TaskUID
		return nil
	})
	res := evalQuorum(c.topo.rg, c.topo.rf, shards, c.topo.replicas, func(ni int) bool { return acks[ni] >= 0 })
	var out flushResult
	for _, n := range targets {
		if acks[n.idx] >= 0 {
			out.nodes = append(out.nodes, NodeTask{Node: n.ID, TaskUID: acks[n.idx], Docs: int64(docs[n.idx]), Status: meilisearch.TaskStatusEnqueued})
		}
	}
	out.degraded = res.Degraded
	if !res.OK() {
		// Every node refusing the same way with a 4xx (a request error of
		// the caller's) is that error, not a quorum problem; a 5xx is the
		// node failing, which is a missed acknowledgement (DESIGN §3).
		var nodeErrs []error
		var first error
		same := true
		for i, err := range errs {
			if err == nil {
				same = false
				continue
			}
			nodeErrs = append(nodeErrs, fmt.Errorf("node %s: %w", targets[i].ID, err))
			if first == nil {
				first = err
			}
			if isTransportError(err) || apiCode(err) != apiCode(first) || !isRequestError(err) {
				same = false
			}
		}
		if same && first != nil && apiCode(first) != "" {
			return out, first
		}
		if len(nodeErrs) == 0 {
			nodeErrs = append(nodeErrs, errors.New("no healthy verified replica to send to"))
		}
		e := noQuorumError(res.Failed, errors.Join(nodeErrs...))
		for _, n := range c.nodes {
			if acks[n.idx] < 0 {
				e.Nodes = append(e.Nodes, n.ID)
			}
		}
		return out, e
	}
	return out, nil
}

// run routes every document of src and sends the batches, returning one
// TaskInfo per cluster task.
func (w *writeOp) run(ctx context.Context, src source) ([]meilisearch.TaskInfo, error) {
	c := w.ix.c
	n := len(c.nodes)
	b := route.NewBatcher(n, w.format)
	b.SetVersion(w.version)
	if w.format == route.FormatCSV {
		b.SetCSVHeader(w.csvHeader, w.csvDelim)
	}
	add := b.Add // the bodies refer to the input, alive for the whole call
	if w.stream {
		add = b.AddCopy // the reader's buffer is reused
	}
	// Write targets per shard restricted to verified healthy nodes.
	live := c.verifiedTargets(ctx, w.st, allNodeIdx(n))
	targets := make([][]int, c.topo.shards)
	for s := range targets {
		for _, ni := range c.topo.writeTargets(s) {
			if live[ni] {
				targets[s] = append(targets[s], ni)
			}
		}
	}
	if rs, ok := src.(*replaySource); ok {
		rs.reserve(b, targets, w.batchDocs)
	}
	var infos []meilisearch.TaskInfo
	acc := &taskAcc{}
	inBatch := make([]bool, c.topo.shards)
	var shards []int
	q := w.params.query(w.pk)
	path := "/indexes/" + w.ix.uid + "/documents"
	op := "addDocuments"
	if w.method == http.MethodPut {
		op = "updateDocuments"
	}
	bodies := make([]any, n)
	docs := make([]int, n)

	flush := func() error {
		if len(shards) == 0 {
			return nil
		}
		for ni := range n {
			bodies[ni], docs[ni] = nil, b.Docs(ni)
			if docs[ni] > 0 {
				// A fresh reader per attempt: the body is generated from
				// the documents as the HTTP client sends it.
				bodies[ni] = retryablehttp.ReaderFunc(func() (io.Reader, error) { return b.NewReader(ni), nil })
			}
		}
		res, err := c.sendBatch(ctx, w.st, op, w.method, path, q, w.format.ContentType(), bodies, docs, shards)
		acc.nodes = append(acc.nodes, res.nodes...)
		acc.degraded = append(acc.degraded, res.degraded...)
		b.Reset()
		for _, s := range shards {
			inBatch[s] = false
		}
		shards = shards[:0]
		return err
	}
	finish := func() error {
		info, err := w.register(ctx, acc)
		if err != nil {
			return err
		}
		infos = append(infos, *info)
		acc = &taskAcc{}
		return nil
	}
	fail := func(err error) ([]meilisearch.TaskInfo, error) {
		err = docError(err)
		if len(acc.nodes) > 0 {
			// Part of this call's documents already reached the nodes
			// (streamed input): record them so they can be followed.
			if info, rerr := w.register(ctx, acc); rerr == nil {
				var e *Error
				if errors.As(err, &e) && e.Code != CodeNoQuorum {
					e.Message += fmt.Sprintf(" (the documents before it were already sent as cluster task %d)", info.TaskUID)
				}
			}
		}
		w.ix.c.noteFields(w.st, w.fields)
		return infos, err
	}

	for {
		raw, shard, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		add(raw, shard, targets[shard])
		if !inBatch[shard] {
			inBatch[shard] = true
			shards = append(shards, shard)
		}
		acc.docs++
		if w.batchDocs > 0 && acc.docs == int64(w.batchDocs) {
			if err := flush(); err != nil {
				return fail(err)
			}
			if err := finish(); err != nil {
				return infos, err
			}
			continue
		}
		if w.stream && b.Full(c.opts.batchBytes, 0) {
			if err := flush(); err != nil {
				return fail(err)
			}
		}
	}
	if err := flush(); err != nil {
		return fail(err)
	}
	if acc.docs > 0 || len(infos) == 0 {
		if err := finish(); err != nil {
			return infos, err
		}
	}
	c.noteFields(w.st, w.fields)
	return infos, nil
}

func allNodeIdx(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func (c *Cluster) noteFields(st *indexState, f map[string]struct{}) {
	st.addFields(f)
}

// register records a finished accumulation as one cluster task.
func (w *writeOp) register(ctx context.Context, acc *taskAcc) (*meilisearch.TaskInfo, error) {
	c := w.ix.c
	t := &ClusterTask{
		IndexUID:       w.ix.uid,
		Type:           meilisearch.TaskTypeDocumentAdditionOrUpdate,
		Documents:      acc.docs,
		Nodes:          acc.nodes,
		Degraded:       dedupPairs(acc.degraded),
		CustomMetadata: w.params.metadata,
		Details:        meilisearch.Details{ReceivedDocuments: acc.docs},
	}
	if len(w.preTasks) > 0 {
		t.Nodes = append(append([]NodeTask(nil), w.preTasks...), t.Nodes...)
		w.preTasks = nil
	}
	if w.setPK && w.pk != "" && acc.docs > 0 {
		// Nodes that got no document this time learn the primary key too,
		// so that every node reports the same one.
		t.Nodes = append(t.Nodes, c.spreadPrimaryKey(ctx, w.st, w.pk, acc.nodes)...)
		w.setPK = false
		w.st.setPrimaryKey(w.pk)
	}
	if len(t.Nodes) == 0 {
		t.Status = meilisearch.TaskStatusSucceeded
		t.StartedAt = nowUTC()
		t.FinishedAt = t.StartedAt
	}
	if len(t.Degraded) > 0 {
		reportFrom(ctx).degraded(t.Degraded)
		if c.opts.observer != nil {
			c.opts.observer.DegradedWrite(w.ix.uid, t.Degraded)
		}
	}
	return c.tasks.register(ctx, t)
}

// spreadPrimaryKey sets pk on the verified healthy nodes that received no
// document in nts (their tasks are helpers of the write's cluster task).
func (c *Cluster) spreadPrimaryKey(ctx context.Context, st *indexState, pk string, nts []NodeTask) []NodeTask {
	got := map[string]bool{}
	for _, nt := range nts {
		got[nt.Node] = true
	}
	var targets []*node
	for _, n := range c.nodes {
		if !got[n.ID] && n.isHealthy() && st.isVerified(n.idx) {
			targets = append(targets, n)
		}
	}
	var mu sync.Mutex
	var out []NodeTask
	c.fanout(ctx, targets, func(ctx context.Context, n *node) error {
		var info meilisearch.TaskInfo
		if err := n.doJSON(ctx, "updateIndex", http.MethodPatch, "/indexes/"+st.uid, nil, map[string]string{"primaryKey": pk}, &info); err != nil {
			return err
		}
		mu.Lock()
		out = append(out, NodeTask{Node: n.ID, TaskUID: info.TaskUID, Aux: true, Status: meilisearch.TaskStatusEnqueued})
		mu.Unlock()
		return nil
	})
	return out
}

func dedupPairs(p []GroupShard) []GroupShard {
	if len(p) == 0 {
		return nil
	}
	seen := map[GroupShard]bool{}
	var out []GroupShard
	for _, x := range p {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sortPairs(out)
	return out
}

// writeState returns the index state for a write, creating the index on
// the fleet when it exists nowhere (Meilisearch creates a missing index on
// the first write; miroir does it as a full creation: record, settings,
// every node). The creation's node tasks are returned to be folded into
// the write's cluster task.
func (c *Cluster) writeState(ctx context.Context, uid, pk string) (*indexState, []NodeTask, error) {
	st, err := c.state(ctx, uid)
	if err == nil {
		return st, nil, nil
	}
	if apiCode(err) != "index_not_found" {
		return nil, nil, err
	}
	type created struct {
		st  *indexState
		nts []NodeTask
	}
	v, err, shared := c.loads.Do("create\x00"+uid, func() (any, error) {
		st := newIndexState(uid, c.opts.shards)
		st.primaryKey = pk
		nts, err := c.converge(context.WithoutCancel(ctx), st, c.nodes, false)
		if err != nil {
			return nil, err
		}
		for _, n := range c.nodes {
			st.verified[n.idx] = true
		}
		for i := range nts {
			nts[i].Aux = true
		}
		c.cacheState(st)
		return created{st, nts}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	cr := v.(created)
	if shared {
		return cr.st, nil, nil
	}
	return cr.st, cr.nts, nil
}

// resolvePK picks the primary key (DESIGN §3): the call's option, else the
// index's known key, else inference from the first document's attributes.
func resolvePK(given string, st *indexState, names func() ([]string, error)) (pk string, setPK bool, err error) {
	known := st.PrimaryKey()
	if given != "" {
		return given, known == "", nil
	}
	if known != "" {
		return known, false, nil
	}
	ns, err := names()
	if err != nil {
		return "", false, docError(err)
	}
	if ns == nil {
		return "", false, nil // no document: nothing to route
	}
	pk, err = route.InferPrimaryKey(ns)
	if err != nil {
		return "", false, docError(err)
	}
	return pk, true, nil
}
