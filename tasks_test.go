package miroir

// Cluster tasks (tasks.go): a cluster task's status aggregates its node
// tasks, local tasks, and uids unique, increasing and below 2^53.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

func isDocWrite(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/documents")
}

func TestTaskFailsWhenOneNodeTaskFails(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8})
	ix := f.createIndex(t, "movies", "id")
	ctx := testCtx(t)
	clear := f.srv[1].FailTasks(isDocWrite, "internal")
	info, err := ix.AddDocuments(ctx, coreMovies(100), nil)
	if err != nil {
		t.Fatal(err)
	}
	task := f.wait(t, info, meilisearch.TaskStatusFailed)
	if task.Error.Code != "internal" || !strings.Contains(task.Error.Message, "node n1") {
		t.Fatalf("error %+v", task.Error)
	}
	if task.FinishedAt.IsZero() || task.UID != info.TaskUID || task.IndexUID != "movies" || task.Type != meilisearch.TaskTypeDocumentAdditionOrUpdate {
		t.Fatalf("task %+v", task)
	}
	clear()
	// Retrying the same call is safe and succeeds.
	f.wait(t, must(ix.AddDocuments(ctx, coreMovies(100), nil)), meilisearch.TaskStatusSucceeded)
}

func TestAuditCoreTaskFailsWhenOneNodeTaskFails(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	clear := f.srv[1].FailTasks(func(r *http.Request) bool {
		return strings.HasSuffix(r.URL.Path, "/documents")
	}, "internal")
	defer clear()
	task := acWait(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 60), nil))
	if task.Status != meilisearch.TaskStatusFailed {
		t.Fatalf("status %s, want failed", task.Status)
	}
	if !strings.Contains(task.Error.Message, "n1") {
		t.Errorf("task error does not name the node: %+v", task.Error)
	}
	if task.Error.Code != "internal" {
		t.Errorf("task error does not carry the node's error code: %+v", task.Error)
	}
	got, err := f.c.GetTask(ctx, task.UID)
	if err != nil || got.Status != meilisearch.TaskStatusFailed {
		t.Errorf("GetTask: %+v %v", got, err)
	}
}

func TestTaskStatusAggregation(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8})
	ix := f.createIndex(t, "movies", "id")
	ctx := testCtx(t)
	for _, s := range f.srv {
		s.PauseTasks()
	}
	info, err := ix.AddDocuments(ctx, coreMovies(50), nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != meilisearch.TaskStatusEnqueued || info.Type != meilisearch.TaskTypeDocumentAdditionOrUpdate || info.IndexUID != "movies" {
		t.Fatalf("info %+v", info)
	}
	task, _ := f.c.GetTask(ctx, info.TaskUID)
	if task.Status != meilisearch.TaskStatusEnqueued || !task.StartedAt.IsZero() {
		t.Fatalf("all paused: %s", task.Status)
	}
	f.srv[0].ResumeTasks()
	eventually(t, "processing", func() bool {
		task, _ = f.c.GetTask(ctx, info.TaskUID)
		return task.Status == meilisearch.TaskStatusProcessing
	})
	if task.StartedAt.IsZero() || !task.FinishedAt.IsZero() {
		t.Fatalf("processing times %+v", task)
	}
	// WaitForTask honours its context.
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := f.c.WaitForTask(short, info.TaskUID, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForTask with an expired context: %v", err)
	}
	f.srv[1].ResumeTasks()
	task = f.wait(t, info, meilisearch.TaskStatusSucceeded)
	if task.Details.IndexedDocuments != 50 || task.Duration == "" || task.FinishedAt.Before(task.StartedAt) {
		t.Fatalf("succeeded %+v", task)
	}
	if _, err := f.c.GetTask(ctx, 12345); apiCode(err) != "task_not_found" {
		t.Fatalf("unknown task: %v", err)
	}
}

