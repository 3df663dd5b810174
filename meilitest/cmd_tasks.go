package meilitest

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miroirsearch/miroir/internal/keyauth"
)

// taskFilter is the query of GET /tasks, POST /tasks/cancel and DELETE /tasks.
// A nil list filters nothing; an empty one lets nothing through.
type taskFilter struct {
	uids, batchUIDs, canceledBy []int64
	statuses, types, indexUIDs  []string
	beforeEnq, afterEnq         *time.Time
	beforeStart, afterStart     *time.Time
	beforeFinish, afterFinish   *time.Time
	any                         bool           // at least one filter given
	grant                       *keyauth.Grant // the caller's (nil: sees everything)
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
	// list reads an OptionStarOrList parameter: serde_cs splits on commas
	// and drops empty elements without trimming, a `*` anywhere is no
	// filter, an empty list is a filter nothing passes, and an element's
	// error names it `name[i]` when the list has several.
	list := func(name string, item func(at, v string) *apiError) (given bool, e *apiError) {
		vs, ok := q[name]
		if !ok {
			return false, nil
		}
		f.any = true
		var parts []string
		for _, p := range strings.Split(vs[0], ",") {
			if p != "" {
				parts = append(parts, p)
			}
		}
		star := false
		for i, p := range parts {
			if p == "*" {
				star = true
				continue
			}
			at := name
			if len(parts) > 1 {
				at = name + "[" + strconv.Itoa(i) + "]"
			}
			if e := item(at, p); e != nil {
				return false, e
			}
		}
		return !star, nil
	}
	ints := func(name, code string, dst *[]int64) *apiError {
		vals := []int64{}
		given, e := list(name, func(at, p string) *apiError {
			n, ok := parseParamUint(p, math.MaxUint32) // task and batch uids are u32
			if !ok {
				return newError(code, "Invalid value in parameter `%s`: could not parse `%s` as a positive integer", at, p)
			}
			vals = append(vals, int64(n))
			return nil
		})
		if given {
			*dst = vals
		}
		return e
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
	enum := func(name, code, what, plural string, allowed []string, dst *[]string) *apiError {
		vals := []string{}
		given, e := list(name, func(at, p string) *apiError {
			if allowed != nil && !slices.Contains(allowed, p) {
				return newError(code, "Invalid value in parameter `%s`: `%s` is not a valid task %s. Available %s are %s.", at, p, what, plural, "`"+strings.Join(allowed, "`, `")+"`")
			}
			if allowed == nil && !validIndexUID.MatchString(p) {
				return newError(code, "Invalid value in parameter `%s`: `%s` is not a valid index uid. Index uid can be an integer or a string containing only alphanumeric characters, hyphens (-) and underscores (_), and can not be more than 400 bytes.", at, p)
			}
			vals = append(vals, p)
			return nil
		})
		if given {
			*dst = vals
		}
		return e
	}
	if e := enum("statuses", "invalid_task_statuses", "status", "statuses", taskStatuses, &f.statuses); e != nil {
		return nil, e
	}
	if e := enum("types", "invalid_task_types", "type", "types", taskTypes, &f.types); e != nil {
		return nil, e
	}
	if e := enum("indexUids", "invalid_index_uid", "", "", nil, &f.indexUIDs); e != nil {
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
		vs, ok := q[d.name]
		if !ok {
			continue
		}
		v := vs[0]
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
	if f.uids != nil && !slices.Contains(f.uids, t.uid) {
		return false
	}
	if f.batchUIDs != nil && (t.batchUID == nil || !slices.Contains(f.batchUIDs, *t.batchUID)) {
		return false
	}
	if f.canceledBy != nil && (t.canceledBy == nil || !slices.Contains(f.canceledBy, *t.canceledBy)) {
		return false
	}
	if f.statuses != nil && !slices.Contains(f.statuses, t.status) {
		return false
	}
	if f.types != nil && !slices.Contains(f.types, t.typ) {
		return false
	}
	if f.indexUIDs != nil && !slices.ContainsFunc(indexes, func(u string) bool { return slices.Contains(f.indexUIDs, u) }) {
		return false
	}
	before := func(limit *time.Time, v *time.Time) bool { return limit == nil || (v != nil && v.Before(*limit)) }
	after := func(limit *time.Time, v *time.Time) bool { return limit == nil || (v != nil && v.After(*limit)) }
	enq := t.enqueuedAt
	return before(f.beforeEnq, &enq) && after(f.afterEnq, &enq) &&
		before(f.beforeStart, t.startedAt) && after(f.afterStart, t.startedAt) &&
		before(f.beforeFinish, t.finishedAt) && after(f.afterFinish, t.finishedAt)
}

// visible reports whether a matched task is returned: Meilisearch's
// get_task_ids_from_authorized_indexes drops the tasks of no single index
// (swaps, cancelations, dumps...) when indexUids is given, and the tasks
// of indexes the caller's key may not see, after the limit and without
// touching the total.
func (f *taskFilter) visible(t *task) bool {
	if f.indexUIDs != nil && !keyauth.RelatedToOneIndex(t.typ) {
		return false
	}
	uid := ""
	if t.indexUID != nil {
		uid = *t.indexUID
	}
	return f.grant.TaskVisible(t.typ, uid)
}

var (
	// listTaskParams and bulkTaskParams are TasksFilterQuery's and
	// TaskDeletionOrCancelationQuery's fields in declaration order.
	listTaskParams = []string{"limit", "from", "reverse", "batchUids", "uids", "canceledBy", "types", "statuses", "indexUids",
		"afterEnqueuedAt", "beforeEnqueuedAt", "afterStartedAt", "beforeStartedAt", "afterFinishedAt", "beforeFinishedAt"}
	bulkTaskParams = []string{"uids", "batchUids", "canceledBy", "types", "statuses", "indexUids",
		"afterEnqueuedAt", "beforeEnqueuedAt", "afterStartedAt", "beforeStartedAt", "afterFinishedAt", "beforeFinishedAt"}
)

// unknownTaskParam refuses the first parameter of the query string (in
// order) that the route does not take, as deserr's deny_unknown_fields.
func unknownTaskParam(rawQuery string, accepted []string) *apiError {
	for _, part := range strings.Split(rawQuery, "&") {
		k, _, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if part == "" || slices.Contains(accepted, k) {
			continue
		}
		return newError("bad_request", "Unknown parameter `%s`: %sexpected one of %s", k, deserrDidYouMean(k, accepted), keyBackquoteList(accepted))
	}
	return nil
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
	if e := unknownTaskParam(r.URL.RawQuery, listTaskParams); e != nil {
		writeError(w, e)
		return
	}
	f, e := parseTaskFilter(q)
	if e != nil {
		writeError(w, e)
		return
	}
	f.grant = requestGrant(r)
	limit, from, e := taskPaging(q)
	if e != nil {
		writeError(w, e)
		return
	}
	reverse := false
	if vs, ok := q["reverse"]; ok {
		switch vs[0] {
		case "true", "false":
			reverse = vs[0] == "true"
		default:
			writeError(w, newError("invalid_task_reverse", "Invalid value in parameter `reverse`: could not parse `%s` as a boolean, expected either `true` or `false`", vs[0]))
			return
		}
	}

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
	// Meilisearch takes limit+1 tasks, drops the invisible ones, and has a
	// next page only when limit+1 remain.
	results := make([]taskJSON, 0, min(limit+1, len(matched)))
	for _, t := range matched[start:min(len(matched), start+limit+1)] {
		if f.visible(t) {
			results = append(results, t.view())
		}
	}
	var next *int64
	if len(results) == limit+1 {
		n := results[limit].UID
		next = &n
		results = results[:limit]
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
// query. As in Meilisearch, the tasks are matched when the call is made
// (matchedTasks counts them from the start) and acted on when the task
// runs: a cancelation cancels those still enqueued, a deletion deletes
// those finished by then.
func (s *Server) taskBulk(w http.ResponseWriter, r *http.Request, typ string) {
	if e := unknownTaskParam(r.URL.RawQuery, bulkTaskParams); e != nil {
		writeError(w, e)
		return
	}
	f, e := parseTaskFilter(r.URL.Query())
	if e != nil {
		writeError(w, e)
		return
	}
	f.grant = requestGrant(r)
	if !f.any {
		verb := "cancel"
		if typ == "taskDeletion" {
			verb = "delete"
		}
		writeError(w, newError("missing_task_filters", "Query parameters to filter the tasks to %s are missing. Available query parameters are: `uids`, `indexUids`, `statuses`, `types`, `canceledBy`, `beforeEnqueuedAt`, `afterEnqueuedAt`, `beforeStartedAt`, `afterStartedAt`, `beforeFinishedAt`, `afterFinishedAt`.", verb))
		return
	}
	q := s.tasks
	q.mu.Lock()
	matched := map[int64]bool{}
	for _, t := range q.all {
		if f.match(t) && f.visible(t) {
			matched[t.uid] = true
		}
	}
	q.mu.Unlock()
	origin := "?" + r.URL.RawQuery
	details := map[string]any{"matchedTasks": len(matched), "originalFilter": origin}
	if typ == "taskCancelation" {
		details["canceledTasks"] = nil
	} else {
		details["deletedTasks"] = nil
	}
	sum := q.enqueue(r, "", typ, details, func(self int64, d map[string]any) *apiError {
		// s.mu is held; take the queue lock to touch other tasks.
		q.mu.Lock()
		defer q.mu.Unlock()
		done := 0
		kept := q.all[:0]
		for _, t := range q.all {
			if t.uid >= self || !matched[t.uid] {
				kept = append(kept, t)
				continue
			}
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
