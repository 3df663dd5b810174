package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/route"
)

// Sending a write: batches of routed documents go to their nodes, one
// request per node per batch, and become cluster tasks.

// flushResult is what one fan-out of node requests achieved.
type flushResult struct {
	nodes    []NodeTask
	degraded []GroupShard
}

// sendBatch sends bodies[ni] (nil: nothing; else a body as node.doBody
// takes it) to every node ni in parallel, then applies the quorum over
// shards. The replicas of a shard that missed the write while another
// replica got it are marked stale under version (the write's cluster task
// uid) before anything is acknowledged (marks_write.go). It returns the
// node tasks, or an error when some shard met quorum in no group or the
// marks could not be stored.
func (c *Cluster) sendBatch(ctx context.Context, st *indexState, version int64, op, method, path string, q url.Values, ct string, bodies []any, docs []int, shards []int) (flushResult, error) {
	tp := c.topo()
	var targets []*node
	for ni, b := range bodies {
		if b != nil {
			targets = append(targets, tp.clients[ni])
		}
	}
	acks := make([]int64, len(tp.clients))
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
	res := evalQuorum(tp.rg, shards, tp.replicas, func(ni int) bool { return ni < len(acks) && acks[ni] >= 0 })
	var out flushResult
	for _, n := range targets {
		if acks[n.idx] >= 0 {
			out.nodes = append(out.nodes, NodeTask{Node: n.ID, TaskUID: acks[n.idx], Docs: int64(docs[n.idx]), Status: meilisearch.TaskStatusEnqueued, Shards: c.carried(n.idx, shards)})
		}
	}
	out.degraded = res.Degraded
	markErr := c.markMissed(ctx, st.uid, version, shards, func(ni int) bool { return ni < len(acks) && acks[ni] >= 0 })
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
		for _, n := range tp.members {
			if acks[n.idx] < 0 {
				e.Nodes = append(e.Nodes, n.ID)
			}
		}
		return out, e
	}
	return out, markErr
}

// registerRouted registers the cluster task of a routed write (documents
// or deletions by id): succeeded at once when no node had anything to
// do, its degraded (group, shard) pairs reported to the call's Report and
// the Observer.
func (c *Cluster) registerRouted(ctx context.Context, t *ClusterTask) (*meilisearch.TaskInfo, error) {
	if len(t.Nodes) == 0 {
		t.Status = meilisearch.TaskStatusSucceeded
		t.StartedAt = nowUTC()
		t.FinishedAt = t.StartedAt
	}
	if len(t.Degraded) > 0 {
		reportFrom(ctx).degraded(t.Degraded)
		if c.hooks.calls != nil {
			callFrom(ctx).noteDegraded(t.Degraded)
		}
		if c.opts.observer != nil {
			c.opts.observer.DegradedWrite(t.IndexUID, t.Degraded)
		}
	}
	return c.tasks.register(ctx, t)
}

// newBatcher makes the Batcher of this write's node bodies.
func (w *writeOp) newBatcher() *route.Batcher {
	b := route.NewBatcher(len(w.tp.clients), w.format)
	b.SetVersion(w.ix.c.injectedVersion(w.version))
	if w.format == route.FormatCSV {
		b.SetCSVHeader(w.csvHeader, w.csvDelim)
	}
	return b
}

// targets returns each shard's write targets among the verified healthy
// nodes (verifying the nodes not yet verified for the index).
func (w *writeOp) targets(ctx context.Context) [][]int {
	c := w.ix.c
	tp := w.tp
	live := c.verifiedTargets(ctx, w.st, tp.memberIdx())
	targets := make([][]int, tp.shards)
	for s := range targets {
		for _, ni := range tp.writeTargets(s) {
			if live[ni] {
				targets[s] = append(targets[s], ni)
			}
		}
	}
	return targets
}

// writeRun sends the batches of one write and collects its cluster tasks.
type writeRun struct {
	w      *writeOp
	b      *route.Batcher
	acc    *taskAcc
	infos  []meilisearch.TaskInfo
	q      url.Values
	path   string
	op     string
	bodies []any
	docs   []int
}

func (w *writeOp) start(b *route.Batcher) *writeRun {
	n := len(w.tp.clients)
	r := &writeRun{w: w, b: b, acc: &taskAcc{}, q: w.params.query(w.pk), path: "/indexes/" + w.ix.uid + "/documents",
		op: "addDocuments", bodies: make([]any, n), docs: make([]int, n)}
	if w.method == http.MethodPut {
		r.op = "updateDocuments"
	}
	return r
}

