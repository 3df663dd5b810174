package miroir

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Cluster tasks (DESIGN §6).
//
// Every write returns a *meilisearch.TaskInfo whose TaskUID is a cluster
// task UID. The cluster task records the node tasks it fanned out to; its
// status, times and details are aggregated from theirs each time it is read
// until it is finished. A cluster-local task (a settings transaction, an
// already-decided outcome) has no node tasks of its own that decide its
// status: miroir sets it.

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
	// Targets are the cluster tasks a cancelation or deletion matched.
	Targets []int64 `json:"targets,omitempty"`
	// CancelRequestedBy is the cancelation task that targeted this task;
	// it is reported as canceledBy once the task is canceled.
	CancelRequestedBy int64  `json:"cancelRequestedBy,omitempty"`
	CustomMetadata    string `json:"customMetadata,omitempty"`
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

// MemoryTaskStore is the default TaskStore: in memory, holding at most a
// fixed number of tasks. When full, it evicts the oldest finished task
// first (the oldest task of all when none is finished).
type MemoryTaskStore struct {
	mu    sync.Mutex
	max   int
	tasks map[int64]*ClusterTask
	order []int64 // ascending UID
}

// NewMemoryTaskStore returns an in-memory store holding at most max tasks
// (max <= 0: DefaultTaskStoreSize).
func NewMemoryTaskStore(max int) *MemoryTaskStore {
	if max <= 0 {
		max = DefaultTaskStoreSize
	}
	return &MemoryTaskStore{max: max, tasks: map[int64]*ClusterTask{}}
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
	return nil
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

// taskManager allocates cluster task UIDs and keeps tasks in the store.
type taskManager struct {
	c     *Cluster
	store TaskStore

	mu   sync.Mutex
	last int64
	lane int64 // see uidLanes

	// localMu serialises read-modify-write cycles on local tasks, so that
	// Processing, AddNodeTask, Finish and refresh never lose each other's
	// updates.
	localMu sync.Mutex
}

func newTaskManager(c *Cluster) *taskManager {
	st := c.opts.taskStore
	if st == nil {
		st = NewMemoryTaskStore(0)
	}
	return &taskManager{c: c, store: st, lane: randomLane()}
}

// maxTaskUID keeps UIDs representable in a JavaScript number.
const maxTaskUID = 1<<53 - 1

// uidLanes splits each millisecond's 1000 UIDs among processes: a
// taskManager draws a random lane and only ever allocates UIDs congruent to
// it modulo uidLanes, so two processes sharing a store collide only if
// they drew the same lane (1 in uidLanes) and allocate in the same
// millisecond. A lane holds 1000/uidLanes UIDs per millisecond; a burst
// beyond that runs ahead of the clock (UIDs stay unique and increasing).
const uidLanes = 25

func randomLane() int64 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return int64(binary.LittleEndian.Uint16(b[:]) % uidLanes)
}

// nextUID allocates a cluster task UID: milliseconds since the epoch × 1000
// plus the manager's lane plus a multiple of uidLanes, strictly increasing
// within a process (also across a clock step backwards) and below 2^53
// until the year 2255.
func (m *taskManager) nextUID() int64 {
	uid := time.Now().UnixMilli()*1000 + m.lane
	m.mu.Lock()
	defer m.mu.Unlock()
	if uid <= m.last {
		uid = m.last + uidLanes
	}
	m.last = uid
	return uid
}

// register stores a new cluster task (UID and enqueue time assigned here)
// and returns the TaskInfo the caller gets.
func (m *taskManager) register(ctx context.Context, t *ClusterTask) (*meilisearch.TaskInfo, error) {
	t.UID = m.nextUID()
	// A store shared by several processes may already hold this UID (two
	// processes in the same millisecond): take another.
	for range 8 {
		if old, err := m.store.Get(ctx, t.UID); err != nil || old == nil {
			break
		}
		t.UID = m.nextUID()
	}
	if t.EnqueuedAt.IsZero() {
		t.EnqueuedAt = time.Now().UTC()
	}
	if t.Status == "" {
		t.Status = meilisearch.TaskStatusEnqueued
	}
	if err := m.store.Put(context.WithoutCancel(ctx), t); err != nil {
		return nil, fmt.Errorf("miroir: storing cluster task: %w", err)
	}
	reportFrom(ctx).task(t.UID)
	return taskInfo(t), nil
}

