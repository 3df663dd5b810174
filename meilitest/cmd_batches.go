package meilitest

import (
	"fmt"
	"math"
	"net/http"
	"slices"
)

// Batches (GET /batches, GET /batches/{uid}). meilitest processes one task
// per batch, so each batch mirrors its task; batchStrategy explains why the
// batch holds that task, with Meilisearch's wording.

// autobatchable task types: Meilisearch batches consecutive ones together.
var autobatchable = []string{"documentAdditionOrUpdate", "documentDeletion", "documentEdition", "settingsUpdate"}

func batchView(t *task) map[string]any {
	v := t.view()
	indexUID, details := t.indexUID, t.details
	if t.batch != nil { // rewritten by a swap since
		indexUID, details = t.batch.indexUID, t.batch.details
	}
	idx := map[string]int{}
	if indexUID != nil {
		idx[*indexUID] = 1
	}
	status := t.status
	if status == "enqueued" {
		status = "processing"
	}
	strategy := "batched all enqueued tasks"
	if indexUID != nil && slices.Contains(autobatchable, t.typ) {
		strategy = fmt.Sprintf("batched all enqueued tasks for index `%s`", *indexUID)
	} else if !slices.Contains(autobatchable, t.typ) {
		strategy = fmt.Sprintf("created batch containing only task with id %d of type `%s` that cannot be batched with any other task.", t.uid, t.typ)
	}
	if details == nil {
		details = map[string]any{}
	}
	out := map[string]any{
		"uid": *t.batchUID, "details": details, "progress": nil,
		"stats": map[string]any{
			"totalNbTasks": 1, "status": map[string]int{status: 1}, "types": map[string]int{t.typ: 1}, "indexUids": idx,
			// writeChannelCongestion is left out: Meilisearch writes it
			// only for batches that index documents, and never as null.
			"progressTrace": map[string]string{},
		},
		"duration": v.Duration, "startedAt": v.StartedAt, "finishedAt": v.FinishedAt,
		"batchStrategy": strategy,
	}
	if t.status == "processing" {
		out["progress"] = map[string]any{"steps": []any{}, "percentage": 0.0}
	}
	return out
}

// handleListBatches filters batches with the task filters (a batch matches
// when its task does) and pages them like GET /tasks, with the same query
// parameters and error codes.
func (s *Server) handleListBatches(w http.ResponseWriter, r *http.Request) {
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
	var matched []*task
	for _, t := range s.tasks.all {
		if t.batchUID != nil && f.matchBatch(t) {
			matched = append(matched, t)
		}
	}
	slices.SortFunc(matched, func(a, b *task) int {
		c := int(*a.batchUID - *b.batchUID)
		if !reverse {
			c = -c
		}
		return c
	})
	total := len(matched)
	out := make([]map[string]any, 0, min(limit, len(matched)))
	var next, first *int64
	for _, t := range matched {
		b := *t.batchUID
		if from != nil && ((!reverse && b > *from) || (reverse && b < *from)) {
			continue
		}
		if len(out) == limit {
			next = &b
			break
		}
		if first == nil {
			first = &b
		}
		out = append(out, batchView(t))
	}
	s.tasks.mu.Unlock()
	writeJSON(w, http.StatusOK, taskPageJSON[map[string]any]{Results: out, Total: total, Limit: limit, From: first, Next: next})
}

func (s *Server) handleGetBatch(w http.ResponseWriter, r *http.Request) {
	// a u32 parsed by hand, as Meilisearch's get_batch does
	n, ok := parseParamUint(r.PathValue("uid"), math.MaxUint32)
	if !ok {
		writeError(w, newError("invalid_batch_uids", "Batch uid `%s` is invalid. It should only contain numeric characters.", r.PathValue("uid")))
		return
	}
	uid := int64(n)
	s.tasks.mu.Lock()
	defer s.tasks.mu.Unlock()
	for _, t := range s.tasks.all {
		if t.batchUID != nil && *t.batchUID == uid {
			writeJSON(w, http.StatusOK, batchView(t))
			return
		}
	}
	writeError(w, newError("batch_not_found", "Batch `%d` not found.", uid))
}
