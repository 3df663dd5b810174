package meilitest

import (
	"net/http"
	"time"
)

// Version is the Meilisearch version meilitest reports and imitates.
const Version = "1.26.0"

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "available"})
}

// handleRoot is GET /, which a Meilisearch without its mini-dashboard
// answers to say it runs.
func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "Meilisearch is running"})
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

// featureError is Meilisearch's error for a route or parameter gated by a
// disabled experimental feature.
func featureError(action, feature, discussion string) *apiError {
	return newError("feature_not_enabled", "%s requires enabling the `%s` experimental feature. See https://github.com/orgs/meilisearch/discussions/%s", action, feature, discussion)
}

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
