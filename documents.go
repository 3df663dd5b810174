package miroir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

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

// source yields routed documents: the raw document (a JSON object or a CSV
// record) and its shard; io.EOF at the end.
type source interface {
	next() (raw []byte, shard int, err error)
}

// jsonSource routes a JSON array or NDJSON stream.
type jsonSource struct {
	rd      *route.Reader
	rt      route.Router
	ndjson  bool
	pending []byte // first document, read ahead for primary key inference
	hasPend bool
}

func (s *jsonSource) next() ([]byte, int, error) {
	var doc []byte
	if s.hasPend {
		doc, s.hasPend = s.pending, false
	} else {
		d, err := s.rd.Next()
		if err != nil {
			return nil, 0, err
		}
		doc = d
	}
	line := 0
	if s.ndjson {
		line = s.rd.Line()
	}
	r, err := s.rt.Route(doc, s.rd.Index(), line)
	if err != nil {
		return nil, 0, err
	}
	return r.Doc, r.Shard, nil
}

// peek reads the first document ahead and returns its attribute names
// (nil when there is no document).
func (s *jsonSource) peek() ([]string, error) {
	d, err := s.rd.Next()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.pending, s.hasPend = d, true
	names, err := route.ObjectKeys(d)
	if err != nil {
		// Let Route report it with the document's position.
		_, rerr := s.rt.Route(d, s.rd.Index(), 0)
		if rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	return names, nil
}

// csvSource routes CSV records.
type csvSource struct {
	cr    *route.CSVReader
	rt    route.Router
	pkCol int
	typ   route.CSVType
}

func (s *csvSource) next() ([]byte, int, error) {
	rec, err := s.cr.Next()
	if err != nil {
		return nil, 0, err
	}
	shard, _, err := s.rt.RouteCSV(rec, s.pkCol, s.typ)
	if err != nil {
		return nil, 0, err
	}
	return rec.Raw, shard, nil
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
	// so a reader is never held whole in memory.
	stream   bool
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

// sendBatch sends bodies[ni] (nil: nothing) to every node ni in parallel,
// then applies the quorum over shards. It returns the node tasks, or an
// error when some shard met quorum in no group.
func (c *Cluster) sendBatch(ctx context.Context, st *indexState, op, method, path string, q url.Values, ct string, bodies [][]byte, docs []int, shards []int) (flushResult, error) {
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
		resp, err := n.do(ctx, op, method, path, q, ct, bodies[n.idx])
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
		// Every node refusing the same way (a request error of the
		// caller's) is that error, not a quorum problem.
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
			if isTransportError(err) || apiCode(err) != apiCode(first) {
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
	if w.format == route.FormatCSV {
		b.SetCSVHeader(w.csvHeader, w.csvDelim)
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

	flush := func() error {
		if len(shards) == 0 {
			return nil
		}
		bodies := make([][]byte, n)
		docs := make([]int, n)
		for ni := range n {
			bodies[ni] = b.Body(ni)
			docs[ni] = b.Docs(ni)
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
		b.Add(raw, shard, targets[shard])
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

// ---- payload forms ----

// payloadKind says how a payload is framed.
type payloadKind int

const (
	kindJSON payloadKind = iota
	kindNDJSON
	kindCSV
)

// writeBytes routes an in-memory payload. With batch > 0 the documents
// are first all validated, then sent batch documents per cluster task.
func (i *Index) writeBytes(ctx context.Context, method string, kind payloadKind, body []byte, batch int, p docParams) ([]meilisearch.TaskInfo, error) {
	if batch > 0 {
		// Validate everything before touching any node.
		w, src, err := i.prepare(ctx, method, kind, bytes.NewReader(body), body, p, true)
		if err != nil {
			return nil, err
		}
		for {
			_, _, err := src.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, docError(err)
			}
		}
		w.ix.c.noteFields(w.st, w.fields)
	}
	w, src, err := i.prepare(ctx, method, kind, bytes.NewReader(body), body, p, false)
	if err != nil {
		return nil, err
	}
	w.batchDocs = batch
	return w.run(ctx, src)
}

// writeReader routes a streamed payload in bounded batches.
func (i *Index) writeReader(ctx context.Context, method string, kind payloadKind, r io.Reader, batch int, p docParams) ([]meilisearch.TaskInfo, error) {
	w, src, err := i.prepare(ctx, method, kind, r, nil, p, false)
	if err != nil {
		return nil, err
	}
	w.batchDocs = batch
	w.stream = true
	return w.run(ctx, src)
}

// prepare resolves the index state and primary key and opens the source.
// body, when non-nil, is r's whole content (zero-copy readers). dry skips
// the index creation (validation pass).
func (i *Index) prepare(ctx context.Context, method string, kind payloadKind, r io.Reader, body []byte, p docParams, dry bool) (*writeOp, source, error) {
	c := i.c
	if err := c.checkOpen(); err != nil {
		return nil, nil, err
	}
	var st *indexState
	var pre []NodeTask
	var err error
	if dry {
		st, err = c.state(ctx, i.uid)
		if apiCode(err) == "index_not_found" {
			st, err = newIndexState(i.uid, c.opts.shards), nil
		}
	} else {
		st, pre, err = c.writeState(ctx, i.uid, p.primaryKey)
	}
	if err != nil {
		return nil, nil, err
	}
	w := &writeOp{ix: i, st: st, method: method, params: p, preTasks: pre, fields: map[string]struct{}{}}
	switch kind {
	case kindCSV:
		delim, err := route.CSVDelimiter(p.csvDelimiter)
		if err != nil {
			return nil, nil, docError(err)
		}
		cr, err := route.NewCSVReader(r, delim)
		if err != nil {
			return nil, nil, docError(err)
		}
		names := cr.Names()
		pk, setPK, err := resolvePK(p.primaryKey, st, func() ([]string, error) { return names, nil })
		if err != nil {
			return nil, nil, err
		}
		for _, f := range names {
			w.fields[f] = struct{}{}
		}
		w.pk, w.setPK = pk, setPK
		w.format = route.FormatCSV
		w.csvHeader, w.csvDelim = cr.OutputHeader(), delim
		col := cr.Column(pk)
		typ := route.CSVString
		if col >= 0 {
			typ = cr.Columns()[col].Type
		}
		return w, &csvSource{cr: cr, rt: route.Router{PrimaryKey: pk, Shards: st.shards}, pkCol: col, typ: typ}, nil
	default:
		js := &jsonSource{ndjson: kind == kindNDJSON}
		switch {
		case body != nil && kind == kindNDJSON:
			js.rd = route.NDJSONBytes(body)
		case body != nil && firstByte(body) == '{':
			// Meilisearch also takes a single object as the payload.
			js.rd = route.NDJSONBytes(body)
		case body != nil:
			js.rd = route.ArrayBytes(body)
		case kind == kindNDJSON:
			js.rd = route.NewNDJSONReader(r)
		default:
			js.rd = route.NewArrayReader(r)
		}
		w.format = route.FormatJSON
		if kind == kindNDJSON {
			w.format = route.FormatNDJSON
		}
		pk, setPK, err := resolvePK(p.primaryKey, st, js.peek)
		if err != nil {
			return nil, nil, err
		}
		w.pk, w.setPK = pk, setPK
		js.rt = route.Router{PrimaryKey: pk, Shards: st.shards, Fields: w.fields}
		return w, js, nil
	}
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// documentsBytes turns any documents value into JSON bytes: []byte and
// json.RawMessage are taken as they are (raw JSON, as meilisearch-go sends
// them), anything else is marshalled once with encoding/json.
func documentsBytes(v any) ([]byte, io.Reader, error) {
	switch d := v.(type) {
	case nil:
		return nil, nil, newError(http.StatusBadRequest, "malformed_payload", "The documents are nil; expected an array of documents.")
	case []byte:
		return d, nil, nil
	case json.RawMessage:
		return d, nil, nil
	case *json.RawMessage:
		if d == nil {
			return nil, nil, newError(http.StatusBadRequest, "malformed_payload", "The documents are nil; expected an array of documents.")
		}
		return *d, nil, nil
	case io.Reader:
		return nil, d, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		e := newError(http.StatusBadRequest, "malformed_payload", "miroir: cannot encode the documents as JSON: %v", err)
		e.Err = err
		return nil, nil, e
	}
	return b, nil, nil
}

func (i *Index) writeAny(ctx context.Context, method string, docs any, batch int, opts *meilisearch.DocumentOptions) ([]meilisearch.TaskInfo, error) {
	b, r, err := documentsBytes(docs)
	if err != nil {
		return nil, err
	}
	if r != nil {
		return i.writeReader(ctx, method, kindJSON, r, batch, fromDocOptions(opts))
	}
	return i.writeBytes(ctx, method, kindJSON, b, batch, fromDocOptions(opts))
}

func one(infos []meilisearch.TaskInfo, err error) (*meilisearch.TaskInfo, error) {
	if err != nil {
		return nil, err
	}
	if len(infos) == 0 {
		return nil, errors.New("miroir: internal error: write produced no task")
	}
	return &infos[0], nil
}

func checkBatch(n int) error {
	if n <= 0 {
		return newError(http.StatusBadRequest, "invalid_batch_size", "miroir: batch size must be positive, got %d", n)
	}
	return nil
}

// AddDocuments adds or replaces documents. documentsPtr may be any value
// encoding/json turns into an array of objects ([]map[string]any, []T,
// *[]T, ...), raw JSON ([]byte, json.RawMessage: an array or one object),
// or an io.Reader of a JSON array (streamed in bounded batches).
func (i *Index) AddDocuments(ctx context.Context, documentsPtr any, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return one(i.writeAny(ctx, http.MethodPost, documentsPtr, 0, opts))
}

// AddDocumentsInBatches adds documents in batches of batchSize documents,
// one cluster task per batch. Every document is validated before the first
// batch is sent.
func (i *Index) AddDocumentsInBatches(ctx context.Context, documentsPtr any, batchSize int, opts *meilisearch.DocumentOptions) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeAny(ctx, http.MethodPost, documentsPtr, batchSize, opts)
}

// UpdateDocuments adds documents or updates them partially (same forms as
// AddDocuments).
func (i *Index) UpdateDocuments(ctx context.Context, documentsPtr any, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return one(i.writeAny(ctx, http.MethodPut, documentsPtr, 0, opts))
}

// UpdateDocumentsInBatches is UpdateDocuments in batches of batchSize.
func (i *Index) UpdateDocumentsInBatches(ctx context.Context, documentsPtr any, batchSize int, opts *meilisearch.DocumentOptions) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeAny(ctx, http.MethodPut, documentsPtr, batchSize, opts)
}

// AddDocumentsCsv adds documents from a CSV payload (header line first;
// Meilisearch's name:type header syntax; CsvDelimiter honoured).
func (i *Index) AddDocumentsCsv(ctx context.Context, documents []byte, options *meilisearch.CsvDocumentsQuery) (*meilisearch.TaskInfo, error) {
	return one(i.writeBytes(ctx, http.MethodPost, kindCSV, documents, 0, fromCsvOptions(options)))
}

// AddDocumentsCsvInBatches adds a CSV payload in batches of batchSize rows.
func (i *Index) AddDocumentsCsvInBatches(ctx context.Context, documents []byte, batchSize int, options *meilisearch.CsvDocumentsQuery) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeBytes(ctx, http.MethodPost, kindCSV, documents, batchSize, fromCsvOptions(options))
}

// AddDocumentsCsvFromReaderInBatches streams CSV rows from a reader in
// batches of batchSize rows, one cluster task per batch.
func (i *Index) AddDocumentsCsvFromReaderInBatches(ctx context.Context, documents io.Reader, batchSize int, options *meilisearch.CsvDocumentsQuery) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeReader(ctx, http.MethodPost, kindCSV, documents, batchSize, fromCsvOptions(options))
}

// AddDocumentsCsvFromReader streams a CSV payload in bounded batches (one
// cluster task).
func (i *Index) AddDocumentsCsvFromReader(ctx context.Context, documents io.Reader, options *meilisearch.CsvDocumentsQuery) (*meilisearch.TaskInfo, error) {
	return one(i.writeReader(ctx, http.MethodPost, kindCSV, documents, 0, fromCsvOptions(options)))
}

// AddDocumentsNdjson adds documents from an NDJSON payload.
func (i *Index) AddDocumentsNdjson(ctx context.Context, documents []byte, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return one(i.writeBytes(ctx, http.MethodPost, kindNDJSON, documents, 0, fromDocOptions(opts)))
}

// AddDocumentsNdjsonInBatches adds an NDJSON payload in batches.
func (i *Index) AddDocumentsNdjsonInBatches(ctx context.Context, documents []byte, batchSize int, opts *meilisearch.DocumentOptions) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeBytes(ctx, http.MethodPost, kindNDJSON, documents, batchSize, fromDocOptions(opts))
}

// AddDocumentsNdjsonFromReader streams an NDJSON payload in bounded
// batches (one cluster task).
func (i *Index) AddDocumentsNdjsonFromReader(ctx context.Context, documents io.Reader, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return one(i.writeReader(ctx, http.MethodPost, kindNDJSON, documents, 0, fromDocOptions(opts)))
}

// AddDocumentsNdjsonFromReaderInBatches streams NDJSON in batches of
// batchSize documents, one cluster task per batch.
func (i *Index) AddDocumentsNdjsonFromReaderInBatches(ctx context.Context, documents io.Reader, batchSize int, opts *meilisearch.DocumentOptions) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeReader(ctx, http.MethodPost, kindNDJSON, documents, batchSize, fromDocOptions(opts))
}

// UpdateDocumentsCsv partially updates documents from a CSV payload.
func (i *Index) UpdateDocumentsCsv(ctx context.Context, documents []byte, options *meilisearch.CsvDocumentsQuery) (*meilisearch.TaskInfo, error) {
	return one(i.writeBytes(ctx, http.MethodPut, kindCSV, documents, 0, fromCsvOptions(options)))
}

// UpdateDocumentsCsvInBatches partially updates from CSV in batches.
func (i *Index) UpdateDocumentsCsvInBatches(ctx context.Context, documents []byte, batchSize int, options *meilisearch.CsvDocumentsQuery) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeBytes(ctx, http.MethodPut, kindCSV, documents, batchSize, fromCsvOptions(options))
}

