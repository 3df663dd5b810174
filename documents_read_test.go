package miroir

// Document reads (documents_read.go): GetDocument from a replica, with a
// fallback to another, and the shard field never shown.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func TestGetDocumentFieldsAndMissing(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8})
	ix := f.createIndex(t, "movies", "id")
	ctx := testCtx(t)
	f.wait(t, must(ix.AddDocuments(ctx, coreMovies(10), nil)), meilisearch.TaskStatusSucceeded)
	var m map[string]any
	if err := ix.GetDocument(ctx, "3", &meilisearch.DocumentQuery{Fields: []string{"title", "_miroir_shard"}}, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || m["title"] != "movie 3" {
		t.Fatalf("fields: %v", m)
	}
	err := ix.GetDocument(ctx, "999", nil, &m)
	var me *meilisearch.Error
	if !errors.As(err, &me) || me.APIError.Code != "document_not_found" || me.StatusCode != 404 {
		t.Fatalf("missing document: %v", err)
	}
	err = f.c.index("nope").GetDocument(ctx, "1", nil, &m)
	if apiCode(err) != "index_not_found" {
		t.Fatalf("missing index: %v", err)
	}
}

func TestAuditCoreGetDocumentFallback(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 2, shards: 4, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 20), nil))
	// A replica that lacks the document (missed a write) is not the answer.
	st, _ := acHTTP(t, f.srv[0].URL(), "DELETE", "/indexes/docs/documents/5", nil, "")
	if st != 202 {
		t.Fatal(st)
	}
	_ = f.srv[0].WaitIdle(ctx)
	for range 6 {
		var d map[string]any
		if err := ix.GetDocument(ctx, "5", nil, &d); err != nil || d["title"] != "title 5" {
			t.Fatalf("GetDocument(5) with one replica lacking it: %v %v", d, err)
		}
	}
	// A stopped replica: reads fall back to the other.
	f.srv[1].Stop()
	for i := 0; i < 20; i++ {
		if i == 5 {
			continue
		}
		var d map[string]any
		if err := ix.GetDocument(ctx, strconv.Itoa(i), nil, &d); err != nil {
			t.Fatalf("GetDocument(%d) with a replica down: %v", i, err)
		}
		if _, ok := d["_miroir_shard"]; ok {
			t.Fatal("_miroir_shard leaked")
		}
	}
	// Absent everywhere: Meilisearch's document_not_found.
	var d map[string]any
	if err := ix.GetDocument(ctx, "99999", nil, &d); acAPICode(err) != "document_not_found" {
		t.Errorf("missing document: %v", err)
	}
}

func TestAuditCoreShardFieldNeverReachesCaller(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 40), nil))
	check := func(what string, v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		if strings.Contains(string(b), "_miroir_shard") {
			t.Errorf("%s leaks _miroir_shard: %.300s", what, b)
		}
	}
	var d map[string]any
	_ = ix.GetDocument(ctx, "3", nil, &d)
	check("GetDocument", d)
	_ = ix.GetDocument(ctx, "3", &meilisearch.DocumentQuery{Fields: []string{"*"}}, &d)
	check("GetDocument fields *", d)
	d = nil
	_ = ix.GetDocument(ctx, "3", &meilisearch.DocumentQuery{Fields: []string{"id", "_miroir_shard"}}, &d)
	check("GetDocument fields [id _miroir_shard]", d)
	var res2 meilisearch.DocumentsResult
	_ = ix.GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 100, Fields: []string{"_miroir_shard", "id"}}, &res2)
	check("GetDocuments fields [_miroir_shard id]", res2)
	sr2, _ := ix.Search(ctx, "", &meilisearch.SearchRequest{Limit: 5, AttributesToRetrieve: []string{"id", "_miroir_shard"}})
	check("Search attributesToRetrieve [_miroir_shard]", sr2)
	var res meilisearch.DocumentsResult
	_ = ix.GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 100, Fields: []string{"*"}}, &res)
	check("GetDocuments", res)
	if res.Total != 40 {
		t.Errorf("GetDocuments total %d", res.Total)
	}
	sr, err := ix.Search(ctx, "title", &meilisearch.SearchRequest{Limit: 50, AttributesToHighlight: []string{"*"}, AttributesToRetrieve: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	check("Search", sr)
	if len(sr.Hits) != 40 {
		t.Errorf("search hits %d", len(sr.Hits))
	}
	raw, _ := ix.SearchRaw(ctx, "title", &meilisearch.SearchRequest{Limit: 50, Facets: []string{"*"}})
	check("SearchRaw", raw)
	st, _ := ix.GetStats(ctx, nil)
	check("GetStats", st)
	stg, _ := ix.GetSettings(ctx)
	check("GetSettings", stg)
	// A numeric query word does not match the shard field.
	words := []map[string]any{}
	for i := 0; i < 30; i++ {
		words = append(words, map[string]any{"id": fmt.Sprintf("w%d", i), "title": "plain words only"})
	}
	acWaitOK(t, f.c)(f.c.Index("words").AddDocuments(ctx, words, nil))
	for _, q := range []string{"0", "3", "7"} {
		sr, err = f.c.Index("words").Search(ctx, q, &meilisearch.SearchRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if sr.EstimatedTotalHits != 0 || len(sr.Hits) != 0 {
			t.Errorf("query %q matched %d documents through _miroir_shard", q, sr.EstimatedTotalHits)
		}
	}
}
