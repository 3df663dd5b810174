package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/apierr"
)

// Proxy routes: cluster tasks. The handler parses Meilisearch's task
// filters (tasks_query.go) and renders cluster tasks in Meilisearch's task
// shape; the tasks themselves are the Cluster's (DESIGN §6).

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
// Meilisearch node shows them (a task without details, such as a
// snapshot, has no details field).
func viewClusterTask(t *Task) taskView {
	v := viewTask(t.Base)
	v.Details = t.Details
	return v
}

func (h *handler) listTasks(r *http.Request) (reply, error) {
	f, p, err := h.taskQuery(r, true)
	if err != nil {
		return reply{}, err
	}
	res, err := h.b.ListTasks(r.Context(), f, p)
	if err != nil {
		return reply{}, err
	}
	out := struct {
		Results []taskView `json:"results"`
		Total   int64      `json:"total"`
		Limit   int64      `json:"limit"`
		From    *int64     `json:"from"`
		Next    *int64     `json:"next"`
	}{Results: make([]taskView, 0, len(res.Tasks)), Total: res.Total, Limit: res.Limit}
	for _, t := range res.Tasks {
		out.Results = append(out.Results, viewClusterTask(t))
	}
	if len(res.Tasks) > 0 {
		f := res.From
		out.From = &f
	}
	if res.Next != 0 {
		n := res.Next
		out.Next = &n
	}
	return reply{body: out}, nil
}

// taskUID parses the {uid} of a task route.
func taskUID(r *http.Request) (int64, error) {
	v := r.PathValue("uid")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, apierr.New(http.StatusBadRequest, "invalid_task_uids", "Invalid value in parameter `taskUid`: could not parse `%s` as a positive integer", v)
	}
	return n, nil
}

func (h *handler) getTask(r *http.Request) (reply, error) {
	uid, err := taskUID(r)
	if err != nil {
		return reply{}, err
	}
	t, err := h.b.GetTask(r.Context(), uid)
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
	docs, err := h.b.TaskDocuments(r.Context(), uid)
	if err != nil {
		return reply{}, err
	}
	return reply{body: bytes.Join(append(docs, nil), []byte{'\n'}), contentType: "application/x-ndjson"}, nil
}

func (h *handler) cancelTasks(r *http.Request) (reply, error) {
	f, _, err := h.taskQuery(r, false)
	if err != nil {
		return reply{}, err
	}
	return taskOp(h.b.CancelTasks(r.Context(), f))
}

func (h *handler) deleteTasks(r *http.Request) (reply, error) {
	f, _, err := h.taskQuery(r, false)
	if err != nil {
		return reply{}, err
	}
	return taskOp(h.b.DeleteTasks(r.Context(), f))
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