// UpdateDocumentsNdjson partially updates documents from NDJSON.
func (i *Index) UpdateDocumentsNdjson(ctx context.Context, documents []byte, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return one(i.writeBytes(ctx, http.MethodPut, kindNDJSON, documents, 0, fromDocOptions(opts)))
}

// UpdateDocumentsNdjsonInBatches partially updates from NDJSON in batches.
func (i *Index) UpdateDocumentsNdjsonInBatches(ctx context.Context, documents []byte, batchSize int, opts *meilisearch.DocumentOptions) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeBytes(ctx, http.MethodPut, kindNDJSON, documents, batchSize, fromDocOptions(opts))
}

// ---- deletions and broadcasts ----

// DeleteDocument deletes one document by id, on its shard's replicas.
func (i *Index) DeleteDocument(ctx context.Context, identifier string, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return i.deleteIDs(ctx, []string{identifier}, opts)
}

// DeleteDocuments deletes documents by id, each routed to its shard's
// replicas.
func (i *Index) DeleteDocuments(ctx context.Context, identifiers []string, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return i.deleteIDs(ctx, identifiers, opts)
}

func (i *Index) deleteIDs(ctx context.Context, ids []string, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	c := i.c
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	st, err := c.state(ctx, i.uid)
	if err != nil {
		return nil, err
	}
	for k, id := range ids {
		if !route.ValidID(id) {
			return nil, newError(http.StatusBadRequest, route.CodeInvalidDocumentID,
				"Document identifier at index %d: `%q` is invalid. A document identifier can be of type integer or string, only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not be more than 511 bytes.", k, id)
		}
	}
	p := fromDocOptions(opts)
	live := c.verifiedTargets(ctx, st, allNodeIdx(len(c.nodes)))
	perNode := make([][]string, len(c.nodes))
	var shards []int
	seen := make([]bool, c.topo.shards)
	for _, id := range ids {
		s := ShardOf(id, st.shards)
		if !seen[s] {
			seen[s] = true
			shards = append(shards, s)
		}
		for _, ni := range c.topo.writeTargets(s) {
			if live[ni] {
				perNode[ni] = append(perNode[ni], id)
			}
		}
	}
	bodies := make([][]byte, len(c.nodes))
	docs := make([]int, len(c.nodes))
	for ni, l := range perNode {
		if len(l) > 0 {
			bodies[ni], _ = json.Marshal(l)
			docs[ni] = len(l)
		}
	}
	t := &ClusterTask{IndexUID: i.uid, Type: meilisearch.TaskTypeDocumentDeletion, Documents: int64(len(ids)),
		Details: meilisearch.Details{ProvidedIds: int64(len(ids))}, CustomMetadata: p.metadata}
	if len(ids) > 0 {
		res, err := c.sendBatch(ctx, st, "deleteDocuments", http.MethodPost, "/indexes/"+i.uid+"/documents/delete-batch", p.query(""), "application/json", bodies, docs, shards)
		if err != nil {
			return nil, err
		}
		t.Nodes, t.Degraded = res.nodes, dedupPairs(res.degraded)
	}
	if len(t.Nodes) == 0 {
		t.Status = meilisearch.TaskStatusSucceeded
		t.StartedAt = nowUTC()
		t.FinishedAt = t.StartedAt
	}
	if len(t.Degraded) > 0 {
		reportFrom(ctx).degraded(t.Degraded)
		if c.opts.observer != nil {
			c.opts.observer.DegradedWrite(i.uid, t.Degraded)
		}
	}
	return c.tasks.register(ctx, t)
}

