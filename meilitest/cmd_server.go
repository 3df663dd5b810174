package meilitest

import (
	"net/http"
	"sort"
	"strconv"
	"time"
)

// Version is the Meilisearch version meilitest reports and imitates.
const Version = "1.26.0"

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "available"})
}

func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"commitSha":  "meilitest",
		"commitDate": s.started.UTC().Format(time.RFC3339),
		"pkgVersion": Version,
	})
}

func (s *Server) handleDump(w http.ResponseWriter, r *http.Request) {
	uid := time.Now().UTC().Format("20060102-150405000")
	sum := s.tasks.enqueue(r, "", "dumpCreation", map[string]any{"dumpUid": nil}, func(_ int64, d map[string]any) *apiError {
		d["dumpUid"] = uid
		return nil
	})
	writeJSON(w, http.StatusAccepted, sum)
}

func (s *Server) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	sum := s.tasks.enqueue(r, "", "snapshotCreation", nil, func(_ int64, _ map[string]any) *apiError { return nil })
	writeJSON(w, http.StatusAccepted, sum)
}

// experimental features meilitest knows; all default to false.
var featureNames = []string{"logsRoute", "metrics", "editDocumentsByFunction", "containsFilter", "network",
	"compositeEmbedders", "chatCompletions", "multimodal", "vectorStoreSetting", "getTaskDocumentsRoute", "renderRoute", "foreignKeys", "dynamicSearchRules"}

func (s *Server) featureEnabled(name string) bool {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.features[name]
}

func (s *Server) handleGetFeatures(w http.ResponseWriter, r *http.Request) {
	s.faultMu.Lock()
	out := map[string]any{}
	for _, n := range featureNames {
		out[n] = s.features[n]
	}
	s.faultMu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handlePatchFeatures(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	known := map[string]bool{}
	for _, n := range featureNames {
		known[n] = true
	}
	for k, v := range body {
		b, ok := v.(bool)
		if !known[k] || (!ok && v != nil) {
			writeError(w, newError("bad_request", "Unknown field `%s`: expected one of %v", k, featureNames))
			return
		}
		_ = b
	}
	s.faultMu.Lock()
	if s.features == nil {
		s.features = map[string]bool{}
	}
	for k, v := range body {
		b, _ := v.(bool)
		s.features[k] = b
	}
	s.faultMu.Unlock()
	s.handleGetFeatures(w, r)
}

// Batches: meilitest runs one task per batch, so a batch mirrors its task.
func (s *Server) handleListBatches(w http.ResponseWriter, r *http.Request) {
	s.tasks.mu.Lock()
	var out []map[string]any
	for i := len(s.tasks.all) - 1; i >= 0; i-- {
		t := s.tasks.all[i]
		if t.batchUID != nil {
			out = append(out, batchView(t))
		}
	}
	s.tasks.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i]["uid"].(int64) > out[j]["uid"].(int64) })
	limit, _ := queryInt(r, "limit", 20, "invalid_batch_limit")
	total := len(out)
	if len(out) > limit {
		out = out[:limit]
	}
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out, "total": total, "limit": limit, "from": nil, "next": nil})
}

func (s *Server) handleGetBatch(w http.ResponseWriter, r *http.Request) {
	uid, err := strconv.ParseInt(r.PathValue("uid"), 10, 64)
	if err != nil {
		writeError(w, newError("invalid_batch_uid", "Invalid value in parameter `batchUid`"))
		return
	}
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

func batchView(t *task) map[string]any {
	v := t.view()
	status := map[string]int{t.status: 1}
	types := map[string]int{t.typ: 1}
	idx := map[string]int{}
	if t.indexUID != nil {
		idx[*t.indexUID] = 1
	}
	return map[string]any{
		"uid": *t.batchUID, "details": t.details, "progress": nil,
		"stats":    map[string]any{"totalNbTasks": 1, "status": status, "types": types, "indexUids": idx},
		"duration": v.Duration, "startedAt": v.StartedAt, "finishedAt": v.FinishedAt,
	}
}
