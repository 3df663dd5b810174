package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// Test fixtures shared by the read-path tests: generated documents, a
// single meilitest node holding all of them (the oracle), and clusters of
// meilitest nodes holding them sharded.

type testDoc map[string]any

var words = strings.Fields(`document search engine river mountain apple banana cherry orange
	garden window summer winter autumn spring coffee bread cheese music guitar piano violin
	ocean forest desert island castle bridge tower market street village harbor planet
	galaxy rocket comet silver golden crimson velvet marble copper falcon eagle tiger lion
	seven twenty 7 2024 42 1999 3 12 sharded cluster`)

var tags = strings.Fields(`new sale popular classic limited eco premium vintage handmade rare`)
var categories = strings.Fields(`books music games garden kitchen sports toys travel`)
var colors = strings.Fields(`red blue green black white yellow purple orange`)

// genDocs returns n deterministic documents with text, numbers, arrays, a
// distinct key (brand, shared by three consecutive ids) and a sort field
// of mixed type (sku: number, string or missing).
func genDocs(n int, seed uint64) []testDoc {
	r := rand.New(rand.NewPCG(seed, 7))
	text := func(min, max int) string {
		k := min + r.IntN(max-min+1)
		w := make([]string, k)
		for i := range w {
			w[i] = words[r.IntN(len(words))]
		}
		return strings.Join(w, " ")
	}
	docs := make([]testDoc, n)
	for i := range docs {
		d := testDoc{
			"id":       i + 1,
			"title":    text(1, 5),
			"desc":     text(4, 14),
			"year":     1990 + r.IntN(35),
			"rating":   1 + r.IntN(5),
			"category": categories[r.IntN(len(categories))],
			"brand":    "brand" + strconv.Itoa(i/3),
			"color":    colors[r.IntN(len(colors))],
		}
		if r.IntN(20) != 0 {
			d["price"] = float64(r.IntN(10000)) / 10
		}
		var tg []string
		for j := r.IntN(4); j > 0; j-- {
			tg = append(tg, tags[r.IntN(len(tags))])
		}
		d["tags"] = tg
		switch r.IntN(4) {
		case 0:
			d["sku"] = r.IntN(500)
		case 1:
			d["sku"] = "sku-" + strconv.Itoa(r.IntN(500))
		case 2:
			d["sku"] = nil
		}
		docs[i] = d
	}
	return docs
}

// testSettings are the index settings of the fixtures.
func testSettings(custom bool) *meilisearch.Settings {
	s := &meilisearch.Settings{
		FilterableAttributes: []string{"id", "category", "brand", "year", "price", "tags", "color", "rating", "sku"},
		SortableAttributes:   []string{"price", "year", "rating", "sku", "title"},
		Faceting:             &meilisearch.Faceting{MaxValuesPerFacet: 100, SortFacetValuesBy: map[string]meilisearch.SortFacetType{"tags": "count", "*": "alpha"}},
	}
	if custom {
		s.RankingRules = []string{"words", "typo", "rating:desc", "proximity", "attribute", "sort", "exactness", "year:asc"}
	}
	return s
}

func waitIdle(t testing.TB, srvs ...*meilitest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, s := range srvs {
		if err := s.WaitIdle(ctx); err != nil {
			t.Fatalf("wait idle: %v", err)
		}
	}
}

func mustTask(t testing.TB) func(*meilisearch.TaskInfo, error) {
	return func(_ *meilisearch.TaskInfo, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// loadNode creates uid on one node with settings and documents.
func loadNode(t testing.TB, url, uid string, settings *meilisearch.Settings, docs []testDoc) {
	t.Helper()
	ctx := context.Background()
	cl := meilisearch.New(url)
	mustTask(t)(cl.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: uid, PrimaryKey: "id"}))
	mustTask(t)(cl.Index(uid).UpdateSettings(ctx, settings))
	if len(docs) > 0 {
		pk := "id"
		mustTask(t)(cl.Index(uid).AddDocuments(ctx, docs, &meilisearch.DocumentOptions{PrimaryKey: &pk}))
	}
}

// fleet is a cluster of meilitest nodes and the Cluster over them.
type fleet struct {
	srvs []*meilitest.Server
	c    *Cluster
	rg   int
	rf   int
	s    int
}

