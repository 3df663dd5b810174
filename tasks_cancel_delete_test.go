package miroir

// CancelTasks and DeleteTasks (tasks_cancel_delete.go).

import (
	"slices"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

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
		i := slices.IndexFunc(f.c.members(), func(n *node) bool { return n.ID == nt.Node })
		if _, err := f.direct(i).GetTask(ctx, nt.TaskUID); apiCode(err) != "task_not_found" {
			t.Fatalf("node task %d on %s: %v", nt.TaskUID, nt.Node, err)
		}
	}
}

func TestAuditCoreCancelAndDeleteTasks(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 4, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	done := acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 10), nil))
	for _, s := range f.srv {
		s.PauseTasks()
	}
	pending, err := ix.AddDocuments(ctx, acDocs(100, 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := f.c.CancelTasks(ctx, &meilisearch.CancelTasksQuery{UIDS: []int64{pending.TaskUID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.srv {
		s.ResumeTasks()
	}
	cancelTask := acWaitOK(t, f.c)(ci, nil)
	if cancelTask.Type != meilisearch.TaskTypeTaskCancelation {
		t.Errorf("cancel task type %s", cancelTask.Type)
	}
	pt := acWait(t, f.c)(pending, nil)
	if pt.Status != meilisearch.TaskStatusCanceled {
		t.Errorf("canceled task status %s", pt.Status)
	}
	if pt.CanceledBy != ci.TaskUID {
		t.Errorf("canceledBy %d, want %d", pt.CanceledBy, ci.TaskUID)
	}
	var d map[string]any
	if err := ix.GetDocument(ctx, "105", nil, &d); err == nil {
		t.Errorf("document of a canceled write exists")
	}
	// Delete a finished task: gone from GetTask and from the nodes.
	ct, _ := f.store.Get(ctx, done.UID)
	di, err := f.c.DeleteTasks(ctx, &meilisearch.DeleteTasksQuery{UIDS: []int64{done.UID}})
	dt := acWaitOK(t, f.c)(di, err)
	if dt.Type != meilisearch.TaskTypeTaskDeletion {
		t.Errorf("deletion task type %s", dt.Type)
	}
	if _, err := f.c.GetTask(ctx, done.UID); acAPICode(err) != "task_not_found" {
		t.Errorf("GetTask of a deleted task: %v", err)
	}
	if ct != nil {
		for _, nt := range ct.Nodes {
			if _, err := meilisearch.New(f.srv[f.nodeIndex(nt.Node)].URL()).GetTask(ctx, nt.TaskUID); err == nil {
				t.Errorf("node task %d on %s survived DeleteTasks", nt.TaskUID, nt.Node)
			}
		}
	}
}
