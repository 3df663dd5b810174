package meilitest

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// taskFilter is the query of GET /tasks, POST /tasks/cancel and DELETE /tasks.
type taskFilter struct {
	uids, batchUIDs, canceledBy []int64
	statuses, types, indexUIDs  []string
	beforeEnq, afterEnq         *time.Time
	beforeStart, afterStart     *time.Time
	beforeFinish, afterFinish   *time.Time
	any                         bool // at least one filter given
}

var taskStatuses = []string{"enqueued", "processing", "succeeded", "failed", "canceled"}

var taskTypes = []string{"documentAdditionOrUpdate", "documentEdition", "documentDeletion", "settingsUpdate",
	"indexCreation", "indexDeletion", "indexUpdate", "indexSwap", "taskCancelation", "taskDeletion",
	"dumpCreation", "snapshotCreation", "export", "upgradeDatabase", "indexCompaction", "networkTopologyChange", "dsrUpdate", "dsrClear"}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseTaskFilter(q url.Values) (*taskFilter, *apiError) {
	f := &taskFilter{}
	ints := func(name, code string, dst *[]int64) *apiError {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		f.any = true
		if v == "*" {
			return nil
		}
		for _, p := range splitList(v) {
			n, ok := parseParamUint(p, math.MaxUint32) // task and batch uids are u32
			if !ok {
				return newError(code, "Invalid value in parameter `%s`: could not parse `%s` as a positive integer", name, p)
			}
			*dst = append(*dst, int64(n))
		}
		return nil
	}
	if e := ints("uids", "invalid_task_uids", &f.uids); e != nil {
		return nil, e
	}
	if e := ints("batchUids", "invalid_batch_uids", &f.batchUIDs); e != nil {
		return nil, e
	}
	if e := ints("canceledBy", "invalid_task_canceled_by", &f.canceledBy); e != nil {
		return nil, e
	}
	enum := func(name, code string, allowed []string, dst *[]string) *apiError {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		f.any = true
		if v == "*" {
			return nil
		}
		for _, p := range splitList(v) {
			if allowed != nil && !slices.Contains(allowed, p) {
				return newError(code, "Invalid value in parameter `%s`: `%s` is not a valid task %s. Available %ss are %s.", name, p, strings.TrimSuffix(name, "es"), strings.TrimSuffix(name, "es"), "`"+strings.Join(allowed, "`, `")+"`")
			}
			*dst = append(*dst, p)
		}
		return nil
	}
	if e := enum("statuses", "invalid_task_statuses", taskStatuses, &f.statuses); e != nil {
		return nil, e
	}
	if e := enum("types", "invalid_task_types", taskTypes, &f.types); e != nil {
		return nil, e
	}
	if e := enum("indexUids", "invalid_task_index_uids", nil, &f.indexUIDs); e != nil {
		return nil, e
	}
	dates := []struct {
		name  string
		after bool
		dst   **time.Time
	}{
		{"beforeEnqueuedAt", false, &f.beforeEnq}, {"afterEnqueuedAt", true, &f.afterEnq},
		{"beforeStartedAt", false, &f.beforeStart}, {"afterStartedAt", true, &f.afterStart},
		{"beforeFinishedAt", false, &f.beforeFinish}, {"afterFinishedAt", true, &f.afterFinish},
	}
	for _, d := range dates {
		v := q.Get(d.name)
		if v == "" {
			continue
		}
		f.any = true
		if v == "*" { // OptionStarOr: a star filters nothing
			continue
		}
		tm, ok := parseTaskDate(v, d.after)
		if !ok {
			// deserr's query-parameter wording around InvalidTaskDateError
			code := "invalid_task_" + snake(d.name)
			return nil, newError(code, "Invalid value in parameter `%s`: `%s` is an invalid date-time. It should follow the YYYY-MM-DD or RFC 3339 date-time format.", d.name, v)
		}
		*d.dst = &tm
	}
	return f, nil
}

// parseTaskDate is Meilisearch's deserialize_date (routes/tasks.rs): an
// RFC 3339 date-time as given, or a bare YYYY-MM-DD taken at midnight UTC,
// plus one day for the after* filters since the day itself is excluded.
func parseTaskDate(v string, after bool) (time.Time, bool) {
	if tm, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return tm, true
	}
	tm, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, false
	}
	if after {
		tm = tm.AddDate(0, 0, 1)
	}
	return tm, true
}

