package miroir

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Cluster calls as observers see them (DESIGN §14).
//
// A cluster call is one public Cluster or Index method that reaches the
// nodes. It starts at one of a few choke points every public method goes
// through: sequencedChecked and inTurn (writes, index lifecycle: the
// operation is the call's task type), submitSettings (settings updates),
// searchOne, multi-search, facet search, similar documents and document
// listings (reads), oneNode (reads one node answers: index, key, version),
// keyBroadcast and globalBroadcast (keys, dumps, snapshots, features) and
// the stats fan-outs. The outermost choke point owns the call: a nested
// one (a multi-search's searches, a write's index creation) finds the call
// in its context and adds nothing.
//
// Like net/http/httptrace, the call rides in the context: its node
// requests (node.do) find it there, and an observer's CallStarted may
// return a context carrying its own value (a span), which the node
// requests of the call then see in NodeRequestStarted. When no observer
// implements CallObserver, a choke point costs one nil check and
// allocates nothing; node requests likewise without a NodeRequestObserver.
//
// Work a call leaves running after it returns (a deferred write, a
// settings transaction, the polling of a barrier's task) keeps the
// caller's context values, so its node requests still name the call (an
// ended span as their parent), but its outcome is not the call's: the
// call's outcome is what the caller got back.

// Outcome is how a cluster call ended; the set is closed (metric labels).
type Outcome string

// The outcomes of a cluster call.
const (
	// OutcomeOK: the call succeeded with full redundancy and coverage.
	OutcomeOK Outcome = "ok"
	// OutcomeDegraded: the call succeeded, but a write missed quorum in
	// some group or a read could not reach some shards (Report.IsDegraded).
	OutcomeDegraded Outcome = "degraded"
	// OutcomeNoQuorum: a write failed with ErrNoQuorum.
	OutcomeNoQuorum Outcome = "no_quorum"
	// OutcomeUnavailable: the call failed because nodes or shards could
	// not be reached (ErrShardUnavailable, unreachable nodes, ErrClosed).
	OutcomeUnavailable Outcome = "unavailable"
	// OutcomeError: any other failure (the caller's error included, as a
	// 4xx from Meilisearch).
	OutcomeError Outcome = "error"
)

// CallInfo names a cluster call.
type CallInfo struct {
	// Operation is the call's kind, from a bounded set: a write's task type
	// (documentAdditionOrUpdate, settingsUpdate, indexDeletion, ...) or a
	// read's name (search, multiSearch, facetSearch, getDocuments, ...).
	Operation string
	// Index is the index uid the call works on; "" for a call on the
	// fleet (keys, dumps) or on several indexes (swap, multi-search).
	Index string
}

// CallResult is what a cluster call did.
type CallResult struct {
	Outcome  Outcome
	Err      error // the call's error, nil on success
	Duration time.Duration
	// Degraded lists the (group, shard) pairs of a write that missed quorum.
	Degraded []GroupShard
	// UnavailableShards lists the shards a read could not reach.
	UnavailableShards []int
}

// CallObserver is an optional Observer extension: an Observer that also
// implements it is told of every cluster call (see the choke points
// above). Both methods run synchronously on the call's path.
type CallObserver interface {
	// CallStarted: a call begins. The context it returns becomes the
	// call's (return ctx itself when there is nothing to add).
	CallStarted(ctx context.Context, call CallInfo) context.Context
	// CallFinished: the call returned to its caller; ctx is the one
	// CallStarted returned.
	CallFinished(ctx context.Context, call CallInfo, res CallResult)
}

// NodeRequestInfo names one request to one node. It never carries the
// request's path or body (document ids, queries, keys).
type NodeRequestInfo struct {
	NodeID    string
	Group     int
	Operation string // miroir's name for the request, as in NodeRequest
	Method    string // HTTP method
}

// NodeRequestObserver is an optional Observer extension receiving each
// node request with the context of the call that sent it (a tracer's
// child spans). NodeRequest (Observer) is still called.
type NodeRequestObserver interface {
	// NodeRequestStarted: a request is about to be sent; the returned
	// context is the request's.
	NodeRequestStarted(ctx context.Context, req NodeRequestInfo) context.Context
	// NodeRequestFinished: the request answered (status > 0) or failed;
	// err is nil for a 2xx answer.
	NodeRequestFinished(ctx context.Context, req NodeRequestInfo, status int, d time.Duration, err error)
}

