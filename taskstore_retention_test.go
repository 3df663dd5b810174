package miroir

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// TestMemoryTaskStoreExpiresByAge: finished tasks older than MaxAge go,
// tasks in progress stay whatever their age.
func TestMemoryTaskStoreExpiresByAge(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	s := NewMemoryTaskStoreWith(TaskRetention{MaxTasks: 100, MaxAge: time.Hour})
	s.now = func() time.Time { return now }
	old := now.Add(-2 * time.Hour)
	put := func(uid int64, st meilisearch.TaskStatus, at time.Time) {
		t.Helper()
		task := &ClusterTask{UID: uid, Status: st, EnqueuedAt: at}
		if isFinal(st) {
			task.FinishedAt = at
		}
		if err := s.Put(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	put(1, meilisearch.TaskStatusSucceeded, old)
	put(2, meilisearch.TaskStatusProcessing, old) // in progress: kept
	put(3, meilisearch.TaskStatusFailed, old)
	put(4, meilisearch.TaskStatusSucceeded, now.Add(-time.Minute))
	now = now.Add(2 * time.Second) // expiry runs at most once a second
	put(5, meilisearch.TaskStatusEnqueued, now)
	var got []int64
	_ = s.List(ctx, func(t *ClusterTask) bool { got = append(got, t.UID); return true })
	if !slices.Equal(got, []int64{5, 4, 2}) {
		t.Fatalf("after expiry: %v", got)
	}
}

// TestFleetTaskStoreRetention: pruning drops the finished tasks past
// MaxAge and the oldest finished ones beyond MaxTasks, on every node.
func TestFleetTaskStoreRetention(t *testing.T) {
	_, nodes := laneFleet(t, 3)
	ctx := testCtx(t)
	c := laneCluster(t, nodes, WithFleetTaskStore(), WithTaskRetention(TaskRetention{MaxTasks: 4, MaxAge: time.Hour}))
	s := c.tasks.store.(*fleetTaskStore)
	now := time.Now().UTC()
	for uid := int64(1); uid <= 8; uid++ {
		task := &ClusterTask{UID: uid, Type: meilisearch.TaskTypeDocumentAdditionOrUpdate, Status: meilisearch.TaskStatusSucceeded, EnqueuedAt: now, FinishedAt: now}
		switch uid {
		case 1:
			task.EnqueuedAt, task.FinishedAt = now.Add(-2*time.Hour), now.Add(-2*time.Hour) // past MaxAge
		case 2:
			task.Status, task.FinishedAt = meilisearch.TaskStatusProcessing, time.Time{} // in progress: kept
		}
		if err := s.Put(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, 8); err != nil { // a tombstone, younger than its TTL: kept
		t.Fatal(err)
	}
	if err := s.prune(ctx); err != nil {
		t.Fatal(err)
	}
	var got []int64
	if err := s.List(ctx, func(t *ClusterTask) bool { got = append(got, t.UID); return true }); err != nil {
		t.Fatal(err)
	}
	// 7 live tasks before: 1 too old; of 2..7 the oldest finished (3, 4)
	// go to get down to 4.
	if !slices.Equal(got, []int64{7, 6, 5, 2}) {
		t.Fatalf("after pruning: %v", got)
	}
	// Every node agrees (the overlay of own writes is not what answered).
	s.mu.Lock()
	clear(s.overlay)
	s.mu.Unlock()
	for _, r := range s.recs.fetch(ctx, "") {
		var uids []int64
		for _, raw := range r.Docs {
			if d, ok := s.decode(raw); ok && !d.Deleted {
				uids = append(uids, d.UID)
			}
		}
		slices.Sort(uids)
		if !slices.Equal(uids, []int64{2, 5, 6, 7}) {
			t.Fatalf("node %s holds %v", r.Node.ID, uids)
		}
	}
}

// TestGroupCommitBatches: writes arriving while a batch is being sent go
// out together in the next batch, and each writer learns its outcome.
func TestGroupCommitBatches(t *testing.T) {
	release := make(chan struct{})
	var batches [][]int64
	g := groupCommit{flush: func(docs []taskDoc) error {
		var uids []int64
		for _, d := range docs {
			uids = append(uids, d.UID)
		}
		batches = append(batches, uids)
		if len(batches) == 1 {
			<-release // hold the first batch while others queue
		}
		return nil
	}}
	first := make(chan error, 1)
	go func() { first <- g.submit(func() taskDoc { return taskDoc{ClusterTask: &ClusterTask{UID: 1}} }) }()
	// Wait until the first batch is being sent.
	for {
		g.mu.Lock()
		busy := g.busy && len(g.queue) == 0
		g.mu.Unlock()
		if busy {
			break
		}
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 3)
	for uid := int64(2); uid <= 4; uid++ {
		go func() { done <- g.submit(func() taskDoc { return taskDoc{ClusterTask: &ClusterTask{UID: uid}} }) }()
	}
	for {
		g.mu.Lock()
		n := len(g.queue)
		g.mu.Unlock()
		if n == 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if len(batches) != 2 || len(batches[1]) != 3 {
		t.Fatalf("batches %v", batches)
	}
}
