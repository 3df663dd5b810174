package miroir

// Facet search, similar documents and document listing (search_docs.go),
// compared with one node.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

func auditFacetSearchCompare(t *testing.T, ref, clu meilisearch.IndexManager) {
	t.Helper()
	ctx := context.Background()
	for _, req := range []meilisearch.FacetSearchRequest{
		{FacetName: "genre"},
		{FacetName: "genre", FacetQuery: "dr"},
		{FacetName: "brand", FacetQuery: "brand1"},
		{FacetName: "tags", Q: "river"},
		{FacetName: "tags", FacetQuery: "s", Filter: "rating >= 3"},
		{FacetName: "meta.color", Q: "castle", Filter: []any{"year > 1990"}},
		{FacetName: "brand", Q: "qzxv"},
	} {
		r1, r2 := req, req
		w, err := ref.FacetSearch(ctx, &r1)
		if err != nil {
			t.Fatalf("%+v: reference: %v", req, err)
		}
		g, err := clu.FacetSearch(ctx, &r2)
		if err != nil {
			t.Fatalf("%+v: %v", req, err)
		}
		wm, gm := auditJSON(t, *w), auditJSON(t, *g)
		delete(wm, "processingTimeMs")
		if _, ok := gm["processingTimeMs"]; !ok {
			t.Errorf("%+v: processingTimeMs missing", req)
		}
		delete(gm, "processingTimeMs")
		if auditCanon(wm) != auditCanon(gm) {
			t.Errorf("facet search %+v:\n got %s\nwant %s", req, auditCanon(gm), auditCanon(wm))
		}
	}
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

// TestAuditReadFacetSearch: DESIGN §5 "Facet search sums counts per value
// and re-sorts"; compared with one node.
func TestAuditReadFacetSearch(t *testing.T) {
	t.Parallel()
	docs := auditDocs(auditN, 9)
	_, ref := startRef(t, meilitest.WithTaskDuration(0))
	auditLoad(t, ref, "a", auditSettingsA(), docs)
	c := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 2, shards: 64, ids: "node-", instant: true, timing: newDefaults}).c
	auditLoad(t, c, "a", auditSettingsA(), docs)
	auditFacetSearchCompare(t, ref.Index("a"), c.Index("a"))
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

// TestAuditReadGetDocumentsPagesStable: issue 4 "GetDocuments pages are
// stable: walking all pages of a listing returns every document exactly
// once, with or without a filter" (with replicas and rotating groups).
func TestAuditReadGetDocumentsPagesStable(t *testing.T) {
	t.Parallel()
	docs := auditDocs(auditN, 4)
	_, ref := startRef(t, meilitest.WithTaskDuration(0))
	auditLoad(t, ref, "d", auditSettingsA(), docs)
	c := startFleet(t, fleetSpec{groups: groupsOf(2, 3), rf: 2, shards: 7, ids: "node-", instant: true, timing: newDefaults}).c
	auditLoad(t, c, "d", auditSettingsA(), docs)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		filter any
		fields []string
		limit  int64
	}{
		{"all", nil, nil, 7},
		{"filter", "genre = scifi OR rating = 5", nil, 9},
		{"array filter fields", []any{"year >= 2000", []any{"tags = sale", "tags = rare"}}, []string{"id", "year"}, 13},
		{"big pages", nil, []string{"id"}, 100},
	} {
		var refList meilisearch.DocumentsResult
		if err := ref.Index("d").GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 1000, Filter: tc.filter, Fields: []string{"id"}}, &refList); err != nil {
			t.Fatal(err)
		}
		wantIDs := map[string]bool{}
		for _, d := range refList.Results {
			wantIDs[string(d["id"])] = true
		}
		seen := map[string]int{}
		var total int64 = -1
		for off := int64(0); off < int64(len(docs))+tc.limit; off += tc.limit {
			var page meilisearch.DocumentsResult
			if err := c.Index("d").GetDocuments(ctx, &meilisearch.DocumentsQuery{Offset: off, Limit: tc.limit, Filter: tc.filter, Fields: tc.fields}, &page); err != nil {
				t.Fatalf("%s offset %d: %v", tc.name, off, err)
			}
			if page.Offset != off || page.Limit != tc.limit {
				t.Errorf("%s: page echoes offset %d limit %d, want %d %d", tc.name, page.Offset, page.Limit, off, tc.limit)
			}
			if total >= 0 && page.Total != total {
				t.Errorf("%s: total changed between pages: %d then %d", tc.name, total, page.Total)
			}
			total = page.Total
			for _, d := range page.Results {
				seen[string(d["id"])]++
				if tc.fields != nil && len(d) != len(tc.fields) {
					t.Errorf("%s: document %v, fields %v", tc.name, d, tc.fields)
				}
			}
		}
		if total != refList.Total {
			t.Errorf("%s: total %d, want %d", tc.name, total, refList.Total)
		}
		for id, n := range seen {
			if n != 1 || !wantIDs[id] {
				t.Errorf("%s: document %s listed %d times (matches: %v)", tc.name, id, n, wantIDs[id])
			}
		}
		if len(seen) != len(wantIDs) {
			t.Errorf("%s: walked %d distinct documents, want %d", tc.name, len(seen), len(wantIDs))
		}
	}
	// with sort, the listing is the reference's, page by page
	for _, off := range []int64{0, 17, 280} {
		q := func() *meilisearch.DocumentsQuery {
			return &meilisearch.DocumentsQuery{Offset: off, Limit: 17, Sort: []string{"year:desc", "id:asc"}, Fields: []string{"id", "year"}}
		}
		var w, g meilisearch.DocumentsResult
		if err := ref.Index("d").GetDocuments(ctx, q(), &w); err != nil {
			t.Fatal(err)
		}
		if err := c.Index("d").GetDocuments(ctx, q(), &g); err != nil {
			t.Fatalf("sorted listing: %v", err)
		}
		if auditCanon(w) != auditCanon(g) {
			t.Errorf("sorted listing offset %d:\n got %s\nwant %s", off, auditTrunc([]byte(auditCanon(g))), auditTrunc([]byte(auditCanon(w))))
		}
	}
}
