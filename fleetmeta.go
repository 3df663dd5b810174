package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Fleet records (DESIGN §14): state that the instances sharing a fleet keep
// on the fleet itself, so that no instance needs a store of its own.
//
// A fleetRecords is one reserved index present on every node, holding
// records replicated on every node: miroir_meta for small records of
// several kinds (the index records of §2, which have no kind, and records
// with a `kind` field and an id starting with `miroir-`: task-uid lanes
// here, stale-replica marks and topology later), miroir_tasks for the fleet
// task store. The layer only moves records; each caller decides what
// counts as success:
//
//   - put and remove go to every node at once and return one ack per node
//     (the node's task uid or its error); wait turns acks into outcomes
//     once the nodes have processed them;
//   - fetch and get read every node and return what each node that answered
//     holds; newest merges the copies, the one with the highest `rev` field
//     winning (records without one count as rev 0).
//
// Meilisearch has no transaction across nodes and writes go through each
// node's task queue: a record is visible on a node only once the node has
// processed its write. Callers that need read-after-write wait for the
// acks.

// Reserved index names. Any uid starting with miroir- or miroir_ is
// refused to users (miroir_reserved_index) and hidden from listings and
// stats, so that records, lock indexes and future reserved indexes never
// collide with user data.
const (
	// tasksIndex holds the fleet task store (WithFleetTaskStore).
	tasksIndex = "miroir_tasks"
	// recordKindField names the kind of a record in miroir_meta.
	recordKindField = "kind"
	// recordRevField orders the copies of one record: the highest wins.
	recordRevField = "rev"
)

// isReservedIndex reports whether uid belongs to miroir (miroir_meta,
// miroir_tasks, lane lock indexes, ...).
func isReservedIndex(uid string) bool {
	return strings.HasPrefix(uid, "miroir-") || strings.HasPrefix(uid, "miroir_")
}

// fleetRecords is one reserved index replicated on every node.
type fleetRecords struct {
	c     *Cluster
	index string
	// pk is the primary key attribute of the records.
	pk string
	// filterable are the attributes reads filter on, made filterable on
	// every node (idempotently) before the first filtered read or write.
	filterable []string

	mu      sync.Mutex
	ensured map[string]int // node ID -> ensuredNo, ensuredAsked, ensuredYes
}

func newFleetRecords(c *Cluster, index, pk string, filterable ...string) *fleetRecords {
	return &fleetRecords{c: c, index: index, pk: pk, filterable: filterable, ensured: map[string]int{}}
}

// fleetAck is one node's answer to a record write or deletion.
type fleetAck struct {
	Node *node
	// Task is the node task of the write (valid when Err is nil).
	Task int64
	Err  error
}

// nodeRecords is what one node holds (Answered false: the node did not
// answer and Docs is empty).
type nodeRecords struct {
	Node     *node
	Answered bool
	Docs     []json.RawMessage
}

// bookkeeping returns a context with the deadline and cancellation of ctx
// but none of its values: miroir's own requests carry neither the
// caller's token (node keys are used) nor the caller's Report.
func bookkeeping(ctx context.Context) context.Context { return cancelOnly{ctx} }

type cancelOnly struct{ context.Context }

func (cancelOnly) Value(any) any { return nil }

