package miroir

// Write quorum (quorum.go): per group and per shard, degraded writes
// reported, no acknowledgement without quorum.

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// TestEvalQuorumTable checks evalQuorum against DESIGN §3's table, one
// shard whose replicas in group g are nodes g*rf .. g*rf+rf-1.
func TestEvalQuorumTable(t *testing.T) {
	type tc struct {
		name     string
		rg, rf   int
		acked    []int // node indexes that acked
		ok       bool
		degraded []GroupShard
	}
	cases := []tc{
		{"1x1 ack", 1, 1, []int{0}, true, nil},
		{"1x1 none", 1, 1, nil, false, nil},
		{"1x2 both", 1, 2, []int{0, 1}, true, nil},
		{"1x2 one", 1, 2, []int{0}, false, nil},
		{"1x3 all", 1, 3, []int{0, 1, 2}, true, nil},
		{"1x3 two", 1, 3, []int{0, 2}, true, nil},
		{"1x3 one", 1, 3, []int{1}, false, nil},
		{"2x1 both", 2, 1, []int{0, 1}, true, nil},
		{"2x1 group0", 2, 1, []int{0}, true, []GroupShard{{1, 0}}},
		{"2x1 group1", 2, 1, []int{1}, true, []GroupShard{{0, 0}}},
		{"2x1 none", 2, 1, nil, false, nil},
		{"2x3 g0 two", 2, 3, []int{0, 1}, true, []GroupShard{{1, 0}}},
		{"2x3 g1 two, g0 one", 2, 3, []int{2, 3, 4}, true, []GroupShard{{0, 0}}},
		{"2x3 one each", 2, 3, []int{0, 3}, false, nil},
		{"2x3 all", 2, 3, []int{0, 1, 2, 3, 4, 5}, true, nil},
		{"2x2 g1 both", 2, 2, []int{2, 3}, true, []GroupShard{{0, 0}}},
		{"2x2 one each", 2, 2, []int{0, 2}, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acked := map[int]bool{}
			for _, n := range c.acked {
				acked[n] = true
			}
			replicas := func(shard, g int) []int {
				out := make([]int, c.rf)
				for i := range out {
					out[i] = g*c.rf + i
				}
				return out
			}
			res := evalQuorum(c.rg, []int{0}, replicas, func(n int) bool { return acked[n] })
			if res.OK() != c.ok {
				t.Fatalf("ok = %v, want %v (%+v)", res.OK(), c.ok, res)
			}
			if c.ok {
				if !reflect.DeepEqual(res.Degraded, c.degraded) {
					t.Fatalf("degraded = %v, want %v", res.Degraded, c.degraded)
				}
				if !reflect.DeepEqual(res.Written, []int{0}) {
					t.Fatalf("written = %v", res.Written)
				}
			} else if !reflect.DeepEqual(res.Failed, []int{0}) || len(res.Degraded) != 0 {
				t.Fatalf("failed = %v degraded = %v", res.Failed, res.Degraded)
			}
		})
	}
}

func TestQuorumSize(t *testing.T) {
	for rf, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3} {
		if got := quorumSize(rf); got != want {
			t.Errorf("quorumSize(%d) = %d, want %d", rf, got, want)
		}
	}
}

func TestEvalQuorumSeveralShards(t *testing.T) {
	// RG=2, RF=1, 3 shards; shard s lives on node s in group 0 and node
	// 3+s in group 1. Node 0 and node 4 are down.
	replicas := func(s, g int) []int { return []int{g*3 + s} }
	down := map[int]bool{0: true, 4: true}
	res := evalQuorum(2, []int{2, 0, 1, 2}, replicas, func(n int) bool { return !down[n] })
	if !res.OK() || !reflect.DeepEqual(res.Written, []int{0, 1, 2}) {
		t.Fatalf("%+v", res)
	}
	want := []GroupShard{{0, 0}, {1, 1}}
	if !reflect.DeepEqual(res.Degraded, want) {
		t.Fatalf("degraded %v, want %v", res.Degraded, want)
	}
}

// recObserver records DegradedWrite calls.
type recObserver struct {
	NopObserver
	mu       sync.Mutex
	degraded []GroupShard
}

func (o *recObserver) DegradedWrite(_ string, pairs []GroupShard) {
	o.mu.Lock()
	o.degraded = append(o.degraded, pairs...)
	o.mu.Unlock()
}