// taskInfo is the summary a write returns; like Meilisearch's 202 it
// always says enqueued, even for a task miroir already finished.
func taskInfo(t *ClusterTask) *meilisearch.TaskInfo {
	return &meilisearch.TaskInfo{Status: meilisearch.TaskStatusEnqueued, TaskUID: t.UID, IndexUID: t.IndexUID, Type: t.Type, EnqueuedAt: t.EnqueuedAt}
}

// localTask is a cluster-local task: miroir decides its status.
type localTask struct {
	m    *taskManager
	uid  int64
	info *meilisearch.TaskInfo
	once sync.Once
}

// startLocal registers a cluster-local task on indexUID ("" for none) of
// type typ, status enqueued, and returns its UID and the function that
// finishes it: finish(nil) marks it succeeded, finish(err) failed with
// err's Meilisearch code and message (a *miroir.Error or a
// *meilisearch.Error keep their code; anything else becomes "internal").
// finish may be called once; later calls are ignored. It is what a
// settings transaction (§7) returns to its caller at once.
//
// For more control (details, node tasks, the processing state) use
// newLocal.
func (m *taskManager) startLocal(indexUID string, typ meilisearch.TaskType) (uid int64, finish func(err error)) {
	lt, err := m.newLocal(context.Background(), indexUID, typ, meilisearch.Details{})
	if err != nil {
		// The default store cannot fail; a custom one can. The task then
		// does not exist and finishing it is a no-op.
		m.c.opts.logger.Error("miroir: registering a local task", "err", err)
		return 0, func(error) {}
	}
	return lt.uid, lt.Finish
}

// newLocal registers a cluster-local task with base details.
func (m *taskManager) newLocal(ctx context.Context, indexUID string, typ meilisearch.TaskType, details meilisearch.Details) (*localTask, error) {
	t := &ClusterTask{IndexUID: indexUID, Type: typ, Local: true, Details: details}
	info, err := m.register(ctx, t)
	if err != nil {
		return nil, err
	}
	return &localTask{m: m, uid: t.UID, info: info}, nil
}

// Info is the TaskInfo to return to the caller.
func (lt *localTask) Info() *meilisearch.TaskInfo { return lt.info }

// UID is the cluster task UID.
func (lt *localTask) UID() int64 { return lt.uid }

// Processing marks the task started.
func (lt *localTask) Processing() {
	lt.m.updateLocal(lt.uid, func(t *ClusterTask) {
		if t.Status == meilisearch.TaskStatusEnqueued {
			t.Status = meilisearch.TaskStatusProcessing
			t.StartedAt = time.Now().UTC()
		}
	})
}

// AddNodeTask records a node task the local task created (informational:
// it does not change the local task's status).
func (lt *localTask) AddNodeTask(nodeID string, taskUID int64) {
	lt.m.updateLocal(lt.uid, func(t *ClusterTask) {
		t.Nodes = append(t.Nodes, NodeTask{Node: nodeID, TaskUID: taskUID, Aux: true, Status: meilisearch.TaskStatusEnqueued})
	})
}

// Finish ends the task: succeeded when err is nil, else failed with err.
func (lt *localTask) Finish(err error) {
	lt.once.Do(func() {
		lt.m.updateLocal(lt.uid, func(t *ClusterTask) {
			now := time.Now().UTC()
			if t.StartedAt.IsZero() {
				t.StartedAt = now
			}
			t.FinishedAt = now
			if err == nil {
				t.Status = meilisearch.TaskStatusSucceeded
				return
			}
			t.Status = meilisearch.TaskStatusFailed
			d := apiErrorDetails(err)
			t.Error = &d
		})
	})
}

func (m *taskManager) updateLocal(uid int64, fn func(t *ClusterTask)) *ClusterTask {
	m.localMu.Lock()
	defer m.localMu.Unlock()
	ctx := context.Background()
	t, err := m.store.Get(ctx, uid)
	if err != nil || t == nil {
		return nil
	}
	cp := cloneTask(t)
	fn(cp)
	if err := m.store.Put(ctx, cp); err != nil {
		m.c.opts.logger.Error("miroir: updating a local task", "uid", uid, "err", err)
	}
	return cp
}

