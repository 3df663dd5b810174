package miroir

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// The task API of Cluster and Index (meilisearch.TaskManager), over
// cluster tasks.

// GetTask returns the cluster task taskUID with its status aggregated from
// its node tasks (DESIGN §6).
func (c *Cluster) GetTask(ctx context.Context, taskUID int64) (*meilisearch.Task, error) {
	t, err := c.getClusterTask(ctx, taskUID)
	if err != nil {
		return nil, err
	}
	return t.view(), nil
}

// getClusterTask returns the cluster task taskUID, refreshed (the proxy
// renders its raw details).
func (c *Cluster) getClusterTask(ctx context.Context, taskUID int64) (*ClusterTask, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	t, err := c.tasks.get(ctx, taskUID)
	if err == nil && !grantFrom(ctx).TaskVisible(string(t.Type), t.IndexUID) {
		// A key limited to some indexes does not see other tasks.
		return nil, taskNotFound(taskUID)
	}
	return t, err
}

// taskFilter is the common part of the tasks queries.
type taskFilter struct {
	uids, canceledBy                       []int64
	indexUIDs                              []string
	statuses                               []meilisearch.TaskStatus
	types                                  []meilisearch.TaskType
	beforeEnq, afterEnq, beforeSt, afterSt time.Time
	beforeFin, afterFin                    time.Time
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
	// meilisearch-go omits a zero Limit, so 0 here means "not given".
	page, err := c.listClusterTasks(ctx, param, false)
	if err != nil {
		return nil, err
	}
	res := &meilisearch.TaskResult{Results: make([]meilisearch.Task, 0, len(page.tasks)), Limit: page.limit, Total: page.total, From: page.from, Next: page.next}
	for _, t := range page.tasks {
		res.Results = append(res.Results, *t.view())
	}
	return res, nil
}

// taskPage is one page of a tasks listing.
type taskPage struct {
	tasks        []*ClusterTask
	limit, total int64
	from, next   int64
}

// listClusterTasks selects one page of cluster tasks (refreshed). With
// zeroLimit, a Limit of 0 is an explicit limit=0 (the proxy's query
// string), which lists nothing but the total and next, as Meilisearch
// does.
func (c *Cluster) listClusterTasks(ctx context.Context, param *meilisearch.TasksQuery, zeroLimit bool) (*taskPage, error) {
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
	if limit < 0 || limit == 0 && !zeroLimit {
		limit = 20
	}
	page := &taskPage{limit: limit, total: int64(len(all))}
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
	page.tasks = all[start:end]
	if len(page.tasks) > 0 {
		page.from = page.tasks[0].UID
	}
	if end < len(all) {
		page.next = all[end].UID
	}
	return page, nil
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
	matched, err := c.tasks.match(ctx, f)
	if err != nil {
		return nil, err
	}
	perNode := map[string][]int64{}
	var targets []int64
	for _, t := range matched {
		if !isFinal(t.Status) {
			continue // matched (as Meilisearch counts it), not deletable yet
		}
		targets = append(targets, t.UID)
		for _, nt := range t.Nodes {
			perNode[nt.Node] = append(perNode[nt.Node], nt.TaskUID)
		}
	}
	ct := &ClusterTask{Type: meilisearch.TaskTypeTaskDeletion, Targets: targets,
		Details: meilisearch.Details{MatchedTasks: int64(len(matched)), DeletedTasks: int64(len(targets)), OriginalFilter: f.original}}
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
	ctx = withNodeKeys(ctx) // the proxy judged tasks.cancel / tasks.delete itself
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
