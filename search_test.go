package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func TestSearchBasic(t *testing.T) {
	docs := genDocs(300, 1)
	oracle, _ := startRef(t)
	loadNode(t, oracle.URL(), "items", testSettings(false), docs)
	waitIdle(t, oracle)
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 7, timing: noProbes})
	f.load(t, "items", testSettings(false), docs)

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
		if _, ok := h[shardField]; ok {
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

func TestFacetSearch(t *testing.T) {
	docs := genDocs(600, 3)
	oracle, _ := startRef(t)
	loadNode(t, oracle.URL(), "items", testSettings(false), docs)
	waitIdle(t, oracle)
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 1, shards: 7, timing: noProbes})
	f.load(t, "items", testSettings(false), docs)
	ctx := context.Background()
	for _, req := range []*meilisearch.FacetSearchRequest{
		{FacetName: "category", FacetQuery: "b"},
		{FacetName: "color"},
		{FacetName: "tags", Q: "river", Filter: "year > 2000"},
		{FacetName: "color", FacetQuery: "re", Filter: []string{"rating >= 2"}, Q: "7"},
	} {
		want, err := meilisearch.New(oracle.URL()).Index("items").FacetSearch(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.c.facetSearch(ctx, "items", req)
		if err != nil {
			t.Fatal(err)
		}
		var w, g map[string]any
		_ = json.Unmarshal(*want, &w)
		_ = json.Unmarshal(*got, &g)
		if fmt.Sprint(w["facetHits"]) != fmt.Sprint(g["facetHits"]) || fmt.Sprint(w["facetQuery"]) != fmt.Sprint(g["facetQuery"]) {
			t.Errorf("%+v:\n got  %s\n want %s", req, *got, *want)
		}
	}
	if _, err := f.c.facetSearch(ctx, "items", &meilisearch.FacetSearchRequest{FacetName: shardField}); err == nil {
		t.Error("facet search on the shard field must fail")
	}
}

func TestDocumentsListing(t *testing.T) {
	docs := genDocs(500, 5)
	oracle, _ := startRef(t)
	loadNode(t, oracle.URL(), "items", testSettings(false), docs)
	waitIdle(t, oracle)
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 3), rf: 2, shards: 64, timing: noProbes})
	f.load(t, "items", testSettings(false), docs)
	ctx := context.Background()
	for _, filter := range []any{nil, "year > 2005", []string{"category = books OR category = toys"}} {
		var want meilisearch.DocumentsResult
		if err := meilisearch.New(oracle.URL()).Index("items").GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 1000, Filter: filter}, &want); err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		var total int64
		for off := int64(0); ; off += 37 {
			var got meilisearch.DocumentsResult
			if err := f.c.getDocuments(ctx, "items", &meilisearch.DocumentsQuery{Offset: off, Limit: 37, Filter: filter}, &got); err != nil {
				t.Fatal(err)
			}
			total = got.Total
			if got.Offset != off || got.Limit != 37 {
				t.Fatalf("echo: %d/%d", got.Offset, got.Limit)
			}
			for _, d := range got.Results {
				if _, leak := d[shardField]; leak {
					t.Fatal("listing leaks the shard field")
				}
				seen[string(d["id"])]++
			}
			if len(got.Results) < 37 {
				break
			}
		}
		if total != want.Total || len(seen) != len(want.Results) {
			t.Fatalf("filter %v: total %d, %d distinct documents; want %d", filter, total, len(seen), want.Total)
		}
		for _, d := range want.Results {
			if seen[string(d["id"])] != 1 {
				t.Fatalf("filter %v: document %s seen %d times", filter, d["id"], seen[string(d["id"])])
			}
		}
	}
	// sorted listing: the same order of sort values as one node
	var want, got meilisearch.DocumentsResult
	q := &meilisearch.DocumentsQuery{Offset: 30, Limit: 50, Sort: []string{"price:desc"}, Fields: []string{"id", "title"}}
	if err := meilisearch.New(oracle.URL()).Index("items").GetDocuments(ctx, &meilisearch.DocumentsQuery{Offset: 30, Limit: 50, Sort: []string{"price:desc"}, Fields: []string{"id", "title", "price"}}, &want); err != nil {
		t.Fatal(err)
	}
	if err := f.c.getDocuments(ctx, "items", q, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != len(want.Results) {
		t.Fatalf("sorted: %d results, want %d", len(got.Results), len(want.Results))
	}
	byID := map[string]string{}
	for _, d := range docs {
		byID[strconv.Itoa(d["id"].(int))] = fmt.Sprint(d["price"])
	}
	for i := range got.Results {
		if _, extra := got.Results[i]["price"]; extra {
			t.Fatal("sorted listing leaks the sort field it added")
		}
		gp, wp := byID[string(got.Results[i]["id"])], string(want.Results[i]["price"])
		if wp == "" {
			wp = "<nil>"
		}
		if fmt.Sprint(gp) != strings.Trim(wp, `"`) && !(gp == "<nil>" && wp == "<nil>") {
			t.Errorf("sorted %d: price %s want %s", i, gp, wp)
		}
	}
}