// apiErrorDetails turns any error into Meilisearch's error object.
func apiErrorDetails(err error) meilisearch.APIErrorDetails {
	var e *Error
	if errors.As(err, &e) {
		return meilisearch.APIErrorDetails{Message: e.Message, Code: meilisearch.APIErrCode(e.Code), Type: e.Type, Link: e.Link}
	}
	var me *meilisearch.Error
	if errors.As(err, &me) && me.APIError.Code != "" {
		return me.APIError
	}
	return meilisearch.APIErrorDetails{Message: err.Error(), Code: "internal", Type: "internal", Link: "https://docs.meilisearch.com/errors#internal"}
}

func cloneTask(t *ClusterTask) *ClusterTask {
	cp := *t
	cp.Nodes = slices.Clone(t.Nodes)
	cp.Degraded = slices.Clone(t.Degraded)
	cp.Targets = slices.Clone(t.Targets)
	return &cp
}

// get returns the cluster task uid, refreshed from its node tasks.
func (m *taskManager) get(ctx context.Context, uid int64) (*ClusterTask, error) {
	t, err := m.store.Get(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("miroir: reading cluster task %d: %w", uid, err)
	}
	if t == nil {
		return nil, newError(http.StatusNotFound, "task_not_found", "Task `%d` not found.", uid)
	}
	return m.refresh(ctx, t)
}

// refresh polls the unfinished node tasks of t, re-aggregates and stores
// the result when it changed. Unreachable nodes leave their node tasks as
// they were.
func (m *taskManager) refresh(ctx context.Context, t *ClusterTask) (*ClusterTask, error) {
	if isFinal(t.Status) || len(t.Nodes) == 0 {
		return t, nil
	}
	cp := cloneTask(t)
	var pending []int
	for i := range cp.Nodes {
		if !isFinal(cp.Nodes[i].Status) {
			pending = append(pending, i)
		}
	}
	if len(pending) > 0 {
		var wg sync.WaitGroup
		for _, i := range pending {
			nt := &cp.Nodes[i]
			n := m.c.nodeByID(nt.Node)
			if n == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var got meilisearch.Task
				err := n.doJSON(ctx, "getTask", http.MethodGet, "/tasks/"+strconv.FormatInt(nt.TaskUID, 10), nil, nil, &got)
				if err != nil {
					if apiCode(err) == "task_not_found" {
						nt.Status = meilisearch.TaskStatusFailed
						nt.Error = &meilisearch.APIErrorDetails{
							Message: fmt.Sprintf("task %d is gone from node %s (deleted, or the node lost its data)", nt.TaskUID, nt.Node),
							Code:    "task_not_found", Type: "invalid_request", Link: "https://docs.meilisearch.com/errors#task_not_found",
						}
						nt.FinishedAt = time.Now().UTC()
					}
					return
				}
				nt.Status = got.Status
				if got.Error.Code != "" {
					e := got.Error
					nt.Error = &e
				}
				nt.EnqueuedAt, nt.StartedAt, nt.FinishedAt = got.EnqueuedAt, got.StartedAt, got.FinishedAt
				nt.Details = got.Details
			}()
		}
		wg.Wait()
	}
	if cp.Local {
		// A local task's owner updates it concurrently: merge only the
		// node task states polled here into the current record.
		polled := cp.Nodes
		if cur := m.updateLocal(cp.UID, func(cur *ClusterTask) {
			for i := range cur.Nodes {
				for _, p := range polled {
					if p.Node == cur.Nodes[i].Node && p.TaskUID == cur.Nodes[i].TaskUID {
						cur.Nodes[i] = p
					}
				}
			}
		}); cur != nil {
			return cur, nil
		}
		return cp, nil
	}
	aggregate(cp)
	if cp.Status == meilisearch.TaskStatusSucceeded && (cp.Type == meilisearch.TaskTypeTaskCancelation) {
		m.countCanceled(ctx, cp)
	}
	if !slices.EqualFunc(cp.Nodes, t.Nodes, func(a, b NodeTask) bool { return a.Status == b.Status }) || cp.Status != t.Status {
		if err := m.store.Put(context.WithoutCancel(ctx), cp); err != nil {
			return nil, fmt.Errorf("miroir: storing cluster task %d: %w", cp.UID, err)
		}
	}
	return cp, nil
}

