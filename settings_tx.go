package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"golang.org/x/sync/singleflight"
)

// Settings transactions (DESIGN §7).
//
// Every settings change, whatever method it comes from, is a settingsOp
// run by one engine: snapshot every node's settings, apply the change node
// by node (or everywhere at once with the Parallel strategy) waiting for
// each node task to succeed and checking that every node ends with the same
// values, and on any failure restore the snapshot on every node that was
// (or may have been) changed. Transactions of one index run one at a time,
// in submission order, in the background, as cluster-local tasks.

// settingDesc describes one setting: its key in the settings object, its
// sub-route under /indexes/{uid}/settings/ and the verb that updates it.
type settingDesc struct {
	key    string
	route  string
	update string // http.MethodPut or http.MethodPatch
}

// settingDescs lists every setting Meilisearch serves on a sub-route, in
// Meilisearch's order. Updating a setting through its sub-route uses the
// verb meilisearch-go uses.
var settingDescs = []settingDesc{
	{"displayedAttributes", "displayed-attributes", http.MethodPut},
	{"searchableAttributes", "searchable-attributes", http.MethodPut},
	{"filterableAttributes", "filterable-attributes", http.MethodPut},
	{"sortableAttributes", "sortable-attributes", http.MethodPut},
	{"foreignKeys", "foreign-keys", http.MethodPut},
	{"rankingRules", "ranking-rules", http.MethodPut},
	{"stopWords", "stop-words", http.MethodPut},
	{"nonSeparatorTokens", "non-separator-tokens", http.MethodPut},
	{"separatorTokens", "separator-tokens", http.MethodPut},
	{"dictionary", "dictionary", http.MethodPut},
	{"synonyms", "synonyms", http.MethodPut},
	{"distinctAttribute", "distinct-attribute", http.MethodPut},
	{"proximityPrecision", "proximity-precision", http.MethodPut},
	{"typoTolerance", "typo-tolerance", http.MethodPatch},
	{"faceting", "faceting", http.MethodPatch},
	{"pagination", "pagination", http.MethodPatch},
	{"embedders", "embedders", http.MethodPatch},
	{"searchCutoffMs", "search-cutoff-ms", http.MethodPut},
	{"localizedAttributes", "localized-attributes", http.MethodPut},
	{"facetSearch", "facet-search", http.MethodPut},
	{"prefixSearch", "prefix-search", http.MethodPut},
	{"chat", "chat", http.MethodPatch},
	{"vectorStore", "vector-store", http.MethodPut},
}

func settingByKey(key string) *settingDesc {
	for i := range settingDescs {
		if settingDescs[i].key == key {
			return &settingDescs[i]
		}
	}
	return nil
}

func settingByRoute(route string) *settingDesc {
	for i := range settingDescs {
		if settingDescs[i].route == route {
			return &settingDescs[i]
		}
	}
	return nil
}

// rawSettings is a settings object as a node serves it, one raw JSON value
// per setting. Raw values keep everything meilisearch.Settings cannot hold
// (attribute-pattern objects in filterableAttributes, explicit nulls,
// settings newer than meilisearch-go).
type rawSettings map[string]json.RawMessage

