package miroir

import (
	"net/http"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// TestStaleFailedNodeTaskOtherUnfinished: the cluster task is failed as
// soon as one node task fails, while the other replica's is still
// enqueued; that replica may yet apply the write, so the failed one is
// stale at once (the task is not refreshed again once finished).
func TestStaleFailedNodeTaskOtherUnfinished(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, shards: 4})
	f.create(t, "books", "id")
	clear := f.srv[1].FailTasks(func(r *http.Request) bool {
		return r.Method == http.MethodPost && r.URL.Path == "/indexes/books/documents"
	}, "internal")
	defer clear()
	f.srv[0].PauseTasks()
	docs := staleDocs("c", 30)
	info, err := f.c.Index("books").AddDocuments(testCtx(t), docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	task, err := f.c.WaitForTask(testCtx(t), info.TaskUID, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != meilisearch.TaskStatusFailed {
		t.Fatalf("task status %s, want failed (one node task failed)", task.Status)
	}
	if got := staleNodes(f.c, "books"); len(got) != 1 || len(got["n1"]) != 4 {
		t.Fatalf("stale replicas %v while n0's node task is enqueued, want n1's 4 shards", got)
	}
	f.srv[0].ResumeTasks()
	f.idle(t)
	checkAllVisible(t, f.c, "books", idsOf(docs), 6)
	other := f.newCluster(t, WithShards(4), WithHealthCheck(0, 0, 0, 0))
	checkAllVisible(t, other, "books", idsOf(docs), 6)
}