// expectQuorum restates DESIGN §3 for the test: per shard and group,
// floor(RF/2)+1 of the group's replicas must be up.
func expectQuorum(c *Cluster, down map[int]bool) (failed []int, degraded []GroupShard) {
	need := c.topo().rf/2 + 1
	for s := range c.topo().shards {
		var missed []int
		for g := range c.topo().rg {
			up := 0
			for _, ni := range c.topo().replicas(s, g) {
				if !down[ni] {
					up++
				}
			}
			if up < need {
				missed = append(missed, g)
			}
		}
		if len(missed) == c.topo().rg {
			failed = append(failed, s)
			continue
		}
		for _, g := range missed {
			degraded = append(degraded, GroupShard{Group: g, Shard: s})
		}
	}
	sort.Slice(degraded, func(i, j int) bool {
		a, b := degraded[i], degraded[j]
		return a.Group < b.Group || (a.Group == b.Group && a.Shard < b.Shard)
	})
	return failed, degraded
}

func TestQuorumWithStoppedNodes(t *testing.T) {
	scenarios := []struct {
		topo string
		down []int
	}{
		{"1x1", []int{0}},
		{"1x2", []int{0}},
		{"1x3", []int{0}},
		{"1x3", []int{0, 1}},
		{"2x1", []int{0}},
		{"2x1", []int{0, 2}},
		{"2x2", []int{0}},
		{"2x2", []int{0, 3}},
		{"2x2", []int{0, 1}},
	}
	for _, sc := range scenarios {
		t.Run(fmt.Sprintf("%s-down%v", sc.topo, sc.down), func(t *testing.T) {
			t.Parallel()
			var tp = coreTopologies[slices.IndexFunc(coreTopologies, func(x struct {
				name   string
				groups []int
				rf     int
			}) bool {
				return x.name == sc.topo
			})]
			obs := &recObserver{}
			f := startFleet(t, fleetSpec{groups: tp.groups, rf: tp.rf, shards: 16, opts: []Option{WithObserver(obs)}})
			ix := f.createIndex(t, "movies", "id")
			ctx := testCtx(t)
			down := map[int]bool{}
			for _, i := range sc.down {
				f.stop(t, i)
				down[i] = true
			}
			wantFailed, wantDegraded := expectQuorum(f.c, down)
			docs := coreMovies(1000)
			var rep Report
			info, err := ix.AddDocuments(WithReport(ctx, &rep), docs, nil)
			if len(wantFailed) > 0 {
				var e *Error
				if !errors.Is(err, ErrNoQuorum) || !errors.As(err, &e) || !slices.Equal(e.Shards, wantFailed) {
					t.Fatalf("got %v, want miroir_no_quorum for shards %v", err, wantFailed)
				}
				var me *meilisearch.Error
				if !errors.As(err, &me) || me.APIError.Code != CodeNoQuorum {
					t.Fatalf("not readable as meilisearch.Error: %v", err)
				}
			} else {
				if err != nil {
					t.Fatalf("write failed: %v", err)
				}
				if !slices.Equal(rep.Degraded, wantDegraded) {
					t.Fatalf("report degraded %v, want %v", rep.Degraded, wantDegraded)
				}
				if rep.TaskUID != info.TaskUID || rep.IsDegraded() != (len(wantDegraded) > 0) {
					t.Fatalf("report %+v", &rep)
				}
				obs.mu.Lock()
				got := slices.Clone(obs.degraded)
				obs.mu.Unlock()
				if !slices.Equal(got, wantDegraded) {
					t.Fatalf("observer degraded %v, want %v", got, wantDegraded)
				}
				ct, _ := f.c.tasks.store.Get(ctx, info.TaskUID)
				if !slices.Equal(ct.Degraded, wantDegraded) {
					t.Fatalf("task degraded %v, want %v", ct.Degraded, wantDegraded)
				}
				f.wait(t, info, meilisearch.TaskStatusSucceeded)
			}
			// Restart, retry the call, and every document is there.
			for _, i := range sc.down {
				f.start(t, i)
			}
			if err != nil {
				info, err = ix.AddDocuments(ctx, docs, nil)
				if err != nil {
					t.Fatalf("retry: %v", err)
				}
				f.wait(t, info, meilisearch.TaskStatusSucceeded)
			}
			f.checkAllRetrievable(t, ix, docs)
		})
	}
}