// countCanceled fills canceledTasks of a finished cancelation.
func (m *taskManager) countCanceled(ctx context.Context, t *ClusterTask) {
	var n int64
	for _, uid := range t.Targets {
		if tt, err := m.store.Get(ctx, uid); err == nil && tt != nil {
			if tt, err = m.refresh(ctx, tt); err == nil && tt.Status == meilisearch.TaskStatusCanceled {
				n++
			}
		}
	}
	t.Details.CanceledTasks = n
}

// aggregate computes the status, error, times and document counts of a
// non-local cluster task from its node tasks (DESIGN §6): failed if any
// failed, else canceled if any was, else succeeded when all succeeded, else
// enqueued when all are enqueued, else processing.
func aggregate(t *ClusterTask) {
	var failed, canceled, succeeded, enqueued int
	var firstFail *NodeTask
	t.StartedAt, t.FinishedAt = time.Time{}, time.Time{}
	enq := time.Time{}
	for i := range t.Nodes {
		nt := &t.Nodes[i]
		status := nt.Status
		if status == meilisearch.TaskStatusFailed && nt.Aux && nt.Error != nil && benignAuxFailure(string(nt.Error.Code)) {
			status = meilisearch.TaskStatusSucceeded
		}
		switch status {
		case meilisearch.TaskStatusFailed:
			failed++
			if firstFail == nil {
				firstFail = nt
			}
		case meilisearch.TaskStatusCanceled:
			canceled++
		case meilisearch.TaskStatusSucceeded:
			succeeded++
		case meilisearch.TaskStatusEnqueued, "":
			enqueued++
		}
		if !nt.EnqueuedAt.IsZero() && (enq.IsZero() || nt.EnqueuedAt.Before(enq)) {
			enq = nt.EnqueuedAt
		}
		if !nt.StartedAt.IsZero() && (t.StartedAt.IsZero() || nt.StartedAt.Before(t.StartedAt)) {
			t.StartedAt = nt.StartedAt
		}
		if nt.FinishedAt.After(t.FinishedAt) {
			t.FinishedAt = nt.FinishedAt
		}
	}
	if !enq.IsZero() && enq.Before(t.EnqueuedAt) {
		t.EnqueuedAt = enq
	}
	n := len(t.Nodes)
	done := failed+canceled+succeeded == n
	switch {
	case failed > 0:
		t.Status = meilisearch.TaskStatusFailed
		d := meilisearch.APIErrorDetails{Code: "internal", Type: "internal"}
		if firstFail.Error != nil {
			d = *firstFail.Error
		}
		d.Message = fmt.Sprintf("node %s: %s", firstFail.Node, d.Message)
		t.Error = &d
	case canceled > 0:
		t.Status = meilisearch.TaskStatusCanceled
	case succeeded == n:
		t.Status = meilisearch.TaskStatusSucceeded
	case enqueued == n:
		t.Status = meilisearch.TaskStatusEnqueued
	default:
		t.Status = meilisearch.TaskStatusProcessing
	}
	if !isFinal(t.Status) || (!done && t.Status != meilisearch.TaskStatusFailed) {
		// a failed task is reported at once; its other node tasks may run on
		t.FinishedAt = time.Time{}
	}
	if t.Status == meilisearch.TaskStatusEnqueued {
		t.StartedAt = time.Time{}
	}
	if t.Status == meilisearch.TaskStatusFailed && t.FinishedAt.IsZero() {
		t.FinishedAt = time.Now().UTC()
	}
	if t.Status == meilisearch.TaskStatusSucceeded {
		aggregateCounts(t)
	}
}

// benignAuxFailure: a helper task that lost a race to an equivalent one
// (a concurrent creation, a primary key already set) did no harm.
func benignAuxFailure(code string) bool {
	return code == "index_already_exists" || code == "index_primary_key_already_exists"
}

