package miroir

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// ClusterTask is the record of one cluster task, as a TaskStore keeps it.
// It is plain data (JSON-serialisable) so that a shared store can persist
// it. miroir never mutates a value it got from a store: it updates a copy
// and Puts it back.
type ClusterTask struct {
	UID      int64                `json:"uid"`
	IndexUID string               `json:"indexUid,omitempty"`
	Type     meilisearch.TaskType `json:"type"`
	// Status is the last aggregated status (refreshed on read while the
	// task is not finished).
	Status     meilisearch.TaskStatus       `json:"status"`
	Error      *meilisearch.APIErrorDetails `json:"error,omitempty"`
	EnqueuedAt time.Time                    `json:"enqueuedAt"`
	StartedAt  time.Time                    `json:"startedAt,omitzero"`
	FinishedAt time.Time                    `json:"finishedAt,omitzero"`
	// Details holds what is known when the task is registered
	// (receivedDocuments, providedIds, primaryKey, settings, ...); document
	// counts that only the nodes know are aggregated into it on read.
	Details meilisearch.Details `json:"details"`
	// RawDetails is the details object exactly as the REST API shows it
	// (what one Meilisearch node would show for the same request): built
	// from a node task's own details with the cluster's document counts,
	// or, for a cluster-local task or before any node answered, the shape
	// Meilisearch shows at enqueue time. JSON null means the task has no
	// details (a snapshot); nil, a record stored before this field
	// existed, falls back to Details.
	RawDetails json.RawMessage `json:"rawDetails,omitempty"`
	// Documents is the number of documents (or ids) the caller gave to a
	// routed write; node counts are scaled by Documents/sum(NodeTask.Docs).
	Documents int64 `json:"documents,omitempty"`
	// Copies is, for a broadcast task, how many nodes hold each document
	// (RG×RF): node counts are divided by it.
	Copies int `json:"copies,omitempty"`
	// Nodes are the node tasks the cluster task fanned out to.
	Nodes []NodeTask `json:"nodes,omitempty"`
	// Degraded lists the (group, shard) pairs whose group missed quorum.
	Degraded []GroupShard `json:"degraded,omitempty"`
	// Local marks a cluster-local task: its status is set by miroir, not
	// aggregated from node tasks.
	Local bool `json:"local,omitempty"`
	// Owner identifies the instance that registered the task. With a
	// shared store, only the owner of a local task changes it; other
	// instances read it.
	Owner string `json:"owner,omitempty"`
	// Targets are the cluster tasks a cancelation or deletion matched.
	Targets []int64 `json:"targets,omitempty"`
	// Pending are the tasks a deletion matched while they were in
	// progress: deleted once they finish (the deletion is processing until
	// then), as a node deletes the batch it runs after.
	Pending []int64 `json:"pending,omitempty"`
	// CancelRequestedBy is the cancelation task that targeted this task;
	// it is reported as canceledBy once the task is canceled.
	CancelRequestedBy int64  `json:"cancelRequestedBy,omitempty"`
	CustomMetadata    string `json:"customMetadata,omitempty"`
	// HistoryRewritten marks a succeeded swap or rename whose earlier
	// tasks were renamed after it (tasks_history.go), so that it is done
	// once, whoever sees the task finish.
	HistoryRewritten bool `json:"historyRewritten,omitempty"`
}

// NodeTask is one node task of a cluster task, with its last known state.
type NodeTask struct {
	Node    string `json:"node"`
	TaskUID int64  `json:"taskUid"`
	// Docs is the number of documents or ids sent to the node (routed
	// writes); 0 for a broadcast.
	Docs int64 `json:"docs,omitempty"`
	// Aux marks a helper task (the _miroir_shard setting or the miroir_meta
	// record of an index creation, ...): it counts for the status, not for
	// the details.
	Aux        bool                         `json:"aux,omitempty"`
	Status     meilisearch.TaskStatus       `json:"status"`
	Error      *meilisearch.APIErrorDetails `json:"error,omitempty"`
	EnqueuedAt time.Time                    `json:"enqueuedAt,omitzero"`
	StartedAt  time.Time                    `json:"startedAt,omitzero"`
	FinishedAt time.Time                    `json:"finishedAt,omitzero"`
	Details    meilisearch.Details          `json:"details"`
	// RawDetails is the node task's details object as the node sent it.
	RawDetails json.RawMessage `json:"rawDetails,omitempty"`
}

// TaskStore keeps cluster tasks. The default (NewMemoryTaskStore) is
// in-memory and bounded; deployments with several app instances share one
// implementation (a database table, a Redis hash, ...) through
// WithTaskStore so that any instance answers GetTask for a write another
// made. Implementations must be safe for concurrent use. They may return
// the stored value itself from Get and List: miroir never mutates it.
type TaskStore interface {
	// Put inserts t, or replaces the task with the same UID.
	Put(ctx context.Context, t *ClusterTask) error
	// Get returns the task with uid, or (nil, nil) if there is none.
	Get(ctx context.Context, uid int64) (*ClusterTask, error)
	// List calls fn for every task, newest (highest UID) first, until fn
	// returns false.
	List(ctx context.Context, fn func(*ClusterTask) bool) error
	// Delete removes the tasks with these UIDs (absent ones are ignored).
	Delete(ctx context.Context, uids ...int64) error
}

// DefaultTaskStoreSize is the capacity of the default task store.
const DefaultTaskStoreSize = 10000