// newFleet starts rg groups of nodesPerGroup nodes with rf and s.
func newFleet(t testing.TB, rg, nodesPerGroup, rf, s int, opts ...Option) *fleet {
	t.Helper()
	f := &fleet{rg: rg, rf: rf, s: s}
	var nodes []Node
	for g := 0; g < rg; g++ {
		for i := 0; i < nodesPerGroup; i++ {
			srv := meilitest.RunT(t)
			f.srvs = append(f.srvs, srv)
			nodes = append(nodes, Node{ID: fmt.Sprintf("g%dn%d", g, i), URL: srv.URL(), Group: g})
		}
	}
	base := []Option{WithShards(s), WithReplicationFactor(rf), WithHealthCheck(0, 0, 0, 0), WithRetries(RetryPolicy{})}
	c, err := New(nodes, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	f.c = c
	return f
}

// loadDirect writes uid onto the fleet's nodes the way the write path
// does (each document, with its _miroir_shard, on its shard's replicas
// in every group; the shard count recorded in miroir_meta), talking to
// the nodes directly.
func (f *fleet) loadDirect(t testing.TB, uid string, settings *meilisearch.Settings, docs []testDoc) {
	t.Helper()
	per := make([][]testDoc, len(f.srvs))
	for _, d := range docs {
		id := strconv.Itoa(d["id"].(int))
		sh := ShardOf(id, f.s)
		cp := testDoc{}
		for k, v := range d {
			cp[k] = v
		}
		cp[readShardField] = sh
		for _, ni := range f.c.topo.writeTargets(sh) {
			per[ni] = append(per[ni], cp)
		}
	}
	ns := *settings
	ns.FilterableAttributes = append([]string{readShardField}, settings.FilterableAttributes...)
	for i, srv := range f.srvs {
		loadNode(t, srv.URL(), uid, &ns, per[i])
		cl := meilisearch.New(srv.URL())
		pk := "uid"
		mustTask(t)(cl.Index("miroir_meta").AddDocuments(context.Background(), []map[string]any{{"uid": uid, "shards": f.s, "createdAt": time.Now().UTC()}}, &meilisearch.DocumentOptions{PrimaryKey: &pk}))
	}
	waitIdle(t, f.srvs...)
}

func TestSearchBasic(t *testing.T) {
	docs := genDocs(300, 1)
	oracle := meilitest.RunT(t)
	loadNode(t, oracle.URL(), "items", testSettings(false), docs)
	waitIdle(t, oracle)
	f := newFleet(t, 1, 3, 1, 7)
	f.loadDirect(t, "items", testSettings(false), docs)

	ctx := context.Background()
	req := &meilisearch.SearchRequest{Query: "river 7", Limit: 10, Facets: []string{"category", "year"}}
	got, err := f.c.search(ctx, "items", "", req)
	if err != nil {
		t.Fatal(err)
	}
	want, err := meilisearch.New(oracle.URL()).Index("items").Search(ctx, "", &meilisearch.SearchRequest{Query: "river 7", Limit: 10, Facets: []string{"category", "year"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.EstimatedTotalHits != want.EstimatedTotalHits || len(got.Hits) != len(want.Hits) {
		t.Fatalf("totals: got %d/%d want %d/%d", got.EstimatedTotalHits, len(got.Hits), want.EstimatedTotalHits, len(want.Hits))
	}
	for _, h := range got.Hits {
		if _, ok := h[readShardField]; ok {
			t.Fatalf("hit leaks the shard field: %v", h)
		}
		if _, ok := h["_rankingScore"]; ok {
			t.Fatalf("hit leaks _rankingScore")
		}
	}
	var gd, wd map[string]map[string]int
	_ = json.Unmarshal(got.FacetDistribution, &gd)
	_ = json.Unmarshal(want.FacetDistribution, &wd)
	if fmt.Sprint(gd) != fmt.Sprint(wd) {
		t.Fatalf("facets: got %v want %v", gd, wd)
	}
	t.Logf("got %d hits of %d; facets %s", len(got.Hits), got.EstimatedTotalHits, got.FacetDistribution)
}
