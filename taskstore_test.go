package miroir

// Task stores (taskstore.go): the bounded memory store, a store shared by
// several Clusters, and one that keeps tasks only as JSON.

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// countingStore wraps a MemoryTaskStore and counts calls.
type acCountingStore struct {
	*MemoryTaskStore
	puts atomic.Int64
}

func (s *acCountingStore) Put(ctx context.Context, t *ClusterTask) error {
	s.puts.Add(1)
	return s.MemoryTaskStore.Put(ctx, t)
}

// jsonTaskStore keeps tasks as JSON, as a shared external store (a database
// table, Redis) would: nothing survives a Put/Get but the serialised data.
type jsonTaskStore struct {
	mu   sync.Mutex
	data map[int64][]byte
}

func (s *jsonTaskStore) Put(_ context.Context, t *ClusterTask) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data == nil {
		s.data = map[int64][]byte{}
	}
	s.data[t.UID] = b
	return nil
}

func (s *jsonTaskStore) Get(_ context.Context, uid int64) (*ClusterTask, error) {
	s.mu.Lock()
	b, ok := s.data[uid]
	s.mu.Unlock()
	if !ok {
		return nil, nil
	}
	var t ClusterTask
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

func (s *jsonTaskStore) List(_ context.Context, fn func(*ClusterTask) bool) error {
	s.mu.Lock()
	var uids []int64
	for u := range s.data {
		uids = append(uids, u)
	}
	s.mu.Unlock()
	sort.Slice(uids, func(a, b int) bool { return uids[a] > uids[b] })
	for _, u := range uids {
		t, err := s.Get(context.Background(), u)
		if err != nil {
			return err
		}
		if t != nil && !fn(t) {
			return nil
		}
	}
	return nil
}

func (s *jsonTaskStore) Delete(_ context.Context, uids ...int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range uids {
		delete(s.data, u)
	}
	return nil
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

func TestAuditCoreTaskStoreSharedAndBounded(t *testing.T) {
	store := &acCountingStore{MemoryTaskStore: NewMemoryTaskStore(100)}
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, shards: 4, timing: oneRetry, opts: []Option{WithTaskStore(store)}})
	ctx := testCtx(t)
	c1 := f.c
	c2 := f.newCluster(t, append(oneRetry.options(), WithShards(4), WithTaskStore(store))...)
	acWaitOK(t, c1)(c1.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "docs", PrimaryKey: "id"}))
	info, err := c1.Index("docs").AddDocuments(ctx, acDocs(0, 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	if store.puts.Load() == 0 {
		t.Fatal("the configured TaskStore was not used")
	}
	// Another app instance answers for the write.
	task := acWaitOK(t, c2)(info, nil)
	if task.Details.ReceivedDocuments != 10 {
		t.Errorf("shared store: %+v", task.Details)
	}

	// The in-memory store is bounded and evicts the oldest finished first.
	ms := NewMemoryTaskStore(3)
	put := func(uid int64, st meilisearch.TaskStatus) {
		if err := ms.Put(ctx, &ClusterTask{UID: uid, Status: st, Type: meilisearch.TaskTypeDocumentAdditionOrUpdate}); err != nil {
			t.Fatal(err)
		}
	}
	put(1, meilisearch.TaskStatusProcessing)
	put(2, meilisearch.TaskStatusSucceeded)
	put(3, meilisearch.TaskStatusFailed)
	put(4, meilisearch.TaskStatusEnqueued)
	if ms.Len() != 3 {
		t.Fatalf("Len %d, want 3", ms.Len())
	}
	if g, _ := ms.Get(ctx, 2); g != nil {
		t.Errorf("oldest finished task 2 was not evicted")
	}
	for _, uid := range []int64{1, 3, 4} {
		if g, _ := ms.Get(ctx, uid); g == nil {
			t.Errorf("task %d evicted", uid)
		}
	}
	put(5, meilisearch.TaskStatusSucceeded)
	if g, _ := ms.Get(ctx, 3); g != nil {
		t.Errorf("finished task 3 should go before unfinished 1")
	}
	if g, _ := ms.Get(ctx, 1); g == nil {
		t.Errorf("unfinished task 1 evicted while finished ones remained")
	}
	var order []int64
	_ = ms.List(ctx, func(ct *ClusterTask) bool { order = append(order, ct.UID); return true })
	if !slices.Equal(order, []int64{5, 4, 1}) {
		t.Errorf("List order %v, want newest first [5 4 1]", order)
	}
	_ = ms.Delete(ctx, 4, 99)
	if g, _ := ms.Get(ctx, 4); g != nil || ms.Len() != 2 {
		t.Errorf("Delete")
	}
	// Default store is bounded too (constructor with max<=0).
	if NewMemoryTaskStore(0) == nil {
		t.Fatal("nil default store")
	}
}

func TestAuditCoreSerialisedTaskStore(t *testing.T) {
	store := &jsonTaskStore{}
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 1}, rf: 1, shards: 8, timing: oneRetry, opts: []Option{WithTaskStore(store)}})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	task := acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 40), nil))
	if task.Details.ReceivedDocuments != 40 {
		t.Errorf("details through a serialising store: %+v", task.Details)
	}
	acWaitOK(t, f.c)(ix.UpdateStopWords(ctx, &[]string{"x"}))
	f.stop(t, 2)
	rep := &Report{}
	info, err := ix.AddDocuments(WithReport(ctx, rep), acDocs(100, 20), nil)
	acWaitOK(t, f.c)(info, err)
	ct, _ := store.Get(ctx, info.TaskUID)
	if ct == nil || len(ct.Degraded) == 0 {
		t.Errorf("degraded pairs not recorded in the stored task: %+v", ct)
	}
	f.start(t, 2)
	for _, s := range f.srv {
		s.PauseTasks()
	}
	pending, err := ix.AddDocuments(ctx, acDocs(200, 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := f.c.CancelTasks(ctx, &meilisearch.CancelTasksQuery{UIDS: []int64{pending.TaskUID}})
	for _, s := range f.srv {
		s.ResumeTasks()
	}
	acWaitOK(t, f.c)(ci, err)
	if pt := acWait(t, f.c)(pending, nil); pt.Status != meilisearch.TaskStatusCanceled {
		t.Errorf("cancel through a serialising store: %s", pt.Status)
	}
	res, err := f.c.GetTasks(ctx, &meilisearch.TasksQuery{IndexUIDS: []string{"docs"}})
	if err != nil || len(res.Results) < 4 {
		t.Errorf("GetTasks through a serialising store: %v %v", res, err)
	}
}