// aggregateCounts turns node document counts into cluster counts: a
// routed write scales by Documents/sum(Docs) (each document went to
// several nodes), a broadcast divides by Copies.
func aggregateCounts(t *ClusterTask) {
	var indexed, deleted, docs float64
	for _, nt := range t.Nodes {
		if nt.Aux {
			continue
		}
		indexed += float64(nt.Details.IndexedDocuments)
		deleted += float64(nt.Details.DeletedDocuments)
		docs += float64(nt.Docs)
	}
	scale := 0.0
	switch {
	case t.Documents > 0 && docs > 0:
		scale = float64(t.Documents) / docs
	case t.Copies > 0:
		scale = 1 / float64(t.Copies)
	}
	if scale == 0 {
		return
	}
	switch t.Type {
	case meilisearch.TaskTypeDocumentAdditionOrUpdate:
		t.Details.IndexedDocuments = int64(math.Round(indexed * scale))
	case meilisearch.TaskTypeDocumentDeletion, meilisearch.TaskTypeIndexDeletion:
		t.Details.DeletedDocuments = int64(math.Round(deleted * scale))
	}
}

// view turns a cluster task into what GetTask returns.
func (t *ClusterTask) view() *meilisearch.Task {
	out := &meilisearch.Task{
		Status: t.Status, UID: t.UID, IndexUID: t.IndexUID, Type: t.Type,
		EnqueuedAt: t.EnqueuedAt, StartedAt: t.StartedAt, FinishedAt: t.FinishedAt,
		Details: t.Details, CustomMetadata: t.CustomMetadata,
	}
	if t.Error != nil {
		out.Error = *t.Error
	}
	if t.Status == meilisearch.TaskStatusCanceled {
		out.CanceledBy = t.CancelRequestedBy
	}
	if !t.StartedAt.IsZero() && !t.FinishedAt.IsZero() {
		out.Duration = isoDuration(t.FinishedAt.Sub(t.StartedAt))
	}
	return out
}

// isoDuration formats d like Meilisearch ("PT0.012345S").
func isoDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return "PT" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S"
}

// apiCode returns the Meilisearch error code of err ("" if none).
func apiCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var me *meilisearch.Error
	if errors.As(err, &me) {
		return string(me.APIError.Code)
	}
	return ""
}

// ---- public task API (Cluster) ----

// GetTask returns the cluster task taskUID with its status aggregated from
// its node tasks (DESIGN §6).
func (c *Cluster) GetTask(ctx context.Context, taskUID int64) (*meilisearch.Task, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	t, err := c.tasks.get(ctx, taskUID)
	if err != nil {
		return nil, err
	}
	return t.view(), nil
}

// taskFilter is the common part of the tasks queries.
type taskFilter struct {
	uids, canceledBy                       []int64
	indexUIDs                              []string
	statuses                               []meilisearch.TaskStatus
	types                                  []meilisearch.TaskType
	beforeEnq, afterEnq, beforeSt, afterSt time.Time
	beforeFin, afterFin                    time.Time
	finishedOnly                           bool
	hasAny                                 bool
	original                               string
}

func newTaskFilter(uids []int64, indexUIDs []string, statuses []meilisearch.TaskStatus, types []meilisearch.TaskType, canceledBy []int64,
	beforeEnq, afterEnq, beforeSt, afterSt, beforeFin, afterFin time.Time) taskFilter {
	f := taskFilter{uids: uids, indexUIDs: indexUIDs, statuses: statuses, types: types, canceledBy: canceledBy,
		beforeEnq: beforeEnq, afterEnq: afterEnq, beforeSt: beforeSt, afterSt: afterSt, beforeFin: beforeFin, afterFin: afterFin}
	var parts []string
	add := func(k, v string) { parts = append(parts, k+"="+v) }
	if len(uids) > 0 {
		add("uids", joinInts(uids))
	}
	if len(canceledBy) > 0 {
		add("canceledBy", joinInts(canceledBy))
	}
	if len(indexUIDs) > 0 {
		add("indexUids", joinStrings(indexUIDs))
	}
	if len(statuses) > 0 {
		ss := make([]string, len(statuses))
		for i, s := range statuses {
			ss[i] = string(s)
		}
		add("statuses", joinStrings(ss))
	}
	if len(types) > 0 {
		ss := make([]string, len(types))
		for i, s := range types {
			ss[i] = string(s)
		}
		add("types", joinStrings(ss))
	}
	for _, d := range []struct {
		k string
		t time.Time
	}{{"beforeEnqueuedAt", beforeEnq}, {"afterEnqueuedAt", afterEnq}, {"beforeStartedAt", beforeSt}, {"afterStartedAt", afterSt}, {"beforeFinishedAt", beforeFin}, {"afterFinishedAt", afterFin}} {
		if !d.t.IsZero() {
			add(d.k, d.t.UTC().Format(time.RFC3339))
		}
	}
	f.hasAny = len(parts) > 0
	if f.hasAny {
		f.original = "?" + joinStrings(parts, "&")
	}
	return f
}

