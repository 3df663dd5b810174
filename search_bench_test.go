package miroir

import (
	"context"
	"os"
	"testing"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// End to end (DESIGN §10): a search through the Cluster over three
// in-process meilitest nodes against meilisearch-go searching one
// meilitest node that holds the same documents. Run:
//
//	go test -run '^$' -bench 'SearchE2E' -benchmem .
//	MIROIR_BENCH=1 go test -run TestSearchE2ERatio -v .

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
	one := meilitest.RunT(tb)
	loadNode(tb, one.URL(), "items", testSettings(false), docs)
	waitIdle(tb, one)
	f := newFleet(tb, 1, 3, 1, 64)
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

func TestSearchE2ERatio(t *testing.T) {
	if os.Getenv("MIROIR_BENCH") == "" {
		t.Skip("set MIROIR_BENCH=1")
	}
	f := newE2EFixture(t)
	single := testing.Benchmark(f.benchSingle)
	cluster := testing.Benchmark(f.benchCluster)
	t.Logf("%d documents, %d queries in rotation", e2eDocs, len(e2eQueries))
	t.Logf("single node (meilisearch-go): %8d ns/op %7d B/op %6d allocs/op", single.NsPerOp(), single.AllocedBytesPerOp(), single.AllocsPerOp())
	t.Logf("cluster, 3 nodes (miroir):    %8d ns/op %7d B/op %6d allocs/op", cluster.NsPerOp(), cluster.AllocedBytesPerOp(), cluster.AllocsPerOp())
	t.Logf("ratio cluster/single: %.2f", float64(cluster.NsPerOp())/float64(single.NsPerOp()))
}
