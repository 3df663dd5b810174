package meilitest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

type searchBook struct {
	BookID int    `json:"book_id"`
	Title  string `json:"title"`
	Tag    string `json:"tag"`
	Year   int    `json:"year"`
}

var searchBooks = []searchBook{
	{123, "Pride and Prejudice", "Romance", 1813},
	{456, "Le Petit Prince", "Tale", 1943},
	{1, "Alice In Wonderland", "Tale", 1865},
	{1344, "The Hobbit", "Epic fantasy", 1937},
	{4, "Harry Potter and the Half-Blood Prince", "Epic fantasy", 2005},
	{42, "The Hitchhiker's Guide to the Galaxy", "Epic fantasy", 1978},
	{742, "The Great Gatsby", "Tragedy", 1925},
	{834, "One Hundred Years of Solitude", "Tragedy", 1967},
	{17, "In Search of Lost Time", "Modernist literature", 1913},
	{204, "Ulysses", "Novel", 1922},
	{7, "Don Quixote", "Satiric", 1605},
	{10, "Moby Dick", "Novel", 1851},
	{730, "War and Peace", "Historical fiction", 1865},
	{69, "Hamlet", "Tragedy", 1598},
	{32, "The Odyssey", "Epic", 1571},
	{71, "Madame Bovary", "Novel", 1857},
	{56, "The Divine Comedy", "Epic", 1303},
	{254, "Lolita", "Novel", 1955},
	{921, "The Brothers Karamazov", "Novel", 1879},
	{1032, "Crime and Punishment", "Crime fiction", 1866},
	{1039, "The Girl in the white shirt", "white shirt", 1999},
	{1050, "星の王子さま", "物語", 1943},
}

// booksIndex starts a server with the integration suite's books index.
func booksIndex(t *testing.T) (meilisearch.ServiceManager, meilisearch.IndexManager) {
	t.Helper()
	srv := RunT(t)
	c := meilisearch.New(srv.URL())
	ix := c.Index("books")
	task, err := ix.AddDocuments(context.Background(), searchBooks, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, c, task.TaskUID)
	return c, ix
}

func waitTask(t *testing.T, c meilisearch.ServiceManager, uid int64) {
	t.Helper()
	task, err := c.WaitForTask(context.Background(), uid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("task %d: %s %+v", uid, task.Status, task.Error)
	}
}