// ensure checks that the filterable attributes of the index on n include
// f.filterable, and asks for them when they do not (once per node and
// Cluster; with create false, not on a node without the index: a read has
// nothing to find there). It never waits for the settings task: a record
// written after it on the same node is processed after it, and a read
// that finds the attributes not filterable yet filters by itself. It
// reports whether they are filterable now.
func (f *fleetRecords) ensure(ctx context.Context, n *node, create bool) (bool, error) {
	if len(f.filterable) == 0 {
		return true, nil
	}
	f.mu.Lock()
	state := f.ensured[n.ID]
	f.mu.Unlock()
	if state == ensuredYes {
		return true, nil
	}
	var attrs []any
	err := n.doJSON(ctx, "getSettings", http.MethodGet, "/indexes/"+f.index+"/settings/filterable-attributes", nil, nil, &attrs)
	switch {
	case apiCode(err) == "index_not_found":
		if !create {
			return false, nil
		}
		attrs = nil
	case err != nil:
		return false, err
	}
	var missing []string
	for _, want := range f.filterable {
		if !slices.ContainsFunc(attrs, func(a any) bool { s, ok := a.(string); return ok && (s == want || s == "*") }) {
			missing = append(missing, want)
		}
	}
	if len(missing) == 0 {
		f.mu.Lock()
		f.ensured[n.ID] = ensuredYes
		f.mu.Unlock()
		return true, nil
	}
	if state == ensuredAsked {
		return false, nil
	}
	for _, m := range missing {
		attrs = append(attrs, m)
	}
	if err := n.doJSON(ctx, "updateSettings", http.MethodPut, "/indexes/"+f.index+"/settings/filterable-attributes", nil, attrs, nil); err != nil {
		return false, err
	}
	f.mu.Lock()
	f.ensured[n.ID] = ensuredAsked
	f.mu.Unlock()
	return false, nil
}

// forget makes the next write to n check the index's settings again (its
// records index was deleted).
func (f *fleetRecords) forget(n *node) {
	f.mu.Lock()
	delete(f.ensured, n.ID)
	f.mu.Unlock()
}

// ensure states, per node.
const (
	ensuredNo    = iota
	ensuredAsked // the settings update is enqueued
	ensuredYes   // the attributes are filterable
)

// put writes records (a JSON array of objects, each with the primary
// key) to every node, and returns each node's ack.
func (f *fleetRecords) put(ctx context.Context, records any) []fleetAck {
	return f.putTo(ctx, nil, records)
}

// putTo is put to the given nodes (nil: every member); acks of the
// others are empty.
func (f *fleetRecords) putTo(ctx context.Context, to []*node, records any) []fleetAck {
	ctx = bookkeeping(ctx)
	body, err := json.Marshal(records)
	if err != nil {
		return f.allFailed(err)
	}
	q := map[string][]string{"primaryKey": {f.pk}}
	return f.eachOf(ctx, to, func(ctx context.Context, n *node) (int64, error) {
		if _, err := f.ensure(ctx, n, true); err != nil {
			return 0, err
		}
		resp, err := n.do(ctx, "writeRecords", http.MethodPost, "/indexes/"+f.index+"/documents", q, "application/json", body)
		if err != nil {
			return 0, err
		}
		return taskUIDOf(n, resp.Body)
	})
}

// remove deletes the records with these ids on every node.
func (f *fleetRecords) remove(ctx context.Context, ids []string) []fleetAck {
	ctx = bookkeeping(ctx)
	body, _ := json.Marshal(ids)
	return f.each(ctx, func(ctx context.Context, n *node) (int64, error) {
		resp, err := n.do(ctx, "deleteRecords", http.MethodPost, "/indexes/"+f.index+"/documents/delete-batch", nil, "application/json", body)
		if err != nil {
			return 0, err
		}
		return taskUIDOf(n, resp.Body)
	})
}

func taskUIDOf(n *node, body []byte) (int64, error) {
	var info meilisearch.TaskInfo
	if err := json.Unmarshal(body, &info); err != nil {
		return 0, fmt.Errorf("miroir: node %s: decoding task: %w", n.ID, err)
	}
	return info.TaskUID, nil
}

func (f *fleetRecords) allFailed(err error) []fleetAck {
	ms := f.c.members()
	out := make([]fleetAck, len(ms))
	for i, n := range ms {
		out[i] = fleetAck{Node: n, Err: err}
	}
	return out
}

