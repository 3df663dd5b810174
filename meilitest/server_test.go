package meilitest

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

func newClient(t *testing.T, opts ...Option) (*Server, meilisearch.ServiceManager) {
	t.Helper()
	srv := RunT(t, opts...)
	return srv, meilisearch.New(srv.URL())
}

func wait(t *testing.T, c meilisearch.ServiceManager, info *meilisearch.TaskInfo, err error) *meilisearch.Task {
	t.Helper()
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	task, err := c.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
	if err != nil {
		t.Fatalf("wait task %d: %v", info.TaskUID, err)
	}
	return task
}

// waitFor returns a func that waits for the task of an (info, err) pair,
// so calls can be passed directly: waitFor(t, c)(ix.AddDocuments(...)).
func waitFor(t *testing.T, c meilisearch.ServiceManager) func(*meilisearch.TaskInfo, error) *meilisearch.Task {
	return func(info *meilisearch.TaskInfo, err error) *meilisearch.Task {
		t.Helper()
		return wait(t, c, info, err)
	}
}

func apiCode(err error) string {
	var me *meilisearch.Error
	if errors.As(err, &me) {
		return string(me.APIError.Code)
	}
	return ""
}

func TestIndexLifecycle(t *testing.T) {
	_, c := newClient(t)
	ctx := context.Background()
	info, err := c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies", PrimaryKey: "id"})
	if task := wait(t, c, info, err); task.Status != meilisearch.TaskStatusSucceeded || task.Type != meilisearch.TaskTypeIndexCreation {
		t.Fatalf("create: %+v", task)
	}
	info, err = c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies"})
	if task := wait(t, c, info, err); task.Status != meilisearch.TaskStatusFailed || task.Error.Code != "index_already_exists" {
		t.Fatalf("duplicate create: %+v", task)
	}
	ix, err := c.GetIndex(ctx, "movies")
	if err != nil || ix.PrimaryKey != "id" || ix.UID != "movies" {
		t.Fatalf("get: %+v %v", ix, err)
	}
	if _, err := c.GetIndex(ctx, "nope"); apiCode(err) != "index_not_found" {
		t.Fatalf("missing index: %v", err)
	}
	list, err := c.ListIndexes(ctx, &meilisearch.IndexesQuery{Limit: 10})
	if err != nil || list.Total != 1 || len(list.Results) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	info, err = c.Index("movies").UpdateIndex(ctx, &meilisearch.UpdateIndexRequestParams{PrimaryKey: "key"})
	wait(t, c, info, err)
	if ix, _ := c.GetIndex(ctx, "movies"); ix.PrimaryKey != "key" {
		t.Fatalf("primary key not updated: %+v", ix)
	}
	info, err = c.DeleteIndex(ctx, "movies")
	if task := wait(t, c, info, err); task.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("delete: %+v", task)
	}
	if _, err := c.GetIndex(ctx, "movies"); apiCode(err) != "index_not_found" {
		t.Fatalf("deleted index still there: %v", err)
	}
	if _, err := c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "bad uid!"}); apiCode(err) != "invalid_index_uid" {
		t.Fatalf("bad uid: %v", err)
	}
}

func TestSwapIndexes(t *testing.T) {
	_, c := newClient(t)
	ctx := context.Background()
	for _, uid := range []string{"a", "b"} {
		info, err := c.Index(uid).AddDocuments(ctx, []map[string]any{{"id": 1, "from": uid}}, nil)
		wait(t, c, info, err)
	}
	info, err := c.SwapIndexes(ctx, []*meilisearch.SwapIndexesParams{{Indexes: []string{"a", "b"}}})
	if task := wait(t, c, info, err); task.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("swap: %+v", task)
	}
	var doc map[string]any
	if err := c.Index("a").GetDocument(ctx, "1", nil, &doc); err != nil || doc["from"] != "b" {
		t.Fatalf("after swap a holds %v (%v)", doc, err)
	}
}

