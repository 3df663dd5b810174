package miroir

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Proxy routes: cluster tasks. The handler parses Meilisearch's task
// filters and renders cluster tasks in Meilisearch's task shape; the tasks
// themselves are the Cluster's (DESIGN §6).

// taskView is a task in Meilisearch's shape.
type taskView struct {
	UID            int64                        `json:"uid"`
	BatchUID       *int64                       `json:"batchUid"`
	IndexUID       *string                      `json:"indexUid"`
	Status         meilisearch.TaskStatus       `json:"status"`
	Type           meilisearch.TaskType         `json:"type"`
	CanceledBy     *int64                       `json:"canceledBy"`
	Details        json.RawMessage              `json:"details,omitempty"`
	Error          *meilisearch.APIErrorDetails `json:"error"`
	Duration       *string                      `json:"duration"`
	EnqueuedAt     time.Time                    `json:"enqueuedAt"`
	StartedAt      *time.Time                   `json:"startedAt"`
	FinishedAt     *time.Time                   `json:"finishedAt"`
	CustomMetadata string                       `json:"customMetadata,omitempty"`
}

// viewTask renders a task's fields as Meilisearch does, details aside.
func viewTask(t *meilisearch.Task) taskView {
	v := taskView{UID: t.UID, IndexUID: nullString(t.IndexUID), Status: t.Status, Type: t.Type,
		EnqueuedAt: t.EnqueuedAt, CustomMetadata: t.CustomMetadata}
	if t.UID == 0 {
		v.UID = t.TaskUID
	}
	if t.CanceledBy != 0 {
		cb := t.CanceledBy
		v.CanceledBy = &cb
	}
	if t.Error.Code != "" {
		e := meilisearch.APIErrorDetails(t.Error)
		v.Error = &e
	}
	if t.Duration != "" {
		s := t.Duration
		v.Duration = &s
	}
	if !t.StartedAt.IsZero() {
		s := t.StartedAt
		v.StartedAt = &s
	}
	if !t.FinishedAt.IsZero() {
		f := t.FinishedAt
		v.FinishedAt = &f
	}
	return v
}

// viewClusterTask renders a cluster task with its details exactly as one
// Meilisearch node shows them (the raw details; a task without details,
// such as a snapshot, has no details field).
func viewClusterTask(t *ClusterTask) taskView {
	v := viewTask(t.viewBase())
	switch {
	case string(t.RawDetails) == "null":
	case len(t.RawDetails) > 0:
		v.Details = t.RawDetails
	default: // a record stored before raw details existed
		v.Details, _ = json.Marshal(t.Details)
	}
	return v
}

var taskStatuses = []string{"enqueued", "processing", "succeeded", "failed", "canceled"}

var taskTypes = []string{"documentAdditionOrUpdate", "documentEdition", "documentDeletion", "settingsUpdate",
	"indexCreation", "indexDeletion", "indexUpdate", "indexSwap", "taskCancelation", "taskDeletion",
	"dumpCreation", "snapshotCreation", "export", "upgradeDatabase", "indexCompaction", "networkTopologyChange"}

// taskQuery is the parsed filter of GET /tasks, POST /tasks/cancel and
// DELETE /tasks.
type taskQuery struct {
	uids, canceledBy  []int64
	indexUIDs         []string
	statuses          []meilisearch.TaskStatus
	types             []meilisearch.TaskType
	dates             [6]time.Time // beforeEnqueuedAt, afterEnqueuedAt, beforeStartedAt, afterStartedAt, beforeFinishedAt, afterFinishedAt
	limit, from       int64
	limitGiven        bool
	reverse, anyGiven bool
}

var taskDateParams = [6]string{"beforeEnqueuedAt", "afterEnqueuedAt", "beforeStartedAt", "afterStartedAt", "beforeFinishedAt", "afterFinishedAt"}