// eachOf runs fn on the nodes of to (nil: every member, as each does);
// the acks are in the order of to.
func (f *fleetRecords) eachOf(ctx context.Context, to []*node, fn func(ctx context.Context, n *node) (int64, error)) []fleetAck {
	if to == nil {
		return f.each(ctx, fn)
	}
	out := make([]fleetAck, len(to))
	parallel(len(to), 0, func(i int) error {
		uid, err := fn(ctx, to[i])
		out[i] = fleetAck{Node: to[i], Task: uid, Err: err}
		return err
	})
	return out
}

// each runs fn on every member in parallel; acks are in members' order.
func (f *fleetRecords) each(ctx context.Context, fn func(ctx context.Context, n *node) (int64, error)) []fleetAck {
	return f.eachOf(ctx, f.c.members(), fn)
}

// wait polls the node tasks of acks until each is finished (or ctx ends)
// and returns the acks with Err set for a node task that failed (codes in
// okCodes count as success, e.g. index_not_found for a deletion) or is
// still unfinished when ctx ends.
func (f *fleetRecords) wait(ctx context.Context, acks []fleetAck, okCodes ...string) []fleetAck {
	ctx = bookkeeping(ctx)
	out := slices.Clone(acks)
	var wg sync.WaitGroup
	for i := range out {
		if out[i].Err != nil || out[i].Node == nil {
			continue // failed, or a node outside the fleet (no write)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].Err = waitNodeTask(ctx, out[i].Node, out[i].Task, okCodes...)
		}()
	}
	wg.Wait()
	return out
}

