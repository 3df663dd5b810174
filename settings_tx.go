package miroir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
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
		obj["filterableAttributes"] = json.RawMessage(`["` + shardField + `"]`)
		req.method, req.path = http.MethodPatch, base
		req.body, _ = json.Marshal(obj)
	case op.key == "":
		req.method, req.path, req.body = http.MethodPatch, base, op.body
	case op.reset && op.key == "filterableAttributes":
		d := settingByKey(op.key)
		req.method, req.path = http.MethodPut, base+"/"+d.route
		req.body = []byte(`["` + shardField + `"]`)
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
	tok  string     // pass-through auth token of the caller
	pre  []NodeTask // node tasks to wait for first (the index's creation)
}

// settingsQueue serialises the transactions of one index.
type settingsQueue struct {
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
		c.settingsEng = &settingsEngine{c: c, taskTimeout: defaultSettingsTaskTimeout, pollMin: 5 * time.Millisecond, pollMax: 250 * time.Millisecond, queues: map[string]*settingsQueue{}}
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
func (c *Cluster) submitSettings(ctx context.Context, uid string, op *settingsOp, create bool) (*meilisearch.TaskInfo, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	var pre []NodeTask
	if create {
		if err := checkIndexUID(uid); err != nil {
			return nil, err
		}
		var err error
		if _, pre, err = c.writeState(ctx, uid, ""); err != nil {
			return nil, err
		}
	} else if _, err := c.state(ctx, uid); err != nil {
		return nil, err
	}
	e := c.settingsTx()
	lt, err := c.tasks.newLocal(ctx, uid, meilisearch.TaskTypeSettingsUpdate, opDetails(op))
	if err != nil {
		return nil, err
	}
	if e.onSubmit != nil {
		e.onSubmit(uid, op)
	}
	e.enqueue(&settingsJob{uid: uid, op: op, task: lt, tok: authTokenFrom(ctx), pre: pre})
	return lt.Info(), nil
}

// opDetails fills the task details Meilisearch shows for a settings update.
func opDetails(op *settingsOp) meilisearch.Details {
	var d meilisearch.Details
	if op.reset || op.repair || len(op.body) == 0 {
		return d
	}
	obj := op.body
	if op.key != "" {
		obj, _ = json.Marshal(map[string]json.RawMessage{op.key: op.body})
	}
	_ = json.Unmarshal(obj, &d) // best effort: details are informational
	d.FilterableAttributes = slices.DeleteFunc(d.FilterableAttributes, func(v any) bool { return v == shardField })
	return d
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
	if j.tok != "" {
		ctx = withAuthToken(ctx, j.tok)
	}
	if j.task != nil {
		j.task.Processing()
	}
	var err error
	if e.c.isClosed() {
		err = fmt.Errorf("%w", ErrClosed)
	} else {
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

// nodeOutcome is what a failed step left on a node.
type nodeOutcome int

const (
	unchanged nodeOutcome = iota // the node certainly did not apply the change
	changed                      // the node applied it
	unknown                      // it may have (no answer, task still pending)
)

// txState is the working state of one transaction.
type txState struct {
	uid    string
	snaps  []rawSettings // by node idx
	reqs   map[int]nodeRequest
	after  []rawSettings // by node idx, read after the node applied
	ref    rawSettings   // the touched values every node must end with
	refID  string        // node the reference comes from ("" for a repair target)
	refMu  sync.Mutex
	task   *localTask
	target rawSettings // repair target

	outMu    sync.Mutex
	outcomes map[int]nodeOutcome // by node idx, for the nodes that failed
}

func (tx *txState) setOutcome(n *node, o nodeOutcome) {
	tx.outMu.Lock()
	defer tx.outMu.Unlock()
	if tx.outcomes == nil {
		tx.outcomes = map[int]nodeOutcome{}
	}
	tx.outcomes[n.idx] = o
}

func (tx *txState) outcome(n *node) nodeOutcome {
	tx.outMu.Lock()
	defer tx.outMu.Unlock()
	if o, ok := tx.outcomes[n.idx]; ok {
		return o
	}
	return changed
}

// run executes one transaction.
func (e *settingsEngine) run(ctx context.Context, j *settingsJob) error {
	c := e.c
	if len(j.pre) > 0 {
		if err := c.waitNodeTasks(ctx, j.pre); err != nil {
			return fmt.Errorf("miroir: creating index %q for its settings update: %w", j.uid, err)
		}
	}
	tx := &txState{uid: j.uid, snaps: make([]rawSettings, len(c.nodes)), after: make([]rawSettings, len(c.nodes)), reqs: map[int]nodeRequest{}, task: j.task}

	// 1. Snapshot every node.
	errs := c.fanout(ctx, c.nodes, func(ctx context.Context, n *node) error {
		s, err := e.readNode(ctx, n, j.uid)
		tx.snaps[n.idx] = s
		return err
	})
	for i, err := range errs {
		if err == nil {
			continue
		}
		if j.op.only != nil && c.nodes[i] != j.op.only {
			// Repairing one node needs only that node and some peer to
			// compare with.
			tx.snaps[i] = nil
			continue
		}
		return e.failure(j.uid, c.nodes[i], "reading its settings for the snapshot", err, rollbackResult{})
	}

	// 2. Build every node's request.
	if j.op.repair {
		peers := tx.snaps
		if j.op.only != nil {
			peers = slices.Clone(tx.snaps)
			peers[j.op.only.idx] = nil
			if !slices.ContainsFunc(peers, func(s rawSettings) bool { return s != nil }) {
				if cached := e.cachedRaw(j.uid); cached != nil {
					peers = []rawSettings{cached}
				} else {
					return e.failure(j.uid, j.op.only, "looking for a peer to compare with", errors.New("no other node could be read"), rollbackResult{})
				}
			}
		}
		tx.target = majoritySettings(peers, e.cachedRaw(j.uid))
		for k, v := range j.op.want {
			tx.target[k] = v
		}
		tx.ref = tx.target
	}
	var targets []*node
	for _, n := range c.nodes {
		if j.op.only != nil && n != j.op.only {
			continue
		}
		req, ok := j.op.request(j.uid, tx.snaps[n.idx], tx.target)
		if !ok {
			continue
		}
		tx.reqs[n.idx] = req
		targets = append(targets, n)
	}

	// 3. Apply.
	var err error
	if c.opts.settings == Parallel {
		err = e.applyParallel(ctx, tx, targets)
	} else {
		err = e.applySequential(ctx, tx, targets)
	}
	if err != nil {
		return err
	}

	// 4. Success: refresh the cache from what the nodes now hold.
	var final rawSettings
	switch {
	case j.op.repair:
		final = tx.target
	default:
		for _, n := range c.nodes {
			if final = tx.after[n.idx]; final != nil {
				break
			}
		}
		if final == nil {
			final = tx.snaps[0]
		}
	}
	e.storeCache(j.uid, final)
	return nil
}

// applySequential applies node by node; the first failure rolls back the
// nodes changed so far.
func (e *settingsEngine) applySequential(ctx context.Context, tx *txState, targets []*node) error {
	var done []*node
	for _, n := range targets {
		if e.beforeApply != nil {
			e.beforeApply(n)
		}
		out, step, err := e.applyNode(ctx, tx, n)
		if err == nil {
			done = append(done, n)
			continue
		}
		if out != unchanged {
			done = append(done, n)
		}
		rb := e.rollback(ctx, tx, done)
		return e.failure(tx.uid, n, step, err, rb)
	}
	return nil
}

// applyParallel applies on every target at once, then checks them all;
// any failure rolls back every node that changed or may have.
func (e *settingsEngine) applyParallel(ctx context.Context, tx *txState, targets []*node) error {
	if e.beforeApply != nil {
		for _, n := range targets {
			e.beforeApply(n)
		}
	}
	outs := make([]nodeOutcome, len(targets))
	steps := make([]string, len(targets))
	errs := e.c.fanout(ctx, targets, func(ctx context.Context, n *node) error {
		i := slices.Index(targets, n)
		var err error
		outs[i], steps[i], err = e.applyNode(ctx, tx, n)
		return err
	})
	first := -1
	var done []*node
	for i, n := range targets {
		if errs[i] != nil && first < 0 {
			first = i
		}
		if errs[i] == nil || outs[i] != unchanged {
			done = append(done, n)
		}
	}
	if first < 0 {
		return nil
	}
	rb := e.rollback(ctx, tx, done)
	return e.failure(tx.uid, targets[first], steps[first], errs[first], rb)
}

// applyNode sends n its request, waits for its task, reads the result and
// checks it against the reference values. It reports what the node was
// left in and, on failure, the step that failed.
func (e *settingsEngine) applyNode(ctx context.Context, tx *txState, n *node) (nodeOutcome, string, error) {
	out, step, err := e.applyNode1(ctx, tx, n)
	if err != nil {
		tx.setOutcome(n, out)
	}
	return out, step, err
}

func (e *settingsEngine) applyNode1(ctx context.Context, tx *txState, n *node) (nodeOutcome, string, error) {
	req := tx.reqs[n.idx]
	ct := ""
	if req.body != nil {
		ct = "application/json"
	}
	resp, err := n.do(ctx, "updateSettings", req.method, req.path, nil, ct, req.body)
	if err != nil {
		return sendOutcome(err), "sending the change", err
	}
	var info meilisearch.TaskInfo
	if err := json.Unmarshal(resp.Body, &info); err != nil {
		return unknown, "sending the change", fmt.Errorf("decoding the node's answer: %w", err)
	}
	if tx.task != nil {
		tx.task.AddNodeTask(n.ID, info.TaskUID)
	}
	if err := e.waitNodeTask(ctx, n, info.TaskUID); err != nil {
		if isTaskFailure(err) {
			return unchanged, "applying the change", err
		}
		return unknown, "waiting for its task", err
	}
	after, err := e.readNode(ctx, n, tx.uid)
	if err != nil {
		return changed, "reading its settings back", err
	}
	tx.after[n.idx] = after
	if err := tx.check(n, after, req); err != nil {
		return changed, "verifying its settings", err
	}
	return changed, "", nil
}

// check compares the touched settings of node n after the change with the
// reference (the repair target, or the first node that applied the
// change).
func (tx *txState) check(n *node, after rawSettings, req nodeRequest) error {
	tx.refMu.Lock()
	defer tx.refMu.Unlock()
	ref, refID := tx.ref, tx.refID
	if req.expect != nil {
		ref, refID = req.expect, ""
	} else if ref == nil {
		tx.ref, tx.refID = after, n.ID
		return nil
	}
	var diff []string
	for _, k := range req.touched {
		if _, ok := ref[k]; !ok {
			continue
		}
		if !settingEqual(k, after[k], ref[k]) {
			diff = append(diff, k)
		}
	}
	if len(diff) == 0 {
		return nil
	}
	if refID == "" {
		return fmt.Errorf("node %s holds other values than the target after the change for %s", n.ID, strings.Join(diff, ", "))
	}
	return fmt.Errorf("node %s and node %s hold different values after the same change for %s (their settings differed before; see Cluster.SettingsDrift and RepairSettings)", n.ID, refID, strings.Join(diff, ", "))
}

// sendOutcome classifies a failed request: an answer (any status) or a
// refused connection means the node did not take the change; a request
// that got no answer may have been applied.
func sendOutcome(err error) nodeOutcome {
	if !isTransportError(err) {
		return unchanged
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return unchanged
	}
	return unknown
}

// rollbackResult is the outcome of a rollback.
type rollbackResult struct {
	restored []string
	failed   []string // changed nodes whose restore failed
	errs     []error
	unknown  []string // nodes that did not answer and may or may not have applied the change
}

func (r rollbackResult) complete() bool { return len(r.failed) == 0 }

// rollback restores the snapshot of the touched settings on every node of
// done, in parallel.
func (e *settingsEngine) rollback(ctx context.Context, tx *txState, done []*node) rollbackResult {
	var rb rollbackResult
	if len(done) == 0 {
		return rb
	}
	if e.beforeRollback != nil {
		e.beforeRollback()
	}
	if ctx.Err() != nil {
		// The cluster is closing: still try to leave the fleet consistent.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), e.taskTimeout)
		defer cancel()
	}
	errs := e.c.fanout(ctx, done, func(ctx context.Context, n *node) error {
		want := tx.snaps[n.idx].subset(tx.reqs[n.idx].touched)
		return e.patchNode(ctx, n, tx.uid, want, nil)
	})
	for i, n := range done {
		switch {
		case errs[i] == nil:
			rb.restored = append(rb.restored, n.ID)
		case tx.outcome(n) == unknown && isTransportError(errs[i]):
			// The node answered neither the change nor the restore: it
			// most likely never applied the change. Make sure it is
			// compared with the fleet (and repaired) before it receives
			// writes again.
			rb.unknown = append(rb.unknown, n.ID)
			e.c.unverify(tx.uid, n)
		default:
			rb.failed = append(rb.failed, n.ID)
			rb.errs = append(rb.errs, errs[i])
		}
	}
	return rb
}

// unverify makes node n be re-verified for index uid before it receives
// writes again.
func (c *Cluster) unverify(uid string, n *node) {
	c.mu.Lock()
	st := c.indexes[uid]
	c.mu.Unlock()
	if st != nil {
		st.setVerified(n.idx, false)
	}
}

// patchNode makes node n hold want (a subset of the settings) with one
// PATCH of the settings object, and waits for its task. Embedders that n
// has and want lacks are removed; API keys of embedders are left as the
// node has them (nodes only show them masked).
func (e *settingsEngine) patchNode(ctx context.Context, n *node, uid string, want rawSettings, cur rawSettings) error {
	if _, ok := want["embedders"]; ok && cur == nil {
		var err error
		if cur, err = e.readNode(ctx, n, uid); err != nil {
			return err
		}
	}
	body, err := json.Marshal(writableSettings(want, cur))
	if err != nil {
		return err
	}
	resp, err := n.do(ctx, "restoreSettings", http.MethodPatch, "/indexes/"+uid+"/settings", nil, "application/json", body)
	if err != nil {
		return err
	}
	var info meilisearch.TaskInfo
	if err := json.Unmarshal(resp.Body, &info); err != nil {
		return fmt.Errorf("decoding the node's answer: %w", err)
	}
	return e.waitNodeTask(ctx, n, info.TaskUID)
}

// writableSettings turns settings read from a node into a PATCH body: API
// keys of embedders are dropped (nodes show them masked; writing the mask
// would replace the real key), and embedders the node has (cur) but want
// lacks are set to null (PATCH merges embedders by name).
func writableSettings(want, cur rawSettings) rawSettings {
	out := make(rawSettings, len(want))
	for k, v := range want {
		out[k] = v
	}
	ev, ok := want["embedders"]
	if !ok {
		return out
	}
	var emb map[string]map[string]any
	if json.Unmarshal(ev, &emb) != nil {
		return out
	}
	patch := map[string]any{}
	for name, cfg := range emb {
		if cfg != nil {
			delete(cfg, "apiKey")
			for _, sub := range []string{"indexingEmbedder", "searchEmbedder"} {
				if m, ok := cfg[sub].(map[string]any); ok {
					delete(m, "apiKey")
				}
			}
		}
		patch[name] = cfg
	}
	var have map[string]json.RawMessage
	_ = json.Unmarshal(cur["embedders"], &have)
	for name := range have {
		if _, ok := emb[name]; !ok {
			patch[name] = nil
		}
	}
	out["embedders"], _ = json.Marshal(patch)
	return out
}

// readNode returns node n's settings of index uid.
func (e *settingsEngine) readNode(ctx context.Context, n *node, uid string) (rawSettings, error) {
	var s rawSettings
	if err := n.doJSON(ctx, "getSettings", http.MethodGet, "/indexes/"+uid+"/settings", nil, nil, &s); err != nil {
		return nil, err
	}
	if s == nil {
		s = rawSettings{}
	}
	return s, nil
}

// nodeTaskError is a node task that ended failed or canceled.
type nodeTaskError struct{ err *meilisearch.Error }

func (e *nodeTaskError) Error() string { return e.err.Error() }
func (e *nodeTaskError) Unwrap() error { return e.err }

func isTaskFailure(err error) bool {
	var te *nodeTaskError
	return errors.As(err, &te)
}

// waitNodeTask polls node task uid until it ends; a failed or canceled
// task is a *nodeTaskError carrying the node's error.
func (e *settingsEngine) waitNodeTask(ctx context.Context, n *node, uid int64) error {
	ctx, cancel := context.WithTimeout(ctx, e.taskTimeout)
	defer cancel()
	wait := e.pollMin
	path := "/tasks/" + strconv.FormatInt(uid, 10)
	for {
		var t meilisearch.Task
		err := n.doJSON(ctx, "getTask", http.MethodGet, path, nil, nil, &t)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil {
			switch t.Status {
			case meilisearch.TaskStatusSucceeded:
				return nil
			case meilisearch.TaskStatusFailed, meilisearch.TaskStatusCanceled:
				me := &meilisearch.Error{Endpoint: path, Method: http.MethodGet, Function: "miroir node " + n.ID, APIError: t.Error}
				if t.Status == meilisearch.TaskStatusCanceled && me.APIError.Code == "" {
					me.APIError = meilisearch.APIErrorDetails{Message: fmt.Sprintf("task %d was canceled", uid), Code: "task_canceled", Type: "system"}
				}
				return &nodeTaskError{me.WithErrCode(meilisearch.APIError)}
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("node %s task %d did not finish within %s", n.ID, uid, e.taskTimeout)
			}
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, e.pollMax)
	}
}

// failure builds the error of a failed transaction: what failed where,
// and what the rollback did.
func (e *settingsEngine) failure(uid string, n *node, step string, cause error, rb rollbackResult) *Error {
	var b strings.Builder
	fmt.Fprintf(&b, "miroir: settings update of index `%s` failed on node %s while %s: %s; ", uid, n.ID, step, errText(cause))
	switch {
	case len(rb.restored) == 0 && len(rb.failed) == 0 && len(rb.unknown) == 0:
		b.WriteString("no node had been changed: rollback complete")
	case rb.complete():
		if len(rb.restored) > 0 {
			fmt.Fprintf(&b, "restored the previous settings on node(s) %s: ", strings.Join(rb.restored, ", "))
		}
		if len(rb.unknown) == 0 {
			b.WriteString("rollback complete")
		} else {
			fmt.Fprintf(&b, "rollback complete on every node that answered; node(s) %s did not answer, so whether they applied the change is unknown: they will be compared with the fleet and repaired before they receive writes again", strings.Join(rb.unknown, ", "))
		}
	default:
		b.WriteString("rollback INCOMPLETE: ")
		for i, id := range rb.failed {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "restoring node %s failed: %s", id, errText(rb.errs[i]))
		}
		if len(rb.restored) > 0 {
			fmt.Fprintf(&b, "; restored node(s) %s", strings.Join(rb.restored, ", "))
		}
		b.WriteString("; the nodes' settings may differ: check Cluster.SettingsDrift and run Cluster.RepairSettings")
	}
	if !rb.complete() {
		e.invalidateCache(uid)
	}
	code, status := CodeSettingsRollback, http.StatusInternalServerError
	var me *meilisearch.Error
	if rb.complete() && errors.As(cause, &me) && me.APIError.Type == "invalid_request" && me.APIError.Code != "" {
		// The node refused the change itself (an invalid value): report
		// Meilisearch's own code, as a single node would.
		code, status = string(me.APIError.Code), http.StatusBadRequest
	}
	err := newError(status, code, "%s", b.String())
	err.Nodes = append([]string{n.ID}, rb.failed...)
	err.Err = cause
	return err
}

// errText is a short description of a node error.
func errText(err error) string {
	var me *meilisearch.Error
	if errors.As(err, &me) {
		if me.ErrCode == meilisearch.CommunicationError {
			if me.OriginError != nil {
				return me.APIError.Message + ": " + me.OriginError.Error()
			}
			return me.APIError.Message
		}
		if me.APIError.Code != "" {
			return fmt.Sprintf("%s (%s)", me.APIError.Message, me.APIError.Code)
		}
	}
	return err.Error()
}

// ---- comparison ----

// settingEqual reports whether two raw values of setting key are the same
// setting (JSON equality; embedder API keys ignored as nodes mask them).
func settingEqual(key string, a, b json.RawMessage) bool {
	return canonSetting(key, a) == canonSetting(key, b)
}

// canonSetting is a canonical text of a raw setting value.
func canonSetting(key string, v json.RawMessage) string {
	if len(bytes.TrimSpace(v)) == 0 {
		return "null"
	}
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var x any
	if d.Decode(&x) != nil {
		return string(v)
	}
	if key == "embedders" {
		if m, ok := x.(map[string]any); ok {
			for _, cfg := range m {
				stripAPIKeys(cfg)
			}
		}
	}
	out, err := json.Marshal(x) // map keys sorted
	if err != nil {
		return string(v)
	}
	return string(out)
}

func stripAPIKeys(cfg any) {
	m, ok := cfg.(map[string]any)
	if !ok {
		return
	}
	delete(m, "apiKey")
	stripAPIKeys(m["indexingEmbedder"])
	stripAPIKeys(m["searchEmbedder"])
}

// majoritySettings returns, for every setting some node has, the value
// most nodes hold (nil snapshots are skipped). Ties go to the value of
// prefer (the cluster's last known fleet settings), then to the node
// first in fleet order.
func majoritySettings(snaps []rawSettings, prefer rawSettings) rawSettings {
	keys := map[string]bool{}
	for _, s := range snaps {
		for k := range s {
			keys[k] = true
		}
	}
	out := rawSettings{}
	for k := range keys {
		out[k] = majorityValue(k, snaps, prefer).value
	}
	return out
}

type majority struct {
	value json.RawMessage
	canon string
}

func majorityValue(key string, snaps []rawSettings, prefer rawSettings) majority {
	type cand struct {
		majority
		count, first int
	}
	var cands []*cand
	for i, s := range snaps {
		if s == nil {
			continue
		}
		v, ok := s[key]
		if !ok {
			v = json.RawMessage("null")
		}
		cv := canonSetting(key, v)
		var found *cand
		for _, c := range cands {
			if c.canon == cv {
				found = c
				break
			}
		}
		if found == nil {
			found = &cand{majority: majority{v, cv}, first: i}
			cands = append(cands, found)
		}
		found.count++
	}
	if len(cands) == 0 {
		return majority{json.RawMessage("null"), "null"}
	}
	pref := ""
	if pv, ok := prefer[key]; ok {
		pref = canonSetting(key, pv)
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if c.count > best.count || (c.count == best.count && c.canon == pref && best.canon != pref) {
			best = c
		}
	}
	return best.majority
}