// broadcastIndexTask sends one request to every node for an existing
// index (verifying nodes first) and registers a cluster task over the node
// tasks. Every node must be healthy: a broadcast that misses a node would
// leave it out of step.
func (c *Cluster) broadcastIndexTask(ctx context.Context, st *indexState, op, method, path string, q url.Values, body any, t *ClusterTask) (*meilisearch.TaskInfo, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if err := c.requireAllHealthy(); err != nil {
		return nil, err
	}
	if st != nil {
		live := c.verifiedTargets(ctx, st, allNodeIdx(len(c.nodes)))
		var bad []string
		for ni, ok := range live {
			if !ok {
				bad = append(bad, c.nodes[ni].ID)
			}
		}
		if len(bad) > 0 {
			e := newError(http.StatusServiceUnavailable, CodeNodeUnreachable, "miroir: node(s) %s could not be verified for index `%s`; the call needs every node", strings.Join(bad, ", "), st.uid)
			e.Type, e.Nodes = "system", bad
			return nil, e
		}
	}
	nts, typ, err := c.broadcastNodes(ctx, op, method, path, q, body)
	if err != nil {
		return nil, err
	}
	t.Nodes = nts
	if typ != "" {
		t.Type = typ // the nodes' own name for the task type
	}
	return c.tasks.register(ctx, t)
}