// waitNodeTask polls one node task until it is finished: nil when it
// succeeded (or failed with one of okCodes), else the failure.
func waitNodeTask(ctx context.Context, n *node, uid int64, okCodes ...string) error {
	delay := 2 * time.Millisecond
	for {
		var t meilisearch.Task
		err := n.doJSON(ctx, "getTask", http.MethodGet, "/tasks/"+strconv.FormatInt(uid, 10), nil, nil, &t)
		if err != nil {
			return err
		}
		switch t.Status {
		case meilisearch.TaskStatusSucceeded:
			return nil
		case meilisearch.TaskStatusFailed, meilisearch.TaskStatusCanceled:
			if slices.Contains(okCodes, string(t.Error.Code)) {
				return nil
			}
			e := &meilisearch.Error{Endpoint: "/tasks/" + strconv.FormatInt(uid, 10), Method: http.MethodGet, Function: "miroir node " + n.ID, StatusCode: http.StatusOK}
			e.APIError = t.Error
			if t.Status == meilisearch.TaskStatusCanceled {
				e.APIError = meilisearch.APIErrorDetails{Code: "task_canceled", Message: fmt.Sprintf("node %s: task %d was canceled", n.ID, uid), Type: "system"}
			}
			return e.WithErrCode(meilisearch.APIError)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("miroir: node %s: task %d still %s: %w", n.ID, uid, t.Status, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// fetchPage is how many records one read request takes.
const fetchPage = 1000

// fetch reads the records of kind (all records when kind is "") from
// every node.
func (f *fleetRecords) fetch(ctx context.Context, kind string) []nodeRecords {
	ms := f.c.members()
	ctx = bookkeeping(ctx)
	out := make([]nodeRecords, len(ms))
	parallel(len(ms), 0, func(i int) error {
		docs, err := f.fetchNode(ctx, ms[i], kind)
		out[i] = nodeRecords{Node: ms[i], Answered: err == nil, Docs: docs}
		return err
	})
	return out
}

// fetchNode reads the records of kind from n, page by page: filtered by
// the node when kind is filterable there, else filtered here.
func (f *fleetRecords) fetchNode(ctx context.Context, n *node, kind string) ([]json.RawMessage, error) {
	filter := ""
	if kind != "" {
		ok, err := f.ensure(ctx, n, false)
		if err != nil {
			return nil, err
		}
		if ok {
			filter = recordKindField + " = " + strconv.Quote(kind)
		}
	}
	var all []json.RawMessage
	for offset := 0; ; offset += fetchPage {
		req := map[string]any{"offset": offset, "limit": fetchPage}
		if filter != "" {
			req["filter"] = filter
		}
		var page struct {
			Results []json.RawMessage `json:"results"`
			Total   int               `json:"total"`
		}
		err := n.doJSON(ctx, "fetchRecords", http.MethodPost, "/indexes/"+f.index+"/documents/fetch", nil, req, &page)
		if apiCode(err) == "index_not_found" {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		for _, d := range page.Results {
			if kind == "" || filter != "" || recordKind(d) == kind {
				all = append(all, d)
			}
		}
		if len(page.Results) < fetchPage || offset+len(page.Results) >= page.Total {
			return all, nil
		}
	}
}

// recordKind reads the kind of a record ("" for none).
func recordKind(raw json.RawMessage) string {
	var r struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal(raw, &r)
	return r.Kind
}

// get reads the record id from every node (Docs holds it, or nothing).
func (f *fleetRecords) get(ctx context.Context, id string) []nodeRecords {
	ms := f.c.members()
	ctx = bookkeeping(ctx)
	out := make([]nodeRecords, len(ms))
	parallel(len(ms), 0, func(i int) error {
		n := ms[i]
		resp, err := n.do(ctx, "getRecord", http.MethodGet, "/indexes/"+f.index+"/documents/"+id, nil, "", nil)
		switch code := apiCode(err); {
		case err == nil:
			out[i] = nodeRecords{Node: n, Answered: true, Docs: []json.RawMessage{resp.Body}}
		case code == "document_not_found" || code == "index_not_found":
			out[i] = nodeRecords{Node: n, Answered: true}
		default:
			out[i] = nodeRecords{Node: n}
		}
		return nil
	})
	return out
}

// recordHeader is what the layer reads of every record.
type recordHeader struct {
	ID  string
	Rev int64
}

// header reads the primary key (a string or an integer) and rev of a
// record.
func (f *fleetRecords) header(raw json.RawMessage) (recordHeader, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return recordHeader{}, false
	}
	var h recordHeader
	idRaw, ok := m[f.pk]
	if !ok {
		return h, false
	}
	var s string
	if json.Unmarshal(idRaw, &s) == nil {
		h.ID = s
	} else {
		h.ID = string(idRaw) // an integer id
	}
	if r, ok := m[recordRevField]; ok {
		_ = json.Unmarshal(r, &h.Rev)
	}
	return h, true
}

// newest merges the copies read from several nodes: per id, the copy with
// the highest rev (the first one read on a tie).
func (f *fleetRecords) newest(reads []nodeRecords) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	revs := map[string]int64{}
	for _, r := range reads {
		for _, d := range r.Docs {
			h, ok := f.header(d)
			if !ok {
				continue
			}
			if old, seen := revs[h.ID]; !seen || h.Rev > old {
				out[h.ID], revs[h.ID] = d, h.Rev
			}
		}
	}
	return out
}

// answered counts the nodes that answered a read.
func answered(reads []nodeRecords) int {
	n := 0
	for _, r := range reads {
		if r.Answered {
			n++
		}
	}
	return n
}

// revClock hands out record revisions: microseconds since the epoch,
// strictly increasing, and above any revision seen (a hybrid logical
// clock), so that a record rewritten after reading another instance's
// copy wins over it even when this instance's clock is behind.
type revClock struct {
	mu   sync.Mutex
	now  func() time.Time
	last int64
}

func (r *revClock) next() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now
	if r.now != nil {
		now = r.now
	}
	v := now().UnixMicro()
	if v <= r.last {
		v = r.last + 1
	}
	r.last = v
	return v
}

// current is the last revision handed out or seen.
func (r *revClock) current() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *revClock) observe(v int64) {
	r.mu.Lock()
	r.last = max(r.last, v)
	r.mu.Unlock()
}
