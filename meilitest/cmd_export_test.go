package meilitest

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

func TestExportToRemote(t *testing.T) {
	srcSrv, src := newClient(t)
	dstSrv := RunT(t, WithMasterKey("dstKey"))
	dst := meilisearch.New(dstSrv.URL(), meilisearch.WithAPIKey("dstKey"))
	ctx := context.Background()
	w := waitFor(t, src)
	w(src.Index("movies").AddDocuments(ctx, []map[string]any{
		{"id": 1, "title": "Alien", "year": 1979}, {"id": 2, "title": "Heat", "year": 1995}, {"id": 3, "title": "Up", "year": 2009},
	}, nil))
	w(src.Index("movies").UpdateFilterableAttributes(ctx, &[]interface{}{"year"}))
	w(src.Index("books").AddDocuments(ctx, []map[string]any{{"book_id": "x1", "t": "Dune"}}, nil))
	w(src.Index("other").AddDocuments(ctx, []map[string]any{{"id": 9}}, nil))

	info, err := src.Export(ctx, &meilisearch.ExportParams{URL: dstSrv.URL(), APIKey: "dstKey", PayloadSize: "10MB",
		Indexes: map[string]meilisearch.IndexExportOptions{"movies": {Filter: "year > 1980", OverrideSettings: true}, "bo*": {}}})
	if err != nil || info.Type != meilisearch.TaskTypeExport || info.Status != meilisearch.TaskStatusEnqueued {
		t.Fatalf("export %+v %v", info, err)
	}
	task := wait(t, src, info, nil)
	if task.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("export task %s %+v", task.Status, task.Error)
	}
	_, raw := rawJSON(t, "GET", srcSrv.URL()+"/tasks/"+strconv.FormatInt(task.UID, 10), "")
	d := asMap(raw["details"])
	idx := asMap(d["indexes"])
	if d["url"] != dstSrv.URL() || d["apiKey"] != "XXX..." || d["payloadSize"] != "10 MB" ||
		asMap(idx["movies"])["matched_documents"] != 2.0 || asMap(idx["books"])["matched_documents"] != 1.0 || len(idx) != 2 {
		t.Fatalf("details %v", d)
	}
	if err := dstSrv.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	var docs meilisearch.DocumentsResult
	if err := dst.Index("movies").GetDocuments(ctx, &meilisearch.DocumentsQuery{}, &docs); err != nil || docs.Total != 2 {
		t.Fatalf("remote movies %+v %v", docs, err)
	}
	st, err := dst.Index("movies").GetSettings(ctx)
	if err != nil || len(st.FilterableAttributes) != 1 {
		t.Fatalf("remote settings %+v %v", st, err)
	}
	ix, err := dst.GetIndex(ctx, "books")
	if err != nil || ix.PrimaryKey != "book_id" {
		t.Fatalf("remote books %+v %v", ix, err)
	}
	if _, err := dst.GetIndex(ctx, "other"); apiCode(err) != "index_not_found" {
		t.Fatalf("other index exported: %v", err)
	}
}

func TestExportUnreachableRemote(t *testing.T) {
	old := ExportRetryTimeout
	ExportRetryTimeout = 100 * time.Millisecond
	defer func() { ExportRetryTimeout = old }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	_, c := newClient(t)
	ctx := context.Background()
	waitFor(t, c)(c.Index("movies").AddDocuments(ctx, []map[string]any{{"id": 1}}, nil))
	info, err := c.Export(ctx, &meilisearch.ExportParams{URL: dead})
	task := wait(t, c, info, err)
	if task.Status != meilisearch.TaskStatusFailed || task.Error.Code != "internal" {
		t.Fatalf("task %s %+v", task.Status, task.Error)
	}
	// A remote refusing the request fails the task with the remote's error.
	remote := RunT(t, WithMasterKey("k"))
	info, err = c.Export(ctx, &meilisearch.ExportParams{URL: remote.URL(), APIKey: "wrong"})
	task = wait(t, c, info, err)
	if task.Status != meilisearch.TaskStatusFailed || task.Error.Code != "invalid_api_key" {
		t.Fatalf("task %s %+v", task.Status, task.Error)
	}
}