func acPairs(p []GroupShard) []string {
	out := []string{}
	for _, x := range p {
		out = append(out, fmt.Sprintf("g%d/s%d", x.Group, x.Shard))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func acNonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestAuditCoreQuorumTable(t *testing.T) {
	cases := []struct {
		name    string
		groups  []int
		rf      int
		stopped []int
	}{
		{"1x1 node down", []int{0}, 1, []int{0}},
		{"1x1 of 3, one down", []int{0, 0, 0}, 1, []int{1}},
		{"1x2 one down", []int{0, 0}, 2, []int{0}},
		{"1x2 of 3, one down", []int{0, 0, 0}, 2, []int{2}},
		{"1x3 one down", []int{0, 0, 0}, 3, []int{1}},
		{"1x3 two down", []int{0, 0, 0}, 3, []int{0, 2}},
		{"2x1 one group down", []int{0, 1}, 1, []int{0}},
		{"2x1 both down", []int{0, 1}, 1, []int{0, 1}},
		{"2x1 of 4, one per group", []int{0, 0, 1, 1}, 1, []int{0, 3}},
		{"2x3 two down in g0", []int{0, 0, 0, 1, 1, 1}, 3, []int{0, 1}},
		{"2x3 one down in each", []int{0, 0, 0, 1, 1, 1}, 3, []int{0, 4}},
		{"2x3 two down in each", []int{0, 0, 0, 1, 1, 1}, 3, []int{1, 2, 3, 5}},
		{"2x2 of 6, mixed", []int{0, 0, 0, 1, 1, 1}, 2, []int{0, 5}},
	}
	const S = 8
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obs := &acObserver{}
			f := startFleet(t, fleetSpec{groups: tc.groups, rf: tc.rf, shards: S, timing: oneRetry, opts: []Option{WithObserver(obs)}})
			ix := f.create(t, "docs", "id")
			ctx := testCtx(t)
			for _, i := range tc.stopped {
				f.stop(t, i)
			}
			docs := acDocs(0, 60)
			shards := map[int]bool{}
			for _, d := range docs {
				shards[acShard(acIDString(d["id"]), S)] = true
			}
			// Expected outcome from the quorum rule.
			groups := f.groupIDs()
			quorum := tc.rf/2 + 1
			var wantDegraded []string
			var wantFailed []int
			for s := range S {
				if !shards[s] {
					continue
				}
				written := false
				for g, ids := range groups {
					acks := 0
					for _, id := range acReplicas(s, ids, tc.rf) {
						if !slices.Contains(tc.stopped, f.nodeIndex(id)) {
							acks++
						}
					}
					if acks >= quorum {
						written = true
					} else {
						wantDegraded = append(wantDegraded, fmt.Sprintf("g%d/s%d", g, s))
					}
				}
				if !written {
					wantFailed = append(wantFailed, s)
				}
			}
			sort.Strings(wantDegraded)

			rep := &Report{}
			info, err := ix.AddDocuments(WithReport(ctx, rep), docs, nil)
			if len(wantFailed) > 0 {
				if err == nil {
					t.Fatalf("write succeeded (task %d), want miroir_no_quorum for shards %v", info.TaskUID, wantFailed)
				}
				if !errors.Is(err, ErrNoQuorum) {
					t.Errorf("errors.Is(err, ErrNoQuorum) false: %v", err)
				}
				var me *meilisearch.Error
				if !errors.As(err, &me) || me.APIError.Code != CodeNoQuorum {
					t.Errorf("errors.As *meilisearch.Error: %v", err)
				}
				var me2 *Error
				if !errors.As(err, &me2) {
					t.Fatalf("not a *miroir.Error: %v", err)
				}
				got := slices.Clone(me2.Shards)
				sort.Ints(got)
				if !slices.Equal(slices.Compact(got), wantFailed) {
					t.Errorf("no-quorum shards %v, want %v", me2.Shards, wantFailed)
				}
				if me2.Status != 503 {
					t.Errorf("status %d, want 503", me2.Status)
				}
				if !strings.Contains(strings.ToLower(err.Error()), "retry") {
					t.Errorf("no-quorum error does not say that retrying is safe: %v", err)
				}
				for _, s := range wantFailed {
					if !strings.Contains(err.Error(), strconv.Itoa(s)) {
						t.Errorf("message does not list shard %d: %v", s, err)
					}
				}
			} else {
				if err != nil {
					t.Fatalf("write failed, want success: %v", err)
				}
				task := acWait(t, f.c)(info, nil)
				_ = task
				if got := acPairs(rep.Degraded); !slices.Equal(got, acNonNil(wantDegraded)) {
					t.Errorf("Report.Degraded %v, want %v", got, wantDegraded)
				}
				if rep.IsDegraded() != (len(wantDegraded) > 0) {
					t.Errorf("Report.IsDegraded() = %v", rep.IsDegraded())
				}
				ct, err := f.store.Get(ctx, info.TaskUID)
				if err != nil || ct == nil {
					t.Fatalf("task store: %v %v", ct, err)
				}
				if got := acPairs(ct.Degraded); !slices.Equal(got, acNonNil(wantDegraded)) {
					t.Errorf("ClusterTask.Degraded %v, want %v", got, wantDegraded)
				}
				obs.mu.Lock()
				var seen []GroupShard
				for _, p := range obs.degraded {
					seen = append(seen, p...)
				}
				obs.mu.Unlock()
				if got := acPairs(seen); !slices.Equal(got, acNonNil(wantDegraded)) {
					t.Errorf("Observer.DegradedWrite %v, want %v", got, wantDegraded)
				}
			}
			// Restart, retry the same write: nothing acknowledged is missing,
			// every replica holds its documents.
			for _, i := range tc.stopped {
				f.start(t, i)
			}
			acWaitOK(t, f.c)(ix.AddDocuments(ctx, docs, nil))
			for i, n := range f.nodes {
				held := f.nodeDocsByID(t, i, "docs")
				for _, d := range docs {
					id := acIDString(d["id"])
					if slices.Contains(acReplicas(acShard(id, S), groups[n.Group], tc.rf), n.ID) && held[id] == nil {
						t.Errorf("after restart and retry, node %s lacks %s", n.ID, id)
					}
				}
			}
			for _, d := range docs {
				var got map[string]any
				if err := ix.GetDocument(ctx, acIDString(d["id"]), nil, &got); err != nil {
					t.Errorf("GetDocument after retry: %v", err)
				}
			}
		})
	}
}

