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
