package miroir

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"

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
	stream  bool
	missing bool // a dry prepare found no index (nothing created yet)
	// version is injected as _miroir_v into the documents of the next
	// cluster task, which registers under it (version.go); a write of
	// several tasks takes a new one per task.
	version  int64
	preTasks []NodeTask // index creation tasks to fold into the first cluster task
	fields   map[string]struct{}
	setPK    bool // the index had no known primary key before this write
	// tp is the topology the write routes by: its batches and per-shard
	// targets are sized and indexed by it.
	tp *topology

	csvHeader []byte
	csvDelim  byte
}

// taskAcc accumulates one cluster task across flushed batches.
type taskAcc struct {
	uid      int64 // allocated before the first node request (tasks_trace.go)
	docs     int64
	nodes    []NodeTask
	degraded []GroupShard
	sentTo   []bool
}

func allNodeIdx(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// register records a finished accumulation as one cluster task.
func (w *writeOp) register(ctx context.Context, acc *taskAcc) (*meilisearch.TaskInfo, error) {
	c := w.ix.c
	t := &ClusterTask{
		UID:            acc.uid,
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
	return c.registerRouted(ctx, t)
}

// spreadPrimaryKey sets pk on the verified healthy nodes that received no
// document in nts (their tasks are helpers of the write's cluster task).
func (c *Cluster) spreadPrimaryKey(ctx context.Context, st *indexState, pk string, nts []NodeTask) []NodeTask {
	ctx = withNodeKeys(ctx)
	got := map[string]bool{}
	for _, nt := range nts {
		got[nt.Node] = true
	}
	var targets []*node
	for _, n := range c.members() {
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

// writeState returns the index state for a write, creating the index on
// the fleet when it exists nowhere (Meilisearch creates a missing index on
// the first write; miroir does it as a full creation: record, settings,
// every node). The creation's node tasks are returned to be folded into
// the write's cluster task.
func (c *Cluster) writeState(ctx context.Context, uid, pk string) (*indexState, []NodeTask, error) {
	tp := c.topo()
	st, err := c.state(ctx, uid)
	if err == nil {
		return st, nil, nil
	}
	if apiCode(err) != "index_not_found" {
		return nil, nil, err
	}
	if !grantFrom(ctx).AllowIndexCreation(uid) {
		return nil, nil, indexCreationRefused(uid)
	}
	if err := c.refuseDuringChange("index creation"); err != nil {
		return nil, nil, err
	}
	ctx = withNodeKeys(ctx)
	type created struct {
		st  *indexState
		nts []NodeTask
	}
	v, err, shared := c.states.loads.Do("create\x00"+uid, func() (any, error) {
		st := newIndexState(uid, c.opts.shards)
		st.primaryKey = pk
		nts, err := c.converge(context.WithoutCancel(ctx), st, tp.members, false)
		if err != nil {
			return nil, err
		}
		for _, n := range tp.members {
			st.verified[n.idx] = true
		}
		for i := range nts {
			nts[i].Aux = true
		}
		c.states.install(st)
		c.setMarksLoaded(uid) // a new index: no replica missed anything yet
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

// indexCreationRefused is the failure of a write that would create index
// uid with a key that may not create it: Meilisearch accepts the write and
// fails its task with index_not_found.
func indexCreationRefused(uid string) error {
	e := newError(http.StatusNotFound, "index_not_found", "Index `%s` not found.", uid)
	e.Err = errIndexCreationRefused
	return e
}

// resolvePK picks the primary key (DESIGN §3): the call's option, else the
// index's known key, else inference from the first document's attributes.
func resolvePK(given string, st *indexState, names func() ([]string, error)) (pk string, setPK bool, err error) {
	known := st.PrimaryKey()
	if given != "" && known != "" && given != known {
		// The nodes would fail the task: the index keeps its key.
		return "", false, newError(http.StatusBadRequest, "index_primary_key_already_exists", "Index `%s`: Index already has a primary key: `%s`.", st.uid, known)
	}
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

// errIndexCreationRefused marks a write that would create an index the
// caller's key may not create: the call is accepted and its task fails
// (registerFailed), as on one Meilisearch.
var errIndexCreationRefused = errors.New("miroir: the caller's key may not create this index")
