package miroir

import (
	"context"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// End to end (DESIGN §10): a search through the Cluster over three
// in-process meilitest nodes against meilisearch-go searching one
// meilitest node that holds the same documents. Run:
//
//	go test -run '^$' -bench 'SearchE2E' -benchmem .
//	go test -run '^$' -bench SearchE2ERatio .   (ratio, measured in one run)

const e2eDocs = 5000

var e2eQueries = []*meilisearch.SearchRequest{
	{Query: "river", Limit: 20},
	{Query: "mountain castle", Limit: 20, Facets: []string{"category", "year"}},
	{Query: "", Limit: 20, Sort: []string{"price:asc"}, Filter: "year > 2000"},
	{Query: "7 golden", Limit: 10, Offset: 20},
}

type e2eFixture struct {
	single meilisearch.IndexManager
	idx    *Index
}

func newE2EFixture(tb testing.TB) *e2eFixture {
	docs := genDocs(e2eDocs, 77)
	one, _ := startRef(tb)
	loadNode(tb, one.URL(), "items", testSettings(false), docs)
	waitIdle(tb, one)
	f := startFleet(tb, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 64, timing: noProbes})
	f.load(tb, "items", testSettings(false), docs)
	return &e2eFixture{single: meilisearch.New(one.URL()).Index("items"), idx: f.c.index("items")}
}

func (f *e2eFixture) benchSingle(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := *e2eQueries[i%len(e2eQueries)]
		if _, err := f.single.Search(ctx, "", &q); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func (f *e2eFixture) benchCluster(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := *e2eQueries[i%len(e2eQueries)]
		if _, err := f.idx.Search(ctx, "", &q); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkSearchE2E(b *testing.B) {
	f := newE2EFixture(b)
	b.Run("single-node", f.benchSingle)
	b.Run("cluster-3-nodes", f.benchCluster)
}

// BenchmarkSearchE2ERatio alternates one single-node search and one
// cluster search per iteration and reports cluster/single, so that both
// sides see the same machine load.
func BenchmarkSearchE2ERatio(b *testing.B) {
	f := newE2EFixture(b)
	ctx := context.Background()
	var single, cluster time.Duration
	for i := range b.N {
		q1, q2 := *e2eQueries[i%len(e2eQueries)], *e2eQueries[i%len(e2eQueries)]
		t0 := time.Now()
		if _, err := f.single.Search(ctx, "", &q1); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := f.idx.Search(ctx, "", &q2); err != nil {
			b.Fatal(err)
		}
		single, cluster = single+t1.Sub(t0), cluster+time.Since(t1)
	}
	b.ReportMetric(float64(cluster)/float64(single), "cluster/single")
}
