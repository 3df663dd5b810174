package meilitest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
)

// routes registers every endpoint, grouped like the cmd_*.go files.
func (s *Server) routes() {
	m := s.mux
	// server: cmd_server.go
	m.HandleFunc("GET /health", s.handleHealth)
	m.HandleFunc("GET /version", s.handleVersion)
	m.HandleFunc("GET /stats", s.handleGlobalStats)
	m.HandleFunc("POST /dumps", s.handleDump)
	m.HandleFunc("POST /snapshots", s.handleSnapshot)
	m.HandleFunc("GET /experimental-features", s.handleGetFeatures)
	m.HandleFunc("PATCH /experimental-features", s.handlePatchFeatures)
	m.HandleFunc("POST /export", s.handleExport)
	// webhooks: cmd_webhooks.go
	m.HandleFunc("GET /webhooks", s.handleListWebhooks)
	m.HandleFunc("POST /webhooks", s.handleCreateWebhook)
	m.HandleFunc("GET /webhooks/{uuid}", s.handleGetWebhook)
	m.HandleFunc("PATCH /webhooks/{uuid}", s.handleUpdateWebhook)
	m.HandleFunc("DELETE /webhooks/{uuid}", s.handleDeleteWebhook)
	// network: cmd_network.go
	m.HandleFunc("GET /network", s.handleGetNetwork)
	m.HandleFunc("PATCH /network", s.handlePatchNetwork)
	// chats: cmd_chats.go
	m.HandleFunc("GET /chats", s.handleListChats)
	m.HandleFunc("GET /chats/{workspace}", s.handleGetChat)
	m.HandleFunc("DELETE /chats/{workspace}", s.handleDeleteChat)
	m.HandleFunc("GET /chats/{workspace}/settings", s.handleGetChatSettings)
	m.HandleFunc("PATCH /chats/{workspace}/settings", s.handlePatchChatSettings)
	m.HandleFunc("DELETE /chats/{workspace}/settings", s.handleResetChatSettings)
	m.HandleFunc("POST /chats/{workspace}/chat/completions", s.handleChatCompletions)
	// dynamic search rules: cmd_search_rules.go
	m.HandleFunc("POST /dynamic-search-rules", s.handleListSearchRules)
	m.HandleFunc("DELETE /dynamic-search-rules", s.handleClearSearchRules)
	m.HandleFunc("GET /dynamic-search-rules/{uid}", s.handleGetSearchRule)
	m.HandleFunc("PATCH /dynamic-search-rules/{uid}", s.handleUpsertSearchRule)
	m.HandleFunc("DELETE /dynamic-search-rules/{uid}", s.handleDeleteSearchRule)
	// batches: cmd_batches.go
	m.HandleFunc("GET /batches", s.handleListBatches)
	m.HandleFunc("GET /batches/{uid}", s.handleGetBatch)

	// indexes: cmd_indexes.go
	m.HandleFunc("GET /indexes", s.handleListIndexes)
	m.HandleFunc("POST /indexes", s.handleCreateIndex)
	m.HandleFunc("GET /indexes/{uid}", s.handleGetIndex)
	m.HandleFunc("PATCH /indexes/{uid}", s.handleUpdateIndex)
	m.HandleFunc("DELETE /indexes/{uid}", s.handleDeleteIndex)
	m.HandleFunc("GET /indexes/{uid}/stats", s.handleIndexStats)
	m.HandleFunc("POST /indexes/{uid}/compact", s.handleCompact)
	m.HandleFunc("POST /indexes/{uid}/fields", s.handleListFields) // cmd_fields.go
	m.HandleFunc("POST /swap-indexes", s.handleSwapIndexes)

	// documents: cmd_documents.go
	m.HandleFunc("GET /indexes/{uid}/documents", s.handleListDocuments)
	m.HandleFunc("POST /indexes/{uid}/documents/fetch", s.handleFetchDocuments)
	m.HandleFunc("POST /indexes/{uid}/documents", s.handleAddDocuments)
	m.HandleFunc("PUT /indexes/{uid}/documents", s.handleUpdateDocuments)
	m.HandleFunc("DELETE /indexes/{uid}/documents", s.handleDeleteAllDocuments)
	m.HandleFunc("GET /indexes/{uid}/documents/{id}", s.handleGetDocument)
	m.HandleFunc("DELETE /indexes/{uid}/documents/{id}", s.handleDeleteDocument)
	m.HandleFunc("POST /indexes/{uid}/documents/delete-batch", s.handleDeleteBatch)
	m.HandleFunc("POST /indexes/{uid}/documents/delete", s.handleDeleteByFilter)
	m.HandleFunc("POST /indexes/{uid}/documents/edit", s.handleEditDocuments)

	// search: cmd_search.go
	m.HandleFunc("GET /indexes/{uid}/search", s.handleSearch)
	m.HandleFunc("POST /indexes/{uid}/search", s.handleSearch)
	m.HandleFunc("POST /indexes/{uid}/facet-search", s.handleFacetSearch)
	m.HandleFunc("GET /indexes/{uid}/similar", s.handleSimilar)
	m.HandleFunc("POST /indexes/{uid}/similar", s.handleSimilar)
	m.HandleFunc("POST /multi-search", s.handleMultiSearch)

	// settings: cmd_settings.go
	m.HandleFunc("GET /indexes/{uid}/settings", s.handleGetSettings)
	m.HandleFunc("PATCH /indexes/{uid}/settings", s.handleUpdateSettings)
	m.HandleFunc("DELETE /indexes/{uid}/settings", s.handleResetSettings)
	m.HandleFunc("GET /indexes/{uid}/settings/{name}", s.handleGetSetting)
	m.HandleFunc("PUT /indexes/{uid}/settings/{name}", s.handleUpdateSetting)
	m.HandleFunc("PATCH /indexes/{uid}/settings/{name}", s.handleUpdateSetting)
	m.HandleFunc("POST /indexes/{uid}/settings/{name}", s.handleUpdateSetting)
	m.HandleFunc("DELETE /indexes/{uid}/settings/{name}", s.handleResetSetting)

	// render: cmd_render.go
	m.HandleFunc("POST /render-template", s.handleRender)

	// tasks: cmd_tasks.go
	m.HandleFunc("GET /tasks", s.handleListTasks)
	m.HandleFunc("GET /tasks/{uid}", s.handleGetTask)
	m.HandleFunc("GET /tasks/{uid}/documents", s.handleTaskDocuments)
	m.HandleFunc("POST /tasks/cancel", s.handleCancelTasks)
	m.HandleFunc("DELETE /tasks", s.handleDeleteTasks)

	// keys: cmd_keys.go
	m.HandleFunc("GET /keys", s.handleListKeys)
	m.HandleFunc("POST /keys", s.handleCreateKey)
	m.HandleFunc("GET /keys/{key}", s.handleGetKey)
	m.HandleFunc("PATCH /keys/{key}", s.handleUpdateKey)
	m.HandleFunc("DELETE /keys/{key}", s.handleDeleteKey)

	m.HandleFunc("/", s.handleUnknownRoute)
}