// SettingsObserver is an optional Observer extension: a settings
// transaction failed and was rolled back (completely or not: the task's
// error says which).
type SettingsObserver interface {
	SettingsRolledBack(index string)
}

// hooks are the optional interfaces the Cluster's Observer implements,
// type-asserted once in New.
type hooks struct {
	calls    CallObserver
	nodes    NodeRequestObserver
	settings SettingsObserver
}

func newHooks(obs Observer) hooks {
	var h hooks
	h.calls, _ = obs.(CallObserver)
	h.nodes, _ = obs.(NodeRequestObserver)
	h.settings, _ = obs.(SettingsObserver)
	return h
}

// callState is one cluster call in flight, in its context under callKey.
type callState struct {
	obs   CallObserver
	info  CallInfo
	ctx   context.Context // as CallStarted returned it
	start time.Time

	mu          sync.Mutex
	degraded    []GroupShard
	unavailable []int
}

type callKey struct{}

// beginCall starts a cluster call named op on index, unless no observer
// wants calls (no allocation) or ctx is already inside a call (the outer
// one owns it). The returned *callState is nil then; end is nil-safe.
func (c *Cluster) beginCall(ctx context.Context, op, index string) (context.Context, *callState) {
	if c.hooks.calls == nil {
		return ctx, nil
	}
	if _, inside := ctx.Value(callKey{}).(*callState); inside {
		return ctx, nil
	}
	cs := &callState{obs: c.hooks.calls, info: CallInfo{Operation: op, Index: index}, start: time.Now()}
	ctx = context.WithValue(ctx, callKey{}, cs)
	ctx = cs.obs.CallStarted(ctx, cs.info)
	cs.ctx = ctx
	return ctx, cs
}

// end reports the call's outcome given its error.
func (cs *callState) end(err error) {
	if cs == nil {
		return
	}
	cs.mu.Lock()
	res := CallResult{Err: err, Duration: time.Since(cs.start), Degraded: dedupPairs(cs.degraded), UnavailableShards: slices.Clone(cs.unavailable)}
	cs.mu.Unlock()
	slices.Sort(res.UnavailableShards)
	res.UnavailableShards = slices.Compact(res.UnavailableShards)
	res.Outcome = outcomeOf(err, len(res.Degraded) > 0 || len(res.UnavailableShards) > 0)
	cs.obs.CallFinished(cs.ctx, cs.info, res)
}

// outcomeOf classifies a call's error into the bounded outcome set.
func outcomeOf(err error, degraded bool) Outcome {
	switch {
	case err == nil && degraded:
		return OutcomeDegraded
	case err == nil:
		return OutcomeOK
	case errors.Is(err, ErrNoQuorum):
		return OutcomeNoQuorum
	case errors.Is(err, ErrShardUnavailable), errors.Is(err, ErrClosed),
		isTransportError(err), apiCode(err) == CodeNodeUnreachable:
		return OutcomeUnavailable
	}
	return OutcomeError
}

// callFrom returns the call ctx is part of (nil: none, or not observed).
func callFrom(ctx context.Context) *callState {
	cs, _ := ctx.Value(callKey{}).(*callState)
	return cs
}

func (cs *callState) noteDegraded(pairs []GroupShard) {
	if cs == nil {
		return
	}
	cs.mu.Lock()
	cs.degraded = append(cs.degraded, pairs...)
	cs.mu.Unlock()
}

func (cs *callState) noteUnavailable(shards []int) {
	if cs == nil {
		return
	}
	cs.mu.Lock()
	cs.unavailable = append(cs.unavailable, shards...)
	cs.mu.Unlock()
}

// observed runs fn as a cluster call named op on index (the choke points
// that return a value use the generic twin, observedValue).
func (c *Cluster) observed(ctx context.Context, op, index string, fn func(ctx context.Context) error) error {
	ctx, cs := c.beginCall(ctx, op, index)
	err := fn(ctx)
	cs.end(err)
	return err
}

// observedValue is observed for a call returning a value.
func observedValue[T any](ctx context.Context, c *Cluster, op, index string, fn func(ctx context.Context) (T, error)) (T, error) {
	ctx, cs := c.beginCall(ctx, op, index)
	v, err := fn(ctx)
	cs.end(err)
	return v, err
}
