package miroir

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Task cancelations and deletions (POST /tasks/cancel, DELETE /tasks):
// cluster tasks over the nodes' own cancelations and deletions of the
// node tasks concerned.

// missingTaskFilters is Meilisearch's refusal of a cancelation or deletion
// without any filter (op: "cancel" or "delete").
func missingTaskFilters(op string) error {
	return newError(http.StatusBadRequest, "missing_task_filters",
		"Query parameters to filter the tasks to %s are missing. Available query parameters are: `uids`, `indexUids`, `statuses`, `types`, `canceledBy`, `beforeEnqueuedAt`, `afterEnqueuedAt`, `beforeStartedAt`, `afterStartedAt`, `beforeFinishedAt`, `afterFinishedAt`.", op)
}

// CancelTasks cancels the unfinished cluster tasks matching param by
// canceling their node tasks on every node. It returns a cluster task of
// type taskCancelation. As in Meilisearch, at least one filter is needed.
func (c *Cluster) CancelTasks(ctx context.Context, param *meilisearch.CancelTasksQuery) (_ *meilisearch.TaskInfo, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "taskCancelation", "")
		defer func() { cs.end(err) }()
	}
	if param == nil {
		param = &meilisearch.CancelTasksQuery{}
	}
	return c.cancelTasks(ctx, libraryTaskFilter(&meilisearch.TasksQuery{UIDS: param.UIDS, IndexUIDS: param.IndexUIDS,
		Statuses: param.Statuses, Types: param.Types, BeforeEnqueuedAt: param.BeforeEnqueuedAt, AfterEnqueuedAt: param.AfterEnqueuedAt,
		BeforeStartedAt: param.BeforeStartedAt, AfterStartedAt: param.AfterStartedAt}))
}

// selectTasks returns the tasks a cancelation or a deletion matches: the
// ones f designates and returns (Meilisearch's matchedTasks).
func (c *Cluster) selectTasks(ctx context.Context, f taskFilter, op string) ([]*ClusterTask, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if !f.given {
		return nil, missingTaskFilters(op)
	}
	f.grant = grantFrom(ctx) // a key limited to some indexes acts on their tasks only
	matched, err := c.tasks.match(ctx, f)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(matched, func(t *ClusterTask) bool { return !f.visible(t) }), nil
}

// cancelTasks is CancelTasks for a parsed filter (the proxy's, with any
// filter Meilisearch accepts on POST /tasks/cancel: a filter on finish
// dates or canceledBy matches finished tasks only, which are counted and
// left alone).
func (c *Cluster) cancelTasks(ctx context.Context, f taskFilter) (*meilisearch.TaskInfo, error) {
	matched, err := c.selectTasks(ctx, f, "cancel")
	if err != nil {
		return nil, err
	}
	perNode := map[string][]int64{}
	var targets []int64
	for _, t := range matched {
		if isFinal(t.Status) {
			continue // matched (as Meilisearch counts it), nothing to cancel
		}
		targets = append(targets, t.UID)
		for _, nt := range t.Nodes {
			if !isFinal(nt.Status) {
				perNode[nt.Node] = append(perNode[nt.Node], nt.TaskUID)
			}
		}
	}
	ct := &ClusterTask{Type: meilisearch.TaskTypeTaskCancelation, Targets: targets,
		Details: meilisearch.Details{MatchedTasks: int64(len(matched)), OriginalFilter: f.original}}
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

// DeleteTasks deletes the cluster tasks matching param that are finished
// when the deletion runs, and their node tasks on every node (see
// deleteTasks). It returns a cluster task of type taskDeletion. As in
// Meilisearch, at least one filter is needed.
func (c *Cluster) DeleteTasks(ctx context.Context, param *meilisearch.DeleteTasksQuery) (_ *meilisearch.TaskInfo, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "taskDeletion", "")
		defer func() { cs.end(err) }()
	}
	if param == nil {
		param = &meilisearch.DeleteTasksQuery{}
	}
	return c.deleteTasks(ctx, libraryTaskFilter(&meilisearch.TasksQuery{UIDS: param.UIDS, IndexUIDS: param.IndexUIDS,
		Statuses: param.Statuses, Types: param.Types, CanceledBy: param.CanceledBy,
		BeforeEnqueuedAt: param.BeforeEnqueuedAt, AfterEnqueuedAt: param.AfterEnqueuedAt, BeforeStartedAt: param.BeforeStartedAt,
		AfterStartedAt: param.AfterStartedAt, BeforeFinishedAt: param.BeforeFinishedAt, AfterFinishedAt: param.AfterFinishedAt}))
}