// snake turns beforeEnqueuedAt into before_enqueued_at for error codes.
func snake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (f *taskFilter) match(t *task) bool {
	return f.matchWith(t, t.indexes())
}

// matchBatch matches the batch of task t, which keeps the indexes it was
// processed with when a swap rewrote the task since.
func (f *taskFilter) matchBatch(t *task) bool {
	if t.batch != nil {
		return f.matchWith(t, t.batch.indexes)
	}
	return f.match(t)
}

// matchWith matches t filed under the given indexes.
func (f *taskFilter) matchWith(t *task, indexes []string) bool {
	if len(f.uids) > 0 && !slices.Contains(f.uids, t.uid) {
		return false
	}
	if len(f.batchUIDs) > 0 && (t.batchUID == nil || !slices.Contains(f.batchUIDs, *t.batchUID)) {
		return false
	}
	if len(f.canceledBy) > 0 && (t.canceledBy == nil || !slices.Contains(f.canceledBy, *t.canceledBy)) {
		return false
	}
	if len(f.statuses) > 0 && !slices.Contains(f.statuses, t.status) {
		return false
	}
	if len(f.types) > 0 && !slices.Contains(f.types, t.typ) {
		return false
	}
	if len(f.indexUIDs) > 0 && !slices.ContainsFunc(indexes, func(u string) bool { return slices.Contains(f.indexUIDs, u) }) {
		return false
	}
	before := func(limit *time.Time, v *time.Time) bool { return limit == nil || (v != nil && v.Before(*limit)) }
	after := func(limit *time.Time, v *time.Time) bool { return limit == nil || (v != nil && v.After(*limit)) }
	enq := t.enqueuedAt
	return before(f.beforeEnq, &enq) && after(f.afterEnq, &enq) &&
		before(f.beforeStart, t.startedAt) && after(f.afterStart, t.startedAt) &&
		before(f.beforeFinish, t.finishedAt) && after(f.afterFinish, t.finishedAt)
}

// pathTaskUID reads the {uid} of /tasks/{uid} as Meilisearch does: a u32
// parsed by hand, any failure being index_scheduler's InvalidTaskUid.
func pathTaskUID(r *http.Request) (int64, *apiError) {
	v := r.PathValue("uid")
	n, ok := parseParamUint(v, math.MaxUint32)
	if !ok {
		return 0, newError("invalid_task_uids", "Task uid `%s` is invalid. It should only contain numeric characters.", v)
	}
	return int64(n), nil
}

func (s *Server) handleGetTask(w http.ResponseWriter, r *http.Request) {
	uid, e := pathTaskUID(r)
	if e != nil {
		writeError(w, e)
		return
	}
	t, ok := s.tasks.get(uid)
	if !ok || !taskVisible(r, t.Type, t.IndexUID) {
		writeError(w, newError("task_not_found", "Task `%d` not found.", uid))
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) handleListTasks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, e := parseTaskFilter(q)
	if e != nil {
		writeError(w, e)
		return
	}
	limit, from, e := taskPaging(q)
	if e != nil {
		writeError(w, e)
		return
	}
	reverse := q.Get("reverse") == "true"

	s.tasks.mu.Lock()
	matched := make([]*task, 0)
	for _, t := range s.tasks.all {
		if f.match(t) {
			matched = append(matched, t)
		}
	}
	if !reverse {
		slices.Reverse(matched)
	}
	total := len(matched)
	start := 0
	if from != nil {
		start = len(matched)
		for i, t := range matched {
			if (!reverse && t.uid <= *from) || (reverse && t.uid >= *from) {
				start = i
				break
			}
		}
	}
	results := make([]taskJSON, 0, min(limit, len(matched)))
	var next *int64
	for i := start; i < len(matched); i++ {
		if len(results) == limit {
			n := matched[i].uid
			next = &n
			break
		}
		results = append(results, matched[i].view())
	}
	s.tasks.mu.Unlock()
	writeJSON(w, http.StatusOK, taskPageJSON[taskJSON]{Results: results, Total: total, Limit: limit, From: firstUID(results), Next: next})
}

// taskPaging reads the limit (default 20) and from parameters of GET /tasks
// and GET /batches: both routes take Meilisearch's TasksFilterQuery, so
// both answer with its invalid_task_* codes, and both values are u32. With
// limit=0 the page is empty and next is the first matching uid, as
// Meilisearch's fetch-one-more paging gives.
func taskPaging(q url.Values) (limit int, from *int64, e *apiError) {
	n, ok, e := queryUint(q, "limit", math.MaxUint32, "invalid_task_limit")
	if e != nil {
		return 0, nil, e
	}
	limit = 20
	if ok {
		limit = int(n)
	}
	if n, ok, e = queryUint(q, "from", math.MaxUint32, "invalid_task_from"); e != nil {
		return 0, nil, e
	}
	if ok {
		f := int64(n)
		from = &f
	}
	return limit, from, nil
}