func TestAuditCoreTaskStatusAggregation(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	docs := acDocs(0, 60) // touches every node

	// All node tasks enqueued -> enqueued.
	for _, s := range f.srv {
		s.PauseTasks()
	}
	info, err := ix.AddDocuments(ctx, docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != meilisearch.TaskStatusEnqueued {
		t.Errorf("TaskInfo status %s", info.Status)
	}
	if got, _ := f.c.GetTask(ctx, info.TaskUID); got == nil || got.Status != meilisearch.TaskStatusEnqueued {
		t.Errorf("all node tasks enqueued: %+v", got)
	}
	// Some succeeded, one still enqueued -> processing.
	f.srv[0].ResumeTasks()
	f.srv[1].ResumeTasks()
	_ = f.srv[0].WaitIdle(ctx)
	_ = f.srv[1].WaitIdle(ctx)
	if got, _ := f.c.GetTask(ctx, info.TaskUID); got == nil || got.Status != meilisearch.TaskStatusProcessing {
		t.Errorf("mixed succeeded/enqueued: %+v, want processing", got)
	}
	f.srv[2].ResumeTasks()
	acWaitOK(t, f.c)(info, nil)

	// One node task canceled, others succeeded -> canceled.
	f.srv[2].PauseTasks()
	info, err = ix.AddDocuments(ctx, docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.srv[0].WaitIdle(ctx)
	_ = f.srv[1].WaitIdle(ctx)
	ci, err := f.c.CancelTasks(ctx, &meilisearch.CancelTasksQuery{UIDS: []int64{info.TaskUID}})
	f.srv[2].ResumeTasks()
	acWaitOK(t, f.c)(ci, err)
	task := acWait(t, f.c)(info, nil)
	if task.Status != meilisearch.TaskStatusCanceled {
		t.Errorf("one node task canceled: %s, want canceled", task.Status)
	}

	// One failed, one canceled -> failed.
	clear := f.srv[0].FailTasks(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/documents") }, "internal")
	f.srv[2].PauseTasks()
	info, err = ix.AddDocuments(ctx, docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.srv[0].WaitIdle(ctx)
	_ = f.srv[1].WaitIdle(ctx)
	ci, err = f.c.CancelTasks(ctx, &meilisearch.CancelTasksQuery{UIDS: []int64{info.TaskUID}})
	f.srv[2].ResumeTasks()
	acWaitOK(t, f.c)(ci, err)
	clear()
	task = acWait(t, f.c)(info, nil)
	if task.Status != meilisearch.TaskStatusFailed {
		t.Errorf("failed + canceled: %s, want failed", task.Status)
	}
}

// DESIGN §6 applies the status rules in order: failed if any node task
// failed, else canceled if any was canceled, even while others are still
// enqueued.
func TestAuditCoreTaskStatusRuleOrder(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	docs := acDocs(0, 40) // both nodes get documents
	// n0's node task fails, n1's stays enqueued -> failed.
	clear := f.srv[0].FailTasks(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/documents") }, "internal")
	f.srv[1].PauseTasks()
	info, err := ix.AddDocuments(ctx, docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.srv[0].WaitIdle(ctx)
	clear()
	got, err := f.c.GetTask(ctx, info.TaskUID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != meilisearch.TaskStatusFailed {
		t.Errorf("one node task failed, one enqueued: %s, want failed", got.Status)
	}
	f.srv[1].ResumeTasks()
	_ = f.srv[1].WaitIdle(ctx)

	// n0's node task canceled on the node, n1's still enqueued -> canceled.
	f.srv[0].PauseTasks()
	f.srv[1].PauseTasks()
	info, err = ix.AddDocuments(ctx, docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := f.store.Get(ctx, info.TaskUID)
	if err != nil || ct == nil {
		t.Fatal(ct, err)
	}
	var n0task int64 = -1
	for _, nt := range ct.Nodes {
		if nt.Node == "n0" {
			n0task = nt.TaskUID
		}
	}
	if n0task < 0 {
		t.Fatalf("no node task on n0: %+v", ct.Nodes)
	}
	if _, err := meilisearch.New(f.srv[0].URL()).CancelTasks(ctx, &meilisearch.CancelTasksQuery{UIDS: []int64{n0task}}); err != nil {
		t.Fatal(err)
	}
	f.srv[0].ResumeTasks()
	_ = f.srv[0].WaitIdle(ctx)
	got, err = f.c.GetTask(ctx, info.TaskUID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != meilisearch.TaskStatusCanceled {
		t.Errorf("one node task canceled, one enqueued: %s, want canceled", got.Status)
	}
	f.srv[1].ResumeTasks()
}

func TestLocalTasks(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0}, rf: 1, shards: 4})
	ctx := testCtx(t)
	uid, finish := f.c.tasks.startLocal("idx", meilisearch.TaskTypeSettingsUpdate)
	task, err := f.c.GetTask(ctx, uid)
	if err != nil || task.Status != meilisearch.TaskStatusEnqueued || task.IndexUID != "idx" {
		t.Fatalf("%+v %v", task, err)
	}
	finish(nil)
	finish(errors.New("ignored: finish runs once"))
	task = f.wait(t, &meilisearch.TaskInfo{TaskUID: uid}, meilisearch.TaskStatusSucceeded)
	lt, _ := f.c.tasks.newLocal(ctx, "idx", meilisearch.TaskTypeSettingsUpdate, meilisearch.Details{RankingRules: []string{"words"}})
	lt.Processing()
	if task, _ = f.c.GetTask(ctx, lt.UID()); task.Status != meilisearch.TaskStatusProcessing {
		t.Fatalf("processing: %+v", task)
	}
	lt.Finish(newError(http.StatusBadRequest, "invalid_settings_ranking_rules", "bad rule"))
	task = f.wait(t, lt.Info(), meilisearch.TaskStatusFailed)
	if task.Error.Code != "invalid_settings_ranking_rules" || task.Details.RankingRules[0] != "words" {
		t.Fatalf("failed local: %+v", task)
	}
}

// Concurrent updates of one local task (its owner adding node tasks and
// finishing, readers refreshing it) must never lose each other's writes.
func TestLocalTaskConcurrentUpdates(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0}, rf: 1, shards: 4})
	ctx := testCtx(t)
	lt, err := f.c.tasks.newLocal(ctx, "idx", meilisearch.TaskTypeSettingsUpdate, meilisearch.Details{})
	if err != nil {
		t.Fatal(err)
	}
	lt.Processing()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(2)
		go func() { defer wg.Done(); lt.AddNodeTask("n0", int64(1000+i)) }()
		go func() { defer wg.Done(); _, _ = f.c.GetTask(ctx, lt.UID()) }()
	}
	wg.Wait()
	lt.Finish(nil)
	for range 5 {
		_, _ = f.c.GetTask(ctx, lt.UID())
	}
	ct, err := f.c.tasks.store.Get(ctx, lt.UID())
	if err != nil || ct == nil {
		t.Fatal(err)
	}
	if ct.Status != meilisearch.TaskStatusSucceeded || len(ct.Nodes) != 20 {
		t.Fatalf("lost updates: status %s, %d node tasks", ct.Status, len(ct.Nodes))
	}
}

func TestAuditCoreTaskUIDsUniqueAndBelow2p53(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, shards: 4, timing: oneRetry})
	ctx := testCtx(t)
	seen := map[int64]bool{}
	record := func(uid int64) {
		if uid <= 0 || uid >= 1<<53 {
			t.Errorf("task uid %d outside (0, 2^53)", uid)
		}
		if seen[uid] {
			t.Errorf("task uid %d reused", uid)
		}
		seen[uid] = true
	}
	run := func(c *Cluster, n int) {
		for i := 0; i < n; i++ {
			info, err := c.Index("docs").AddDocuments(ctx, acDocs(i, 1), nil)
			if err != nil {
				t.Fatal(err)
			}
			record(info.TaskUID)
		}
	}
	c1 := f.c
	acWaitOK(t, c1)(c1.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "docs", PrimaryKey: "id"}))
	run(c1, 5)
	// Two "processes" at once, then a restart.
	c2 := f.newCluster(t, append(oneRetry.options(), WithShards(4))...)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range []*Cluster{c1, c2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				info, err := c.Index("docs").AddDocuments(ctx, acDocs(i, 1), nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				record(info.TaskUID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	c1.Close()
	c2.Close()
	c3 := f.newCluster(t, append(oneRetry.options(), WithShards(4))...)
	run(c3, 5)
	// Settings transactions (cluster-local tasks) get uids by the same rule.
	info, err := c3.Index("docs").UpdateStopWords(ctx, &[]string{"the"})
	if err != nil {
		t.Fatal(err)
	}
	record(info.TaskUID)
	acWaitOK(t, c3)(info, nil)
}