// A node that answers with an error (not a 202) does not acknowledge.
func TestAuditCoreQuorumErrorAnswerIsNoAck(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, rf: 1, shards: 4, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	clear := f.srv[0].FailRequests(func(r *http.Request) bool {
		return r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/documents")
	}, 500, "internal")
	docs := acDocs(0, 20)
	rep := &Report{}
	info, err := ix.AddDocuments(WithReport(ctx, rep), docs, nil)
	acWaitOK(t, f.c)(info, err)
	var want []string
	for s := 0; s < 4; s++ {
		for _, d := range docs {
			if acShard(acIDString(d["id"]), 4) == s {
				want = append(want, fmt.Sprintf("g0/s%d", s))
				break
			}
		}
	}
	sort.Strings(want)
	if got := acPairs(rep.Degraded); !slices.Equal(got, want) {
		t.Errorf("degraded %v, want %v", got, want)
	}
	clear()
}

// DESIGN §3: "When some shard met quorum in no group, the call fails with
// miroir_no_quorum (HTTP 503 in proxy mode), listing the shards." An
// acknowledgement is the node's 202 with a task uid; a node answering 500
// did not acknowledge.
func TestAuditCoreNoQuorumWhenEveryNodeAnswers5xx(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, rf: 1, shards: 4, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	for _, s := range f.srv {
		s.FailRequests(func(r *http.Request) bool {
			return r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/documents")
		}, 500, "internal")
	}
	_, err := ix.AddDocuments(ctx, acDocs(0, 20), nil)
	if !errors.Is(err, ErrNoQuorum) || acAPICode(err) != CodeNoQuorum {
		t.Errorf("every replica answering 500 internal: %v (code %q), want miroir_no_quorum", err, acAPICode(err))
	}
	var me *Error
	if errors.As(err, &me) && len(me.Shards) == 0 {
		t.Errorf("no-quorum error lists no shards")
	}
}