func TestSimilarDocuments(t *testing.T) {
	docs := genDocs(200, 11)
	r := rand.New(rand.NewPCG(1, 2))
	for _, d := range docs {
		d["_vectors"] = map[string]any{"default": []float64{r.Float64(), r.Float64(), r.Float64()}}
	}
	st := testSettings(false)
	st.Embedders = map[string]meilisearch.Embedder{"default": {Source: "userProvided", Dimensions: 3}}
	oracle, _ := startRef(t)
	loadNode(t, oracle.URL(), "items", st, docs)
	waitIdle(t, oracle)
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 7, timing: noProbes})
	f.load(t, "items", st, docs)
	ctx := context.Background()
	for _, q := range []*meilisearch.SimilarDocumentQuery{
		{Id: 17, Embedder: "default", Limit: 10, ShowRankingScore: true},
		{Id: "42", Embedder: "default", Offset: 5, Limit: 7, Filter: "year > 2000", ShowRankingScore: true, AttributesToRetrieve: []string{"title"}},
	} {
		var want, got meilisearch.SimilarDocumentResult
		if err := meilisearch.New(oracle.URL()).Index("items").SearchSimilarDocuments(ctx, q, &want); err != nil {
			t.Fatal(err)
		}
		if err := f.c.similar(ctx, "items", q, &got); err != nil {
			t.Fatal(err)
		}
		if got.EstimatedTotalHits != want.EstimatedTotalHits || len(got.Hits) != len(want.Hits) || got.ID != want.ID {
			t.Fatalf("%+v: got %d/%d id %s, want %d/%d id %s", q, len(got.Hits), got.EstimatedTotalHits, got.ID, len(want.Hits), want.EstimatedTotalHits, want.ID)
		}
		for i := range got.Hits {
			if string(got.Hits[i]["_rankingScore"]) != string(want.Hits[i]["_rankingScore"]) {
				t.Errorf("%+v hit %d: score %s want %s", q, i, got.Hits[i]["_rankingScore"], want.Hits[i]["_rankingScore"])
			}
			if len(got.Hits[i]) != len(want.Hits[i]) {
				t.Errorf("hit %d: fields %v want %v", i, got.Hits[i], want.Hits[i])
			}
		}
	}
}

func TestShardFieldNeverMatches(t *testing.T) {
	docs := genDocs(300, 31)
	for _, explicit := range []bool{false, true} {
		st := testSettings(false)
		if explicit {
			st.SearchableAttributes = []string{"title", "desc", "tags"}
		}
		oracle, _ := startRef(t)
		loadNode(t, oracle.URL(), "items", st, docs)
		waitIdle(t, oracle)
		f := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 7, timing: noProbes})
		f.load(t, "items", st, docs)
		idx := f.c.index("items")
		ctx := context.Background()
		// shards 0..6 exist: a query word equal to a shard number must match
		// what it matches on one node, not the shard's documents
		for _, q := range []string{"5", "6", "5 6", "0", "3", "4 river"} {
			for _, on := range [][]string{nil, {"title", shardField}} {
				if explicit && on != nil {
					continue // one node rejects an unknown attribute too
				}
				req := func() *meilisearch.SearchRequest {
					return &meilisearch.SearchRequest{Query: q, AttributesToSearchOn: on, ShowRankingScore: true, Limit: 50}
				}
				oreq := req()
				if on != nil {
					oreq.AttributesToSearchOn = []string{"title"}
				}
				want, err := meilisearch.New(oracle.URL()).Index("items").Search(ctx, "", oreq)
				if err != nil {
					t.Fatal(err)
				}
				got, err := idx.Search(ctx, "", req())
				if err != nil {
					t.Fatal(err)
				}
				if got.EstimatedTotalHits != want.EstimatedTotalHits || len(got.Hits) != len(want.Hits) {
					t.Fatalf("explicit=%v q=%q on=%v: %d hits, one node %d", explicit, q, on, got.EstimatedTotalHits, want.EstimatedTotalHits)
				}
				for i := range got.Hits {
					if string(got.Hits[i]["_rankingScore"]) != string(want.Hits[i]["_rankingScore"]) {
						t.Fatalf("explicit=%v q=%q: hit %d score %s, one node %s", explicit, q, i, got.Hits[i]["_rankingScore"], want.Hits[i]["_rankingScore"])
					}
				}
			}
		}
	}
}

