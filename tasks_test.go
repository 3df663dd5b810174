package miroir

import (
	"context"
	"errors"
	"net/http"
	"slices"
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

func TestGetTasksFilters(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 4})
	a := f.createIndex(t, "a", "id")
	b := f.createIndex(t, "b", "id")
	ctx := testCtx(t)
	var uids []int64
	for i := range 3 {
		uids = append(uids, f.wait(t, must(a.AddDocuments(ctx, coreMovies(5+i), nil)), meilisearch.TaskStatusSucceeded).UID)
	}
	uids = append(uids, f.wait(t, must(b.DeleteDocument(ctx, "1", nil)), meilisearch.TaskStatusSucceeded).UID)
	if !slices.IsSorted(uids) || uids[3] >= 1<<53 {
		t.Fatalf("uids %v", uids)
	}
	res, err := f.c.GetTasks(ctx, &meilisearch.TasksQuery{IndexUIDS: []string{"a"}, Types: []meilisearch.TaskType{meilisearch.TaskTypeDocumentAdditionOrUpdate}})
	if err != nil || res.Total != 3 || len(res.Results) != 3 || res.Results[0].UID != uids[2] || res.Results[2].UID != uids[0] {
		t.Fatalf("index filter: %+v %v", res, err)
	}
	res, _ = f.c.GetTasks(ctx, &meilisearch.TasksQuery{Limit: 2})
	// 2 creations + 4 writes.
	if res.Total != 6 || len(res.Results) != 2 || res.From != uids[3] || res.Next != uids[1] || res.Limit != 2 {
		t.Fatalf("page 1: total %d from %d next %d (%v)", res.Total, res.From, res.Next, uids)
	}
	res, _ = f.c.GetTasks(ctx, &meilisearch.TasksQuery{Limit: 2, From: res.Next})
	if len(res.Results) != 2 || res.Results[0].UID != uids[1] || res.Results[1].UID != uids[0] {
		t.Fatalf("page 2: %+v", res.Results)
	}
	res, _ = f.c.GetTasks(ctx, &meilisearch.TasksQuery{UIDS: []int64{uids[0], uids[3]}, Statuses: []meilisearch.TaskStatus{meilisearch.TaskStatusSucceeded}})
	if res.Total != 2 {
		t.Fatalf("uids+statuses: %+v", res)
	}
	res, _ = f.c.GetTasks(ctx, &meilisearch.TasksQuery{Statuses: []meilisearch.TaskStatus{meilisearch.TaskStatusFailed}})
	if res.Total != 0 || res.Results == nil {
		t.Fatalf("failed: %+v", res)
	}
	res, _ = f.c.GetTasks(ctx, &meilisearch.TasksQuery{Types: []meilisearch.TaskType{meilisearch.TaskTypeIndexCreation}, Reverse: true})
	if res.Total != 2 || res.Results[0].IndexUID != "a" {
		t.Fatalf("reverse: %+v", res)
	}
	// Index-level GetTasks is filtered to the index.
	res, _ = b.GetTasks(ctx, &meilisearch.TasksQuery{})
	if res.Total != 2 || res.Results[0].Type != meilisearch.TaskTypeDocumentDeletion {
		t.Fatalf("index tasks: %+v", res)
	}
}