// A rename never overwrites an index, and a swap task is checked as a
// whole before any of it is applied (Meilisearch's
// swap_indexes_rename_to_already_existing_index).
func TestSwapIndexesRename(t *testing.T) {
	_, c := newClient(t)
	ctx := context.Background()
	for _, uid := range []string{"a", "b", "c", "d"} {
		waitFor(t, c)(c.Index(uid).AddDocuments(ctx, []map[string]any{{"id": 1, "from": uid}}, nil))
	}
	swap := func(params ...*meilisearch.SwapIndexesParams) *meilisearch.Task {
		t.Helper()
		return waitFor(t, c)(c.SwapIndexes(ctx, params))
	}
	from := func(uid string) any {
		t.Helper()
		var doc map[string]any
		if err := c.Index(uid).GetDocument(ctx, "1", nil, &doc); err != nil {
			return apiCode(err)
		}
		return doc["from"]
	}
	failed := func(name string, task *meilisearch.Task, code, msg string) {
		t.Helper()
		if task.Status != meilisearch.TaskStatusFailed || string(task.Error.Code) != code || task.Error.Message != msg || task.Type != meilisearch.TaskTypeIndexSwap {
			t.Errorf("%s: %s %+v", name, task.Status, task.Error)
		}
	}

	failed("rename onto an existing index", swap(&meilisearch.SwapIndexesParams{Indexes: []string{"a", "b"}, Rename: true}),
		"index_already_exists", "Cannot rename `a` to `b` as the index already exists. Hint: You can remove `b` first and then do your remove.")
	failed("two renames onto existing indexes", swap(
		&meilisearch.SwapIndexesParams{Indexes: []string{"c", "d"}, Rename: true},
		&meilisearch.SwapIndexesParams{Indexes: []string{"a", "b"}, Rename: true}),
		"index_already_exists", "The following indexes are being renamed but cannot because their new name conflicts with an already existing index: `b`, `d`. Renaming doesn't overwrite the other index name.")
	// A valid swap does not run when another in the task is refused.
	failed("valid swap next to a refused rename", swap(
		&meilisearch.SwapIndexesParams{Indexes: []string{"c", "d"}},
		&meilisearch.SwapIndexesParams{Indexes: []string{"a", "b"}, Rename: true}),
		"index_already_exists", "Cannot rename `a` to `b` as the index already exists. Hint: You can remove `b` first and then do your remove.")
	for _, uid := range []string{"a", "b", "c", "d"} {
		if got := from(uid); got != uid {
			t.Errorf("after refused swaps %s holds %v", uid, got)
		}
	}

	failed("rename of a missing index", swap(&meilisearch.SwapIndexesParams{Indexes: []string{"nope", "e"}, Rename: true}),
		"index_not_found", "Index `nope` not found.")
	// Missing indexes are reported before rename conflicts, all together.
	failed("missing indexes", swap(
		&meilisearch.SwapIndexesParams{Indexes: []string{"zz", "b"}, Rename: true},
		&meilisearch.SwapIndexesParams{Indexes: []string{"a", "yy"}},
		&meilisearch.SwapIndexesParams{Indexes: []string{"c", "d"}, Rename: true}),
		"index_not_found", "Indexes `yy`, `zz` not found.")

	// A rename to a free name moves the index.
	if task := swap(&meilisearch.SwapIndexesParams{Indexes: []string{"a", "e"}, Rename: true}); task.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("rename: %+v", task)
	}
	if from("e") != "a" || from("a") != "index_not_found" {
		t.Errorf("after rename: e holds %v, a gives %v", from("e"), from("a"))
	}
}

