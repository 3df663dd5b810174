package miroir

import (
	"fmt"
	"slices"
	"testing"
)

// newCoverCluster builds a Cluster over fake URLs (never contacted).
func newCoverCluster(t *testing.T, rg, npg, rf, s int) *Cluster {
	t.Helper()
	var nodes []Node
	for g := 0; g < rg; g++ {
		for i := 0; i < npg; i++ {
			nodes = append(nodes, Node{ID: fmt.Sprintf("g%dn%d", g, i), URL: fmt.Sprintf("http://127.0.0.1:%d", 1+g*npg+i), Group: g})
		}
	}
	c, err := New(nodes, WithShards(s), WithReplicationFactor(rf), WithHealthCheck(0, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// checkCover verifies that cov assigns every shard of want exactly once,
// to a healthy replica, and that the filter flag is set exactly when the
// node holds other shards.
func checkCover(t *testing.T, c *Cluster, cov *covering, want []int) {
	t.Helper()
	seen := map[int]bool{}
	for _, cn := range cov.nodes {
		if !cn.n.isHealthy() {
			t.Fatalf("unhealthy node %s in covering set", cn.n.ID)
		}
		held := c.topo.shardsOf(cn.n.idx)
		for _, s := range cn.shards {
			if seen[s] {
				t.Fatalf("shard %d assigned twice", s)
			}
			seen[s] = true
			if !slices.Contains(held, s) {
				t.Fatalf("node %s assigned shard %d it does not hold", cn.n.ID, s)
			}
		}
		if cn.filter != (len(cn.shards) != len(held)) {
			t.Fatalf("node %s: filter %v with %d of %d shards", cn.n.ID, cn.filter, len(cn.shards), len(held))
		}
		if f := cn.shardFilter(); cn.filter && f == "" || !cn.filter && f != "" {
			t.Fatalf("shardFilter %q", f)
		}
	}
	for _, s := range cov.unavailable {
		if seen[s] {
			t.Fatalf("shard %d both assigned and unavailable", s)
		}
		seen[s] = true
	}
	for _, s := range want {
		if !seen[s] {
			t.Fatalf("shard %d neither assigned nor unavailable", s)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d shards covered, want %d", len(seen), len(want))
	}
}

func allShards(s int) []int {
	out := make([]int, s)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestCoverEveryShardOnce(t *testing.T) {
	for _, tc := range []struct{ rg, npg, rf, s int }{{1, 1, 1, 1}, {1, 3, 1, 64}, {1, 4, 3, 64}, {2, 3, 2, 7}, {3, 2, 1, 64}, {2, 5, 2, 64}} {
		c := newCoverCluster(t, tc.rg, tc.npg, tc.rf, tc.s)
		for seq := uint64(0); seq < 12; seq++ {
			cov := c.cover(nil, seq, nil)
			checkCover(t, c, cov, allShards(tc.s))
			if len(cov.unavailable) > 0 || len(cov.fallbacks) > 0 {
				t.Fatalf("%+v: healthy fleet: unavailable %v fallbacks %v", tc, cov.unavailable, cov.fallbacks)
			}
			// the preferred group alone serves a healthy fleet
			for _, cn := range cov.nodes {
				if cn.n.Group != int(seq%uint64(tc.rg)) {
					t.Fatalf("%+v seq %d: node of group %d used", tc, seq, cn.n.Group)
				}
			}
		}
	}
}

func TestCoverRotation(t *testing.T) {
	// RF = group size: one node answers for everything, and successive
	// reads rotate over the replicas
	c := newCoverCluster(t, 1, 3, 3, 16)
	used := map[string]int{}
	for seq := uint64(0); seq < 9; seq++ {
		cov := c.cover(nil, seq, nil)
		if len(cov.nodes) != 1 || cov.nodes[0].filter {
			t.Fatalf("seq %d: %d nodes (filter %v), want one unfiltered", seq, len(cov.nodes), cov.nodes[0].filter)
		}
		used[cov.nodes[0].n.ID]++
	}
	if len(used) != 3 || used["g0n0"] != 3 || used["g0n1"] != 3 || used["g0n2"] != 3 {
		t.Fatalf("rotation uneven: %v", used)
	}
	// groups alternate
	c2 := newCoverCluster(t, 2, 2, 1, 8)
	for seq := uint64(0); seq < 4; seq++ {
		if g := c2.cover(nil, seq, nil).nodes[0].n.Group; g != int(seq%2) {
			t.Fatalf("seq %d: group %d", seq, g)
		}
	}
}

func TestCoverFallbackAndUnavailable(t *testing.T) {
	c := newCoverCluster(t, 2, 2, 1, 16)
	c.nodes[0].healthy.Store(false) // g0n0
	cov := c.cover(nil, 0, nil)     // preferred group 0
	checkCover(t, c, cov, allShards(16))
	var fb []int
	for _, f := range cov.fallbacks {
		if f.Preferred != 0 || f.Group != 1 {
			t.Fatalf("fallback %+v", f)
		}
		fb = append(fb, f.Shard)
	}
	if !slices.Equal(fb, c.topo.shardsOf(0)) {
		t.Fatalf("fallback shards %v, want g0n0's %v", fb, c.topo.shardsOf(0))
	}
	// excluded nodes (failed during this read) count as down too
	excluded := make([]bool, len(c.nodes))
	excluded[2] = true // g1n0
	cov = c.cover(c.topo.shardsOf(0), 0, excluded)
	for _, s := range cov.unavailable {
		if !slices.Contains(c.topo.shardsOf(2), s) {
			t.Fatalf("shard %d unavailable but g1n0 does not hold it", s)
		}
	}
	var inter []int
	for _, s := range c.topo.shardsOf(0) {
		if slices.Contains(c.topo.shardsOf(2), s) {
			inter = append(inter, s)
		}
	}
	if !slices.Equal(cov.unavailable, inter) {
		t.Fatalf("unavailable %v, want %v", cov.unavailable, inter)
	}
}

func TestCombineFilter(t *testing.T) {
	for _, tc := range []struct{ user, shard, want string }{
		{"", "", ""},
		{"", "_miroir_shard IN [1]", `"_miroir_shard IN [1]"`},
		{`null`, "_miroir_shard IN [1]", `"_miroir_shard IN [1]"`},
		{`"a = 1"`, "", `"a = 1"`},
		{`"a = 1 OR b = 2"`, "_miroir_shard IN [1,2]", `"(a = 1 OR b = 2) AND _miroir_shard IN [1,2]"`},
		{`["a = 1", ["b = 2", "c = 3"]]`, "_miroir_shard IN [3]", `["a = 1", ["b = 2", "c = 3"],"_miroir_shard IN [3]"]`},
		{`[]`, "_miroir_shard IN [3]", `["_miroir_shard IN [3]"]`},
	} {
		if got := string(combineFilter([]byte(tc.user), tc.shard)); got != tc.want {
			t.Errorf("combineFilter(%s, %q) = %s, want %s", tc.user, tc.shard, got, tc.want)
		}
	}
}