func TestCancelAndDeleteTasks(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 4})
	ix := f.createIndex(t, "movies", "id")
	ctx := testCtx(t)
	if _, err := f.c.CancelTasks(ctx, &meilisearch.CancelTasksQuery{}); apiCode(err) != "missing_task_filters" {
		t.Fatalf("no filter: %v", err)
	}
	for _, s := range f.srv {
		s.PauseTasks()
	}
	write, err := ix.AddDocuments(ctx, coreMovies(20), nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel, err := f.c.CancelTasks(ctx, &meilisearch.CancelTasksQuery{UIDS: []int64{write.TaskUID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.srv {
		s.ResumeTasks()
	}
	ct := f.wait(t, cancel, meilisearch.TaskStatusSucceeded)
	if ct.Type != meilisearch.TaskTypeTaskCancelation || ct.Details.MatchedTasks != 1 || ct.Details.CanceledTasks != 1 || ct.Details.OriginalFilter == "" {
		t.Fatalf("cancelation %+v", ct)
	}
	wt := f.wait(t, write, meilisearch.TaskStatusCanceled)
	if wt.CanceledBy != cancel.TaskUID {
		t.Fatalf("canceledBy %d, want %d", wt.CanceledBy, cancel.TaskUID)
	}
	res, _ := f.c.GetTasks(ctx, &meilisearch.TasksQuery{CanceledBy: []int64{cancel.TaskUID}})
	if res.Total != 1 {
		t.Fatalf("canceledBy filter: %+v", res)
	}
	// Delete the finished write task: gone from the cluster and the nodes.
	nodeTasks, _ := f.c.tasks.store.Get(ctx, write.TaskUID)
	del := f.wait(t, must(f.c.DeleteTasks(ctx, &meilisearch.DeleteTasksQuery{UIDS: []int64{write.TaskUID}})), meilisearch.TaskStatusSucceeded)
	if del.Details.DeletedTasks != 1 || del.Type != meilisearch.TaskTypeTaskDeletion {
		t.Fatalf("deletion %+v", del)
	}
	if _, err := f.c.GetTask(ctx, write.TaskUID); apiCode(err) != "task_not_found" {
		t.Fatalf("deleted task: %v", err)
	}
	for _, nt := range nodeTasks.Nodes {
		i := slices.IndexFunc(f.c.nodes, func(n *node) bool { return n.ID == nt.Node })
		if _, err := f.direct(i).GetTask(ctx, nt.TaskUID); apiCode(err) != "task_not_found" {
			t.Fatalf("node task %d on %s: %v", nt.TaskUID, nt.Node, err)
		}
	}
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

func TestTaskUIDs(t *testing.T) {
	c := &Cluster{}
	m1, m2 := &taskManager{c: c, lane: 3}, &taskManager{c: c, lane: 4}
	seen := map[int64]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range []*taskManager{m1, m2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev := int64(0)
			for range 2000 {
				u := m.nextUID()
				if u <= prev || u >= 1<<53 {
					t.Errorf("uid %d after %d", u, prev)
				}
				prev = u
				mu.Lock()
				seen[u] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Two processes on different lanes never collide (same lane: 1 in
	// uidLanes; the store check in register takes another UID then).
	if len(seen) != 4000 {
		t.Fatalf("%d distinct of 4000", len(seen))
	}
	for u := range seen {
		if u%1000%uidLanes != 3 && u%1000%uidLanes != 4 {
			t.Fatalf("uid %d off its lane", u)
		}
	}
	now := time.Now().UnixMilli() * 1000
	if u := m1.nextUID(); u < now || u > now+10_000_000 {
		t.Fatalf("uid %d not time-based (%d)", u, now)
	}
}

func TestMemoryTaskStoreEviction(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryTaskStore(3)
	put := func(uid int64, st meilisearch.TaskStatus) { _ = s.Put(ctx, &ClusterTask{UID: uid, Status: st}) }
	put(1, meilisearch.TaskStatusEnqueued)
	put(2, meilisearch.TaskStatusSucceeded)
	put(3, meilisearch.TaskStatusFailed)
	put(4, meilisearch.TaskStatusEnqueued) // evicts 2, the oldest finished
	var got []int64
	_ = s.List(ctx, func(t *ClusterTask) bool { got = append(got, t.UID); return true })
	if !slices.Equal(got, []int64{4, 3, 1}) {
		t.Fatalf("after eviction %v", got)
	}
	put(5, meilisearch.TaskStatusEnqueued) // evicts 3
	put(6, meilisearch.TaskStatusEnqueued) // none finished: evicts 1, the oldest
	got = nil
	_ = s.List(ctx, func(t *ClusterTask) bool { got = append(got, t.UID); return true })
	if !slices.Equal(got, []int64{6, 5, 4}) || s.Len() != 3 {
		t.Fatalf("after eviction %v", got)
	}
	put(5, meilisearch.TaskStatusSucceeded) // replace, no eviction
	if t5, _ := s.Get(ctx, 5); t5.Status != meilisearch.TaskStatusSucceeded || s.Len() != 3 {
		t.Fatal("replace")
	}
	_ = s.Delete(ctx, 4, 99)
	if t4, _ := s.Get(ctx, 4); t4 != nil || s.Len() != 2 {
		t.Fatal("delete")
	}
}

// TestSharedTaskStore: two Clusters (two app instances) sharing one store
// answer for each other's writes.
func TestSharedTaskStore(t *testing.T) {
	store := NewMemoryTaskStore(0)
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 4, opts: []Option{WithTaskStore(store)}})
	other := f.newCluster(t, WithShards(4), WithTaskStore(store))
	ix := f.createIndex(t, "movies", "id")
	info, err := ix.AddDocuments(testCtx(t), coreMovies(10), nil)
	if err != nil {
		t.Fatal(err)
	}
	task, err := other.WaitForTask(testCtx(t), info.TaskUID, 0)
	if err != nil || task.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("%+v %v", task, err)
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
