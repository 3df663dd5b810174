package miroir

import (
	"context"
	"encoding/json"
	"fmt"
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

// taskManager allocates cluster task UIDs and keeps tasks in the store.
type taskManager struct {
	c     *Cluster
	store TaskStore

	// localMu serialises read-modify-write cycles on local tasks, so that
	// Processing, AddNodeTask, Finish and refresh never lose each other's
	// updates.
	localMu sync.Mutex
	// settleMu serialises the running of deletions (settle).
	settleMu sync.Mutex

	// finalMu guards onFinal: what to run when a task is seen finished (a
	// barrier's ticket, sequence.go), so that the next call goes as soon
	// as any reader of the task notices, not at the next poll.
	finalMu sync.Mutex
	onFinal map[int64][]func()
}

// whenFinal runs fn once task uid is seen finished by a refresh.
func (m *taskManager) whenFinal(uid int64, fn func()) {
	m.finalMu.Lock()
	defer m.finalMu.Unlock()
	if m.onFinal == nil {
		m.onFinal = map[int64][]func(){}
	}
	m.onFinal[uid] = append(m.onFinal[uid], fn)
}

// finished runs the hooks of a task seen finished.
func (m *taskManager) finished(uid int64) {
	m.finalMu.Lock()
	fns := m.onFinal[uid]
	delete(m.onFinal, uid)
	m.finalMu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

func newTaskManager(c *Cluster) *taskManager {
	return &taskManager{c: c, store: c.newTaskStore()}
}

// nextUID allocates a cluster task UID in a lane this instance holds on
// the fleet (lanes.go): unique across the instances sharing the fleet,
// strictly increasing within the instance, below 2^53 until the year 2255.
func (m *taskManager) nextUID(ctx context.Context) (int64, error) {
	return m.c.lanes.nextUID(ctx)
}

// nowUTC is the time a task records: UTC, as Meilisearch shows it.
func nowUTC() time.Time { return time.Now().UTC() }

// register stores a new cluster task (UID and enqueue time assigned here)
// and returns the TaskInfo the caller gets.
func (m *taskManager) register(ctx context.Context, t *ClusterTask) (*meilisearch.TaskInfo, error) {
	if uid := takeReservation(ctx); uid != 0 {
		// A deferred call (sequence.go) completes the task it was given
		// when it was made: same UID, same enqueue time.
		t.UID = uid
		if old, err := m.store.Get(ctx, uid); err == nil && old != nil {
			t.EnqueuedAt = old.EnqueuedAt
		}
	} else if t.UID == 0 { // (a write that tagged its node tasks allocated it first)
		uid, err := m.nextUID(ctx)
		if err != nil {
			return nil, err
		}
		t.UID = uid
	}
	if t.EnqueuedAt.IsZero() {
		t.EnqueuedAt = nowUTC()
	}
	if t.Status == "" {
		t.Status = meilisearch.TaskStatusEnqueued
	}
	if t.Owner == "" {
		t.Owner = m.c.lanes.instance
	}
	if t.RawDetails == nil {
		t.RawDetails = enqueueDetails(t)
	}
	if !t.Local && isFinal(t.Status) {
		// decided at once (no node task): the counts are final too
		t.RawDetails = buildRawDetails(t)
	}
	if err := m.store.Put(context.WithoutCancel(ctx), t); err != nil {
		return nil, fmt.Errorf("miroir: storing cluster task: %w", err)
	}
	reportFrom(ctx).task(t.UID)
	return taskInfo(t), nil
}

// registerFailed registers t as a task that failed at once with err: what
// Meilisearch does with a call it accepts but cannot carry out (a document
// without a valid id, a primary key it cannot infer, an index the key may
// not create). No node is touched.
func (m *taskManager) registerFailed(ctx context.Context, t *ClusterTask, err error) (*meilisearch.TaskInfo, error) {
	now := nowUTC()
	t.Status, t.StartedAt, t.FinishedAt = meilisearch.TaskStatusFailed, now, now
	d := apiErrorDetails(err)
	t.Error = &d
	t.Local = false
	return m.register(ctx, t)
}

// taskInfo is the summary a write returns; like Meilisearch's 202 it
// always says enqueued, even for a task miroir already finished.
func taskInfo(t *ClusterTask) *meilisearch.TaskInfo {
	return &meilisearch.TaskInfo{Status: meilisearch.TaskStatusEnqueued, TaskUID: t.UID, IndexUID: t.IndexUID, Type: t.Type, EnqueuedAt: t.EnqueuedAt}
}

func cloneTask(t *ClusterTask) *ClusterTask {
	cp := *t
	cp.Nodes = slices.Clone(t.Nodes)
	cp.Degraded = slices.Clone(t.Degraded)
	cp.Targets = slices.Clone(t.Targets)
	cp.Pending = slices.Clone(t.Pending)
	return &cp
}

// get returns the cluster task uid, refreshed from its node tasks.
func (m *taskManager) get(ctx context.Context, uid int64) (*ClusterTask, error) {
	t, err := m.store.Get(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("miroir: reading cluster task %d: %w", uid, err)
	}
	if t == nil {
		return nil, taskNotFound(uid)
	}
	return m.refresh(ctx, t)
}

// refresh polls the unfinished node tasks of t, re-aggregates and stores
// the result when it changed. Unreachable nodes leave their node tasks as
// they were.
func (m *taskManager) refresh(ctx context.Context, t *ClusterTask) (*ClusterTask, error) {
	ctx = withNodeKeys(ctx)
	if isFinal(t.Status) || (len(t.Nodes) == 0 && len(t.Pending) == 0) {
		return t, nil
	}
	cp := cloneTask(t)
	var pending []int
	for i := range cp.Nodes {
		if !isFinal(cp.Nodes[i].Status) {
			pending = append(pending, i)
		}
	}
	parallel(len(pending), 0, func(k int) error {
		nt := &cp.Nodes[pending[k]]
		if n := m.c.nodeByID(nt.Node); n != nil {
			pollNodeTask(ctx, n, nt)
		}
		return nil
	})
	if cp.Local && cp.Owner != "" && cp.Owner != m.c.lanes.instance {
		return cp, nil // another instance's: it alone writes the record
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
	if len(cp.Nodes) > 0 {
		aggregate(cp)
	} else {
		cp.Status = meilisearch.TaskStatusSucceeded // only pending tasks to wait for
	}
	if cp.Status == meilisearch.TaskStatusSucceeded && (cp.Type == meilisearch.TaskTypeTaskCancelation) {
		m.countCanceled(ctx, cp)
		cp.RawDetails = buildRawDetails(cp)
	}
	if cp.Status == meilisearch.TaskStatusSucceeded && cp.Type == meilisearch.TaskTypeTaskDeletion {
		return m.settle(ctx, cp)
	}
	if cp.Status == meilisearch.TaskStatusSucceeded && !cp.HistoryRewritten {
		m.rewriteHistory(ctx, cp)
	}
	if !slices.EqualFunc(cp.Nodes, t.Nodes, func(a, b NodeTask) bool { return a.Status == b.Status }) || cp.Status != t.Status {
		if err := m.store.Put(context.WithoutCancel(ctx), cp); err != nil {
			return nil, fmt.Errorf("miroir: storing cluster task %d: %w", cp.UID, err)
		}
	}
	if isFinal(cp.Status) {
		m.finished(cp.UID)
	}
	return cp, nil
}

// pollNodeTask reads node task nt from node n and records its state in
// nt. An unreachable node leaves nt as it was; a node that no longer has
// the task fails it (task_not_found).
func pollNodeTask(ctx context.Context, n *node, nt *NodeTask) {
	var body json.RawMessage
	err := n.doJSON(ctx, "getTask", http.MethodGet, "/tasks/"+strconv.FormatInt(nt.TaskUID, 10), nil, nil, &body)
	var got meilisearch.Task
	var rawGot struct {
		Details json.RawMessage `json:"details"`
	}
	if err == nil {
		// The typed Details drops what it lacks; the raw
		// object keeps the node's details as it shows them.
		if err = json.Unmarshal(body, &rawGot); err == nil {
			if uerr := json.Unmarshal(body, &got); uerr != nil && !isTypeError(uerr) {
				err = uerr
			}
		}
	}
	if err != nil {
		if apiCode(err) == "task_not_found" {
			nt.Status = meilisearch.TaskStatusFailed
			nt.Error = &meilisearch.APIErrorDetails{
				Message: fmt.Sprintf("task %d is gone from node %s (deleted, or the node lost its data)", nt.TaskUID, nt.Node),
				Code:    "task_not_found", Type: "invalid_request", Link: "https://docs.meilisearch.com/errors#task_not_found",
			}
			nt.FinishedAt = nowUTC()
		}
		return
	}
	nt.Status = got.Status
	if got.Error.Code != "" {
		e := got.Error
		e.Message = hideShardField(e.Message)
		nt.Error = &e
	}
	nt.EnqueuedAt, nt.StartedAt, nt.FinishedAt = got.EnqueuedAt, got.StartedAt, got.FinishedAt
	nt.Details = got.Details
	nt.RawDetails = rawGot.Details
	if nt.RawDetails == nil {
		nt.RawDetails = json.RawMessage("null") // the node shows no details
	}
}

// view turns a cluster task into what GetTask returns.
func (t *ClusterTask) view() *meilisearch.Task {
	out := t.viewBase()
	out.Details = t.typedDetails()
	return out
}

// viewBase is view without the details (the proxy renders the raw ones).
func (t *ClusterTask) viewBase() *meilisearch.Task {
	out := &meilisearch.Task{
		Status: t.Status, UID: t.UID, IndexUID: t.IndexUID, Type: t.Type,
		EnqueuedAt: t.EnqueuedAt, StartedAt: t.StartedAt, FinishedAt: t.FinishedAt,
		CustomMetadata: t.CustomMetadata,
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
