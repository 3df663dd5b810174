package meilitest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Keys limited to some indexes, as Meilisearch scopes them (issue 17): the
// listings show only the key's indexes, a task of another index is not
// found, a write that would create an index the key may not create fails
// as a task, and key values compare as hex.

func scopeSetup(t *testing.T) (*Server, meilisearch.ServiceManager) {
	t.Helper()
	srv, c := keysClient(t)
	ctx := context.Background()
	for _, uid := range []string{"movies", "books"} {
		info, err := c.Index(uid).AddDocuments(ctx, []map[string]any{{"id": 1}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitForTask(ctx, info.TaskUID, time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	return srv, c
}

func TestKeyScopedListings(t *testing.T) {
	srv, c := scopeSetup(t)
	k := createTestKey(t, c, meilisearch.Key{Actions: []string{"indexes.get", "stats.get", "tasks.get"}, Indexes: []string{"mov*"}})
	auth := "Bearer " + k.Key
	r := keysRaw(t, srv, "GET", "/indexes", auth, "")
	if r.status != 200 || r.body["total"] != 1.0 || len(r.body["results"].([]any)) != 1 {
		t.Fatalf("GET /indexes with a mov* key: %d %v", r.status, r.body)
	}
	r = keysRaw(t, srv, "GET", "/stats", auth, "")
	if ix, _ := r.body["indexes"].(map[string]any); r.status != 200 || len(ix) != 1 || ix["movies"] == nil {
		t.Fatalf("GET /stats with a mov* key: %d %v", r.status, r.body)
	}
	// GET /tasks shows the tasks of movies only, and counts them all in
	// total, as Meilisearch does.
	r = keysRaw(t, srv, "GET", "/tasks", auth, "")
	res, _ := r.body["results"].([]any)
	if r.status != 200 || len(res) == 0 || r.body["total"].(float64) <= float64(len(res)) {
		t.Fatalf("GET /tasks with a mov* key: %d %v", r.status, r.body)
	}
	for _, x := range res {
		if x.(map[string]any)["indexUid"] != "movies" {
			t.Fatalf("GET /tasks with a mov* key lists %v", x)
		}
	}
	// Tasks of books are not found; tasks of movies are.
	all, err := c.GetTasks(context.Background(), &meilisearch.TasksQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range all.Results {
		r := keysRaw(t, srv, "GET", "/tasks/"+jsonNum(tk.UID), auth, "")
		want := 200
		if tk.IndexUID != "movies" {
			want = 404
		}
		if r.status != want {
			t.Fatalf("GET /tasks/%d (%s) with a mov* key: %d, want %d", tk.UID, tk.IndexUID, r.status, want)
		}
	}
}

func TestKeyWithoutCreationFailsTheTask(t *testing.T) {
	srv, c := scopeSetup(t)
	k := createTestKey(t, c, meilisearch.Key{Actions: []string{"documents.add", "settings.update", "tasks.get"}, Indexes: []string{"*"}})
	auth := "Bearer " + k.Key
	for _, w := range []struct{ method, path, body string }{
		{"POST", "/indexes/fresh/documents", `[{"id":1}]`},
		{"PATCH", "/indexes/fresh2/settings", `{"sortableAttributes":["a"]}`},
	} {
		r := keysRaw(t, srv, w.method, w.path, auth, w.body)
		if r.status != 202 {
			t.Fatalf("%s %s: %d %v", w.method, w.path, r.status, r.body)
		}
		tk, err := c.WaitForTask(context.Background(), int64(r.body["taskUid"].(float64)), time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if tk.Status != "failed" || tk.Error.Code != "index_not_found" {
			t.Fatalf("%s %s with a key that may not create indexes: %s %v", w.method, w.path, tk.Status, tk.Error)
		}
	}
	// The same write on an existing index succeeds.
	r := keysRaw(t, srv, "POST", "/indexes/movies/documents", auth, `[{"id":2}]`)
	tk, _ := c.WaitForTask(context.Background(), int64(r.body["taskUid"].(float64)), time.Millisecond)
	if tk == nil || tk.Status != "succeeded" {
		t.Fatalf("write to an existing index: %v", tk)
	}
}

func TestKeyValueComparedAsHex(t *testing.T) {
	srv, c := keysClient(t)
	k := createTestKey(t, c, meilisearch.Key{Actions: []string{"version"}, Indexes: []string{"*"}})
	if r := keysRaw(t, srv, "GET", "/version", "Bearer "+strings.ToUpper(k.Key), ""); r.status != 200 {
		t.Fatalf("upper-case key value: %d %v", r.status, r.body)
	}
	if r := keysRaw(t, srv, "GET", "/keys/"+strings.ToUpper(k.Key), "Bearer "+testMaster, ""); r.status != 200 {
		t.Fatalf("GET /keys/{upper-case value}: %d %v", r.status, r.body)
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }
