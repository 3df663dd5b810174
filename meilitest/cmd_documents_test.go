package meilitest

import (
	"context"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func TestDocumentsSortAndSkipCreation(t *testing.T) {
	_, c := newClient(t)
	ctx := context.Background()
	ix := c.Index("books")
	w := waitFor(t, c)
	w(ix.AddDocuments(ctx, []map[string]any{
		{"id": 1, "year": 1865, "rating": 4.5}, {"id": 2, "year": 1813, "rating": 4.8},
		{"id": 3, "year": 1925, "rating": 4.8}, {"id": 4, "title": "no year"},
	}, nil))
	var res meilisearch.DocumentsResult
	err := ix.GetDocuments(ctx, &meilisearch.DocumentsQuery{Sort: []string{"year:asc"}}, &res)
	if apiCode(err) != "invalid_document_sort" {
		t.Fatalf("sort on a non-sortable attribute: %v", err)
	}
	w(ix.UpdateSortableAttributes(ctx, &[]string{"year", "rating"}))
	ids := func(q *meilisearch.DocumentsQuery) []string {
		t.Helper()
		var res meilisearch.DocumentsResult
		if err := ix.GetDocuments(ctx, q, &res); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range res.Results {
			out = append(out, string(h["id"]))
		}
		return out
	}
	// missing values sort last in both directions; ties keep insertion order
	if got := ids(&meilisearch.DocumentsQuery{Sort: []string{"year:asc"}}); len(got) != 4 || got[0] != "2" || got[3] != "4" {
		t.Fatalf("year:asc: %v", got)
	}
	if got := ids(&meilisearch.DocumentsQuery{Sort: []string{"rating:desc", "year:desc"}, Limit: 2}); len(got) != 2 || got[0] != "3" || got[1] != "2" {
		t.Fatalf("rating:desc,year:desc: %v", got)
	}

	// skipCreation only touches existing documents
	task := w(ix.UpdateDocuments(ctx, []map[string]any{{"id": 1, "title": "Alice"}, {"id": 9, "title": "new"}}, &meilisearch.DocumentOptions{SkipCreation: true}))
	if task.Details.IndexedDocuments != 1 {
		t.Fatalf("skipCreation details: %+v", task.Details)
	}
	var doc map[string]any
	if err := ix.GetDocument(ctx, "9", nil, &doc); apiCode(err) != "document_not_found" {
		t.Fatalf("skipped document was created: %v", err)
	}
	if err := ix.GetDocument(ctx, "1", nil, &doc); err != nil || doc["title"] != "Alice" || doc["year"] == nil {
		t.Fatalf("existing document not updated: %v %v", doc, err)
	}
}

func TestStatsSizes(t *testing.T) {
	_, c := newClient(t)
	ctx := context.Background()
	ix := c.Index("books")
	docs := make([]map[string]any, 6)
	for i := range docs {
		docs[i] = map[string]any{"book_id": i, "title": "Pride and Prejudice"}
	}
	waitFor(t, c)(ix.AddDocuments(ctx, docs, nil))
	st, err := ix.GetStats(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// one LMDB page; (4096 - 6*8) / 6 as milli computes the average
	if st.RawDocumentDbSize != float64(4096) || st.AvgDocumentSize != float64(674) {
		t.Fatalf("sizes: %v %v", st.RawDocumentDbSize, st.AvgDocumentSize)
	}
	st, err = ix.GetStats(ctx, &meilisearch.StatsParams{SizeFormat: "human", ShowInternalDatabaseSizes: true})
	if err != nil || st.RawDocumentDbSize != "4 KiB" || st.AvgDocumentSize != "674 B" || len(st.InternalDatabaseSizes) == 0 {
		t.Fatalf("human: %+v %v", st, err)
	}
	all, err := c.GetStats(ctx, &meilisearch.StatsParams{SizeFormat: "human"})
	if err != nil || all.Indexes["books"].NumberOfDocuments != 6 {
		t.Fatalf("global: %+v %v", all, err)
	}
	if _, ok := all.DatabaseSize.(string); !ok {
		t.Fatalf("global human size: %#v", all.DatabaseSize)
	}
	big := make([]map[string]any, 300)
	for i := range big {
		big[i] = map[string]any{"id": i, "text": string(make([]byte, 100))}
	}
	waitFor(t, c)(c.Index("big").AddDocuments(ctx, big, nil))
	st, _ = c.Index("big").GetStats(ctx, nil)
	if n := st.RawDocumentDbSize.(float64); n <= 4096 || int(n)%4096 != 0 {
		t.Fatalf("big index size %v: want several whole pages", n)
	}
}

// GET /indexes/{uid}/documents and POST .../documents/fetch answer with a
// PaginationView: results, offset, limit, total.
func TestDocumentListKeyOrder(t *testing.T) {
	srv, c := newClient(t)
	waitFor(t, c)(c.Index("a").AddDocuments(context.Background(), []map[string]any{{"id": 1}}, nil))
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/indexes/a/documents", ""},
		{"POST", "/indexes/a/documents/fetch", `{"limit":1}`},
	} {
		if keys := topKeys(t, srv, req.method, req.path, "", req.body); !keyOrder(keys, "results", "offset", "limit", "total") {
			t.Errorf("%s %s: keys %v", req.method, req.path, keys)
		}
	}
}

// A delete by filter with an empty filter is refused at once, as
// Meilisearch's "Sending an empty filter is forbidden."
func TestDeleteByEmptyFilter(t *testing.T) {
	srv, _ := newClient(t)
	for _, f := range []string{`""`, `"   "`, `[]`} {
		status, b := rawRequest(t, srv, "POST", "/indexes/a/documents/delete", "", `{"filter":`+f+`}`)
		if status != 400 || !strings.Contains(string(b), `"code":"invalid_document_filter"`) || !strings.Contains(string(b), "Sending an empty filter is forbidden.") {
			t.Errorf("filter %s: %d %s", f, status, b)
		}
	}
}