// broadcastNodes sends the same request to every node in parallel and
// returns their node tasks (in node order), or an error naming the nodes
// that failed.
func (c *Cluster) broadcastNodes(ctx context.Context, op, method, path string, q url.Values, body any) ([]NodeTask, meilisearch.TaskType, error) {
	var raw []byte
	ct := ""
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, "", err
		}
		ct = "application/json"
	}
	nts := make([]NodeTask, len(c.nodes))
	types := make([]meilisearch.TaskType, len(c.nodes))
	errs := c.fanout(ctx, c.nodes, func(ctx context.Context, n *node) error {
		resp, err := n.do(ctx, op, method, path, q, ct, raw)
		if err != nil {
			return err
		}
		var info meilisearch.TaskInfo
		if err := json.Unmarshal(resp.Body, &info); err != nil {
			return fmt.Errorf("miroir: node %s: decoding task: %w", n.ID, err)
		}
		nts[n.idx] = NodeTask{Node: n.ID, TaskUID: info.TaskUID, Status: meilisearch.TaskStatusEnqueued}
		types[n.idx] = info.Type
		return nil
	})
	if err := c.broadcastError(c.nodes, errs); err != nil {
		return nil, "", err
	}
	return nts, types[0], nil
}

// requireAllHealthy fails, naming them, when some nodes are marked down.
func (c *Cluster) requireAllHealthy() error {
	var down []string
	for _, n := range c.nodes {
		if !n.isHealthy() {
			down = append(down, n.ID)
		}
	}
	if len(down) == 0 {
		return nil
	}
	e := newError(http.StatusServiceUnavailable, CodeNodeUnreachable, "miroir: node(s) %s are down; the call needs every node (retry when they are back)", strings.Join(down, ", "))
	e.Type, e.Nodes = "system", down
	return e
}