func firstUID(ts []taskJSON) *int64 {
	if len(ts) == 0 {
		return nil
	}
	u := ts[0].UID
	return &u
}

func (s *Server) handleCancelTasks(w http.ResponseWriter, r *http.Request) {
	s.taskBulk(w, r, "taskCancelation")
}

func (s *Server) handleDeleteTasks(w http.ResponseWriter, r *http.Request) {
	s.taskBulk(w, r, "taskDeletion")
}

// taskBulk enqueues a cancelation or deletion of the tasks matching the
// query. The match is evaluated when the task runs, as in Meilisearch, but
// limited to tasks enqueued before it.
func (s *Server) taskBulk(w http.ResponseWriter, r *http.Request, typ string) {
	f, e := parseTaskFilter(r.URL.Query())
	if e != nil {
		writeError(w, e)
		return
	}
	if !f.any {
		verb := "cancel"
		if typ == "taskDeletion" {
			verb = "delete"
		}
		writeError(w, newError("missing_task_filters", "Query parameters to filter the tasks to %s are missing. Available query parameters are: `uids`, `indexUids`, `statuses`, `types`, `canceledBy`, `beforeEnqueuedAt`, `afterEnqueuedAt`, `beforeStartedAt`, `afterStartedAt`, `beforeFinishedAt`, `afterFinishedAt`.", verb))
		return
	}
	origin := "?" + r.URL.RawQuery
	details := map[string]any{"matchedTasks": 0, "originalFilter": origin}
	if typ == "taskCancelation" {
		details["canceledTasks"] = nil
	} else {
		details["deletedTasks"] = nil
	}
	q := s.tasks
	sum := q.enqueue(r, "", typ, details, func(self int64, d map[string]any) *apiError {
		// s.mu is held; take the queue lock to touch other tasks.
		q.mu.Lock()
		defer q.mu.Unlock()
		matched, done := 0, 0
		kept := q.all[:0]
		for _, t := range q.all {
			if t.uid >= self || !f.match(t) {
				kept = append(kept, t)
				continue
			}
			matched++
			if typ == "taskCancelation" {
				if t.status == "enqueued" {
					now := time.Now().UTC()
					t.status = "canceled"
					by := self
					t.canceledBy = &by
					t.finishedAt = &now
					t.run = nil
					done++
				}
				kept = append(kept, t)
				continue
			}
			if t.status == "enqueued" || t.status == "processing" {
				kept = append(kept, t)
				continue
			}
			delete(q.byUID, t.uid)
			done++
		}
		for i := len(kept); i < len(q.all); i++ {
			q.all[i] = nil
		}
		q.all = kept
		d["matchedTasks"] = matched
		if typ == "taskCancelation" {
			d["canceledTasks"] = done
		} else {
			d["deletedTasks"] = done
		}
		return nil
	})
	writeJSON(w, http.StatusOK, sum)
}

// handleTaskDocuments serves the documents payload of a document addition
// while it is enqueued or processing, as NDJSON (experimental
// getTaskDocumentsRoute feature).
func (s *Server) handleTaskDocuments(w http.ResponseWriter, r *http.Request) {
	if !s.featureEnabled("getTaskDocumentsRoute") {
		writeError(w, featureError("Getting the documents of an enqueued task", "get task documents route", "808"))
		return
	}
	uid, e := pathTaskUID(r)
	if e != nil {
		writeError(w, e)
		return
	}
	s.tasks.mu.Lock()
	t, ok := s.tasks.byUID[uid]
	var docs []map[string]any
	if ok {
		docs = t.payload
	}
	s.tasks.mu.Unlock()
	if !ok {
		writeError(w, newError("task_not_found", "Task `%d` not found.", uid))
		return
	}
	if docs == nil {
		writeError(w, newError("task_file_not_found", "Task `%d` does not contain any documents. Only `documentAdditionOrUpdate` tasks with the statuses `enqueued` or `processing` contain documents", uid))
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	s.mu.RLock() // stored documents share maps with the payload
	for _, d := range docs {
		_ = enc.Encode(d)
	}
	s.mu.RUnlock()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}
