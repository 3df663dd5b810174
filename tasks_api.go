package miroir

import (
	"context"
	"fmt"
	"net/http"
	"slices"
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

// GetTasks lists cluster tasks, newest first, with Meilisearch's filters
// (uids, statuses, types, indexUids, canceledBy, dates), limit (default
// 20), from (a task UID: start there) and reverse, selected and paged as a
// node selects and pages its tasks (see taskFilter).
func (c *Cluster) GetTasks(ctx context.Context, param *meilisearch.TasksQuery) (*meilisearch.TaskResult, error) {
	if param == nil {
		param = &meilisearch.TasksQuery{}
	}
	// meilisearch-go omits a zero Limit and a zero From: 0 is "not given";
	// a negative one reaches the node, which refuses it.
	if param.Limit < 0 {
		return nil, newError(http.StatusBadRequest, "invalid_task_limit", "Invalid value in parameter `limit`: could not parse `%d` as a positive integer", param.Limit)
	}
	if param.From < 0 {
		return nil, newError(http.StatusBadRequest, "invalid_task_from", "Invalid value in parameter `from`: could not parse `%d` as a positive integer", param.From)
	}
	p := taskPaging{limit: param.Limit, from: param.From, fromGiven: param.From != 0, reverse: param.Reverse}
	if p.limit == 0 {
		p.limit = 20
	}
	page, err := c.listClusterTasks(ctx, libraryTaskFilter(param), p)
	if err != nil {
		return nil, err
	}
	res := &meilisearch.TaskResult{Results: make([]meilisearch.Task, 0, len(page.tasks)), Limit: page.limit, Total: page.total, From: page.from, Next: page.next}
	for _, t := range page.tasks {
		res.Results = append(res.Results, *t.view())
	}
	return res, nil
}

// listClusterTasks selects one page of cluster tasks (refreshed).
func (c *Cluster) listClusterTasks(ctx context.Context, f taskFilter, p taskPaging) (*taskPage, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	return c.tasks.page(ctx, f, p)
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