// DeleteDocumentsByFilter deletes the documents matching filter on every
// node (broadcast).
func (i *Index) DeleteDocumentsByFilter(ctx context.Context, filter any, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	st, err := i.c.state(ctx, i.uid)
	if err != nil {
		return nil, err
	}
	p := fromDocOptions(opts)
	orig, _ := json.Marshal(filter)
	t := &ClusterTask{IndexUID: i.uid, Type: meilisearch.TaskTypeDocumentDeletion, Copies: i.c.copies(),
		Details: meilisearch.Details{OriginalFilter: string(orig)}, CustomMetadata: p.metadata}
	return i.c.broadcastIndexTask(ctx, st, "deleteDocumentsByFilter", http.MethodPost, "/indexes/"+i.uid+"/documents/delete", p.query(""), map[string]any{"filter": filter}, t)
}

// DeleteAllDocuments deletes every document of the index on every node.
func (i *Index) DeleteAllDocuments(ctx context.Context, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	st, err := i.c.state(ctx, i.uid)
	if err != nil {
		return nil, err
	}
	p := fromDocOptions(opts)
	t := &ClusterTask{IndexUID: i.uid, Type: meilisearch.TaskTypeDocumentDeletion, Copies: i.c.copies(), CustomMetadata: p.metadata}
	return i.c.broadcastIndexTask(ctx, st, "deleteAllDocuments", http.MethodDelete, "/indexes/"+i.uid+"/documents", p.query(""), nil, t)
}