func TestStripping(t *testing.T) {
	docs := genDocs(300, 32)
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 7, timing: noProbes})
	f.load(t, "items", testSettings(false), docs)
	idx := f.c.index("items")
	ctx := context.Background()
	resp, err := idx.Search(ctx, "river", &meilisearch.SearchRequest{
		AttributesToRetrieve: []string{"title"}, Distinct: "brand", Sort: []string{"year:desc"},
		AttributesToHighlight: []string{"*"}, ShowMatchesPosition: true, Facets: []string{"*"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Hits) == 0 {
		t.Fatal("no hits")
	}
	for _, h := range resp.Hits {
		for k := range h {
			switch k {
			case "title", "_formatted", "_matchesPosition":
			default:
				t.Fatalf("unexpected member %q in %v", k, h)
			}
		}
		var fm map[string]any
		_ = json.Unmarshal(h["_formatted"], &fm)
		if _, ok := fm["brand"]; ok {
			t.Fatalf("_formatted keeps the attribute added for merging: %v", fm)
		}
		if _, ok := fm[shardField]; ok {
			t.Fatalf("_formatted keeps the shard field: %v", fm)
		}
	}
	var fd map[string]any
	_ = json.Unmarshal(resp.FacetDistribution, &fd)
	if _, ok := fd[shardField]; ok || len(fd) == 0 {
		t.Fatalf("facets [*]: %s", resp.FacetDistribution)
	}
	// asked for: kept
	resp, err = idx.Search(ctx, "river", &meilisearch.SearchRequest{ShowRankingScore: true, Sort: []string{"year:desc"}, ShowRankingScoreDetails: true, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range resp.Hits {
		if h["_rankingScore"] == nil || h["_rankingScoreDetails"] == nil || h[shardField] != nil {
			t.Fatalf("hit %v", h)
		}
	}
}

func TestSearchPageModeAndRaw(t *testing.T) {
	docs := genDocs(250, 33)
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 2, shards: 7, timing: noProbes})
	f.load(t, "items", testSettings(false), docs)
	idx := f.c.index("items")
	ctx := context.Background()
	hpp := int64(9)
	resp, err := idx.Search(ctx, "", &meilisearch.SearchRequest{Page: 3, HitsPerPage: &hpp})
	if err != nil {
		t.Fatal(err)
	}
	if resp.TotalHits != 250 || resp.TotalPages != 28 || resp.Page != 3 || resp.HitsPerPage != 9 || len(resp.Hits) != 9 {
		t.Fatalf("page mode: %+v", resp)
	}
	raw, err := idx.SearchRaw(ctx, "river", &meilisearch.SearchRequest{Limit: 2, Offset: 1})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(*raw, &m); err != nil {
		t.Fatalf("raw: %v: %s", err, *raw)
	}
	if m["limit"].(float64) != 2 || m["offset"].(float64) != 1 || m["query"] != "river" {
		t.Fatalf("raw echo: %s", *raw)
	}
	if _, err := idx.Search(ctx, "", nil); !errors.Is(err, meilisearch.ErrNoSearchRequest) {
		t.Fatalf("nil request: %v", err)
	}
	if _, err := idx.Search(ctx, "", &meilisearch.SearchRequest{Filter: "nope = 1"}); err == nil {
		t.Fatal("invalid filter: no error")
	}
}

func TestHybridSearch(t *testing.T) {
	docs := genDocs(300, 41)
	r := rand.New(rand.NewPCG(3, 4))
	for _, d := range docs {
		if r.IntN(10) != 0 {
			d["_vectors"] = map[string]any{"default": []float64{r.Float64(), r.Float64(), r.Float64()}}
		}
	}
	st := testSettings(false)
	st.Embedders = map[string]meilisearch.Embedder{"default": {Source: "userProvided", Dimensions: 3}}
	oracle, _ := startRef(t)
	loadNode(t, oracle.URL(), "items", st, docs)
	waitIdle(t, oracle)
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 7, timing: noProbes, opts: []Option{WithOverFetch(2)}})
	f.load(t, "items", st, docs)
	ctx := context.Background()
	for _, ratio := range []float64{0, 0.3, 0.5, 1} {
		for _, q := range []string{"river", "", "7 castle"} {
			body := map[string]any{"q": q, "vector": []float64{0.2, 0.9, 0.4}, "hybrid": map[string]any{"embedder": "default", "semanticRatio": ratio}, "limit": 12, "offset": 3, "showRankingScore": true}
			want := postJSON(t, oracle.URL()+"/indexes/items/search", body)
			b, _ := json.Marshal(body)
			out, err := f.c.searchBody(ctx, "items", b)
			if err != nil {
				t.Fatal(err)
			}
			got := decodeUseNumber(t, out)
			compareAnswers(t, fmt.Sprint("hybrid ", ratio), body, want, got, nil, nil)
			if fmt.Sprint(got["semanticHitCount"]) != fmt.Sprint(want["semanticHitCount"]) {
				t.Errorf("ratio %v q %q: semanticHitCount %v want %v", ratio, q, got["semanticHitCount"], want["semanticHitCount"])
			}
		}
	}
}