func parseTaskQuery(q url.Values, allowed map[string]bool) (*taskQuery, error) {
	tq := &taskQuery{}
	for name := range q {
		if !allowed[name] {
			keys := make([]string, 0, len(allowed))
			for k := range allowed {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			return nil, newError(http.StatusBadRequest, "bad_request", "Unknown parameter `%s`: expected one of `%s`", name, strings.Join(keys, "`, `"))
		}
	}
	ints := func(name, code string, dst *[]int64) error {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		tq.anyGiven = true
		if v == "*" {
			return nil
		}
		for _, p := range splitList(v) {
			n, err := strconv.ParseInt(p, 10, 64)
			if err != nil || n < 0 {
				return newError(http.StatusBadRequest, code, "Invalid value in parameter `%s`: could not parse `%s` as a positive integer", name, p)
			}
			*dst = append(*dst, n)
		}
		return nil
	}
	if err := ints("uids", "invalid_task_uids", &tq.uids); err != nil {
		return nil, err
	}
	if err := ints("canceledBy", "invalid_task_canceled_by", &tq.canceledBy); err != nil {
		return nil, err
	}
	enum := func(name, code, what string, allowed []string, add func(string)) error {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		tq.anyGiven = true
		if v == "*" {
			return nil
		}
		for _, p := range splitList(v) {
			if allowed != nil && !slices.Contains(allowed, p) {
				return newError(http.StatusBadRequest, code, "Invalid value in parameter `%s`: `%s` is not a valid task %s. Available %ss are %s.",
					name, p, what, what, "`"+strings.Join(allowed, "`, `")+"`")
			}
			add(p)
		}
		return nil
	}
	if err := enum("statuses", "invalid_task_statuses", "status", taskStatuses, func(s string) { tq.statuses = append(tq.statuses, meilisearch.TaskStatus(s)) }); err != nil {
		return nil, err
	}
	if err := enum("types", "invalid_task_types", "type", taskTypes, func(s string) { tq.types = append(tq.types, meilisearch.TaskType(s)) }); err != nil {
		return nil, err
	}
	if err := enum("indexUids", "invalid_task_index_uids", "index uid", nil, func(s string) { tq.indexUIDs = append(tq.indexUIDs, s) }); err != nil {
		return nil, err
	}
	for i, name := range taskDateParams {
		v := q.Get(name)
		if v == "" {
			continue
		}
		tq.anyGiven = true
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			if t2, err2 := time.Parse("2006-01-02", v); err2 == nil {
				t, err = t2, nil
				if strings.HasPrefix(name, "after") {
					t = t.Add(24*time.Hour - time.Nanosecond) // after a day: from the next one
				}
			}
		}
		if err != nil {
			return nil, newError(http.StatusBadRequest, "invalid_task_"+snake(name),
				"`%s` is an invalid date-time. It should follow the YYYY-MM-DD or RFC 3339 date-time format.", v)
		}
		tq.dates[i] = t
	}
	if q.Get("batchUids") != "" {
		return nil, unsupported("the batchUids task filter", "batches are per node")
	}
	if tq.anyGiven && len(tq.uids) == 0 && len(tq.canceledBy) == 0 && len(tq.statuses) == 0 && len(tq.types) == 0 &&
		len(tq.indexUIDs) == 0 && tq.dates == [6]time.Time{} {
		// Only wildcards: every task, which every status covers.
		for _, s := range taskStatuses {
			tq.statuses = append(tq.statuses, meilisearch.TaskStatus(s))
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, newError(http.StatusBadRequest, "invalid_task_limit", "Invalid value in parameter `limit`: could not parse `%s` as a positive integer", v)
		}
		tq.limit, tq.limitGiven = n, true
	}
	if v := q.Get("from"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, newError(http.StatusBadRequest, "invalid_task_from", "Invalid value in parameter `from`: could not parse `%s` as a positive integer", v)
		}
		tq.from = n
	}
	if v := q.Get("reverse"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, newError(http.StatusBadRequest, "invalid_task_reverse", "Invalid value in parameter `reverse`: could not parse `%s` as a boolean", v)
		}
		tq.reverse = b
	}
	return tq, nil
}