func (r rawSettings) keys() []string {
	ks := make([]string, 0, len(r))
	for k := range r {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (r rawSettings) subset(keys []string) rawSettings {
	out := make(rawSettings, len(keys))
	for _, k := range keys {
		if v, ok := r[k]; ok {
			out[k] = v
		} else {
			out[k] = json.RawMessage("null")
		}
	}
	return out
}

// settingsOp is one settings change: the whole object or one setting, an
// update or a reset, or a repair toward a target.
type settingsOp struct {
	key   string          // setting key; "" for the whole settings object
	reset bool            // reset instead of update
	body  json.RawMessage // update value (the setting's value, or the settings object); _miroir_shard already added
	// sent is the update value as the caller sent it (before _miroir_shard
	// was added): the task details echo it.
	sent json.RawMessage
	// repair: bring every node to the majority (overridden by want) on
	// every setting where it differs. Only RepairSettings and the
	// re-verification of a returning node set it.
	repair bool
	want   rawSettings // repair: explicit values (nil: majority only)
	only   *node       // repair: restrict to this node (nil: every node)
	// done, when set, receives the outcome (synchronous repairs).
	done chan error
}

// touched returns the settings op changes on a node whose current settings
// are snap.
func (op *settingsOp) touched(snap rawSettings) []string {
	switch {
	case op.key != "":
		return []string{op.key}
	case op.reset:
		return snap.keys()
	default:
		var obj rawSettings
		_ = json.Unmarshal(op.body, &obj) // validated at submission
		return obj.keys()
	}
}

// nodeRequest is what op sends to one node.
type nodeRequest struct {
	method, path string
	body         []byte // nil: no body
	touched      []string
	expect       rawSettings // repair: the values the node must end with
}

// request builds op's request for a node whose settings are snap. ok is
// false when the node has nothing to do (a repair of a node in line).
func (op *settingsOp) request(uid string, snap rawSettings, target rawSettings) (req nodeRequest, ok bool) {
	base := "/indexes/" + uid + "/settings"
	if op.repair {
		var diff []string
		for _, k := range target.keys() {
			if !settingEqual(k, snap[k], target[k]) {
				diff = append(diff, k)
			}
		}
		if len(diff) == 0 {
			return req, false
		}
		want := target.subset(diff)
		body, _ := json.Marshal(writableSettings(want, snap))
		return nodeRequest{method: http.MethodPatch, path: base, body: body, touched: diff, expect: want}, true
	}
	req.touched = op.touched(snap)
	switch {
	case op.key == "" && op.reset:
		// One PATCH that resets every setting the node shows and leaves
		// _miroir_shard filterable: a DELETE followed by a PUT would leave
		// a window where shard filters fail.
		obj := make(map[string]json.RawMessage, len(snap))
		for k := range snap {
			obj[k] = json.RawMessage("null")
		}
		obj["filterableAttributes"] = internalFilterable
		obj["sortableAttributes"] = internalSortable
		req.method, req.path = http.MethodPatch, base
		req.body, _ = json.Marshal(obj)
	case op.key == "":
		req.method, req.path, req.body = http.MethodPatch, base, op.body
	case op.reset && op.key == "filterableAttributes":
		d := settingByKey(op.key)
		req.method, req.path = http.MethodPut, base+"/"+d.route
		req.body = internalFilterable
	case op.reset && op.key == "sortableAttributes":
		d := settingByKey(op.key)
		req.method, req.path = http.MethodPut, base+"/"+d.route
		req.body = internalSortable
	case op.reset:
		d := settingByKey(op.key)
		req.method, req.path = http.MethodDelete, base+"/"+d.route
	default:
		d := settingByKey(op.key)
		req.method, req.path, req.body = d.update, base+"/"+d.route, op.body
	}
	return req, true
}

// settingsJob is a submitted transaction waiting for its turn.
type settingsJob struct {
	uid  string
	op   *settingsOp
	task *localTask // nil for a synchronous repair without a task
	pre  []NodeTask // node tasks to wait for first (the index's creation)
	// ticket is the caller's place in the index's order (nil for internal
	// repairs); prepare, when set, checks the index's state when the turn
	// comes (a call deferred behind an unfinished barrier), with ctx.
	ticket  *ticket
	prepare func(ctx context.Context) ([]NodeTask, error)
	ctx     context.Context
}

// settingsQueue serialises the transactions of one index.
type settingsQueue struct {
	// submit keeps a submission's place in the index's call order (its
	// ticket) and in this queue the same: the worker runs jobs in queue
	// order and each waits for the ticket before it.
	submit  sync.Mutex
	jobs    []*settingsJob
	running bool
	gen     uint64 // bumped whenever a transaction ends, to discard stale cache loads
	raw     rawSettings
}

// settingsEngine runs the settings transactions of one Cluster.
type settingsEngine struct {
	c *Cluster

	// taskTimeout bounds the wait for one node task (apply or restore).
	taskTimeout time.Duration
	pollMin     time.Duration
	pollMax     time.Duration

	mu     sync.Mutex
	queues map[string]*settingsQueue

	loads singleflight.Group
	rr    atomic.Uint64 // rotation of single-node reads

	// Test hooks (nil in production).
	onSubmit       func(uid string, op *settingsOp)
	beforeApply    func(n *node)
	beforeRollback func()
}

// defaultSettingsTaskTimeout bounds the wait for one node's settings task.
// Settings changes re-index, which can take long on a large index.
const defaultSettingsTaskTimeout = 10 * time.Minute

// settingsTx returns c's settings engine, created on first use.
func (c *Cluster) settingsTx() *settingsEngine {
	c.settingsOnce.Do(func() {
		wait := c.opts.settingsWait
		if wait == 0 {
			wait = defaultSettingsTaskTimeout
		}
		c.settingsEng = &settingsEngine{c: c, taskTimeout: wait, pollMin: 5 * time.Millisecond, pollMax: 250 * time.Millisecond, queues: map[string]*settingsQueue{}}
	})
	return c.settingsEng
}

func (e *settingsEngine) queue(uid string) *settingsQueue {
	q := e.queues[uid]
	if q == nil {
		q = &settingsQueue{}
		e.queues[uid] = q
	}
	return q
}

// generation returns the cache generation of index uid.
func (e *settingsEngine) generation(uid string) uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.queue(uid).gen
}

// submit registers op on index uid as a cluster-local settingsUpdate task
// and queues it; it returns the task at once.
//
// With create, a missing index is created on the fleet first (as
// Meilisearch creates it on a settings update), through the same path as a
// first document write: miroir_meta record, _miroir_shard filterable.
func (c *Cluster) submitSettings(ctx context.Context, uid string, op *settingsOp, create bool) (_ *meilisearch.TaskInfo, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "settingsUpdate", uid)
		defer func() { cs.end(err) }()
	}
	if err := validateSettingsOp(op); err != nil {
		return nil, err // refused like Meilisearch: no node touched, no task
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if err := c.refuseDuringChange("a settings update"); err != nil {
		return nil, err
	}
	if create {
		if err := validateIndexUID(uid, refuseReserved); err != nil {
			return nil, err
		}
	}
	// The index's state is checked in the call when nothing is ahead of
	// it, when its turn comes otherwise (sequence.go).
	prepare := func(ctx context.Context) ([]NodeTask, error) {
		if create {
			_, pre, err := c.writeState(ctx, uid, "")
			return pre, err
		}
		_, err := c.state(ctx, uid)
		return nil, err
	}
	e := c.settingsTx()
	e.mu.Lock()
	q := e.queue(uid)
	e.mu.Unlock()
	q.submit.Lock()
	defer q.submit.Unlock()
	t := c.enter(true, false, uid)
	job := &settingsJob{uid: uid, op: op, ticket: t}
	if t.blocked {
		job.prepare = prepare
	} else {
		err := t.wait(ctx)
		if err == nil {
			job.pre, err = prepare(ctx)
		}
		if errors.Is(err, errIndexCreationRefused) {
			// Meilisearch accepts the call and fails its task.
			t.release()
			return c.tasks.registerFailed(ctx, &ClusterTask{IndexUID: uid, Type: meilisearch.TaskTypeSettingsUpdate, Details: opDetails(op), RawDetails: opRawDetails(op)}, err)
		}
		if err != nil {
			t.release()
			return nil, err
		}
	}
	lt, err := c.tasks.newLocalRaw(ctx, uid, meilisearch.TaskTypeSettingsUpdate, opDetails(op), opRawDetails(op))
	if err != nil {
		t.release()
		return nil, err
	}
	job.task = lt
	if e.onSubmit != nil {
		e.onSubmit(uid, op)
	}
	job.ctx = context.WithoutCancel(ctx)
	e.enqueue(job)
	return lt.Info(), nil
}