// UpdateDocumentsByFunction runs an edition function on every node
// (broadcast). The function must not change the primary key or
// _miroir_shard: a document whose id changed would sit on the wrong shard.
func (i *Index) UpdateDocumentsByFunction(ctx context.Context, req *meilisearch.UpdateDocumentByFunctionRequest) (*meilisearch.TaskInfo, error) {
	if req == nil {
		req = &meilisearch.UpdateDocumentByFunctionRequest{}
	}
	st, err := i.c.state(ctx, i.uid)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if req.TaskCustomMetadata != "" {
		q.Set("customMetadata", req.TaskCustomMetadata)
	}
	t := &ClusterTask{IndexUID: i.uid, Type: "documentEdition", Copies: i.c.copies(), CustomMetadata: req.TaskCustomMetadata}
	return i.c.broadcastIndexTask(ctx, st, "updateDocumentsByFunction", http.MethodPost, "/indexes/"+i.uid+"/documents/edit", q, req, t)
}

// copies is how many nodes hold each document (RG×RF).
func (c *Cluster) copies() int { return c.topo.rg * c.topo.rf }

// ---- document reads ----

// readReplicas lists the replicas of shard to read from: round-robin
// preferred group and replica, then the other groups; healthy nodes first.
func (c *Cluster) readReplicas(shard int) []*node {
	rg, rf := c.topo.rg, c.topo.rf
	seq := c.seq.Add(1)
	g0 := int(seq % uint64(rg))
	r0 := int((seq / uint64(rg)) % uint64(rf))
	var healthy, down []*node
	for gi := range rg {
		g := (g0 + gi) % rg
		reps := c.topo.replicas(shard, g)
		for ri := range rf {
			n := c.nodes[reps[(r0+ri)%rf]]
			if n.isHealthy() {
				healthy = append(healthy, n)
			} else {
				down = append(down, n)
			}
		}
	}
	return append(healthy, down...)
}

// GetDocument reads one document from a replica of its shard (round-robin,
// healthy first), falling back to the other replicas when one fails or
// lacks it (a replica that missed a degraded write). _miroir_shard is
// removed before the document is decoded into documentPtr.
func (i *Index) GetDocument(ctx context.Context, identifier string, request *meilisearch.DocumentQuery, documentPtr any) error {
	c := i.c
	if err := c.checkOpen(); err != nil {
		return err
	}
	st, err := c.state(ctx, i.uid)
	if err != nil {
		return err
	}
	q := url.Values{}
	if request != nil {
		if len(request.Fields) > 0 {
			q.Set("fields", strings.Join(request.Fields, ","))
		}
		if request.RetrieveVectors {
			q.Set("retrieveVectors", "true")
		}
	}
	var notFound, lastErr error
	path := "/indexes/" + i.uid + "/documents/" + url.PathEscape(identifier)
	replicas := c.readReplicas(ShardOf(identifier, st.shards))
	for k, n := range replicas {
		resp, err := n.do(ctx, "getDocument", http.MethodGet, path, q, "", nil)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			if isNotFound(err) {
				notFound = cmpErr(notFound, err)
			} else {
				lastErr = cmpErr(lastErr, err)
			}
			continue
		}
		if k > 0 {
			reportFrom(ctx).fallback(Fallback{Shard: ShardOf(identifier, st.shards), Preferred: replicas[0].Group, Group: n.Group, Node: n.ID})
		}
		body := route.StripField(resp.Body, shardField)
		if documentPtr == nil {
			return nil
		}
		if err := json.Unmarshal(body, documentPtr); err != nil {
			return fmt.Errorf("miroir: decoding document %q: %w", identifier, err)
		}
		return nil
	}
	if notFound != nil {
		return notFound
	}
	return lastErr
}

func sortPairs(p []GroupShard) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && (p[j].Group < p[j-1].Group || (p[j].Group == p[j-1].Group && p[j].Shard < p[j-1].Shard)); j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

func nowUTC() time.Time { return time.Now().UTC() }
