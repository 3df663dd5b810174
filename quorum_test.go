package miroir

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
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
			res := evalQuorum(c.rg, c.rf, []int{0}, replicas, func(n int) bool { return acked[n] })
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
	res := evalQuorum(2, 1, []int{2, 0, 1, 2}, replicas, func(n int) bool { return !down[n] })
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
	need := c.topo.rf/2 + 1
	for s := range c.topo.shards {
		var missed []int
		for g := range c.topo.rg {
			up := 0
			for _, ni := range c.topo.replicas(s, g) {
				if !down[ni] {
					up++
				}
			}
			if up < need {
				missed = append(missed, g)
			}
		}
		if len(missed) == c.topo.rg {
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
