package miroir

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// TestGetTaskDocuments: while the node tasks are enqueued, a cluster task's
// documents are read back once each (not once per replica), without
// _miroir_shard; once processed, task_file_not_found as on one node.
func TestGetTaskDocuments(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0, 1, 1}, rf: 2, shards: 8})
	ctx := testCtx(t)
	ix := f.createIndex(t, "movies", "id")
	if _, err := f.c.ExperimentalFeatures().SetGetTaskDocumentsRoute(true).Update(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range f.srv {
		s.PauseTasks()
	}
	docs := coreMovies(200)
	info, err := ix.AddDocuments(ctx, docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []coreMovie
	if err := f.c.GetTaskDocuments(ctx, info.TaskUID, &got); err != nil {
		t.Fatal(err)
	}
	ids := make([]int, len(got))
	for i, d := range got {
		ids[i] = d.ID
	}
	slices.Sort(ids)
	if len(ids) != len(docs) || ids[0] != 0 || ids[len(ids)-1] != len(docs)-1 || len(slices.Compact(ids)) != len(docs) {
		t.Fatalf("got %d documents, want each of %d once: %v", len(got), len(docs), ids)
	}
	var raw []map[string]any
	if err := f.c.GetTaskDocuments(ctx, info.TaskUID, &raw); err != nil || raw[0][shardField] != nil {
		t.Fatalf("shard field leaked or error: %v %v", raw[0], err)
	}

	// The proxy serves them as NDJSON.
	r := httptest.NewRecorder()
	f.c.Handler().ServeHTTP(r, httptest.NewRequest(http.MethodGet, "/tasks/"+strconv.FormatInt(info.TaskUID, 10)+"/documents", nil))
	if r.Code != 200 || r.Header().Get("Content-Type") != "application/x-ndjson" || strings.Count(r.Body.String(), "\n") != len(docs) {
		t.Fatalf("proxy: %d %s %.200s", r.Code, r.Header().Get("Content-Type"), r.Body.String())
	}

	for _, s := range f.srv {
		s.ResumeTasks()
	}
	f.wait(t, info, meilisearch.TaskStatusSucceeded)
	if err := f.c.GetTaskDocuments(ctx, info.TaskUID, &got); apiCode(err) != "task_file_not_found" {
		t.Fatalf("after processing: %v", err)
	}
	if err := f.c.GetTaskDocuments(ctx, info.TaskUID, nil); err == nil {
		t.Fatal("nil dst accepted")
	}
}
