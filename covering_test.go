package miroir

// Read routing (covering.go): the covering set reads every shard once from
// a healthy replica, rotates among replicas, and falls back per shard to
// another replica or group.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
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
	// No background work: its requests to these unreachable addresses
	// would count as outstanding on the nodes whose ranking a test reads.
	c, err := New(nodes, WithShards(s), WithReplicationFactor(rf), WithHealthCheck(0, 0, 0, 0), WithFleetRefresh(0), WithRepair(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	<-c.follow.ready // the first read of the topology record is over
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
		held := c.topo().shardsOf(cn.n.idx)
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
			cov := c.cover("", nil, seq, nil, true)
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
		cov := c.cover("", nil, seq, nil, true)
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
		if g := c2.cover("", nil, seq, nil, true).nodes[0].n.Group; g != int(seq%2) {
			t.Fatalf("seq %d: group %d", seq, g)
		}
	}
}

func TestCoverFallbackAndUnavailable(t *testing.T) {
	c := newCoverCluster(t, 2, 2, 1, 16)
	c.node(0).healthy.Store(false)        // g0n0
	cov := c.cover("", nil, 0, nil, true) // preferred group 0
	checkCover(t, c, cov, allShards(16))
	var fb []int
	for _, f := range cov.fallbacks {
		if f.Preferred != 0 || f.Group != 1 {
			t.Fatalf("fallback %+v", f)
		}
		fb = append(fb, f.Shard)
	}
	if !slices.Equal(fb, c.topo().shardsOf(0)) {
		t.Fatalf("fallback shards %v, want g0n0's %v", fb, c.topo().shardsOf(0))
	}
	// excluded nodes (failed during this read) count as down too
	excluded := make([]bool, c.slots())
	excluded[2] = true // g1n0
	cov = c.cover("", c.topo().shardsOf(0), 0, excluded, true)
	for _, s := range cov.unavailable {
		if !slices.Contains(c.topo().shardsOf(2), s) {
			t.Fatalf("shard %d unavailable but g1n0 does not hold it", s)
		}
	}
	var inter []int
	for _, s := range c.topo().shardsOf(0) {
		if slices.Contains(c.topo().shardsOf(2), s) {
			inter = append(inter, s)
		}
	}
	if !slices.Equal(cov.unavailable, inter) {
		t.Fatalf("unavailable %v, want %v", cov.unavailable, inter)
	}
}

func TestAuditCoreCoveringFallbackPerShard(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 1, 1}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	docs := acDocs(0, 80)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, docs, nil))
	f.stop(t, 0)
	top := f.c.Topology()
	var n0Shards []int
	for _, ns := range top.Nodes {
		if ns.ID == "n0" {
			n0Shards = ns.Shards
		}
	}
	sawFallback, sawNone := false, false
	for k := 0; k < 6; k++ {
		rep := &Report{}
		res, err := ix.Search(WithReport(ctx, rep), "title", &meilisearch.SearchRequest{Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Hits) != len(docs) || res.EstimatedTotalHits != int64(len(docs)) {
			t.Errorf("search %d: %d hits (est %d), want %d", k, len(res.Hits), res.EstimatedTotalHits, len(docs))
		}
		if slices.Contains(rep.NodesContacted, "n0") {
			t.Errorf("search %d contacted the stopped node: %v", k, rep.NodesContacted)
		}
		if len(rep.UnavailableShards) != 0 {
			t.Errorf("search %d: unavailable %v", k, rep.UnavailableShards)
		}
		if len(rep.Fallbacks) == 0 {
			sawNone = true
			continue
		}
		sawFallback = true
		var fs []int
		for _, fb := range rep.Fallbacks {
			fs = append(fs, fb.Shard)
			if fb.Preferred != 0 || fb.Group != 1 || fb.Node != top.Replicas(fb.Shard, 1)[0] {
				t.Errorf("fallback %+v", fb)
			}
		}
		sort.Ints(fs)
		if !slices.Equal(fs, n0Shards) {
			t.Errorf("fallback shards %v, want exactly n0's shards %v (per shard, not per group)", fs, n0Shards)
		}
		if !slices.Contains(rep.NodesContacted, "n1") {
			t.Errorf("preferred group 0 but n1's shards not served by n1: %v", rep.NodesContacted)
		}
	}
	if !sawFallback || !sawNone {
		t.Errorf("preferred group does not rotate across reads (fallback seen %v, none seen %v)", sawFallback, sawNone)
	}
}

