package miroir

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/keyauth"
)

// Which cluster tasks a task query designates: GET /tasks, POST
// /tasks/cancel and DELETE /tasks, and the library's GetTasks,
// CancelTasks and DeleteTasks, select tasks as Meilisearch's index
// scheduler does (get_task_ids, get_task_ids_from_authorized_indexes):
// every filter given narrows the set, date bounds are exclusive, `*`
// filters nothing, and a query naming indexes drops the tasks of no single
// index (swaps, cancelations, dumps...) from what it returns though they
// count in its total. taskFilter is that selection, decided here only.

// taskFilter is a parsed task query. A nil list filters nothing; an empty
// one (`uids=`) lets nothing through, as in Meilisearch.
type taskFilter struct {
	uids, canceledBy []int64
	indexUIDs        []string
	statuses         []meilisearch.TaskStatus
	types            []meilisearch.TaskType
	// Exclusive date bounds; zero: none (absent, or `*`).
	beforeEnq, afterEnq, beforeSt, afterSt, beforeFin, afterFin time.Time
	// given: some filter was given, `*` included (a cancelation or a
	// deletion needs one).
	given bool
	// original is the query string as Meilisearch records it in a
	// cancelation's or deletion's originalFilter ("?..."; "" for none).
	original string
	// grant is the caller's (proxy pass-through; nil: sees everything),
	// set from the call's context where the filter is used.
	grant *keyauth.Grant
}

// libraryTaskFilter is the filter a node would apply to what
// meilisearch-go sends for q: its query string is the originalFilter,
// and its dates are what meilisearch-go writes, whole seconds of the
// value's own clock followed by Z.
func libraryTaskFilter(q *meilisearch.TasksQuery) taskFilter {
	v := url.Values{}
	list := func(name string, n int, item func(int) string) {
		if n == 0 {
			return
		}
		parts := make([]string, n)
		for i := range parts {
			parts[i] = item(i)
		}
		v.Set(name, strings.Join(parts, ","))
	}
	if len(q.UIDS) > 0 {
		v.Set("uids", joinUIDs(q.UIDS))
	}
	if len(q.CanceledBy) > 0 {
		v.Set("canceledBy", joinUIDs(q.CanceledBy))
	}
	list("indexUids", len(q.IndexUIDS), func(i int) string { return q.IndexUIDS[i] })
	list("statuses", len(q.Statuses), func(i int) string { return string(q.Statuses[i]) })
	list("types", len(q.Types), func(i int) string { return string(q.Types[i]) })
	// meilisearch-go sends no empty list: nil is "not given".
	f := taskFilter{uids: nonEmpty(q.UIDS), canceledBy: nonEmpty(q.CanceledBy), indexUIDs: nonEmpty(q.IndexUIDS),
		statuses: nonEmpty(q.Statuses), types: nonEmpty(q.Types)}
	for _, d := range []struct {
		name string
		in   time.Time
		out  *time.Time
	}{
		{"beforeEnqueuedAt", q.BeforeEnqueuedAt, &f.beforeEnq}, {"afterEnqueuedAt", q.AfterEnqueuedAt, &f.afterEnq},
		{"beforeStartedAt", q.BeforeStartedAt, &f.beforeSt}, {"afterStartedAt", q.AfterStartedAt, &f.afterSt},
		{"beforeFinishedAt", q.BeforeFinishedAt, &f.beforeFin}, {"afterFinishedAt", q.AfterFinishedAt, &f.afterFin},
	} {
		if d.in.IsZero() {
			continue
		}
		s := d.in.Format("2006-01-02T15:04:05Z")
		*d.out, _ = time.Parse(time.RFC3339, s)
		v.Set(d.name, s)
	}
	if len(v) > 0 {
		f.given = true
		f.original = "?" + v.Encode()
	}
	return f
}

func nonEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// joinUIDs writes uids as a query parameter value ("1,2,3").
func joinUIDs(uids []int64) string {
	parts := make([]string, len(uids))
	for i, u := range uids {
		parts[i] = strconv.FormatInt(u, 10)
	}
	return strings.Join(parts, ",")
}

// taskIndexes are the indexes a task is filed under: its index, and every
// index a swap names.
func taskIndexes(t *ClusterTask) []string {
	out := []string{t.IndexUID}
	for _, s := range t.Details.Swaps {
		out = append(out, s.Indexes...)
	}
	return out
}

// static reports whether t passes the filters that do not depend on the
// refreshed status.
func (f *taskFilter) static(t *ClusterTask) bool {
	if f.uids != nil && !slices.Contains(f.uids, t.UID) {
		return false
	}
	if f.indexUIDs != nil && !slices.ContainsFunc(taskIndexes(t), func(u string) bool { return u != "" && slices.Contains(f.indexUIDs, u) }) {
		return false
	}
	if f.types != nil && !slices.Contains(f.types, t.Type) {
		return false
	}
	return within(t.EnqueuedAt, f.afterEnq, f.beforeEnq)
}

// dynamic checks the filters on the refreshed task.
func (f *taskFilter) dynamic(t *ClusterTask) bool {
	if f.statuses != nil && !slices.Contains(f.statuses, t.Status) {
		return false
	}
	if f.canceledBy != nil && (t.Status != meilisearch.TaskStatusCanceled || !slices.Contains(f.canceledBy, t.CancelRequestedBy)) {
		return false
	}
	return within(t.StartedAt, f.afterSt, f.beforeSt) && within(t.FinishedAt, f.afterFin, f.beforeFin)
}

