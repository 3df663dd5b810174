package meilitest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

func TestTaskIsNotDoneAtOnce(t *testing.T) {
	// a long duration keeps the test robust on a loaded machine; the
	// default (10ms) behaves the same way for a prompt client
	_, c := newClient(t, WithTaskDuration(300*time.Millisecond))
	ctx := context.Background()
	info, err := c.Index("a").AddDocuments(ctx, []map[string]any{{"id": 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.GetTask(ctx, info.TaskUID)
	if err != nil || (task.Status != meilisearch.TaskStatusEnqueued && task.Status != meilisearch.TaskStatusProcessing) {
		t.Fatalf("task right after enqueueing: %+v %v", task, err)
	}
	info2, err := c.Index("a").AddDocuments(ctx, []map[string]any{{"id": 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := c.WaitForTask(tctx, info2.TaskUID, 50*time.Millisecond); err == nil {
		t.Fatal("WaitForTask with a timeout shorter than its interval should fail")
	}
	if task := wait(t, c, info, nil); task.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("%+v", task)
	}

	// WithTaskDuration(0) lets tasks finish as fast as possible
	fast := RunT(t, WithTaskDuration(0))
	fc := meilisearch.New(fast.URL())
	for i := 0; i < 5; i++ {
		waitFor(t, fc)(fc.Index("a").AddDocuments(ctx, []map[string]any{{"id": i}}, nil))
	}
}

func TestTaskDocumentsRoute(t *testing.T) {
	srv, c := newClient(t)
	ctx := context.Background()
	var docs []map[string]any
	if err := c.GetTaskDocuments(ctx, 0, &docs); apiCode(err) != "feature_not_enabled" {
		t.Fatalf("feature disabled: %v", err)
	}
	if _, err := c.ExperimentalFeatures().SetGetTaskDocumentsRoute(true).Update(ctx); err != nil {
		t.Fatal(err)
	}
	srv.PauseTasks()
	info, err := c.Index("a").AddDocuments(ctx, []map[string]any{{"id": 1, "t": "x"}, {"id": 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL() + "/tasks/" + itoa(info.TaskUID) + "/documents")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("raw: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := c.GetTaskDocuments(ctx, info.TaskUID, &docs); err != nil || len(docs) != 2 || docs[0]["t"] != "x" {
		t.Fatalf("documents while enqueued: %v %v", docs, err)
	}
	srv.ResumeTasks()
	wait(t, c, info, nil)
	if err := c.GetTaskDocuments(ctx, info.TaskUID, &docs); apiCode(err) != "task_file_not_found" {
		t.Fatalf("documents after the task: %v", err)
	}
	if err := c.GetTaskDocuments(ctx, 999, &docs); apiCode(err) != "task_not_found" {
		t.Fatalf("unknown task: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestBatches(t *testing.T) {
	_, c := newClient(t)
	ctx := context.Background()
	w := waitFor(t, c)
	w(c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "a"}))
	w(c.Index("a").AddDocuments(ctx, []map[string]any{{"id": 1}}, nil))
	w(c.DeleteIndex(ctx, "a"))
	all, err := c.GetBatches(ctx, nil)
	if err != nil || all.Total != 3 || len(all.Results) != 3 {
		t.Fatalf("batches: %+v %v", all, err)
	}
	b := all.Results[0]
	if b.UID != 2 || b.StartedAt.IsZero() || b.Stats == nil || b.Stats.Types["indexDeletion"] != 1 ||
		!strings.Contains(b.BatchStrategy, "cannot be batched") {
		t.Fatalf("latest batch: %+v", b)
	}
	if all.Results[1].BatchStrategy != "batched all enqueued tasks for index `a`" {
		t.Fatalf("document batch strategy: %q", all.Results[1].BatchStrategy)
	}
	page, err := c.GetBatches(ctx, &meilisearch.BatchesQuery{Limit: 1})
	if err != nil || len(page.Results) != 1 || page.Next != 1 {
		t.Fatalf("limit: %+v %v", page, err)
	}
	typed, err := c.GetBatches(ctx, &meilisearch.BatchesQuery{Types: []string{"indexCreation", "indexDeletion"}})
	if err != nil || typed.Total != 2 {
		t.Fatalf("types: %+v %v", typed, err)
	}
	one, err := c.GetBatch(ctx, 1)
	if err != nil || one.UID != 1 {
		t.Fatalf("get: %+v %v", one, err)
	}
	if _, err := c.GetBatch(ctx, 99); apiCode(err) != "batch_not_found" {
		t.Fatalf("missing batch: %v", err)
	}
}

// limit=0 on the list routes: an empty page, the total, and for tasks and
// batches next set to the first matching uid (Meilisearch fetches limit+1
// and pops the extra one into next). Also the limit and from parsing those
// routes share with Meilisearch's Param<u32>/Param<usize>.
func TestListLimitZeroAndParams(t *testing.T) {
	srv, c := keysClient(t)
	ctx := context.Background()
	for _, uid := range []string{"a", "b"} {
		waitFor(t, c)(c.Index(uid).AddDocuments(ctx, []map[string]any{{"id": 1}, {"id": 2}, {"id": 3}}, nil))
	}
	auth := "Bearer " + testMaster
	get := func(path string) rawResp {
		t.Helper()
		r := keysRaw(t, srv, "GET", path, auth, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %v", path, r.status, r.body)
		}
		return r
	}
	for _, path := range []string{"/tasks?limit=0", "/batches?limit=0"} {
		r := get(path)
		if res, _ := r.body["results"].([]any); res == nil || len(res) != 0 ||
			r.body["limit"] != float64(0) || r.body["total"] != float64(2) || r.body["from"] != nil || r.body["next"] != float64(1) {
			t.Errorf("%s: %v", path, r.body)
		}
	}
	if r := get("/tasks?limit=0&from=0"); r.body["next"] != float64(0) || r.body["from"] != nil {
		t.Errorf("tasks limit=0 from=0: %v", r.body)
	}
	if r := get("/tasks?limit=0&statuses=failed"); r.body["next"] != nil || r.body["total"] != float64(0) {
		t.Errorf("tasks limit=0 with nothing matching: %v", r.body)
	}
	for path, total := range map[string]float64{"/indexes?limit=0": 2, "/keys?limit=0": 4, "/indexes/a/documents?limit=0": 3, "/keys?limit=0&offset=2": 4} {
		r := get(path)
		if res, _ := r.body["results"].([]any); res == nil || len(res) != 0 || r.body["limit"] != float64(0) || r.body["total"] != total {
			t.Errorf("%s: %v", path, r.body)
		}
	}
	if r := keysRaw(t, srv, "POST", "/indexes/a/documents/fetch", auth, `{"limit":0}`); r.status != 200 || r.body["limit"] != float64(0) || r.body["total"] != float64(3) || len(r.body["results"].([]any)) != 0 {
		t.Errorf("fetch limit 0: %d %v", r.status, r.body)
	}
	// Through the client: a zero limit is "unset" for meilisearch-go, so
	// it gets the default page.
	if tl, err := c.GetTasks(ctx, &meilisearch.TasksQuery{Limit: 0}); err != nil || len(tl.Results) != 2 {
		t.Errorf("client GetTasks limit 0: %+v %v", tl, err)
	}
	if r := get("/tasks?limit=%2B1"); r.body["limit"] != float64(1) || r.body["next"] != float64(0) {
		t.Errorf("limit=+1 (Rust parses a leading '+'): %v", r.body)
	}

	bad := []struct{ path, code, msg string }{
		{"/tasks?limit=", "invalid_task_limit", "Invalid value in parameter `limit`: could not parse `` as a positive integer"},
		{"/tasks?limit=4294967296", "invalid_task_limit", "Invalid value in parameter `limit`: could not parse `4294967296` as a positive integer"},
		{"/tasks?from=4294967296", "invalid_task_from", "Invalid value in parameter `from`: could not parse `4294967296` as a positive integer"},
		{"/tasks?uids=4294967296", "invalid_task_uids", "Invalid value in parameter `uids`: could not parse `4294967296` as a positive integer"},
		{"/tasks?batchUids=doggo", "invalid_batch_uids", "Invalid value in parameter `batchUids`: could not parse `doggo` as a positive integer"},
		// GET /batches takes the tasks query, codes included.
		{"/batches?limit=doggo", "invalid_task_limit", "Invalid value in parameter `limit`: could not parse `doggo` as a positive integer"},
		{"/batches?limit=4294967296", "invalid_task_limit", ""},
		{"/batches?from=doggo", "invalid_task_from", "Invalid value in parameter `from`: could not parse `doggo` as a positive integer"},
		{"/batches?uids=doggo", "invalid_task_uids", ""},
		{"/batches?statuses=doggo", "invalid_task_statuses", ""},
		{"/indexes?limit=", "invalid_index_limit", "Invalid value in parameter `limit`: could not parse `` as a positive integer"},
		{"/indexes?offset=-1", "invalid_index_offset", "Invalid value in parameter `offset`: could not parse `-1` as a positive integer"},
		{"/keys?limit=", "invalid_api_key_limit", ""},
		{"/indexes/a/documents?limit=", "invalid_document_limit", "Invalid value in parameter `limit`: could not parse `` as a positive integer"},
	}
	for _, tc := range bad {
		r := keysRaw(t, srv, "GET", tc.path, auth, "")
		if r.status != 400 || r.code() != tc.code || (tc.msg != "" && r.msg() != tc.msg) {
			t.Errorf("%s: %d %v", tc.path, r.status, r.body)
		}
	}
	// Huge usize values are fine where Meilisearch takes a usize.
	for _, path := range []string{"/indexes?offset=1&limit=18446744073709551615", "/keys?offset=9223372036854775807&limit=9223372036854775807"} {
		if r := get(path); len(r.body["results"].([]any)) > 4 {
			t.Errorf("%s: %v", path, r.body)
		}
	}
}

// GET /tasks/{uid}, GET /tasks/{uid}/documents and GET /batches/{uid} parse
// the uid as a u32 by hand and answer with index_scheduler's
// InvalidTaskUid / InvalidBatchUid errors (codes invalid_task_uids and
// invalid_batch_uids), not with a query-parameter message.
func TestTaskAndBatchUIDPathErrors(t *testing.T) {
	srv, c := newClient(t)
	ctx := context.Background()
	waitFor(t, c)(c.Index("a").AddDocuments(ctx, []map[string]any{{"id": 1}}, nil))
	if _, err := c.ExperimentalFeatures().SetGetTaskDocumentsRoute(true).Update(ctx); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ path, code, msg string }{
		{"/tasks/doggo", "invalid_task_uids", "Task uid `doggo` is invalid. It should only contain numeric characters."},
		{"/tasks/-1", "invalid_task_uids", "Task uid `-1` is invalid. It should only contain numeric characters."},
		{"/tasks/4294967296", "invalid_task_uids", "Task uid `4294967296` is invalid. It should only contain numeric characters."},
		{"/tasks/doggo/documents", "invalid_task_uids", "Task uid `doggo` is invalid. It should only contain numeric characters."},
		{"/batches/doggo", "invalid_batch_uids", "Batch uid `doggo` is invalid. It should only contain numeric characters."},
		{"/batches/4294967296", "invalid_batch_uids", "Batch uid `4294967296` is invalid. It should only contain numeric characters."},
	}
	for _, tc := range cases {
		r := keysRaw(t, srv, "GET", tc.path, "", "")
		if r.status != 400 || r.code() != tc.code || r.msg() != tc.msg {
			t.Errorf("%s: %d %v", tc.path, r.status, r.body)
		}
	}
	// Rust's u32 parsing takes a leading '+'.
	if r := keysRaw(t, srv, "GET", "/tasks/+0", "", ""); r.status != 200 || r.body["uid"] != float64(0) {
		t.Errorf("/tasks/+0: %d %v", r.status, r.body)
	}
	if r := keysRaw(t, srv, "GET", "/batches/+0", "", ""); r.status != 200 || r.body["uid"] != float64(0) {
		t.Errorf("/batches/+0: %d %v", r.status, r.body)
	}
}

// A bad date in a task filter is a query-parameter error: deserr prefixes
// InvalidTaskDateError with "Invalid value in parameter `<name>`: ", on
// GET /tasks, GET /batches, POST /tasks/cancel and DELETE /tasks alike.
func TestTaskDateFilterErrors(t *testing.T) {
	srv := RunT(t)
	for _, name := range []string{"beforeEnqueuedAt", "afterEnqueuedAt", "beforeStartedAt", "afterStartedAt", "beforeFinishedAt", "afterFinishedAt"} {
		code := "invalid_task_" + snake(name)
		msg := "Invalid value in parameter `" + name + "`: `doggo` is an invalid date-time. It should follow the YYYY-MM-DD or RFC 3339 date-time format."
		for _, req := range []struct{ method, path string }{
			{"GET", "/tasks"}, {"GET", "/batches"}, {"POST", "/tasks/cancel"}, {"DELETE", "/tasks"},
		} {
			r := keysRaw(t, srv, req.method, req.path+"?"+name+"=doggo", "", "")
			if r.status != 400 || r.code() != code || r.msg() != msg {
				t.Errorf("%s %s?%s=doggo: %d %v", req.method, req.path, name, r.status, r.body)
			}
		}
	}
}

// A bare date in an after* filter means after that whole day (Meilisearch's
// deserialize_date adds a day), in a before* filter before its midnight;
// a star filters nothing.
func TestTaskDateFilterDays(t *testing.T) {
	srv, c := newClient(t)
	ctx := context.Background()
	task := waitFor(t, c)(c.Index("a").AddDocuments(ctx, []map[string]any{{"id": 1}}, nil))
	day := task.EnqueuedAt.UTC().Format("2006-01-02")
	next := task.EnqueuedAt.UTC().AddDate(0, 0, 1).Format("2006-01-02")
	for query, want := range map[string]float64{
		"afterEnqueuedAt=" + day:   0,
		"beforeEnqueuedAt=" + day:  0,
		"beforeEnqueuedAt=" + next: 1,
		"afterFinishedAt=" + day:   0,
		"afterEnqueuedAt=*":        1,
		"beforeStartedAt=*":        1,
	} {
		for _, route := range []string{"/tasks", "/batches"} {
			r := keysRaw(t, srv, "GET", route+"?"+query, "", "")
			if r.status != 200 || r.body["total"] != want {
				t.Errorf("%s?%s: %d %v", route, query, r.status, r.body)
			}
		}
	}
}

// GET /tasks and GET /batches write Meilisearch's AllTasks / AllBatches
// fields in declaration order, not sorted.
func TestTaskListsKeyOrder(t *testing.T) {
	srv, c := newClient(t)
	waitFor(t, c)(c.Index("a").AddDocuments(context.Background(), []map[string]any{{"id": 1}}, nil))
	for _, path := range []string{"/tasks", "/batches", "/tasks?limit=0", "/batches?statuses=failed"} {
		if keys := topKeys(t, srv, "GET", path, "", ""); !keyOrder(keys, "results", "total", "limit", "from", "next") {
			t.Errorf("%s: keys %v", path, keys)
		}
	}
}

// The task routes read their query as Meilisearch's deserr does. Messages
// marked (ms) are Meilisearch's own test snapshots (tests/tasks/errors.rs).
func TestTaskQueryErrorsAsMeilisearch(t *testing.T) {
	srv := RunT(t)
	bulk := "Unknown parameter `limit`: expected one of `uids`, `batchUids`, `canceledBy`, `types`, `statuses`, `indexUids`, `afterEnqueuedAt`, `beforeEnqueuedAt`, `afterStartedAt`, `beforeStartedAt`, `afterFinishedAt`, `beforeFinishedAt`"
	cases := []struct{ method, path, code, msg string }{
		{"POST", "/tasks/cancel?limit=doggo", "bad_request", bulk},                                               // (ms)
		{"DELETE", "/tasks?limit=doggo", "bad_request", bulk},                                                    // (ms)
		{"POST", "/tasks/cancel?reverse=doggo", "bad_request", strings.Replace(bulk, "`limit`", "`reverse`", 1)}, // (ms)
		{"GET", "/tasks?doggo=1", "bad_request", "Unknown parameter `doggo`: expected one of `limit`, `from`, `reverse`, `batchUids`, `uids`, `canceledBy`, `types`, `statuses`, `indexUids`, `afterEnqueuedAt`, `beforeEnqueuedAt`, `afterStartedAt`, `beforeStartedAt`, `afterFinishedAt`, `beforeFinishedAt`"},
		{"GET", "/tasks?limt=1", "bad_request", "Unknown parameter `limt`: did you mean `limit`? expected one of `limit`, `from`, `reverse`, `batchUids`, `uids`, `canceledBy`, `types`, `statuses`, `indexUids`, `afterEnqueuedAt`, `beforeEnqueuedAt`, `afterStartedAt`, `beforeStartedAt`, `afterFinishedAt`, `beforeFinishedAt`"},
		{"GET", "/tasks?reverse=doggo", "invalid_task_reverse", "Invalid value in parameter `reverse`: could not parse `doggo` as a boolean, expected either `true` or `false`"}, // (ms)
		{"GET", "/tasks?reverse=*", "invalid_task_reverse", "Invalid value in parameter `reverse`: could not parse `*` as a boolean, expected either `true` or `false`"},         // (ms)
		{"DELETE", "/tasks?uids=1,dogo", "invalid_task_uids", "Invalid value in parameter `uids[1]`: could not parse `dogo` as a positive integer"},                              // (ms)
		{"GET", "/tasks?uids=1,%202", "invalid_task_uids", "Invalid value in parameter `uids[1]`: could not parse ` 2` as a positive integer"},
		{"GET", "/tasks?types=doggo", "invalid_task_types", "Invalid value in parameter `types`: `doggo` is not a valid task type. Available types are `" + strings.Join(taskTypes, "`, `") + "`."},
		{"GET", "/tasks?statuses=failed,doggo", "invalid_task_statuses", "Invalid value in parameter `statuses[1]`: `doggo` is not a valid task status. Available statuses are `enqueued`, `processing`, `succeeded`, `failed`, `canceled`."},
		{"POST", "/tasks/cancel?indexUids=the%20good%20doggo", "invalid_index_uid", "Invalid value in parameter `indexUids`: `the good doggo` is not a valid index uid. Index uid can be an integer or a string containing only alphanumeric characters, hyphens (-) and underscores (_), and can not be more than 400 bytes."},
		{"GET", "/tasks?afterEnqueuedAt=", "invalid_task_after_enqueued_at", "Invalid value in parameter `afterEnqueuedAt`: `` is an invalid date-time. It should follow the YYYY-MM-DD or RFC 3339 date-time format."},
	}
	for _, tc := range cases {
		r := keysRaw(t, srv, tc.method, tc.path, "", "")
		if r.status != 400 || r.code() != tc.code || r.msg() != tc.msg {
			t.Errorf("%s %s: %d %v", tc.method, tc.path, r.status, r.body)
		}
	}
}

// A `*` anywhere in a list is no filter; an empty list (serde_cs drops
// empty elements) is a filter nothing passes, and counts as a filter for
// a cancelation or a deletion.
func TestTaskQueryListsAsMeilisearch(t *testing.T) {
	srv, c := newClient(t)
	ctx := context.Background()
	for _, uid := range []string{"a", "b"} {
		waitFor(t, c)(c.Index(uid).AddDocuments(ctx, []map[string]any{{"id": 1}}, nil))
	}
	for query, want := range map[string]float64{
		"uids=0,*": 2, "statuses=*,failed": 2, "indexUids=a,*": 2, "types=*": 2, "uids=": 0, "uids=,": 0,
		"statuses=": 0, "indexUids=,a": 1, "canceledBy=": 0, "afterFinishedAt=*": 2,
	} {
		if r := keysRaw(t, srv, "GET", "/tasks?"+query, "", ""); r.status != 200 || r.body["total"] != want {
			t.Errorf("GET /tasks?%s: %d %v", query, r.status, r.body)
		}
	}
	r := keysRaw(t, srv, "DELETE", "/tasks?uids=", "", "")
	if r.status != 200 {
		t.Fatalf("DELETE /tasks?uids=: %d %v", r.status, r.body)
	}
	if d := wait(t, c, &meilisearch.TaskInfo{TaskUID: int64(r.body["taskUid"].(float64))}, nil).Details; d.MatchedTasks != 0 || d.DeletedTasks != 0 {
		t.Errorf("DELETE /tasks?uids=: %+v", d)
	}
}

// A query on indexUids drops the tasks of no single index (a swap) from
// its results, after the limit and without changing the total
// (get_task_ids_from_authorized_indexes); a deletion on indexUids leaves
// them alone.
func TestTaskQueryIndexUidsDropsSwaps(t *testing.T) {
	srv, c := newClient(t)
	ctx := context.Background()
	w := waitFor(t, c)
	w(c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "a"}))                              // 0
	w(c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "b"}))                              // 1
	w(c.SwapIndexes(ctx, []*meilisearch.SwapIndexesParams{{Indexes: []string{"a", "b"}}})) // 2
	for query, want := range map[string]string{
		"indexUids=a,b":               "total 3 from 1 next <nil>: 1 0",
		"indexUids=a,b&limit=1":       "total 3 from 1 next <nil>: 1", // limit+1 taken, the swap dropped: no next
		"indexUids=a,b&limit=2":       "total 3 from 1 next <nil>: 1 0",
		"indexUids=a&types=indexSwap": "total 1 from <nil> next <nil>:",
		"types=indexSwap":             "total 1 from 2 next <nil>: 2",
	} {
		r := keysRaw(t, srv, "GET", "/tasks?"+query, "", "")
		got := fmt.Sprintf("total %v from %v next %v:", r.body["total"], r.body["from"], r.body["next"])
		for _, x := range r.body["results"].([]any) {
			got += fmt.Sprintf(" %v", x.(map[string]any)["uid"])
		}
		if got != want {
			t.Errorf("GET /tasks?%s: %s, want %s", query, got, want)
		}
	}
	// After the swap, a's history is b's creation (task 1).
	r := keysRaw(t, srv, "DELETE", "/tasks?indexUids=a", "", "")
	if d := wait(t, c, &meilisearch.TaskInfo{TaskUID: int64(r.body["taskUid"].(float64))}, nil).Details; d.MatchedTasks != 1 || d.DeletedTasks != 1 {
		t.Errorf("DELETE /tasks?indexUids=a: %+v", d)
	}
	if _, err := c.GetTask(ctx, 2); err != nil {
		t.Errorf("the swap was deleted: %v", err)
	}
}

// A cancelation or deletion matches its tasks when it is called: its
// matchedTasks shows from the start, and a task that changes status before
// it runs is judged by its status at the call.
func TestTaskBulkMatchesAtCall(t *testing.T) {
	srv, c := newClient(t)
	ctx := context.Background()
	waitFor(t, c)(c.Index("a").AddDocuments(ctx, []map[string]any{{"id": 1}}, nil))
	srv.PauseTasks()
	info, err := c.Index("a").AddDocuments(ctx, []map[string]any{{"id": 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := keysRaw(t, srv, "DELETE", "/tasks?statuses=succeeded,enqueued", "", "")
	del := &meilisearch.TaskInfo{TaskUID: int64(r.body["taskUid"].(float64))}
	if task, err := c.GetTask(ctx, del.TaskUID); err != nil || task.Details.MatchedTasks != 2 {
		t.Errorf("enqueued deletion: %+v %v", task, err)
	}
	srv.ResumeTasks()
	// The deletion runs first (priority): the enqueued write stays.
	if d := wait(t, c, del, nil).Details; d.MatchedTasks != 2 || d.DeletedTasks != 1 {
		t.Errorf("deletion: %+v", d)
	}
	wait(t, c, info, nil)
	// Finished now, the write is matched by a new deletion.
	r = keysRaw(t, srv, "DELETE", "/tasks?statuses=succeeded", "", "")
	if d := wait(t, c, &meilisearch.TaskInfo{TaskUID: int64(r.body["taskUid"].(float64))}, nil).Details; d.MatchedTasks != 2 || d.DeletedTasks != 2 {
		t.Errorf("second deletion: %+v", d)
	}
}

// A task exists, enqueued or processing, as soon as its enqueue call
// returns, even when tasks finish as fast as meilitest can run them; its
// times never go backwards: enqueuedAt <= startedAt <= finishedAt.
func TestTaskTimesAndVisibility(t *testing.T) {
	_, c := newClient(t, WithTaskDuration(0))
	ctx := context.Background()
	var uids []int64
	for i := 0; i < 30; i++ {
		info, err := c.Index("a").AddDocuments(ctx, []map[string]any{{"id": i}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if info.Status != meilisearch.TaskStatusEnqueued {
			t.Fatalf("summary status %s", info.Status)
		}
		if _, err := c.GetTask(ctx, info.TaskUID); err != nil {
			t.Fatalf("task %d right after enqueueing: %v", info.TaskUID, err)
		}
		uids = append(uids, info.TaskUID)
	}
	info, err := c.Index("missing").DeleteDocument(ctx, "1", nil)
	uids = append(uids, info.TaskUID)
	if err != nil {
		t.Fatal(err)
	}
	for _, uid := range uids {
		task, err := c.WaitForTask(ctx, uid, 0)
		if err != nil {
			t.Fatal(err)
		}
		if task.StartedAt.Before(task.EnqueuedAt) || task.FinishedAt.Before(task.StartedAt) {
			t.Errorf("task %d times: enqueued %v started %v finished %v", uid, task.EnqueuedAt, task.StartedAt, task.FinishedAt)
		}
	}
}

// A batch's stats have no writeChannelCongestion: Meilisearch writes it
// only for document indexing batches, and never as null.
func TestBatchStatsWithoutNullCongestion(t *testing.T) {
	srv, c := newClient(t)
	info, err := c.Index("a").AddDocuments(context.Background(), []map[string]any{{"id": 1}}, nil)
	wait(t, c, info, err)
	status, b := rawRequest(t, srv, "GET", "/batches", "", "")
	if status != 200 || strings.Contains(string(b), "writeChannelCongestion") || !strings.Contains(string(b), `"progressTrace":{}`) {
		t.Errorf("batches: %d %s", status, b)
	}
}