// deleteTasks is DeleteTasks for a parsed filter. Like Meilisearch's, the
// deletion matches tasks when it is called and deletes them when it runs:
// the ones finished by then. On one node it runs after the batch in
// progress and before any enqueued task, so the matched tasks that are
// finished go, with their node tasks, once the nodes' deletions are done;
// the ones in progress once they finish (ClusterTask.Pending: the
// deletion is processing until then); the enqueued ones stay.
func (c *Cluster) deleteTasks(ctx context.Context, f taskFilter) (*meilisearch.TaskInfo, error) {
	matched, err := c.selectTasks(ctx, f, "delete")
	if err != nil {
		return nil, err
	}
	perNode := map[string][]int64{}
	var targets, pending []int64
	for _, t := range matched {
		switch {
		case isFinal(t.Status):
			targets = append(targets, t.UID)
			for _, nt := range t.Nodes {
				perNode[nt.Node] = append(perNode[nt.Node], nt.TaskUID)
			}
		case t.Status == meilisearch.TaskStatusProcessing && t.Type != meilisearch.TaskTypeTaskDeletion:
			// (a deletion in progress is left alone: deletions settle
			// one at a time)
			pending = append(pending, t.UID)
		}
	}
	ct := &ClusterTask{Type: meilisearch.TaskTypeTaskDeletion, Targets: targets, Pending: pending,
		Details: meilisearch.Details{MatchedTasks: int64(len(matched)), OriginalFilter: f.original}}
	nts, err := c.nodeTaskCalls(ctx, "deleteTasks", perNode, func(ids []int64) (string, string) {
		return http.MethodDelete, "/tasks"
	})
	ct.Nodes = nts
	if err != nil {
		return nil, err
	}
	if len(ct.Nodes) == 0 {
		// Nothing for the nodes to do: the deletion runs now.
		ct.Status, ct.StartedAt = meilisearch.TaskStatusSucceeded, time.Now().UTC()
		c.tasks.settleDeletion(ctx, ct)
	}
	return c.tasks.register(ctx, ct)
}

// nodeTaskCalls sends one task-management call per node with its node task
// uids (?uids=...) and returns the node tasks they enqueued (Aux: their
// details are the nodes' own).
func (c *Cluster) nodeTaskCalls(ctx context.Context, op string, perNode map[string][]int64, route func([]int64) (string, string)) ([]NodeTask, error) {
	ctx = withNodeKeys(ctx) // the proxy judged tasks.cancel / tasks.delete itself
	var targets []*node
	for _, n := range c.members() {
		if len(perNode[n.ID]) > 0 {
			targets = append(targets, n)
		}
	}
	out := make([]NodeTask, len(targets))
	errs := c.fanout(ctx, targets, func(ctx context.Context, n *node) error {
		ids := perNode[n.ID]
		method, path := route(ids)
		q := map[string][]string{"uids": {joinUIDs(ids)}}
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

// settle runs deletion cp, refreshed and found done on the nodes, and
// stores it. Readers refresh concurrently: one at a time settles, from the
// stored state, so that a task is deleted and counted once.
func (m *taskManager) settle(ctx context.Context, cp *ClusterTask) (*ClusterTask, error) {
	m.settleMu.Lock()
	defer m.settleMu.Unlock()
	cur, err := m.store.Get(ctx, cp.UID)
	if err != nil {
		return nil, fmt.Errorf("miroir: reading cluster task %d: %w", cp.UID, err)
	}
	if cur == nil {
		return cp, nil // itself deleted meanwhile
	}
	if isFinal(cur.Status) {
		return cur, nil // settled by another reader
	}
	cp.Targets, cp.Pending, cp.Details.DeletedTasks = slices.Clone(cur.Targets), slices.Clone(cur.Pending), cur.Details.DeletedTasks
	m.settleDeletion(ctx, cp)
	if err := m.store.Put(context.WithoutCancel(ctx), cp); err != nil {
		return nil, fmt.Errorf("miroir: storing cluster task %d: %w", cp.UID, err)
	}
	return cp, nil
}

// settleDeletion runs a deletion whose node tasks are done: it deletes the
// matched tasks (Targets, and the Pending ones that have finished since)
// and counts them; while some pending ones are still in progress the
// deletion stays processing, and runs again on a later read.
func (m *taskManager) settleDeletion(ctx context.Context, t *ClusterTask) {
	ctx = context.WithoutCancel(ctx)
	for _, uid := range t.Targets {
		if old, err := m.store.Get(ctx, uid); err == nil && old != nil {
			if m.store.Delete(ctx, uid) == nil {
				t.Details.DeletedTasks++
			}
		}
	}
	t.Targets = nil
	var left []int64
	for _, uid := range t.Pending {
		pt, err := m.store.Get(ctx, uid)
		if err == nil && pt != nil {
			pt, err = m.refresh(ctx, pt)
		}
		switch {
		case err != nil:
			left = append(left, uid) // try again on the next read
		case pt == nil:
			// gone already (another deletion, or evicted)
		case !isFinal(pt.Status):
			left = append(left, uid)
		default:
			if err := m.store.Delete(ctx, uid); err != nil {
				left = append(left, uid)
				continue
			}
			t.Details.DeletedTasks++
		}
	}
	t.Pending = left
	if len(left) > 0 {
		t.Status, t.FinishedAt = meilisearch.TaskStatusProcessing, time.Time{}
	} else if t.FinishedAt.IsZero() {
		t.FinishedAt = time.Now().UTC()
	}
	t.RawDetails = buildRawDetails(t)
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