func hitIDs(t *testing.T, hits meilisearch.Hits) []int {
	t.Helper()
	var out []int
	for _, h := range hits {
		var id int
		if err := json.Unmarshal(h["book_id"], &id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSearchClientBasics(t *testing.T) {
	c, ix := booksIndex(t)
	ctx := context.Background()
	cases := []struct {
		q    string
		req  meilisearch.SearchRequest
		want []int
	}{
		{"prince", meilisearch.SearchRequest{}, []int{456, 4}},
		{"and", meilisearch.SearchRequest{}, []int{123, 730, 1032, 4}},
		{"王子", meilisearch.SearchRequest{Locales: []string{"jpn"}}, []int{1050}},
		{"prinec", meilisearch.SearchRequest{}, []int{456, 4}}, // typo (transposition)
		{"hobbit", meilisearch.SearchRequest{}, []int{1344}},
		{"hobit", meilisearch.SearchRequest{}, []int{1344}},
		{"the hobbit", meilisearch.SearchRequest{}, []int{1344, 42, 742, 32, 56, 921, 1039, 4}},
	}
	for _, tc := range cases {
		got, err := ix.Search(ctx, tc.q, &tc.req)
		if err != nil {
			t.Fatalf("%q: %v", tc.q, err)
		}
		if ids := hitIDs(t, got.Hits); !equalInts(ids, tc.want) {
			t.Errorf("%q: got %v, want %v", tc.q, ids, tc.want)
		}
	}
	// pagination
	hpp := int64(10)
	got, err := ix.Search(ctx, "and", &meilisearch.SearchRequest{HitsPerPage: &hpp})
	if err != nil {
		t.Fatal(err)
	}
	if got.TotalHits != 4 || got.TotalPages != 1 || got.Page != 1 || got.HitsPerPage != 10 {
		t.Errorf("page mode: %+v", got)
	}
	zero := int64(0)
	got, _ = ix.Search(ctx, "and", &meilisearch.SearchRequest{HitsPerPage: &zero})
	if len(got.Hits) != 0 || got.TotalHits != 4 || got.TotalPages != 0 || got.Page != 1 {
		t.Errorf("hitsPerPage 0: %+v", got)
	}
	// filters and facets
	fa := []any{"tag", "year", "book_id"}
	task, _ := ix.UpdateFilterableAttributes(ctx, &fa)
	waitTask(t, c, task.TaskUID)
	got, err = ix.Search(ctx, "prince", &meilisearch.SearchRequest{Facets: []string{"tag", "book_id"}})
	if err != nil {
		t.Fatal(err)
	}
	var dist map[string]map[string]int
	_ = json.Unmarshal(got.FacetDistribution, &dist)
	if dist["tag"]["Epic fantasy"] != 1 || dist["tag"]["Tale"] != 1 || dist["book_id"]["456"] != 1 {
		t.Errorf("facets: %s", got.FacetDistribution)
	}
	var stats map[string]map[string]float64
	_ = json.Unmarshal(got.FacetStats, &stats)
	if stats["book_id"]["min"] != 4 || stats["book_id"]["max"] != 456 {
		t.Errorf("facetStats: %s", got.FacetStats)
	}
	got, err = ix.Search(ctx, "and", &meilisearch.SearchRequest{Filter: "tag = romance"})
	if err != nil {
		t.Fatal(err)
	}
	if ids := hitIDs(t, got.Hits); !equalInts(ids, []int{123}) {
		t.Errorf("filter: %v", ids)
	}
	// facet search
	raw, err := ix.FacetSearch(ctx, &meilisearch.FacetSearchRequest{FacetName: "tag", FacetQuery: "Novel"})
	if err != nil {
		t.Fatal(err)
	}
	var fs meilisearch.FacetSearchResponse
	_ = json.Unmarshal(*raw, &fs)
	if len(fs.FacetHits) != 1 || string(fs.FacetHits[0]["count"]) != "5" || string(fs.FacetHits[0]["value"]) != `"Novel"` {
		t.Errorf("facet search: %s", *raw)
	}
	// sort
	sa := []string{"year"}
	task, _ = ix.UpdateSortableAttributes(ctx, &sa)
	waitTask(t, c, task.TaskUID)
	got, err = ix.Search(ctx, "and", &meilisearch.SearchRequest{Sort: []string{"year:asc"}, ShowRankingScoreDetails: true})
	if err != nil {
		t.Fatal(err)
	}
	if ids := hitIDs(t, got.Hits); !equalInts(ids, []int{123, 730, 1032, 4}) {
		t.Errorf("sort: %v", ids)
	}
	if _, err := ix.Search(ctx, "and", &meilisearch.SearchRequest{Sort: []string{"title:asc"}}); err == nil {
		t.Errorf("sort on non-sortable: no error")
	} else if me, ok := err.(*meilisearch.Error); !ok || me.APIError.Code != "invalid_search_sort" {
		t.Errorf("sort error: %v", err)
	}
}

func TestSearchClientMore(t *testing.T) {
	c, ix := booksIndex(t)
	ctx := context.Background()
	// highlight, crop, retrieve, scores
	got, err := ix.Search(ctx, "prin", &meilisearch.SearchRequest{
		AttributesToHighlight: []string{"title"}, AttributesToRetrieve: []string{"title", "book_id"},
		ShowRankingScore: true, ShowMatchesPosition: true, AttributesToCrop: []string{"tag:1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	_ = json.Unmarshal(got.Hits[0]["_formatted"], &f)
	if f["title"] != "Le Petit <em>Prin</em>ce" {
		t.Errorf("_formatted: %s", got.Hits[0]["_formatted"])
	}
	if _, ok := got.Hits[0]["tag"]; ok {
		t.Errorf("attributesToRetrieve ignored: %v", got.Hits[0])
	}
	if _, ok := got.Hits[0]["_rankingScore"]; !ok {
		t.Error("no _rankingScore")
	}
	// threshold
	got, _ = ix.Search(ctx, "prince harry", &meilisearch.SearchRequest{RankingScoreThreshold: 0.5})
	if ids := hitIDs(t, got.Hits); !equalInts(ids, []int{4}) || got.EstimatedTotalHits != 1 {
		t.Errorf("threshold: %v %d", ids, got.EstimatedTotalHits)
	}
	// metadata header
	got, err = ix.Search(ctx, "prince", &meilisearch.SearchRequest{IncludeMetadata: true})
	if err != nil || got.Metadata == nil || got.Metadata.IndexUID != "books" || got.Metadata.QueryUID == "" {
		t.Errorf("metadata: %v %+v", err, got)
	}
	// multi-search
	ms, err := c.MultiSearch(ctx, &meilisearch.MultiSearchRequest{Queries: []*meilisearch.SearchRequest{
		{IndexUID: "books", Query: "prince"}, {IndexUID: "books", Query: "hobbit", Limit: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms.Results) != 2 || ms.Results[0].IndexUID != "books" || len(ms.Results[1].Hits) != 1 {
		t.Errorf("multi-search: %+v", ms)
	}
	// federated
	ms, err = c.MultiSearch(ctx, &meilisearch.MultiSearchRequest{
		Federation: &meilisearch.MultiSearchFederation{Limit: 3},
		Queries: []*meilisearch.SearchRequest{
			{IndexUID: "books", Query: "prince"},
			{IndexUID: "books", Query: "hobbit", FederationOptions: &meilisearch.SearchFederationOptions{Weight: 2}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if ids := hitIDs(t, ms.Hits); !equalInts(ids, []int{1344, 456, 4}) || ms.EstimatedTotalHits != 3 {
		t.Errorf("federated: %v %d", ids, ms.EstimatedTotalHits)
	}
	var fed map[string]any
	_ = json.Unmarshal(ms.Hits[0]["_federation"], &fed)
	if fed["indexUid"] != "books" || fed["queriesPosition"] != 1.0 || fed["weightedRankingScore"].(float64) <= 1 {
		t.Errorf("_federation: %v", fed)
	}
	// errors
	_, err = c.MultiSearch(ctx, &meilisearch.MultiSearchRequest{Queries: []*meilisearch.SearchRequest{{IndexUID: "nope", Query: "x"}}})
	if me, ok := err.(*meilisearch.Error); !ok || me.APIError.Code != "index_not_found" || me.APIError.Message != "Inside `.queries[0]`: Index `nope` not found." {
		t.Errorf("multi-search error: %v", err)
	}
	_, err = ix.Search(ctx, "x", &meilisearch.SearchRequest{Filter: "tag = x"})
	if me, ok := err.(*meilisearch.Error); !ok || me.APIError.Code != "invalid_search_filter" {
		t.Errorf("filter on non-filterable: %v", err)
	}
	_, err = ix.Search(ctx, "x", &meilisearch.SearchRequest{Distinct: "tag"})
	if me, ok := err.(*meilisearch.Error); !ok || me.APIError.Code != "invalid_search_distinct" {
		t.Errorf("distinct on non-filterable: %v", err)
	}
}

func TestSearchVectors(t *testing.T) {
	srv := RunT(t)
	c := meilisearch.New(srv.URL())
	ctx := context.Background()
	ix := c.Index("v")
	task, err := ix.UpdateSettings(ctx, &meilisearch.Settings{Embedders: map[string]meilisearch.Embedder{
		"default": {Source: meilisearch.UserProvidedEmbedderSource, Dimensions: 3},
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, c, task.TaskUID)
	docs := []map[string]any{
		{"book_id": 123, "title": "Pride and Prejudice", "_vectors": map[string]any{"default": []float64{0.1, 0.2, 0.3}}},
		{"book_id": 456, "title": "Le Petit Prince", "_vectors": map[string]any{"default": []float64{2.4, 8.5, 1.6}}},
		{"book_id": 789, "title": "Another", "_vectors": map[string]any{"default": []float64{0.1, 0.2, 0.31}}},
	}
	task, err = ix.AddDocuments(ctx, docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, c, task.TaskUID)
	got, err := ix.Search(ctx, "Pride and Prejudice", &meilisearch.SearchRequest{
		Hybrid: &meilisearch.SearchRequestHybrid{SemanticRatio: 0.5, Embedder: "default"}, RetrieveVectors: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Hits) == 0 {
		t.Fatal("no hits")
	}
	for _, h := range got.Hits {
		if _, ok := h["_vectors"]; !ok {
			t.Errorf("no _vectors in %v", h)
		}
	}
	got, err = ix.Search(ctx, "", &meilisearch.SearchRequest{
		Hybrid: &meilisearch.SearchRequestHybrid{SemanticRatio: 1, Embedder: "default"}, Vector: []float32{0.1, 0.2, 0.3},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids := hitIDs(t, got.Hits); len(ids) != 3 || ids[0] != 123 || ids[1] != 789 {
		t.Errorf("vector search: %v", ids)
	}
	var res meilisearch.SimilarDocumentResult
	if err := ix.SearchSimilarDocuments(ctx, &meilisearch.SimilarDocumentQuery{Id: "123", Embedder: "default", ShowPerformanceDetails: true}, &res); err != nil {
		t.Fatal(err)
	}
	if ids := hitIDs(t, res.Hits); !equalInts(ids, []int{789, 456}) || res.PerformanceDetails == nil {
		t.Errorf("similar: %v %+v", ids, res)
	}
	if err := ix.SearchSimilarDocuments(ctx, &meilisearch.SimilarDocumentQuery{Embedder: "default"}, &res); err == nil {
		t.Error("similar without id: no error")
	}
	if _, err := ix.Search(ctx, "x", &meilisearch.SearchRequest{Hybrid: &meilisearch.SearchRequestHybrid{Embedder: "nope"}}); err == nil {
		t.Error("unknown embedder: no error")
	}
}
