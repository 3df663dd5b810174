package meilitest

import (
	"context"
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