func TestAuditCoreReplicasNoDuplicatesAndRotation(t *testing.T) {
	// Plain rotation: with adaptive selection on, a replica measured
	// faster on a busy machine is rightly preferred (replica_select_test.go
	// covers that), which is not what this test asserts.
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 2, shards: 8, timing: oneRetry,
		opts: []Option{WithReplicaSelection(false), WithHedging(false)}})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	docs := acDocs(0, 90)
	acWaitOK(t, f.c)(ix.UpdateFilterableAttributes(ctx, &[]any{"n"}))
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, docs, nil))
	contacted := map[string]bool{}
	wantN1 := 0
	for _, d := range docs {
		if d["n"] == 1 || d["n"] == 2 {
			wantN1++
		}
	}
	for k := 0; k < 6; k++ {
		rep := &Report{}
		res, err := ix.Search(WithReport(ctx, rep), "title", &meilisearch.SearchRequest{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, h := range res.Hits {
			seen[string(h["id"])]++
		}
		if len(res.Hits) != len(docs) || len(seen) != len(docs) || res.EstimatedTotalHits != int64(len(docs)) {
			t.Errorf("RF2 search: %d hits, %d distinct, est %d; want %d each (no duplicates)", len(res.Hits), len(seen), res.EstimatedTotalHits, len(docs))
		}
		for _, n := range rep.NodesContacted {
			contacted[n] = true
		}
		// String and array filters keep working with the shard filter added.
		for _, filter := range []any{"n = 1 OR n = 2", []any{[]any{"n = 1", "n = 2"}}, []string{"n >= 1", "n <= 2"}} {
			res, err := ix.Search(ctx, "", &meilisearch.SearchRequest{Filter: filter, Limit: 500})
			if err != nil {
				t.Fatalf("filter %v: %v", filter, err)
			}
			if len(res.Hits) != wantN1 {
				t.Errorf("filter %v: %d hits, want %d", filter, len(res.Hits), wantN1)
			}
		}
	}
	if len(contacted) != 3 {
		t.Errorf("reads over 6 searches used nodes %v; replicas should rotate", contacted)
	}
	// GetDocument round-robins over the shard's replicas.
	reps := map[string]bool{}
	for k := 0; k < 8; k++ {
		rep := &Report{}
		var d map[string]any
		if err := ix.GetDocument(WithReport(ctx, rep), "17", nil, &d); err != nil {
			t.Fatal(err)
		}
		if len(rep.NodesContacted) != 1 {
			t.Errorf("GetDocument contacted %v, want one replica", rep.NodesContacted)
		}
		for _, n := range rep.NodesContacted {
			reps[n] = true
		}
	}
	want := f.c.Topology().Replicas(acShard("17", 8), 0)
	if len(reps) != 2 {
		t.Errorf("GetDocument used %v over 8 reads; want both replicas %v (round-robin)", reps, want)
	}
	for n := range reps {
		if !slices.Contains(want, n) {
			t.Errorf("GetDocument read from %s, not a replica of the shard (%v)", n, want)
		}
	}
}

// TestAuditReadRotation: DESIGN §2 "A per-Cluster atomic counter seq
// picks the preferred group g = seq mod RG (round-robin) and, inside g,
// rotates among each shard's RF replicas"; the Observer hears every node
// request.
func TestAuditReadRotation(t *testing.T) {
	t.Parallel()
	obs := newAuditObserver()
	c := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 1, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithObserver(obs)}}).c
	auditLoad(t, c, "r", nil, auditDocs(30, 2))
	// Plain rotation for the RF=3 part: adaptive selection rightly keeps a
	// replica measured slow on a busy machine out of a few reads.
	c3 := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 3, shards: 7, ids: "node-", instant: true, timing: newDefaults,
		opts: []Option{WithReplicaSelection(false), WithHedging(false)}}).c
	auditLoad(t, c3, "r", nil, auditDocs(30, 2))
	ctx := context.Background()
	groupOf := func(top Topology, id string) int {
		for _, n := range top.Nodes {
			if n.ID == id {
				return n.Group
			}
		}
		return -1
	}
	top := c.Topology()
	used := map[int]int{}
	for i := 0; i < 6; i++ {
		var rep Report
		if _, err := c.Index("r").Search(WithReport(ctx, &rep), "river", &meilisearch.SearchRequest{}); err != nil {
			t.Fatal(err)
		}
		gs := map[int]bool{}
		for _, id := range rep.NodesContacted {
			gs[groupOf(top, id)] = true
		}
		for g := range gs {
			used[g]++
		}
		obs.mu.Lock()
		for _, id := range rep.NodesContacted {
			if obs.requests[id] == 0 {
				t.Errorf("Observer.NodeRequest never called for contacted node %s", id)
			}
		}
		obs.mu.Unlock()
	}
	if used[0] == 0 || used[1] == 0 {
		t.Errorf("six searches on a 2-group fleet used groups %v, want both (round-robin)", used)
	}
	nodes := map[string]int{}
	for i := 0; i < 9; i++ {
		var rep Report
		if _, err := c3.Index("r").Search(WithReport(ctx, &rep), "river", &meilisearch.SearchRequest{}); err != nil {
			t.Fatal(err)
		}
		for _, id := range rep.NodesContacted {
			nodes[id]++
		}
	}
	if len(nodes) != 3 {
		t.Errorf("nine searches on RF=3 over 3 nodes contacted %v, want every replica in turn", nodes)
	}
}

