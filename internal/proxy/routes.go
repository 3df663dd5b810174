package proxy

import (
	"net/http"
	"strings"
	"time"

	"github.com/miroirsearch/miroir/internal/keyauth"
)

// authLevel is what a route requires.
type authLevel int

const (
	authPublic authLevel = iota // /health
	authMaster                  // the Meilisearch API
	authAdmin                   // /_miroir/*
)

// routeOpts says how a route runs.
type routeOpts struct {
	level authLevel
	// write: the call continues when the client goes away (a write that
	// reached some nodes should reach them all, not be cut by a hang-up).
	write bool
	// action is the Meilisearch action the route requires of an API key
	// ("" for a route only the master key or a "*" key may call), and
	// indexParam whether its path names the index the key must allow; both
	// derived from the pattern (internal/keyauth).
	action     string
	indexParam bool
}

func (h *handler) handle(pattern string, o routeOpts, fn routeFunc) {
	o.action, _ = keyauth.RouteAction(pattern)
	o.indexParam = keyauth.IndexParam(pattern)
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, o, fn)
	})
}

func (h *handler) routes() {
	m := routeOpts{level: authMaster}
	wr := routeOpts{level: authMaster, write: true}

	h.handle("GET /{$}", routeOpts{level: authPublic}, func(*http.Request) (reply, error) {
		return reply{body: map[string]string{"status": "Meilisearch is running"}}, nil
	})
	h.handle("GET /health", routeOpts{level: authPublic}, h.health)
	h.handle("GET /version", m, h.version)
	h.handle("GET /stats", m, h.globalStats)
	h.handle("POST /dumps", wr, h.dump)
	h.handle("POST /snapshots", wr, h.snapshot)
	h.handle("GET /experimental-features", m, h.features)
	h.handle("PATCH /experimental-features", wr, h.features)
	h.handle("POST /render-template", m, h.renderTemplate)

	h.handle("GET /indexes", m, h.listIndexes)
	h.handle("POST /indexes", wr, h.createIndex)
	h.handle("GET /indexes/{uid}", m, h.getIndex)
	h.handle("PATCH /indexes/{uid}", wr, h.updateIndex)
	h.handle("DELETE /indexes/{uid}", wr, h.deleteIndex)
	h.handle("GET /indexes/{uid}/stats", m, h.indexStats)
	h.handle("POST /indexes/{uid}/compact", wr, h.compact)
	h.handle("POST /swap-indexes", wr, h.swapIndexes)

	h.handle("GET /indexes/{uid}/documents", m, h.listDocuments)
	h.handle("POST /indexes/{uid}/documents/fetch", m, h.fetchDocuments)
	h.handle("POST /indexes/{uid}/documents", wr, h.addDocuments)
	h.handle("PUT /indexes/{uid}/documents", wr, h.updateDocuments)
	h.handle("DELETE /indexes/{uid}/documents", wr, h.deleteAllDocuments)
	h.handle("GET /indexes/{uid}/documents/{id}", m, h.getDocument)
	h.handle("DELETE /indexes/{uid}/documents/{id}", wr, h.deleteDocument)
	h.handle("POST /indexes/{uid}/documents/delete-batch", wr, h.deleteBatch)
	h.handle("POST /indexes/{uid}/documents/delete", wr, h.deleteByFilter)
	h.handle("POST /indexes/{uid}/documents/edit", wr, h.editDocuments)

	h.handle("GET /indexes/{uid}/search", m, h.search)
	h.handle("POST /indexes/{uid}/search", m, h.search)
	h.handle("POST /indexes/{uid}/facet-search", m, h.facetSearch)
	h.handle("GET /indexes/{uid}/similar", m, h.similar)
	h.handle("POST /indexes/{uid}/similar", m, h.similar)
	h.handle("POST /multi-search", m, h.multiSearch)

	h.handle("GET /indexes/{uid}/settings", m, h.getSettings)
	h.handle("PATCH /indexes/{uid}/settings", wr, h.updateSettings)
	h.handle("DELETE /indexes/{uid}/settings", wr, h.updateSettings)
	h.handle("GET /indexes/{uid}/settings/{name}", m, h.getSetting)
	for _, verb := range []string{"PUT", "PATCH", "POST", "DELETE"} {
		h.handle(verb+" /indexes/{uid}/settings/{name}", wr, h.updateSetting)
	}

	h.handle("GET /tasks", m, h.listTasks)
	h.handle("GET /tasks/{uid}", m, h.getTask)
	h.handle("GET /tasks/{uid}/documents", m, h.taskDocuments)
	h.handle("POST /tasks/cancel", wr, h.cancelTasks)
	h.handle("DELETE /tasks", wr, h.deleteTasks)
	h.handle("GET /batches", m, h.unsupportedRoute("GetBatches"))
	h.handle("GET /batches/{uid}", m, h.unsupportedRoute("GetBatch"))

	h.handle("GET /keys", m, h.listKeys)
	h.handle("POST /keys", wr, h.createKey)
	h.handle("GET /keys/{key}", m, h.getKey)
	h.handle("PATCH /keys/{key}", wr, h.updateKey)
	h.handle("DELETE /keys/{key}", wr, h.deleteKey)

	h.handle("POST /dynamic-search-rules", m, h.listSearchRules)
	h.handle("GET /dynamic-search-rules/{uid}", m, h.getSearchRule)
	for _, p := range []string{
		"PATCH /dynamic-search-rules/{uid}", "DELETE /dynamic-search-rules/{uid}", "DELETE /dynamic-search-rules",
		"GET /network", "PATCH /network", "POST /export",
		"GET /webhooks", "POST /webhooks", "GET /webhooks/{id}", "PATCH /webhooks/{id}", "DELETE /webhooks/{id}",
		"GET /chats", "GET /chats/{id}", "DELETE /chats/{id}", "GET /chats/{id}/settings", "PATCH /chats/{id}/settings",
		"DELETE /chats/{id}/settings", "POST /chats/{id}/chat/completions",
	} {
		h.handle(p, m, h.unsupportedRoute(strings.SplitN(p, " ", 2)[1]))
	}

	adm := routeOpts{level: authAdmin}
	h.handle("GET /_miroir/topology", adm, h.topology)
	h.handle("GET /_miroir/shards", adm, h.shards)
	h.handle("GET /_miroir/ready", adm, h.ready)
	if h.cfg.Metrics != nil {
		h.mux.HandleFunc("GET /_miroir/metrics", h.metrics)
	}

	h.mux.HandleFunc("/", h.notFound)
}

// notFound answers an unknown route as Meilisearch's router does, before
// authentication and with an empty body: 405 when the path exists with
// other methods, else 404.
func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	status := h.notFoundStatus(r)
	w.WriteHeader(status)
	h.logRequest(r, status, time.Since(start), false)
}

// notFoundStatus is 405 when r's path exists with other methods, else 404.
func (h *handler) notFoundStatus(r *http.Request) int {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := h.mux.Handler(r2); p != "/" && p != "" {
			return http.StatusMethodNotAllowed
		}
	}
	return http.StatusNotFound
}

func (h *handler) unsupportedRoute(what string) routeFunc {
	return func(r *http.Request) (reply, error) {
		return reply{}, h.b.Unsupported(what, "it has no meaning on a sharded fleet behind miroir")
	}
}