func joinInts(v []int64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatInt(x, 10)
	}
	return joinStrings(s)
}

func joinStrings(v []string, sep ...string) string {
	d := ","
	if len(sep) > 0 {
		d = sep[0]
	}
	out := ""
	for i, s := range v {
		if i > 0 {
			out += d
		}
		out += s
	}
	return out
}

// static reports whether t passes the filters that do not depend on the
// refreshed status.
func (f *taskFilter) static(t *ClusterTask) bool {
	if len(f.uids) > 0 && !slices.Contains(f.uids, t.UID) {
		return false
	}
	if len(f.indexUIDs) > 0 && !slices.Contains(f.indexUIDs, t.IndexUID) {
		return false
	}
	if len(f.types) > 0 && !slices.Contains(f.types, t.Type) {
		return false
	}
	if !f.beforeEnq.IsZero() && !t.EnqueuedAt.Before(f.beforeEnq) {
		return false
	}
	if !f.afterEnq.IsZero() && !t.EnqueuedAt.After(f.afterEnq) {
		return false
	}
	return true
}

// dynamic checks the filters on the refreshed task.
func (f *taskFilter) dynamic(t *ClusterTask) bool {
	if len(f.statuses) > 0 && !slices.Contains(f.statuses, t.Status) {
		return false
	}
	if len(f.canceledBy) > 0 && (t.Status != meilisearch.TaskStatusCanceled || !slices.Contains(f.canceledBy, t.CancelRequestedBy)) {
		return false
	}
	if !f.beforeSt.IsZero() && (t.StartedAt.IsZero() || !t.StartedAt.Before(f.beforeSt)) {
		return false
	}
	if !f.afterSt.IsZero() && (t.StartedAt.IsZero() || !t.StartedAt.After(f.afterSt)) {
		return false
	}
	if !f.beforeFin.IsZero() && (t.FinishedAt.IsZero() || !t.FinishedAt.Before(f.beforeFin)) {
		return false
	}
	if !f.afterFin.IsZero() && (t.FinishedAt.IsZero() || !t.FinishedAt.After(f.afterFin)) {
		return false
	}
	if f.finishedOnly && !isFinal(t.Status) {
		return false
	}
	return true
}

