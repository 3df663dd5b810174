package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// One settings transaction: snapshot, apply (sequential or parallel) with
// verification, rollback, and the error that reports the outcome.

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
	tp := c.topo()
	if len(j.pre) > 0 {
		if err := c.waitNodeTasks(ctx, j.pre); err != nil {
			return fmt.Errorf("miroir: creating index %q for its settings update: %w", j.uid, err)
		}
	}
	tx := &txState{uid: j.uid, snaps: make([]rawSettings, len(tp.clients)), after: make([]rawSettings, len(tp.clients)), reqs: map[int]nodeRequest{}, task: j.task}
	// 1. Snapshot every node.
	if err := e.snapshot(ctx, j, tx); err != nil {
		return err
	}
	// 2. Build every node's request.
	targets, err := e.plan(j, tx)
	if err != nil {
		return err
	}
	// 3. Apply.
	if c.opts.settings == Parallel {
		err = e.applyParallel(ctx, tx, targets)
	} else {
		err = e.applySequential(ctx, tx, targets)
	}
	if err != nil {
		return err
	}
	// 4. Success: refresh the cache from what the nodes now hold.
	e.storeCache(j.uid, tx.final(j.op.repair))
	return nil
}

// snapshot reads every node's settings into tx.snaps. A node that cannot
// be read fails the transaction, unless the job repairs another node.
func (e *settingsEngine) snapshot(ctx context.Context, j *settingsJob, tx *txState) error {
	c := e.c
	tp := c.topo()
	// Nodes the transaction was not sized for joined the fleet since it
	// began (a change refuses settings updates; this is only a lagging
	// view): they are left to the change's provisioning.
	ms := slices.DeleteFunc(slices.Clone(tp.members), func(n *node) bool { return n.idx >= len(tx.snaps) })
	errs := c.fanout(ctx, ms, func(ctx context.Context, n *node) error {
		s, err := e.readNode(ctx, n, j.uid)
		tx.snaps[n.idx] = s
		return err
	})
	for i, err := range errs {
		if err == nil {
			continue
		}
		if j.op.only != nil && ms[i] != j.op.only {
			// Repairing one node needs only that node and some peer to
			// compare with.
			tx.snaps[ms[i].idx] = nil
			continue
		}
		return e.failure(j.uid, ms[i], "reading its settings for the snapshot", err, rollbackResult{})
	}
	return nil
}

// plan builds every node's request into tx.reqs (a repair first decides
// its target: the peers' majority, the wanted values over it) and returns
// the nodes to change.
func (e *settingsEngine) plan(j *settingsJob, tx *txState) ([]*node, error) {
	if j.op.repair {
		peers := tx.snaps
		if j.op.only != nil {
			peers = slices.Clone(tx.snaps)
			peers[j.op.only.idx] = nil
			if !slices.ContainsFunc(peers, func(s rawSettings) bool { return s != nil }) {
				if cached := e.cachedRaw(j.uid); cached != nil {
					peers = []rawSettings{cached}
				} else {
					return nil, e.failure(j.uid, j.op.only, "looking for a peer to compare with", errors.New("no other node could be read"), rollbackResult{})
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
	for _, n := range e.c.members() {
		if n.idx >= len(tx.snaps) || (j.op.only != nil && n != j.op.only) {
			continue // joined since the snapshot (see snapshot)
		}
		req, ok := j.op.request(j.uid, tx.snaps[n.idx], tx.target)
		if !ok {
			continue
		}
		tx.reqs[n.idx] = req
		targets = append(targets, n)
	}
	return targets, nil
}

// final is what the nodes hold after a successful transaction: the
// repair target, else the first node's settings read after applying (the
// first snapshot when no node changed).
func (tx *txState) final(repair bool) rawSettings {
	if repair {
		return tx.target
	}
	for _, s := range tx.after {
		if s != nil {
			return s
		}
	}
	return tx.snaps[0]
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
// done, in parallel. The transaction has failed: the Observer hears of it
// (SettingsObserver) whether or not any node had to be restored.
func (e *settingsEngine) rollback(ctx context.Context, tx *txState, done []*node) rollbackResult {
	if so := e.c.hooks.settings; so != nil {
		defer so.SettingsRolledBack(tx.uid)
	}
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
	if st, _ := c.states.lookup(uid); st != nil {
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
//
// A node whose creation task for uid is still queued answers
// index_not_found, although a settings task enqueued there now would run
// after the creation (as on one Meilisearch, where CreateIndex followed at
// once by UpdateSettings works). So on index_not_found the read waits for
// the node's pending indexCreation tasks of uid and reads once more.
func (e *settingsEngine) readNode(ctx context.Context, n *node, uid string) (rawSettings, error) {
	var s rawSettings
	path := "/indexes/" + uid + "/settings"
	err := n.doJSON(ctx, "getSettings", http.MethodGet, path, nil, nil, &s)
	if err != nil && apiCode(err) == "index_not_found" {
		// Read again even when nothing was pending: the creation may have
		// finished between the two requests.
		if e.waitPendingCreation(ctx, n, uid) == nil {
			s = nil
			err = n.doJSON(ctx, "getSettings", http.MethodGet, path, nil, nil, &s)
		}
	}
	if err != nil {
		return nil, err
	}
	if s == nil {
		s = rawSettings{}
	}
	return s, nil
}

// waitPendingCreation waits for node n's enqueued or processing
// indexCreation tasks of index uid.
func (e *settingsEngine) waitPendingCreation(ctx context.Context, n *node, uid string) error {
	q := url.Values{"indexUids": {uid}, "types": {"indexCreation"}, "statuses": {"enqueued,processing"}}
	var list struct {
		Results []struct {
			UID int64 `json:"uid"`
		} `json:"results"`
	}
	if err := n.doJSON(ctx, "getTasks", http.MethodGet, "/tasks", q, nil, &list); err != nil {
		return err
	}
	for _, t := range list.Results {
		if err := e.waitNodeTask(ctx, n, t.UID); err != nil {
			return err
		}
	}
	return nil
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