func (e *settingsEngine) enqueue(j *settingsJob) {
	e.mu.Lock()
	q := e.queue(j.uid)
	q.jobs = append(q.jobs, j)
	start := !q.running
	q.running = true
	e.mu.Unlock()
	if start {
		go e.worker(j.uid)
	}
}

// worker runs the queued transactions of index uid in order, then exits.
func (e *settingsEngine) worker(uid string) {
	for {
		e.mu.Lock()
		q := e.queue(uid)
		if len(q.jobs) == 0 {
			q.running = false
			e.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs = q.jobs[1:]
		e.mu.Unlock()
		e.runJob(j)
	}
}

func (e *settingsEngine) runJob(j *settingsJob) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-e.c.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	if j.ticket != nil {
		defer j.ticket.release()
	}
	var err error
	switch {
	case e.c.isClosed():
		err = fmt.Errorf("%w", ErrClosed)
	case j.ticket != nil:
		if err = j.ticket.wait(ctx); err == nil && j.prepare != nil {
			// The caller's values (its grant) with this job's lifetime.
			pctx := mergeCancel(j.ctx, ctx)
			j.pre, err = j.prepare(pctx)
		}
	}
	if j.task != nil {
		j.task.Processing()
	}
	if err == nil && !e.c.isClosed() {
		err = e.run(ctx, j)
	}
	if err != nil {
		e.c.opts.logger.Warn("miroir: settings transaction failed", "index", j.uid, "err", err)
	}
	if j.task != nil {
		j.task.Finish(err)
	}
	if j.op.done != nil {
		j.op.done <- err
	}
}
