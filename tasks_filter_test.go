package miroir

// Which cluster tasks GetTasks designates (tasks_filter.go): filters on
// uids, statuses, types, indexes and dates, and pages.

import (
	"slices"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

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

func TestAuditCoreGetTasksFilters(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 4, timing: oneRetry})
	ctx := testCtx(t)
	a := f.create(t, "a", "id")
	b := f.create(t, "b", "id")
	var aUIDs, bUIDs []int64
	for i := 0; i < 3; i++ {
		aUIDs = append(aUIDs, acWaitOK(t, f.c)(a.AddDocuments(ctx, acDocs(i*10, 10), nil)).UID)
		bUIDs = append(bUIDs, acWaitOK(t, f.c)(b.AddDocuments(ctx, acDocs(i*10, 10), nil)).UID)
	}
	clear := f.srv[0].FailTasks(nil, "internal")
	failed := acWait(t, f.c)(b.DeleteAllDocuments(ctx, nil))
	clear()
	if failed.Status != meilisearch.TaskStatusFailed {
		t.Fatalf("expected a failed task, got %s", failed.Status)
	}
	uidsOf := func(r *meilisearch.TaskResult) []int64 {
		var out []int64
		for _, t := range r.Results {
			out = append(out, t.UID)
		}
		return out
	}
	res, err := f.c.GetTasks(ctx, &meilisearch.TasksQuery{IndexUIDS: []string{"a"}, Types: []meilisearch.TaskType{meilisearch.TaskTypeDocumentAdditionOrUpdate}})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(aUIDs)
	slices.Reverse(want)
	if got := uidsOf(res); !slices.Equal(got, want) {
		t.Errorf("indexUids=a types=add: %v, want %v (newest first)", got, want)
	}
	res, _ = f.c.GetTasks(ctx, &meilisearch.TasksQuery{Statuses: []meilisearch.TaskStatus{meilisearch.TaskStatusFailed}})
	if got := uidsOf(res); !slices.Equal(got, []int64{failed.UID}) {
		t.Errorf("statuses=failed: %v, want [%d]", got, failed.UID)
	}
	res, _ = f.c.GetTasks(ctx, &meilisearch.TasksQuery{UIDS: []int64{aUIDs[1], bUIDs[2]}})
	if got := uidsOf(res); !slices.Equal(got, []int64{bUIDs[2], aUIDs[1]}) {
		t.Errorf("uids filter: %v", got)
	}
	res, _ = f.c.GetTasks(ctx, &meilisearch.TasksQuery{Types: []meilisearch.TaskType{meilisearch.TaskTypeIndexCreation}})
	if len(res.Results) != 2 {
		t.Errorf("types=indexCreation: %v", uidsOf(res))
	}
	res, _ = f.c.GetTasks(ctx, &meilisearch.TasksQuery{IndexUIDS: []string{"b"}, Limit: 2})
	if len(res.Results) != 2 || res.Results[0].UID != failed.UID || res.Next == 0 {
		t.Errorf("limit=2: %v next %d", uidsOf(res), res.Next)
	}
	// from: start at that uid (inclusive), newest first.
	res2, _ := f.c.GetTasks(ctx, &meilisearch.TasksQuery{IndexUIDS: []string{"b"}, Limit: 2, From: res.Next})
	if len(res2.Results) == 0 || res2.Results[0].UID != res.Next {
		t.Errorf("from=%d: %v", res.Next, uidsOf(res2))
	}
	for _, r := range res2.Results {
		if r.UID > res.Next {
			t.Errorf("from=%d returned newer uid %d", res.Next, r.UID)
		}
	}
	// Index.GetTasks scopes to the index.
	ir, err := a.GetTasks(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ir.Results {
		if r.IndexUID != "a" {
			t.Errorf("Index(a).GetTasks returned a task of %q", r.IndexUID)
		}
	}
	// All tasks newest first.
	all, _ := f.c.GetTasks(ctx, &meilisearch.TasksQuery{Limit: 100})
	u := uidsOf(all)
	if !slices.IsSortedFunc(u, func(x, y int64) int { return int(y - x) }) || len(u) < 9 {
		t.Errorf("GetTasks order %v", u)
	}
}