// flush sends the batch, if any, and empties it.
func (r *writeRun) flush(ctx context.Context) error {
	b, w := r.b, r.w
	if b.Empty() {
		return nil
	}
	for ni := range r.bodies {
		r.bodies[ni], r.docs[ni] = nil, b.Docs(ni)
		if r.docs[ni] > 0 {
			// A fresh reader per attempt: the body is generated from the
			// documents as the HTTP client sends it.
			r.bodies[ni] = retryablehttp.ReaderFunc(func() (io.Reader, error) { return b.NewReader(ni), nil })
		}
	}
	if r.acc.uid == 0 {
		// The task's uid is the version its documents carry (version.go).
		r.acc.uid = w.version
	}
	res, err := w.ix.c.sendBatch(ctx, w.st, r.acc.uid, r.op, w.method, r.path, tagQuery(r.q, r.acc.uid), w.format.ContentType(), r.bodies, r.docs, b.Shards())
	r.acc.nodes = append(r.acc.nodes, res.nodes...)
	r.acc.degraded = append(r.acc.degraded, res.degraded...)
	b.Reset()
	return err
}

// finish registers the documents sent so far as one cluster task.
func (r *writeRun) finish(ctx context.Context) error {
	info, err := r.w.register(ctx, r.acc)
	if err != nil {
		return err
	}
	r.infos = append(r.infos, *info)
	r.acc = &taskAcc{}
	// The next task's documents carry the next task's uid.
	v, err := r.w.ix.c.writeVersionFor(ctx)
	if err != nil {
		return err
	}
	r.w.version = v
	r.b.SetVersion(r.w.ix.c.injectedVersion(v))
	return nil
}

// fail ends the write on err, registering what already reached nodes.
func (r *writeRun) fail(ctx context.Context, err error) ([]meilisearch.TaskInfo, error) {
	w := r.w
	err = docError(err)
	if len(r.acc.nodes) > 0 {
		// Part of this call's documents already reached the nodes
		// (streamed input): record them so they can be followed.
		if info, rerr := w.register(ctx, r.acc); rerr == nil {
			var e *Error
			if errors.As(err, &e) && e.Code != CodeNoQuorum {
				e.Message += fmt.Sprintf(" (the documents before it were already sent as cluster task %d)", info.TaskUID)
			}
		}
	}
	w.st.addFields(w.fields)
	return r.infos, err
}

// done sends the last batch and registers the last cluster task.
func (r *writeRun) done(ctx context.Context) ([]meilisearch.TaskInfo, error) {
	if err := r.flush(ctx); err != nil {
		return r.fail(ctx, err)
	}
	if r.acc.docs > 0 || len(r.infos) == 0 {
		if err := r.finish(ctx); err != nil {
			return r.infos, err
		}
	}
	r.w.st.addFields(r.w.fields)
	return r.infos, nil
}

// run routes every document of src and sends the batches, returning one
// TaskInfo per cluster task.
func (w *writeOp) run(ctx context.Context, src source) ([]meilisearch.TaskInfo, error) {
	b := w.newBatcher()
	add := b.Add // the bodies refer to the input, alive for the whole call
	if w.stream {
		add = b.AddCopy // the reader's buffer is reused
	}
	targets := w.targets(ctx)
	r := w.start(b)
	for {
		raw, shard, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if w.stream && len(r.acc.nodes) == 0 && len(r.infos) == 0 && failsAsTask(docError(err)) {
				// Nothing sent yet: the task fails, as one node's would.
				return w.ix.failStream(ctx, src, r.acc.docs+1, w.params, docError(err))
			}
			return r.fail(ctx, err)
		}
		add(raw, shard, targets[shard])
		r.acc.docs++
		if w.batchDocs > 0 && r.acc.docs == int64(w.batchDocs) {
			if err := r.flush(ctx); err != nil {
				return r.fail(ctx, err)
			}
			if err := r.finish(ctx); err != nil {
				return r.infos, err
			}
			continue
		}
		if w.stream && b.Full(w.ix.c.opts.batchBytes, 0) {
			if err := r.flush(ctx); err != nil {
				return r.fail(ctx, err)
			}
		}
	}
	return r.done(ctx)
}

// runBatched sends b, holding every one of the write's docs documents
// (routed ahead), as one cluster task.
func (w *writeOp) runBatched(ctx context.Context, b *route.Batcher, docs int) ([]meilisearch.TaskInfo, error) {
	r := w.start(b)
	r.acc.docs = int64(docs)
	return r.done(ctx)
}