func TestDocumentsRoundTrip(t *testing.T) {
	_, c := newClient(t)
	ctx := context.Background()
	ix := c.Index("books")
	docs := []map[string]any{
		{"book_id": 1, "title": "Alice", "year": 1865},
		{"book_id": "two", "title": "Pride", "year": 1813},
		{"book_id": 3, "title": "Prince", "tags": []string{"a", "b"}},
	}
	task := waitFor(t, c)(ix.AddDocuments(ctx, docs, nil))
	if task.Status != meilisearch.TaskStatusSucceeded || task.Details.ReceivedDocuments != 3 || task.Details.IndexedDocuments != 3 {
		t.Fatalf("add: %+v", task)
	}
	if pk, _ := ix.FetchPrimaryKey(ctx); pk == nil || *pk != "book_id" {
		t.Fatalf("inferred pk: %v", pk)
	}
	var got map[string]any
	if err := ix.GetDocument(ctx, "two", &meilisearch.DocumentQuery{Fields: []string{"title"}}, &got); err != nil || len(got) != 1 || got["title"] != "Pride" {
		t.Fatalf("get with fields: %v %v", got, err)
	}
	if err := ix.GetDocument(ctx, "9", nil, &got); apiCode(err) != "document_not_found" {
		t.Fatalf("missing doc: %v", err)
	}
	// partial update merges, replace overwrites
	waitFor(t, c)(ix.UpdateDocuments(ctx, []map[string]any{{"book_id": 1, "year": 1866}}, nil))
	got = nil
	_ = ix.GetDocument(ctx, "1", nil, &got)
	if got["title"] != "Alice" || got["year"] != float64(1866) {
		t.Fatalf("update did not merge: %v", got)
	}
	waitFor(t, c)(ix.AddDocuments(ctx, []map[string]any{{"book_id": 1, "year": 1867}}, nil))
	got = nil
	_ = ix.GetDocument(ctx, "1", nil, &got)
	if _, ok := got["title"]; ok {
		t.Fatalf("replace kept old field: %v", got)
	}
	var list meilisearch.DocumentsResult
	if err := ix.GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 2}, &list); err != nil || list.Total != 3 || len(list.Results) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	task = waitFor(t, c)(ix.DeleteDocuments(ctx, []string{"1", "two", "nope"}, nil))
	if task.Details.ProvidedIds != 3 || task.Details.DeletedDocuments != 2 {
		t.Fatalf("delete batch details: %+v", task.Details)
	}
	task = waitFor(t, c)(ix.DeleteAllDocuments(ctx, nil))
	if task.Details.DeletedDocuments != 1 {
		t.Fatalf("delete all details: %+v", task.Details)
	}
}

func TestDocumentIDValidation(t *testing.T) {
	_, c := newClient(t)
	ctx := context.Background()
	ix := c.Index("x")
	cases := []struct {
		doc  map[string]any
		code string
	}{
		{map[string]any{"id": 1.5}, "invalid_document_id"},
		{map[string]any{"id": "a b"}, "invalid_document_id"},
		{map[string]any{"id": true}, "invalid_document_id"},
		{map[string]any{"id": strings.Repeat("a", 512)}, "invalid_document_id"},
		{map[string]any{"title": "no id"}, "index_primary_key_no_candidate_found"},
		{map[string]any{"id": 1, "uid": 2}, "index_primary_key_multiple_candidates_found"},
	}
	for _, tc := range cases {
		task := waitFor(t, c)(ix.AddDocuments(ctx, []map[string]any{tc.doc}, nil))
		if task.Status != meilisearch.TaskStatusFailed || string(task.Error.Code) != tc.code {
			t.Errorf("%v: got %s %+v, want %s", tc.doc, task.Status, task.Error, tc.code)
		}
	}
	pk := "id"
	task := waitFor(t, c)(ix.AddDocuments(ctx, []map[string]any{{"title": "x"}}, &meilisearch.DocumentOptions{PrimaryKey: &pk}))
	if task.Status != meilisearch.TaskStatusFailed || task.Error.Code != "missing_document_id" {
		t.Errorf("missing id: %+v", task.Error)
	}
}

func TestNDJSONAndCSV(t *testing.T) {
	_, c := newClient(t)
	ctx := context.Background()
	ix := c.Index("fmt")
	waitFor(t, c)(ix.AddDocumentsNdjson(ctx, []byte("{\"id\":1,\"n\":\"a\"}\n\n{\"id\":2,\"n\":\"b\"}\n"), nil))
	waitFor(t, c)(ix.AddDocumentsCsv(ctx, []byte("id;n;price:number\n3;c;1.5\n4;d;\n"), &meilisearch.CsvDocumentsQuery{CsvDelimiter: ";"}))
	var doc map[string]any
	if err := ix.GetDocument(ctx, "3", nil, &doc); err != nil || doc["price"] != 1.5 || doc["n"] != "c" {
		t.Fatalf("csv doc: %v %v", doc, err)
	}
	if err := ix.GetDocument(ctx, "4", nil, &doc); err != nil || doc["price"] != nil {
		t.Fatalf("csv empty cell: %v %v", doc, err)
	}
	st, err := ix.GetStats(ctx, nil)
	if err != nil || st.NumberOfDocuments != 4 || st.FieldDistribution["id"] != 4 {
		t.Fatalf("stats: %+v %v", st, err)
	}
	_, err = ix.AddDocumentsNdjson(ctx, []byte("{\"id\":1}\n{oops\n"), nil)
	if apiCode(err) != "malformed_payload" {
		t.Fatalf("bad ndjson: %v", err)
	}
}

