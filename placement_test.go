package miroir

import (
	"fmt"
	"slices"
	"testing"
)

func layoutOf(n, groups, rf int) layoutSpec {
	var nodes []Node
	for g := range groups {
		for i := range n {
			nodes = append(nodes, Node{ID: fmt.Sprintf("g%dn%d", g, i), URL: "http://x", Group: g})
		}
	}
	return layoutSpec{Nodes: nodes, RF: rf}
}

// TestMovingShardsMinimal: adding one node to a group of N moves about
// 1/(N+1) of the shards, and only onto the new node; nothing moves when
// the layout is the same.
func TestMovingShardsMinimal(t *testing.T) {
	const S = 1024
	for _, n := range []int{1, 2, 3, 5, 8} {
		cur, next := layoutOf(n, 1, 1), layoutOf(n+1, 1, 1)
		moving := movingShards(cur, next, S)
		frac := float64(len(moving)) / S
		want := 1 / float64(n+1)
		if frac < want*0.75 || frac > want*1.25 {
			t.Errorf("group of %d + 1: %.3f of the shards move, want about %.3f", n, frac, want)
		}
		reg := next.Nodes
		for _, s := range moving {
			if got := slices.DeleteFunc(layoutReplicas(next, reg, s), func(ni int) bool { return slices.Contains(layoutReplicas(cur, reg, s), ni) }); len(got) != 1 || reg[got[0]].ID != fmt.Sprintf("g0n%d", n) {
				t.Fatalf("shard %d moves to %v, want only the new node", s, got)
			}
		}
		if m := movingShards(cur, cur, S); len(m) != 0 {
			t.Fatalf("same layout: %d shards move", len(m))
		}
	}
	// A new group receives every shard; groups untouched keep theirs.
	if m := movingShards(layoutOf(3, 1, 1), layoutOf(3, 2, 1), 64); len(m) != 64 {
		t.Fatalf("new group: %d of 64 shards move", len(m))
	}
}

// TestComposePhases: in every phase reads go to one layout, writes to
// both until retire, and the quorum replicas are the read replicas.
func TestComposePhases(t *testing.T) {
	cur, next := layoutOf(3, 1, 1), layoutOf(4, 1, 2)
	reg := next.Nodes
	moving := movingShards(cur, next, 32)
	for _, ph := range []string{PhasePrepare, PhaseCopy, PhaseCutover, PhaseRetire} {
		ch := &changeRecord{Target: next, Phase: ph, Moving: moving}
		tp := composeTopology(reg, nil, 32, cur, ch)
		for s := range 32 {
			old, nw := layoutReplicas(cur, reg, s), layoutReplicas(next, reg, s)
			read := slices.Sorted(slices.Values(tp.replicas(s, 0)))
			write := slices.Sorted(slices.Values(tp.writeTargets(s)))
			var wantRead, wantWrite []int
			switch ph {
			case PhasePrepare:
				wantRead, wantWrite = old, old
			case PhaseCopy:
				wantRead, wantWrite = old, slices.Sorted(slices.Values(union(old, nw)))
			case PhaseCutover:
				wantRead, wantWrite = nw, slices.Sorted(slices.Values(union(old, nw)))
			case PhaseRetire:
				wantRead, wantWrite = nw, nw
			}
			if !slices.Equal(read, wantRead) || !slices.Equal(write, wantWrite) {
				t.Fatalf("%s shard %d: read %v write %v, want %v and %v", ph, s, read, write, wantRead, wantWrite)
			}
			for _, ni := range union(old, nw) {
				if !slices.Contains(tp.shardsOf(ni), s) {
					t.Fatalf("%s: node %d may hold shard %d but shardsOf omits it", ph, ni, s)
				}
			}
		}
	}
}
