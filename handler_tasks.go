package miroir

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
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

func (h *handler) listTasks(r *http.Request) (reply, error) {
	f, p, err := parseTaskQuery(r.URL.RawQuery, true)
	if err != nil {
		return reply{}, err
	}
	res, err := h.c.listClusterTasks(r.Context(), f, p)
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
	f, _, err := parseTaskQuery(r.URL.RawQuery, false)
	if err != nil {
		return reply{}, err
	}
	return taskOp(h.c.cancelTasks(r.Context(), f))
}

func (h *handler) deleteTasks(r *http.Request) (reply, error) {
	f, _, err := parseTaskQuery(r.URL.RawQuery, false)
	if err != nil {
		return reply{}, err
	}
	return taskOp(h.c.deleteTasks(r.Context(), f))
}

// taskOp answers a task cancelation or deletion (its task records the
// query string verbatim as originalFilter, as Meilisearch does): the
// status is 200, not 202, as Meilisearch answers these two.
func taskOp(info *meilisearch.TaskInfo, err error) (reply, error) {
	if err != nil {
		return reply{}, err
	}
	res, err := accepted(info, nil)
	res.status = http.StatusOK
	return res, err
}