func TestTaskTransitionsAndFilters(t *testing.T) {
	srv, c := newClient(t)
	ctx := context.Background()
	srv.PauseTasks()
	info, err := c.Index("t").AddDocuments(ctx, []map[string]any{{"id": 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	task, _ := c.GetTask(ctx, info.TaskUID)
	if task.Status != meilisearch.TaskStatusEnqueued {
		t.Fatalf("paused task is %s", task.Status)
	}
	cancel, err := c.CancelTasks(ctx, &meilisearch.CancelTasksQuery{UIDS: []int64{info.TaskUID}})
	if err != nil {
		t.Fatal(err)
	}
	srv.ResumeTasks()
	wait(t, c, cancel, nil)
	task, _ = c.GetTask(ctx, info.TaskUID)
	if task.Status != meilisearch.TaskStatusCanceled || task.CanceledBy != cancel.TaskUID {
		t.Fatalf("canceled task: %+v", task)
	}
	waitFor(t, c)(c.Index("t").AddDocuments(ctx, []map[string]any{{"id": 2}}, nil))
	res, err := c.GetTasks(ctx, &meilisearch.TasksQuery{Statuses: []meilisearch.TaskStatus{meilisearch.TaskStatusSucceeded}, Types: []meilisearch.TaskType{meilisearch.TaskTypeDocumentAdditionOrUpdate}})
	if err != nil || res.Total != 1 || len(res.Results) != 1 {
		t.Fatalf("filtered tasks: %+v %v", res, err)
	}
	all, _ := c.GetTasks(ctx, &meilisearch.TasksQuery{Limit: 2})
	if len(all.Results) != 2 || all.Results[0].UID < all.Results[1].UID || all.Total != 3 || all.Next != all.Results[1].UID-1 {
		t.Fatalf("list order/paging: %+v", all)
	}
	del, err := c.DeleteTasks(ctx, &meilisearch.DeleteTasksQuery{UIDS: []int64{info.TaskUID}})
	wait(t, c, del, err)
	if _, err := c.GetTask(ctx, info.TaskUID); apiCode(err) != "task_not_found" {
		t.Fatalf("deleted task: %v", err)
	}
	if _, err := c.CancelTasks(ctx, &meilisearch.CancelTasksQuery{}); apiCode(err) != "missing_task_filters" {
		t.Fatalf("cancel without filter: %v", err)
	}
}

func TestFaultInjection(t *testing.T) {
	srv, c := newClient(t)
	ctx := context.Background()
	waitFor(t, c)(c.Index("f").AddDocuments(ctx, []map[string]any{{"id": 1}}, nil))

	clear := srv.FailRequests(func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/documents/")
	}, 400, "bad_request")
	var doc map[string]any
	err := c.Index("f").GetDocument(ctx, "1", nil, &doc)
	var me *meilisearch.Error
	if !errors.As(err, &me) || me.StatusCode != 400 || me.APIError.Code != "bad_request" {
		t.Fatalf("injected failure: %v", err)
	}
	clear()
	if err := c.Index("f").GetDocument(ctx, "1", nil, &doc); err != nil {
		t.Fatalf("after clear: %v", err)
	}

	clearT := srv.FailTasks(func(r *http.Request) bool { return r.Method == http.MethodPost }, "internal")
	task := waitFor(t, c)(c.Index("f").AddDocuments(ctx, []map[string]any{{"id": 2}}, nil))
	if task.Status != meilisearch.TaskStatusFailed || task.Error.Code != "internal" {
		t.Fatalf("failed task: %+v", task)
	}
	clearT()

	srv.Stop()
	if _, err := c.Health(ctx); err == nil {
		t.Fatal("stopped server answered")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Index("f").GetDocument(ctx, "1", nil, &doc); err != nil {
		t.Fatalf("data lost across restart: %v", err)
	}

	srv.SetLatency(30 * time.Millisecond)
	start := time.Now()
	_, _ = c.Health(ctx)
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("latency not applied")
	}
	srv.SetLatency(0)
}

func TestRawErrors(t *testing.T) {
	srv, _ := newClient(t)
	cases := []struct {
		method, path, ct, body string
		status                 int
		code                   string
	}{
		{"POST", "/indexes", "application/json", "{bad", 400, "bad_request"},
		{"POST", "/indexes", "text/plain", `{"uid":"a"}`, 415, "invalid_content_type"},
		{"POST", "/indexes/a/documents", "application/json", "[1,2]", 400, "malformed_payload"},
		{"POST", "/indexes/a/documents", "application/xml", "<a/>", 415, "invalid_content_type"},
		{"GET", "/indexes/zz", "", "", 404, "index_not_found"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, srv.URL()+tc.path, strings.NewReader(tc.body))
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = decodeResp(resp, &body)
		if resp.StatusCode != tc.status || body["code"] != tc.code || body["type"] == nil || body["link"] == nil || body["message"] == nil {
			t.Errorf("%s %s: %d %v", tc.method, tc.path, resp.StatusCode, body)
		}
	}
}

// GET /indexes is a PaginationView: results, offset, limit, total.
func TestIndexListKeyOrder(t *testing.T) {
	srv, c := newClient(t)
	waitFor(t, c)(c.CreateIndex(context.Background(), &meilisearch.IndexConfig{Uid: "a"}))
	if keys := topKeys(t, srv, "GET", "/indexes", "", ""); !keyOrder(keys, "results", "offset", "limit", "total") {
		t.Errorf("keys %v", keys)
	}
}

// A swap, a swap-indexes rename and a PATCH rename rewrite the task history
// of the indexes involved, as Meilisearch's apply_index_swap does: every
// earlier task of either index gets the other uid (swap_index_uid_in_task,
// swap details included), so GET /tasks?indexUids=... follows the index
// (a query on indexUids never returns the swaps themselves: they concern
// no single index). Later tasks and the batches are left as they were.
func TestSwapRewritesTaskHistory(t *testing.T) {
	srv, c := newClient(t)
	ctx := context.Background()
	w := waitFor(t, c)
	raw := func(method, path, body string) rawResp {
		t.Helper()
		r := keysRaw(t, srv, method, path, "", body)
		if r.status >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, r.status, r.body)
		}
		return r
	}
	waitRaw := func(method, path, body string) {
		t.Helper()
		r := raw(method, path, body)
		wait(t, c, &meilisearch.TaskInfo{TaskUID: int64(r.body["taskUid"].(float64))}, nil)
	}
	indexOf := func(uid int) any {
		t.Helper()
		return raw("GET", "/tasks/"+strconv.Itoa(uid), "").body["indexUid"]
	}
	uids := func(query string) string {
		t.Helper()
		var out []string
		for _, r := range raw("GET", "/tasks?"+query, "").body["results"].([]any) {
			out = append(out, strconv.Itoa(int(r.(map[string]any)["uid"].(float64))))
		}
		return strings.Join(out, ",")
	}
	swapsOf := func(uid int) string {
		t.Helper()
		var out []string
		for _, s := range raw("GET", "/tasks/"+strconv.Itoa(uid), "").body["details"].(map[string]any)["swaps"].([]any) {
			var ix []string
			for _, u := range s.(map[string]any)["indexes"].([]any) {
				ix = append(ix, u.(string))
			}
			out = append(out, strings.Join(ix, "/"))
		}
		return strings.Join(out, ",")
	}

	w(c.Index("a").AddDocuments(ctx, []map[string]any{{"id": 1}}, nil))                  // 0
	w(c.Index("b").AddDocuments(ctx, []map[string]any{{"id": 1}}, nil))                  // 1
	w(c.Index("a").UpdateSettings(ctx, &meilisearch.Settings{StopWords: []string{"x"}})) // 2
	waitRaw("POST", "/swap-indexes", `[{"indexes":["a","b"]}]`)                          // 3
	for uid, want := range map[int]string{0: "b", 1: "a", 2: "b"} {
		if got := indexOf(uid); got != want {
			t.Errorf("after swap a/b, task %d indexUid %v, want %s", uid, got, want)
		}
	}
	if got := swapsOf(3); got != "a/b" {
		t.Errorf("the swap task itself is not rewritten: %s", got)
	}
	if got := uids("indexUids=a"); got != "1" {
		t.Errorf("indexUids=a after swap: %s", got)
	}
	if got := uids("indexUids=b"); got != "2,0" {
		t.Errorf("indexUids=b after swap: %s", got)
	}
	// The batches keep the uids they were processed with.
	if b := raw("GET", "/batches/0", "").body["stats"].(map[string]any)["indexUids"].(map[string]any); b["a"] != float64(1) {
		t.Errorf("batch 0 indexUids %v", b)
	}

	w(c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "c"}))   // 4
	waitRaw("POST", "/swap-indexes", `[{"indexes":["a","c"]}]`) // 5
	if got := swapsOf(3); got != "c/b" {
		t.Errorf("earlier swap details after swap a/c: %s", got)
	}
	if indexOf(1) != "c" || indexOf(4) != "a" || indexOf(0) != "b" {
		t.Errorf("after swap a/c: task 1 %v, task 4 %v, task 0 %v", indexOf(1), indexOf(4), indexOf(0))
	}
	if got := uids("indexUids=c"); got != "1" {
		t.Errorf("indexUids=c after swap a/c: %s", got)
	}

	// A rename moves the history of the source to the new name, and what
	// was filed under the new name (here a failed deletion) to the source.
	w(c.DeleteIndex(ctx, "e"))                                                // 6, fails
	waitRaw("POST", "/swap-indexes", `[{"indexes":["b","e"],"rename":true}]`) // 7
	if indexOf(0) != "e" || indexOf(2) != "e" || indexOf(6) != "b" {
		t.Errorf("after rename b->e: task 0 %v, task 2 %v, task 6 %v", indexOf(0), indexOf(2), indexOf(6))
	}
	if got := swapsOf(3); got != "c/e" {
		t.Errorf("earlier swap details after rename b->e: %s", got)
	}
	if got := uids("indexUids=e"); got != "2,0" {
		t.Errorf("indexUids=e after rename: %s", got)
	}

	// PATCH /indexes/{uid} with a new uid renames through the same swap.
	waitRaw("PATCH", "/indexes/e", `{"uid":"f"}`) // 8
	if indexOf(0) != "f" || indexOf(8) != "e" {
		t.Errorf("after PATCH rename e->f: task 0 %v, task 8 %v", indexOf(0), indexOf(8))
	}
	if d := raw("GET", "/tasks/8", "").body["details"].(map[string]any); d["oldIndexUid"] != "e" || d["newIndexUid"] != "f" {
		t.Errorf("rename task details %v", d)
	}
	// The rename task is filed under both uids.
	if got := uids("indexUids=f"); got != "8,2,0" {
		t.Errorf("indexUids=f after PATCH rename: %s", got)
	}
	if got := uids("indexUids=e"); got != "8" {
		t.Errorf("indexUids=e after PATCH rename: %s", got)
	}
	// A later task keeps its uid.
	w(c.Index("f").AddDocuments(ctx, []map[string]any{{"id": 2}}, nil)) // 9
	if indexOf(9) != "f" {
		t.Errorf("task 9 indexUid %v", indexOf(9))
	}
}

