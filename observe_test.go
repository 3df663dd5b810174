package miroir

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// callRecorder implements every optional extension of observe.go and
// records what it hears; CallStarted puts a marker in the call's context
// which the call's node requests must carry.
type callRecorder struct {
	NopObserver
	mu        sync.Mutex
	calls     []string // "op index outcome"
	started   int
	nodeReqs  int
	orphans   []string // node requests of a call that did not carry its marker
	rollbacks []string
	inflight  int
}

type recMarker struct{}

func (r *callRecorder) CallStarted(ctx context.Context, call CallInfo) context.Context {
	r.mu.Lock()
	r.started++
	r.inflight++
	r.mu.Unlock()
	return context.WithValue(ctx, recMarker{}, call.Operation)
}

func (r *callRecorder) CallFinished(ctx context.Context, call CallInfo, res CallResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inflight--
	if ctx.Value(recMarker{}) != call.Operation {
		r.orphans = append(r.orphans, "finish of "+call.Operation+" without its context")
	}
	r.calls = append(r.calls, fmt.Sprintf("%s %s %s", call.Operation, call.Index, res.Outcome))
}

func (r *callRecorder) NodeRequestStarted(ctx context.Context, req NodeRequestInfo) context.Context {
	return ctx
}

func (r *callRecorder) NodeRequestFinished(ctx context.Context, req NodeRequestInfo, status int, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nodeReqs++
	if req.NodeID == "" || req.Method == "" || req.Operation == "" {
		r.orphans = append(r.orphans, fmt.Sprintf("incomplete request info %+v", req))
	}
}

func (r *callRecorder) SettingsRolledBack(index string) {
	r.mu.Lock()
	r.rollbacks = append(r.rollbacks, index)
	r.mu.Unlock()
}

// take returns the finished calls so far and forgets them.
func (r *callRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// The observer sees one call per public method, named by operation, with
// the outcome of what the caller got; a nested choke point (the searches
// of a multi-search) adds nothing; node requests carry the call's context.
func TestCallObserverOutcomes(t *testing.T) {
	rec := &callRecorder{}
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, shards: 4, instant: true, opts: []Option{WithObserver(rec)}})
	ctx := testCtx(t)
	idx := f.c.Index("movies")
	f.wait(t, must(idx.AddDocuments(ctx, acDocs(0, 20), nil)), meilisearch.TaskStatusSucceeded)
	rec.take()

	if _, err := idx.Search(ctx, "", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"search movies ok"}) {
		t.Fatalf("search: calls %q", got)
	}
	_, err := f.c.MultiSearch(ctx, &meilisearch.MultiSearchRequest{Queries: []*meilisearch.SearchRequest{
		{IndexUID: "movies", Query: "a"}, {IndexUID: "movies", Query: "b"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"multiSearch  ok"}) {
		t.Fatalf("multi-search: calls %q", got)
	}
	if _, err := f.c.Index("nope").Search(ctx, "", &meilisearch.SearchRequest{}); err == nil {
		t.Fatal("search of a missing index succeeded")
	}
	if got := rec.take(); !slices.Equal(got, []string{"search nope error"}) {
		t.Fatalf("failed search: calls %q", got)
	}

	f.stop(t, 1) // group 1 misses every write: degraded
	if _, err := idx.AddDocuments(ctx, acDocs(20, 5), nil); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"documentAdditionOrUpdate movies degraded"}) {
		t.Fatalf("degraded write: calls %q", got)
	}
	f.stop(t, 0) // no group left: no quorum
	_, err = idx.AddDocuments(ctx, acDocs(30, 5), nil)
	if err == nil {
		t.Fatal("write with every node down succeeded")
	}
	if got := rec.take(); !slices.Equal(got, []string{"documentAdditionOrUpdate movies " + string(outcomeOf(err, false))}) ||
		outcomeOf(err, false) != OutcomeNoQuorum && outcomeOf(err, false) != OutcomeUnavailable {
		t.Fatalf("write with no node: err %v, calls %q", err, got)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.inflight != 0 || rec.nodeReqs == 0 || len(rec.orphans) > 0 {
		t.Fatalf("in flight %d, node requests %d, problems %q", rec.inflight, rec.nodeReqs, rec.orphans)
	}
}

