package miroir

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Reads under faults: a stopped node's shards are served by another
// replica (another group's when needed, which the Report says), and a
// shard with no replica left is reported (Partial) or fails the read
// (FailFast).

type unavailObserver struct {
	NopObserver
	mu     sync.Mutex
	shards [][]int
}

func (o *unavailObserver) UnavailableShards(_ string, shards []int) {
	o.mu.Lock()
	o.shards = append(o.shards, shards)
	o.mu.Unlock()
}

// docsOnShards counts the documents of docs whose shard is in keep.
func docsOnShards(docs []testDoc, s int, keep func(int) bool) int64 {
	n := int64(0)
	for _, d := range docs {
		if keep(ShardOf(strconv.Itoa(d["id"].(int)), s)) {
			n++
		}
	}
	return n
}

func TestFaultFallbackToOtherGroup(t *testing.T) {
	docs := genDocs(400, 21)
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 1, shards: 7, timing: noProbes})
	f.load(t, "items", testSettings(false), docs)
	ctx := context.Background()
	idx := f.c.index("items")
	stopped := 0 // g0n0
	held := f.c.topo.shardsOf(stopped)
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

func TestFaultUnavailableShards(t *testing.T) {
	docs := genDocs(400, 22)
	obs := &unavailObserver{}
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 2, shards: 7, timing: noProbes, opts: []Option{WithObserver(obs)}})
	f.load(t, "items", testSettings(false), docs)
	// stop two of the three nodes: shards whose two replicas are both
	// stopped have no replica left
	down := map[int]bool{0: true, 1: true}
	var want []int
	for s := 0; s < 7; s++ {
		alive := false
		for _, ni := range f.c.topo.replicas(s, 0) {
			alive = alive || !down[ni]
		}
		if !alive {
			want = append(want, s)
		}
	}
	if len(want) == 0 {
		t.Fatal("fixture: expected some shard to lose every replica")
	}
	for ni := range down {
		f.srv[ni].Stop()
	}
	ctx := context.Background()
	idx := f.c.index("items")
	for i := 0; i < 3; i++ { // the first search finds the nodes down, later ones know
		rep := &Report{}
		resp, err := idx.Search(WithReport(ctx, rep), "", &meilisearch.SearchRequest{Limit: 1})
		if err != nil {
			t.Fatalf("partial search: %v", err)
		}
		if !slices.Equal(rep.UnavailableShards, want) {
			t.Fatalf("search %d: unavailable %v, want %v", i, rep.UnavailableShards, want)
		}
		exp := docsOnShards(docs, 7, func(s int) bool { return !slices.Contains(want, s) })
		if resp.EstimatedTotalHits != exp {
			t.Fatalf("partial: %d hits, want %d (the available shards')", resp.EstimatedTotalHits, exp)
		}
		if !rep.IsDegraded() {
			t.Fatal("report not degraded")
		}
	}
	obs.mu.Lock()
	if len(obs.shards) == 0 || !slices.Equal(obs.shards[0], want) {
		t.Fatalf("observer saw %v, want %v", obs.shards, want)
	}
	obs.mu.Unlock()

	ff := f.newCluster(t, WithShards(7), WithReplicationFactor(2), WithHealthCheck(0, 0, 0, 0), WithRetries(RetryPolicy{}), WithUnavailableShardPolicy(FailFast))
	var err error
	for i := 0; i < 2; i++ {
		_, err = ff.index("items").Search(ctx, "river", &meilisearch.SearchRequest{})
		if !errors.Is(err, ErrShardUnavailable) {
			t.Fatalf("FailFast: got %v", err)
		}
		var me *meilisearch.Error
		if !errors.As(err, &me) || me.APIError.Code != CodeShardUnavailable {
			t.Fatalf("FailFast: not a Meilisearch-shaped %s error: %v", CodeShardUnavailable, err)
		}
		var e *Error
		if !errors.As(err, &e) || !slices.Equal(e.Shards, want) {
			t.Fatalf("FailFast error shards %v, want %v", e.Shards, want)
		}
	}
}

func TestHealthCheckSkipsAndRecovers(t *testing.T) {
	docs := genDocs(200, 23)
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 1), rf: 1, shards: 7, timing: noProbes, opts: []Option{WithHealthCheck(15*time.Millisecond, 2*time.Second, 2, 1)}})
	f.load(t, "items", testSettings(false), docs)
	f.srv[0].Stop()
	eventually(t, "condition", func() bool { return !f.c.nodes[0].isHealthy() })
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		rep := &Report{}
		resp, err := f.c.index("items").Search(WithReport(ctx, rep), "", &meilisearch.SearchRequest{Limit: 1})
		if err != nil || resp.EstimatedTotalHits != int64(len(docs)) {
			t.Fatalf("search with a node known down: %v", err)
		}
		if slices.Contains(rep.NodesContacted, f.c.nodes[0].ID) {
			t.Fatalf("a node known down was contacted: %v", rep.NodesContacted)
		}
	}
	if err := f.srv[0].Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "condition", func() bool { return f.c.nodes[0].isHealthy() })
	used := false
	for i := 0; i < 4; i++ {
		rep := &Report{}
		if _, err := f.c.index("items").Search(WithReport(ctx, rep), "", &meilisearch.SearchRequest{Limit: 1}); err != nil {
			t.Fatal(err)
		}
		used = used || slices.Contains(rep.NodesContacted, f.c.nodes[0].ID)
		if len(rep.Fallbacks) > 0 {
			t.Fatalf("fallback after recovery: %+v", rep.Fallbacks)
		}
	}
	if !used {
		t.Fatal("the recovered node never served again")
	}
}