// POST /swap-indexes reads its body as Meilisearch's deserr does (the
// first error in body order wins, each with the field's code), then checks
// each swap's length, printing the list with Rust's Debug formatting, then
// the duplicates across the whole request (check_index_swap_validity).
// Messages marked (ms) are Meilisearch's own test snapshots.
func TestSwapIndexesPayloadErrors(t *testing.T) {
	srv := RunT(t)
	const badUID = "is not a valid index uid. Index uid can be an integer or a string containing only alphanumeric characters, hyphens (-) and underscores (_), and can not be more than 400 bytes."
	for _, tc := range []struct{ body, code, msg string }{
		{`"doggo"`, "bad_request", "Invalid value type: expected an array, but found a string: `\"doggo\"`"},                                                                             // (ms)
		{`["doggo"]`, "bad_request", "Invalid value type at `[0]`: expected an object, but found a string: `\"doggo\"`"},                                                                 // (ms)
		{`[{"indexes":"doggo"}]`, "invalid_swap_indexes", "Invalid value type at `[0].indexes`: expected an array, but found a string: `\"doggo\"`"},                                     // (ms)
		{`[{"indexes":["doggo"]}]`, "invalid_swap_indexes", "Two indexes must be given for each swap. The list `[\"doggo\"]` contains 1 indexes."},                                       // (ms)
		{`[{"indexes":["doggo","crabo","croco"]}]`, "invalid_swap_indexes", "Two indexes must be given for each swap. The list `[\"doggo\", \"crabo\", \"croco\"]` contains 3 indexes."}, // (ms)
		{`[{"indexes":[]}]`, "invalid_swap_indexes", "Two indexes must be given for each swap. The list `[]` contains 0 indexes."},
		{`[{"indexes":["doggo","doggo"]}]`, "invalid_swap_duplicate_index_found", "Indexes must be declared only once during a swap. `doggo` was specified several times."},                                // (ms)
		{`[{"indexes":["doggo","catto"]},{"indexes":["girafo","doggo"]}]`, "invalid_swap_duplicate_index_found", "Indexes must be declared only once during a swap. `doggo` was specified several times."}, // (ms)
		{`[{"indexes":["kefir","intel"],"rename":"hello"}]`, "invalid_swap_rename", "Invalid value type at `[0].rename`: expected a boolean, but found a string: `\"hello\"`"},                             // (ms)
		{`[{"indexes":["a","b"],"rename":null}]`, "invalid_swap_rename", "Invalid value type at `[0].rename`: expected a boolean, but found null"},
		{`[{"indexes":["a","b"]},{"indexes":["c","d"],"rename":1}]`, "invalid_swap_rename", "Invalid value type at `[1].rename`: expected a boolean, but found a positive integer: `1`"},
		{`[{"rename":"x","indexes":"y"}]`, "invalid_swap_rename", "Invalid value type at `[0].rename`: expected a boolean, but found a string: `\"x\"`"},
		{`[{}]`, "missing_swap_indexes", "Missing field `indexes` inside `[0]`"},
		{`[{"rename":true}]`, "missing_swap_indexes", "Missing field `indexes` inside `[0]`"},
		{`[{"indexes":["a","b"],"renam":true}]`, "bad_request", "Unknown field `renam` inside `[0]`: did you mean `rename`? expected one of `indexes`, `rename`"},
		{`[{"indexes":["a","b"],"foo":1}]`, "bad_request", "Unknown field `foo` inside `[0]`: expected one of `indexes`, `rename`"},
		{`[{"indexes":[1,"a"]}]`, "invalid_swap_indexes", "Invalid value type at `[0].indexes[0]`: expected a string, but found a positive integer: `1`"},
		{`[{"indexes":["a",null]}]`, "invalid_swap_indexes", "Invalid value type at `[0].indexes[1]`: expected a string, but found null"},
		{`[{"indexes":["a","b c"]}]`, "invalid_swap_indexes", "Invalid value at `[0].indexes[1]`: `b c` " + badUID},
		// Each swap's length is checked before the duplicates of the whole
		// request, and several duplicates are listed sorted.
		{`[{"indexes":["a","a"]},{"indexes":["b"]}]`, "invalid_swap_indexes", "Two indexes must be given for each swap. The list `[\"b\"]` contains 1 indexes."},
		{`[{"indexes":["b","a"]},{"indexes":["a","b"]}]`, "invalid_swap_duplicate_index_found", "Indexes must be declared only once during a swap. `a`, `b` were specified several times."},
	} {
		r := keysRaw(t, srv, "POST", "/swap-indexes", "", tc.body)
		if r.status != 400 || r.code() != tc.code || r.msg() != tc.msg {
			t.Errorf("%s: %d %s %q", tc.body, r.status, r.code(), r.msg())
		}
	}
	// Nothing was enqueued.
	if r := keysRaw(t, srv, "GET", "/tasks", "", ""); r.body["total"] != float64(0) {
		t.Errorf("tasks after refused swaps: %v", r.body)
	}
	if r := keysRaw(t, srv, "POST", "/swap-indexes", "", `[{"indexes":["a","b"],"rename":false}]`); r.status != 202 {
		t.Errorf("valid swap: %d %v", r.status, r.body)
	}
}