// A read missing shards is degraded (Partial) or unavailable (FailFast).
func TestCallObserverUnavailableRead(t *testing.T) {
	for _, policy := range []UnavailableShardPolicy{Partial, FailFast} {
		rec := &callRecorder{}
		f := startFleet(t, fleetSpec{groups: []int{0, 0}, shards: 4, instant: true,
			opts: []Option{WithObserver(rec), WithUnavailableShardPolicy(policy)}})
		ctx := testCtx(t)
		idx := f.c.Index("movies")
		f.wait(t, must(idx.AddDocuments(ctx, acDocs(0, 20), nil)), meilisearch.TaskStatusSucceeded)
		f.stop(t, 0)
		if len(auditShardsOnly(f.c.Topology(), "n0")) == 0 {
			t.Fatal("n0 holds no shard: the test needs another placement")
		}
		rec.take()
		_, err := idx.Search(ctx, "", &meilisearch.SearchRequest{})
		want := "search movies degraded"
		if policy == FailFast {
			want = "search movies unavailable"
		}
		if got := rec.take(); !slices.Equal(got, []string{want}) {
			t.Fatalf("policy %d: err %v, calls %q", policy, err, got)
		}
	}
}

// A failed settings transaction is reported once to a SettingsObserver.
func TestSettingsObserverRollback(t *testing.T) {
	rec := &callRecorder{}
	f := newSettingsFleet(t, 2, WithObserver(rec))
	ctx := context.Background()
	defer f.srv[1].FailTasks(isRankingRulesPut, "internal")()
	task := f.wait(f.index().UpdateRankingRules(ctx, &[]string{"typo", "words"}))
	if task.Status != meilisearch.TaskStatusFailed {
		t.Fatalf("task %s", task.Status)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !slices.Equal(rec.rollbacks, []string{f.uid}) {
		t.Fatalf("rollbacks %q", rec.rollbacks)
	}
	if !slices.Contains(rec.calls, "settingsUpdate movies ok") {
		t.Fatalf("calls %q: the update's call (enqueued) is missing", rec.calls)
	}
}

// Without an observer, the hooks of a call and of a node request allocate
// nothing (the benchmark BenchmarkObserverOverhead measures whole calls).
func TestCallHooksAllocateNothingWithoutObserver(t *testing.T) {
	c := &Cluster{opts: defaultOptions()}
	n := &node{Node: Node{ID: "n0"}, c: c}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		cctx, cs := c.beginCall(ctx, "search", "movies")
		if c.hooks.calls != nil {
			callFrom(cctx).noteUnavailable([]int{1})
		}
		cs.end(nil)
		n.finished(cctx, "search", "POST", 200, time.Millisecond, nil)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per call without observer", allocs)
	}
}

// Observers forwards every event to each member implementing it.
func TestObserversForwards(t *testing.T) {
	a, b := &callRecorder{}, &callRecorder{}
	plain := &acObserver{}
	m := Observers(a, nil, plain, b)
	co := m.(CallObserver)
	ctx := co.CallStarted(context.Background(), CallInfo{Operation: "search", Index: "x"})
	co.CallFinished(ctx, CallInfo{Operation: "search", Index: "x"}, CallResult{Outcome: OutcomeOK})
	m.(SettingsObserver).SettingsRolledBack("x")
	m.NodeRequest("n0", "search", time.Millisecond, nil)
	for _, r := range []*callRecorder{a, b} {
		if got := r.take(); !slices.Equal(got, []string{"search x ok"}) || !slices.Equal(r.rollbacks, []string{"x"}) || len(r.orphans) > 0 {
			t.Fatalf("member saw %q, rollbacks %q, problems %q", got, r.rollbacks, r.orphans)
		}
	}
	if plain.requests != 1 {
		t.Fatalf("plain observer saw %d node requests", plain.requests)
	}
}