// match returns the tasks passing f, refreshed, newest first.
func (m *taskManager) match(ctx context.Context, f taskFilter) ([]*ClusterTask, error) {
	var cand []*ClusterTask
	if err := m.store.List(ctx, func(t *ClusterTask) bool {
		if f.static(t) {
			cand = append(cand, t)
		}
		return true
	}); err != nil {
		return nil, fmt.Errorf("miroir: listing cluster tasks: %w", err)
	}
	// Refresh unfinished ones in parallel, a few at a time.
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i, t := range cand {
		if isFinal(t.Status) || len(t.Nodes) == 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rt, err := m.refresh(ctx, t)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = cmpErr(firstErr, err)
				return
			}
			cand[i] = rt
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	out := cand[:0]
	for _, t := range cand {
		if f.dynamic(t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// GetTasks lists cluster tasks, newest first, with Meilisearch's filters
// (uids, statuses, types, indexUids, canceledBy, dates), limit (default
// 20), from (a task UID: start there) and reverse.
func (c *Cluster) GetTasks(ctx context.Context, param *meilisearch.TasksQuery) (*meilisearch.TaskResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if param == nil {
		param = &meilisearch.TasksQuery{}
	}
	f := newTaskFilter(param.UIDS, param.IndexUIDS, param.Statuses, param.Types, param.CanceledBy,
		param.BeforeEnqueuedAt, param.AfterEnqueuedAt, param.BeforeStartedAt, param.AfterStartedAt, param.BeforeFinishedAt, param.AfterFinishedAt)
	all, err := c.tasks.match(ctx, f)
	if err != nil {
		return nil, err
	}
	if param.Reverse {
		slices.Reverse(all)
	}
	limit := param.Limit
	if limit <= 0 {
		limit = 20
	}
	res := &meilisearch.TaskResult{Results: []meilisearch.Task{}, Limit: limit, Total: int64(len(all))}
	start := 0
	if param.From != 0 {
		start = len(all)
		for i, t := range all {
			if (!param.Reverse && t.UID <= param.From) || (param.Reverse && t.UID >= param.From) {
				start = i
				break
			}
		}
	}
	end := min(len(all), start+int(limit))
	for _, t := range all[start:end] {
		res.Results = append(res.Results, *t.view())
	}
	if len(res.Results) > 0 {
		res.From = res.Results[0].UID
	}
	if end < len(all) {
		res.Next = all[end].UID
	}
	return res, nil
}

// DefaultPollInterval is WaitForTask's interval when given 0.
const DefaultPollInterval = 50 * time.Millisecond

// WaitForTask polls the cluster task until it is finished (succeeded,
// failed or canceled) or ctx ends. interval 0 means DefaultPollInterval.
func (c *Cluster) WaitForTask(ctx context.Context, taskUID int64, interval time.Duration) (*meilisearch.Task, error) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	var tick *time.Ticker
	for {
		t, err := c.GetTask(ctx, taskUID)
		if err != nil {
			return nil, err
		}
		if isFinal(t.Status) {
			return t, nil
		}
		if tick == nil {
			tick = time.NewTicker(interval)
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.closed:
			return nil, fmt.Errorf("%w", ErrClosed)
		case <-tick.C:
		}
	}
}

func missingTaskFilters(op string) error {
	return newError(http.StatusBadRequest, "missing_task_filters",
		"Query parameters to filter the tasks to %s are missing. Available query parameters are: `uids`, `indexUids`, `statuses`, `types`, `canceledBy`, `beforeEnqueuedAt`, `afterEnqueuedAt`, `beforeStartedAt`, `afterStartedAt`, `beforeFinishedAt`, `afterFinishedAt`.", op)
}

// CancelTasks cancels the unfinished cluster tasks matching param by
// canceling their node tasks on every node. It returns a cluster task of
// type taskCancelation. As in Meilisearch, at least one filter is needed.
func (c *Cluster) CancelTasks(ctx context.Context, param *meilisearch.CancelTasksQuery) (*meilisearch.TaskInfo, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if param == nil {
		param = &meilisearch.CancelTasksQuery{}
	}
	f := newTaskFilter(param.UIDS, param.IndexUIDS, param.Statuses, param.Types, nil,
		param.BeforeEnqueuedAt, param.AfterEnqueuedAt, param.BeforeStartedAt, param.AfterStartedAt, time.Time{}, time.Time{})
	if !f.hasAny {
		return nil, missingTaskFilters("cancel")
	}
	matched, err := c.tasks.match(ctx, f)
	if err != nil {
		return nil, err
	}
	perNode := map[string][]int64{}
	var targets []int64
	for _, t := range matched {
		if isFinal(t.Status) {
			continue
		}
		targets = append(targets, t.UID)
		for _, nt := range t.Nodes {
			if !isFinal(nt.Status) {
				perNode[nt.Node] = append(perNode[nt.Node], nt.TaskUID)
			}
		}
	}
	ct := &ClusterTask{Type: meilisearch.TaskTypeTaskCancelation, Targets: targets,
		Details: meilisearch.Details{MatchedTasks: int64(len(targets)), OriginalFilter: f.original}}
	nts, err := c.nodeTaskCalls(ctx, "cancelTasks", perNode, func(ids []int64) (string, string) {
		return http.MethodPost, "/tasks/cancel"
	})
	ct.Nodes = nts
	if err != nil {
		return nil, err
	}
	if len(ct.Nodes) == 0 {
		ct.Status = meilisearch.TaskStatusSucceeded
		ct.StartedAt, ct.FinishedAt = time.Now().UTC(), time.Now().UTC()
	}
	info, err := c.tasks.register(ctx, ct)
	if err != nil {
		return nil, err
	}
	for _, uid := range targets {
		c.tasks.updateLocal(uid, func(t *ClusterTask) { t.CancelRequestedBy = ct.UID })
	}
	return info, nil
}

// DeleteTasks deletes the finished cluster tasks matching param, and their
// node tasks on every node. It returns a cluster task of type
// taskDeletion. As in Meilisearch, at least one filter is needed.
func (c *Cluster) DeleteTasks(ctx context.Context, param *meilisearch.DeleteTasksQuery) (*meilisearch.TaskInfo, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if param == nil {
		param = &meilisearch.DeleteTasksQuery{}
	}
	f := newTaskFilter(param.UIDS, param.IndexUIDS, param.Statuses, param.Types, param.CanceledBy,
		param.BeforeEnqueuedAt, param.AfterEnqueuedAt, param.BeforeStartedAt, param.AfterStartedAt, param.BeforeFinishedAt, param.AfterFinishedAt)
	if !f.hasAny {
		return nil, missingTaskFilters("delete")
	}
	f.finishedOnly = true
	matched, err := c.tasks.match(ctx, f)
	if err != nil {
		return nil, err
	}
	perNode := map[string][]int64{}
	var targets []int64
	for _, t := range matched {
		targets = append(targets, t.UID)
		for _, nt := range t.Nodes {
			perNode[nt.Node] = append(perNode[nt.Node], nt.TaskUID)
		}
	}
	ct := &ClusterTask{Type: meilisearch.TaskTypeTaskDeletion, Targets: targets,
		Details: meilisearch.Details{MatchedTasks: int64(len(targets)), DeletedTasks: int64(len(targets)), OriginalFilter: f.original}}
	nts, err := c.nodeTaskCalls(ctx, "deleteTasks", perNode, func(ids []int64) (string, string) {
		return http.MethodDelete, "/tasks"
	})
	ct.Nodes = nts
	if err != nil {
		return nil, err
	}
	if len(ct.Nodes) == 0 {
		ct.Status = meilisearch.TaskStatusSucceeded
		ct.StartedAt, ct.FinishedAt = time.Now().UTC(), time.Now().UTC()
	}
	if err := c.tasks.store.Delete(context.WithoutCancel(ctx), targets...); err != nil {
		return nil, fmt.Errorf("miroir: deleting cluster tasks: %w", err)
	}
	return c.tasks.register(ctx, ct)
}

// nodeTaskCalls sends one task-management call per node with its node task
// uids (?uids=...) and returns the node tasks they enqueued (Aux: their
// details are the nodes' own).
func (c *Cluster) nodeTaskCalls(ctx context.Context, op string, perNode map[string][]int64, route func([]int64) (string, string)) ([]NodeTask, error) {
	var targets []*node
	for _, n := range c.nodes {
		if len(perNode[n.ID]) > 0 {
			targets = append(targets, n)
		}
	}
	out := make([]NodeTask, len(targets))
	errs := c.fanout(ctx, targets, func(ctx context.Context, n *node) error {
		ids := perNode[n.ID]
		method, path := route(ids)
		q := map[string][]string{"uids": {joinInts(ids)}}
		var info meilisearch.TaskInfo
		if err := n.doJSON(ctx, op, method, path, q, nil, &info); err != nil {
			return err
		}
		for i, t := range targets {
			if t == n {
				out[i] = NodeTask{Node: n.ID, TaskUID: info.TaskUID, Aux: true, Status: meilisearch.TaskStatusEnqueued}
			}
		}
		return nil
	})
	if err := c.broadcastError(targets, errs); err != nil {
		return nil, err
	}
	return out, nil
}

// Index-level task readers: filtered to the index like meilisearch-go's.

// GetTask returns the cluster task taskUID (any index, as in
// meilisearch-go).
func (i *Index) GetTask(ctx context.Context, taskUID int64) (*meilisearch.Task, error) {
	return i.c.GetTask(ctx, taskUID)
}

// GetTasks lists the cluster tasks of this index (and of param.IndexUIDS).
func (i *Index) GetTasks(ctx context.Context, param *meilisearch.TasksQuery) (*meilisearch.TaskResult, error) {
	q := meilisearch.TasksQuery{}
	if param != nil {
		q = *param
	}
	q.IndexUIDS = append(slices.Clone(q.IndexUIDS), i.uid)
	return i.c.GetTasks(ctx, &q)
}

// WaitForTask waits for the cluster task taskUID to finish.
func (i *Index) WaitForTask(ctx context.Context, taskUID int64, interval time.Duration) (*meilisearch.Task, error) {
	return i.c.WaitForTask(ctx, taskUID, interval)
}