func TestFaultFallbackToOtherGroup(t *testing.T) {
	docs := genDocs(400, 21)
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 1, shards: 7, timing: noProbes})
	f.load(t, "items", testSettings(false), docs)
	ctx := context.Background()
	idx := f.c.index("items")
	stopped := 0 // g0n0
	held := f.c.topo().shardsOf(stopped)
	f.srv[stopped].Stop()
	sawFallback := false
	for i := 0; i < 6; i++ {
		rep := &Report{}
		resp, err := idx.Search(WithReport(ctx, rep), "", &meilisearch.SearchRequest{Limit: 5})
		if err != nil {
			t.Fatalf("search %d: %v", i, err)
		}
		if resp.EstimatedTotalHits != int64(len(docs)) {
			t.Fatalf("search %d: %d hits, want all %d", i, resp.EstimatedTotalHits, len(docs))
		}
		if len(rep.UnavailableShards) > 0 {
			t.Fatalf("search %d: unavailable %v", i, rep.UnavailableShards)
		}
		var fb []int
		for _, x := range rep.Fallbacks {
			if x.Group == x.Preferred || x.Preferred != 0 || x.Group != 1 {
				t.Fatalf("fallback %+v: must go from group 0 to group 1", x)
			}
			fb = append(fb, x.Shard)
		}
		if len(fb) > 0 {
			sawFallback = true
			slices.Sort(fb)
			if !slices.Equal(fb, held) {
				t.Fatalf("search %d: fallbacks for shards %v, the stopped node holds %v", i, fb, held)
			}
		}
	}
	if !sawFallback {
		t.Fatal("no search reported a fallback")
	}
	// facets, multi-search and listings stay complete too
	var list meilisearch.DocumentsResult
	if err := idx.GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 1}, &list); err != nil || list.Total != int64(len(docs)) {
		t.Fatalf("listing: %v, total %d", err, list.Total)
	}
	if err := f.srv[stopped].Start(); err != nil {
		t.Fatal(err)
	}
}

// TestAuditReadFallbackToOtherGroup: issue 4 "with one node of a group
// stopped, searches stay complete (served through fallback) and say which
// fallback was taken"; DESIGN §2 per-shard fallback to the next groups.
func TestAuditReadFallbackToOtherGroup(t *testing.T) {
	t.Parallel()
	docs := auditDocs(auditN, 12)
	_, ref := startRef(t, meilitest.WithTaskDuration(0))
	auditLoad(t, ref, "g", auditSettingsA(), docs)
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 1, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithRetries(RetryPolicy{})}})
	c, srvs := f.c, f.srv
	auditLoad(t, c, "g", auditSettingsA(), docs)
	top := c.Topology()
	var node0Shards []int
	for _, n := range top.Nodes {
		if n.ID == "node-0" {
			node0Shards = n.Shards
		}
	}
	if len(node0Shards) == 0 {
		t.Fatalf("node-0 holds no shard: %+v", top)
	}
	srvs[0].Stop()
	q := auditQuery{name: "sorted", mk: func() *meilisearch.SearchRequest {
		return &meilisearch.SearchRequest{Sort: []string{"year:desc", "id:asc"}, Limit: 40, Offset: 20, Facets: []string{"genre"}}
	}}
	want := auditReference(t, ref.Index("g"), q)
	want.plainPass(t)
	sawFallback := false
	for i := 0; i < 6; i++ {
		var rep Report
		ctx := WithReport(context.Background(), &rep)
		req := q.mk()
		raw, err := c.Index("g").SearchRaw(ctx, "", req)
		if err != nil {
			t.Fatalf("search %d with node-0 stopped: %v", i, err)
		}
		got := auditJSON(t, *raw)
		auditCompareSearch(t, fmt.Sprintf("search %d", i), q, want.plain, got, want.plainRaw, *raw, func(h map[string]any) (string, bool) { return auditID(h), true })
		if len(rep.UnavailableShards) != 0 {
			t.Errorf("search %d: unavailable shards %v with group 1 up", i, rep.UnavailableShards)
		}
		if len(rep.Fallbacks) > 0 {
			sawFallback = true
			var fs []int
			for _, f := range rep.Fallbacks {
				fs = append(fs, f.Shard)
				if f.Preferred != 0 || f.Group != 1 {
					t.Errorf("search %d: fallback %+v, want preferred group 0 served by group 1", i, f)
				}
				if r := top.Replicas(f.Shard, 1); len(r) == 0 || f.Node != r[0] {
					t.Errorf("search %d: fallback %+v, want node %v", i, f, r)
				}
			}
			sort.Ints(fs)
			if !slices.Equal(fs, node0Shards) {
				t.Errorf("search %d: fallback shards %v, want node-0's shards %v", i, fs, node0Shards)
			}
		}
	}
	if !sawFallback {
		t.Errorf("six searches with node-0 (group 0) stopped, none reported a fallback")
	}
}