// DefaultTaskMaxAge is how long the default task stores keep a finished
// task.
const DefaultTaskMaxAge = 7 * 24 * time.Hour

// TaskRetention bounds a task store, as Meilisearch bounds its task queue
// (it keeps up to 1M tasks and deletes the oldest finished ones when
// full): a finished task is dropped once it finished more than MaxAge ago,
// and beyond MaxTasks tasks the oldest finished ones go first. Tasks in
// progress are never dropped for their age. Zero fields take the defaults
// (DefaultTaskStoreSize, DefaultTaskMaxAge); a negative MaxAge keeps
// finished tasks regardless of age.
type TaskRetention struct {
	MaxTasks int
	MaxAge   time.Duration
}

func (r TaskRetention) withDefaults() TaskRetention {
	if r.MaxTasks <= 0 {
		r.MaxTasks = DefaultTaskStoreSize
	}
	if r.MaxAge == 0 {
		r.MaxAge = DefaultTaskMaxAge
	}
	return r
}

// MemoryTaskStore is the default TaskStore: in memory, holding at most a
// fixed number of tasks. When full, it evicts the oldest finished task
// first (the oldest task of all when none is finished); finished tasks
// also expire by age (TaskRetention).
type MemoryTaskStore struct {
	mu     sync.Mutex
	max    int
	maxAge time.Duration
	now    func() time.Time
	tasks  map[int64]*ClusterTask
	order  []int64 // ascending UID
	// expired is when expiry last ran (at most once a second).
	expired time.Time
}

// NewMemoryTaskStore returns an in-memory store holding at most max tasks
// (max <= 0: DefaultTaskStoreSize), whose finished tasks expire after
// DefaultTaskMaxAge.
func NewMemoryTaskStore(max int) *MemoryTaskStore {
	return NewMemoryTaskStoreWith(TaskRetention{MaxTasks: max})
}

// NewMemoryTaskStoreWith returns an in-memory store bounded by r.
func NewMemoryTaskStoreWith(r TaskRetention) *MemoryTaskStore {
	r = r.withDefaults()
	return &MemoryTaskStore{max: r.MaxTasks, maxAge: r.MaxAge, now: time.Now, tasks: map[int64]*ClusterTask{}}
}

// Put implements TaskStore.
func (s *MemoryTaskStore) Put(_ context.Context, t *ClusterTask) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tasks[t.UID]; !ok {
		i, _ := slices.BinarySearch(s.order, t.UID)
		s.order = slices.Insert(s.order, i, t.UID)
		for len(s.order) > s.max {
			s.evict(t.UID)
		}
	}
	s.tasks[t.UID] = t
	s.expire()
	return nil
}

// expire drops the finished tasks that finished more than maxAge ago.
// UIDs grow with time, so only the oldest tasks are looked at: the scan
// stops at the first task enqueued after the cutoff.
func (s *MemoryTaskStore) expire() {
	now := s.now()
	if s.maxAge < 0 || now.Sub(s.expired) < time.Second {
		return
	}
	s.expired = now
	cutoff := now.Add(-s.maxAge)
	n := 0
	for n < len(s.order) {
		t := s.tasks[s.order[n]]
		if t != nil && !t.EnqueuedAt.Before(cutoff) {
			break
		}
		n++
	}
	kept := s.order[:0]
	for i, uid := range s.order {
		if t := s.tasks[uid]; i < n && (t == nil || isFinal(t.Status) && t.FinishedAt.Before(cutoff)) {
			delete(s.tasks, uid)
			continue
		}
		kept = append(kept, uid)
	}
	s.order = kept
}

// evict removes the oldest finished task, else the oldest one other than
// keep.
func (s *MemoryTaskStore) evict(keep int64) {
	victim := -1
	for i, uid := range s.order {
		if t := s.tasks[uid]; t != nil && isFinal(t.Status) && uid != keep {
			victim = i
			break
		}
	}
	if victim < 0 {
		victim = 0
		if s.order[0] == keep && len(s.order) > 1 {
			victim = 1
		}
	}
	delete(s.tasks, s.order[victim])
	s.order = slices.Delete(s.order, victim, victim+1)
}

// Get implements TaskStore.
func (s *MemoryTaskStore) Get(_ context.Context, uid int64) (*ClusterTask, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tasks[uid], nil
}

// List implements TaskStore.
func (s *MemoryTaskStore) List(_ context.Context, fn func(*ClusterTask) bool) error {
	s.mu.Lock()
	snap := make([]*ClusterTask, 0, len(s.order))
	for i := len(s.order) - 1; i >= 0; i-- {
		snap = append(snap, s.tasks[s.order[i]])
	}
	s.mu.Unlock()
	for _, t := range snap {
		if t != nil && !fn(t) {
			return nil
		}
	}
	return nil
}

// Delete implements TaskStore.
func (s *MemoryTaskStore) Delete(_ context.Context, uids ...int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, uid := range uids {
		if _, ok := s.tasks[uid]; !ok {
			continue
		}
		delete(s.tasks, uid)
		if i, found := slices.BinarySearch(s.order, uid); found {
			s.order = slices.Delete(s.order, i, i+1)
		}
	}
	return nil
}

// Len returns the number of tasks held.
func (s *MemoryTaskStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tasks)
}

func isFinal(s meilisearch.TaskStatus) bool {
	return s == meilisearch.TaskStatusSucceeded || s == meilisearch.TaskStatusFailed || s == meilisearch.TaskStatusCanceled
}