func paramSet(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

var (
	filterParams    = []string{"uids", "batchUids", "indexUids", "statuses", "types", "beforeEnqueuedAt", "afterEnqueuedAt", "beforeStartedAt", "afterStartedAt"}
	listTaskParams  = paramSet(append(filterParams, "canceledBy", "beforeFinishedAt", "afterFinishedAt", "limit", "from", "reverse")...)
	cancelParams    = paramSet(filterParams...)
	deleteTaskParam = paramSet(append(filterParams, "canceledBy", "beforeFinishedAt", "afterFinishedAt")...)
)

func (h *handler) listTasks(r *http.Request) (reply, error) {
	tq, err := parseTaskQuery(r.URL.Query(), listTaskParams)
	if err != nil {
		return reply{}, err
	}
	p := &meilisearch.TasksQuery{UIDS: tq.uids, IndexUIDS: tq.indexUIDs, Statuses: tq.statuses, Types: tq.types, CanceledBy: tq.canceledBy,
		BeforeEnqueuedAt: tq.dates[0], AfterEnqueuedAt: tq.dates[1], BeforeStartedAt: tq.dates[2], AfterStartedAt: tq.dates[3],
		BeforeFinishedAt: tq.dates[4], AfterFinishedAt: tq.dates[5], Limit: tq.limit, From: tq.from, Reverse: tq.reverse}
	res, err := h.c.listClusterTasks(r.Context(), p, tq.limitGiven)
	if err != nil {
		return reply{}, err
	}
	out := struct {
		Results []taskView `json:"results"`
		Total   int64      `json:"total"`
		Limit   int64      `json:"limit"`
		From    *int64     `json:"from"`
		Next    *int64     `json:"next"`
	}{Results: make([]taskView, 0, len(res.tasks)), Total: res.total, Limit: res.limit}
	for _, t := range res.tasks {
		out.Results = append(out.Results, viewClusterTask(t))
	}
	if len(res.tasks) > 0 {
		f := res.from
		out.From = &f
	}
	if res.next != 0 {
		n := res.next
		out.Next = &n
	}
	return reply{body: out}, nil
}

// taskUID parses the {uid} of a task route.
func taskUID(r *http.Request) (int64, error) {
	v := r.PathValue("uid")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, newError(http.StatusBadRequest, "invalid_task_uids", "Invalid value in parameter `taskUid`: could not parse `%s` as a positive integer", v)
	}
	return n, nil
}

func (h *handler) getTask(r *http.Request) (reply, error) {
	uid, err := taskUID(r)
	if err != nil {
		return reply{}, err
	}
	t, err := h.c.getClusterTask(r.Context(), uid)
	if err != nil {
		return reply{}, err
	}
	return reply{body: viewClusterTask(t)}, nil
}

func (h *handler) taskDocuments(r *http.Request) (reply, error) {
	uid, err := taskUID(r)
	if err != nil {
		return reply{}, err
	}
	docs, err := h.c.taskDocuments(r.Context(), uid)
	if err != nil {
		return reply{}, err
	}
	return reply{body: bytes.Join(append(docs, nil), []byte{'\n'}), contentType: "application/x-ndjson"}, nil
}

func (h *handler) cancelTasks(r *http.Request) (reply, error) {
	tq, err := parseTaskQuery(r.URL.Query(), cancelParams)
	if err != nil {
		return reply{}, err
	}
	p := &meilisearch.CancelTasksQuery{UIDS: tq.uids, IndexUIDS: tq.indexUIDs, Statuses: tq.statuses, Types: tq.types,
		BeforeEnqueuedAt: tq.dates[0], AfterEnqueuedAt: tq.dates[1], BeforeStartedAt: tq.dates[2], AfterStartedAt: tq.dates[3]}
	if !tq.anyGiven {
		return reply{}, missingTaskFilters("cancel")
	}
	info, err := h.c.CancelTasks(r.Context(), p)
	return h.taskOp(r, info, err)
}

func (h *handler) deleteTasks(r *http.Request) (reply, error) {
	tq, err := parseTaskQuery(r.URL.Query(), deleteTaskParam)
	if err != nil {
		return reply{}, err
	}
	p := &meilisearch.DeleteTasksQuery{UIDS: tq.uids, IndexUIDS: tq.indexUIDs, Statuses: tq.statuses, Types: tq.types, CanceledBy: tq.canceledBy,
		BeforeEnqueuedAt: tq.dates[0], AfterEnqueuedAt: tq.dates[1], BeforeStartedAt: tq.dates[2], AfterStartedAt: tq.dates[3],
		BeforeFinishedAt: tq.dates[4], AfterFinishedAt: tq.dates[5]}
	if !tq.anyGiven {
		return reply{}, missingTaskFilters("delete")
	}
	info, err := h.c.DeleteTasks(r.Context(), p)
	return h.taskOp(r, info, err)
}

// taskOp answers a task cancelation or deletion: its task records the
// query string verbatim as originalFilter, as Meilisearch does, and the
// status is 200 (not 202), as Meilisearch answers these two.
func (h *handler) taskOp(r *http.Request, info *meilisearch.TaskInfo, err error) (reply, error) {
	if err != nil {
		return reply{}, err
	}
	if r.URL.RawQuery != "" {
		h.c.tasks.updateLocal(info.TaskUID, func(t *ClusterTask) {
			t.Details.OriginalFilter = "?" + r.URL.RawQuery
			t.RawDetails = setRawDetail(t.RawDetails, "originalFilter", t.Details.OriginalFilter)
		})
	}
	res, err := accepted(info, nil)
	res.status = http.StatusOK
	return res, err
}