// within reports whether v lies strictly between the bounds that are set;
// a task without the date (not started, not finished) is outside any
// bound.
func within(v, after, before time.Time) bool {
	if after.IsZero() && before.IsZero() {
		return true
	}
	return !v.IsZero() && (after.IsZero() || v.After(after)) && (before.IsZero() || v.Before(before))
}

// visible reports whether a selected task is returned: a query naming
// indexes returns only the tasks of one index, and a caller whose API key
// is limited to some indexes sees only the tasks of one of them.
// Meilisearch applies both after the limit and leaves the total alone
// (page does the same).
func (f *taskFilter) visible(t *ClusterTask) bool {
	if f.indexUIDs != nil && !keyauth.RelatedToOneIndex(string(t.Type)) {
		return false
	}
	return f.grant.TaskVisible(string(t.Type), t.IndexUID)
}

// refreshConcurrency bounds the tasks a listing refreshes at once (each
// refresh polls its node tasks).
const refreshConcurrency = 16

// match returns the tasks passing f, refreshed, newest first, the ones
// visible() drops included. Unfinished deletions are refreshed first (a
// deletion whose node tasks are done deletes then), so that a task they
// deleted is not listed.
func (m *taskManager) match(ctx context.Context, f taskFilter) ([]*ClusterTask, error) {
	var cand, deletions []*ClusterTask
	if err := m.store.List(ctx, func(t *ClusterTask) bool {
		if t.Type == meilisearch.TaskTypeTaskDeletion && !isFinal(t.Status) {
			deletions = append(deletions, t)
		}
		if f.static(t) {
			cand = append(cand, t)
		}
		return true
	}); err != nil {
		return nil, fmt.Errorf("miroir: listing cluster tasks: %w", err)
	}
	// A task named by uid that the listing lacks may be one a shared store
	// does not show yet (the fleet store's Get looks further).
	for _, uid := range f.uids {
		if !slices.ContainsFunc(cand, func(t *ClusterTask) bool { return t.UID == uid }) {
			if t, err := m.store.Get(ctx, uid); err == nil && t != nil && f.static(t) {
				cand = append(cand, t)
			}
		}
	}
	slices.SortFunc(cand, func(a, b *ClusterTask) int { return cmpInt64(b.UID, a.UID) })
	gone := map[int64]bool{}
	for _, d := range deletions {
		nd, err := m.refresh(ctx, d)
		if err != nil {
			return nil, err
		}
		for _, uid := range append(slices.Clone(d.Targets), d.Pending...) {
			if !slices.Contains(nd.Targets, uid) && !slices.Contains(nd.Pending, uid) {
				gone[uid] = true
			}
		}
	}
	if len(gone) > 0 {
		cand = slices.DeleteFunc(cand, func(t *ClusterTask) bool { return gone[t.UID] })
	}
	// Refresh unfinished ones in parallel, a few at a time.
	var todo []int
	for i, t := range cand {
		if !isFinal(t.Status) && (len(t.Nodes) > 0 || len(t.Pending) > 0) {
			todo = append(todo, i)
		}
	}
	errs := parallel(len(todo), refreshConcurrency, func(k int) error {
		rt, err := m.refresh(ctx, cand[todo[k]])
		if err == nil {
			cand[todo[k]] = rt
		}
		return err
	})
	if err := firstError(errs); err != nil {
		return nil, err
	}
	out := cand[:0]
	for _, t := range cand {
		if f.dynamic(t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// taskPaging is the paging of GET /tasks.
type taskPaging struct {
	limit     int64 // as given, or 20
	from      int64
	fromGiven bool
	reverse   bool
}

// taskPage is one page of a tasks listing.
type taskPage struct {
	tasks        []*ClusterTask
	limit, total int64
	from, next   int64 // 0: none (no cluster task has uid 0)
}

// page selects one page of the tasks f designates, as Meilisearch's
// get_tasks does: the total counts every match regardless of from and of
// visibility; from starts at that uid (inclusive) in the listing order;
// limit+1 tasks are taken, the invisible ones dropped, and only when
// limit+1 remain does the last one become next.
func (m *taskManager) page(ctx context.Context, f taskFilter, p taskPaging) (*taskPage, error) {
	f.grant = grantFrom(ctx)
	all, err := m.match(ctx, f)
	if err != nil {
		return nil, err
	}
	if p.reverse {
		slices.Reverse(all)
	}
	start := 0
	if p.fromGiven {
		start = len(all)
		for i, t := range all {
			if (!p.reverse && t.UID <= p.from) || (p.reverse && t.UID >= p.from) {
				start = i
				break
			}
		}
	}
	window := all[start:]
	window = window[:min(int64(len(window)), p.limit+1)]
	shown := make([]*ClusterTask, 0, len(window))
	for _, t := range window {
		if f.visible(t) {
			shown = append(shown, t)
		}
	}
	pg := &taskPage{limit: p.limit, total: int64(len(all))}
	if int64(len(shown)) == p.limit+1 {
		pg.next = shown[p.limit].UID
		shown = shown[:p.limit]
	}
	pg.tasks = shown
	if len(shown) > 0 {
		pg.from = shown[0].UID
	}
	return pg, nil
}