// routeMethods are the methods meilitest's routes use.
var routeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// handleUnknownRoute answers a request no route takes as actix-web does
// for Meilisearch, which sets no default service: 405 with an empty body
// when a route has the path with another method (the resource's default),
// 404 with an empty body otherwise (the app's default). Neither checks the
// API key: no route extractor runs.
func (s *Server) handleUnknownRoute(w http.ResponseWriter, r *http.Request) {
	if s.pathRouted(r) {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	w.WriteHeader(http.StatusNotFound)
}

// pathRouted reports whether a route takes r's path with another method.
func (s *Server) pathRouted(r *http.Request) bool {
	if r.URL.Path == "/" {
		return true // GET / (handleRoot)
	}
	for _, m := range routeMethods {
		if m == r.Method {
			continue
		}
		other := *r
		other.Method = m
		if _, pattern := s.mux.Handler(&other); pattern != "" && pattern != "/" {
			return true
		}
	}
	return false
}

// readIndex returns the index uid; the caller holds s.mu (read or write).
func (s *Server) readIndex(uid string) (*index, error) {
	ix, ok := s.indexes[uid]
	if !ok {
		return nil, newError("index_not_found", "Index `%s` not found.", uid)
	}
	return ix, nil
}

// maxPayload is Meilisearch's default http payload limit (100 MB).
const maxPayload = 100 << 20

// readBody returns the request body, gunzipped when Content-Encoding says
// so, limited to maxPayload.
func readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = http.MaxBytesReader(nil, r.Body, maxPayload+1)
	rd, done, err := decompress(r.Header.Get("Content-Encoding"), rd)
	if err != nil {
		if e, ok := err.(*apiError); ok {
			return nil, e
		}
		return nil, newError("malformed_payload", "The request body could not be decompressed: %v", err)
	}
	defer done()
	b, err := io.ReadAll(io.LimitReader(rd, maxPayload+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if ok := asMaxBytes(err, &mbe); ok {
			return nil, newError("payload_too_large", "The provided payload reached the size limit. The maximum accepted payload size is %d bytes.", maxPayload)
		}
		return nil, newError("malformed_payload", "The request body could not be read: %v", err)
	}
	if len(b) > maxPayload {
		return nil, newError("payload_too_large", "The provided payload reached the size limit. The maximum accepted payload size is %d bytes.", maxPayload)
	}
	return b, nil
}

func asMaxBytes(err error, target **http.MaxBytesError) bool {
	e, ok := err.(*http.MaxBytesError)
	if ok {
		*target = e
	}
	return ok
}

// mediaType returns the request's Content-Type without parameters.
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(ct))
	}
	return mt
}

// decodeJSONBody reads a JSON request body into v, answering like
// Meilisearch: missing or wrong Content-Type, empty body and bad JSON are
// each their own error. An empty body decodes as {} when allowEmpty.
func decodeJSONBody(r *http.Request, v any) error {
	return decodeJSON(r, v, false)
}

func decodeJSON(r *http.Request, v any, allowEmpty bool) error {
	mt := mediaType(r)
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		if mt == "" {
			return newError("missing_content_type", "A Content-Type header is missing. Accepted values for the Content-Type header are: `application/json`")
		}
		return newError("missing_payload", "A json payload is missing.")
	}
	if mt != "application/json" {
		if mt == "" {
			return newError("missing_content_type", "A Content-Type header is missing. Accepted values for the Content-Type header are: `application/json`")
		}
		return newError("invalid_content_type", "The Content-Type `%s` is invalid. Accepted values for the Content-Type header are: `application/json`", mt)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return newError("bad_request", "Json deserialize error: %v", err)
	}
	return nil
}
