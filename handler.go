package miroir

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/keyauth"
)

// Proxy mode (DESIGN §9): Cluster.Handler serves Meilisearch's REST API on
// top of the Cluster, so that any official SDK talks to a sharded fleet
// through one URL. Every route is a translation onto a Cluster method (or
// its raw-bytes twin): request parsing and response rendering live here,
// routing, quorum, merging and settings logic never do.
//
// Files: handler.go (options, auth, body reading, rendering, the route
// table), handler_indexes.go (server, indexes, keys, misc), handler_documents.go,
// handler_search.go, handler_settings.go, handler_tasks.go, handler_miroir.go.

// HandlerOption configures Cluster.Handler.
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	masterKey   string
	adminKey    string
	passthrough bool
	maxBody     int64
	codings     map[string]contentCoding
}

// contentCoding is one Content-Encoding beyond gzip and deflate.
type contentCoding struct {
	decode func(io.Reader) (io.ReadCloser, error)
	encode func(io.Writer) io.WriteCloser
}

// DefaultMaxBodyBytes is the request body limit of the handler, the same
// as Meilisearch's default http payload limit (100 MiB).
const DefaultMaxBodyBytes = 100 << 20

// WithMasterKey makes every route but /health require
// "Authorization: Bearer <key>": a missing header answers 401
// missing_authorization_header, another token 403 invalid_api_key (the
// comparison takes constant time). Without it the API is open, like a
// Meilisearch started without a master key. The key is the handler's own;
// nodes are reached with the Cluster's node keys.
func WithMasterKey(key string) HandlerOption { return func(c *handlerConfig) { c.masterKey = key } }

// WithAdminKey sets the key that /_miroir/* (topology, shards, readiness)
// require. Without it those routes take the master key (and are open
// when there is none).
func WithAdminKey(key string) HandlerOption { return func(c *handlerConfig) { c.adminKey = key } }

// WithAuthPassthrough forwards the caller's own bearer token to the nodes
// instead of the Cluster's node keys, so that Meilisearch API keys and
// tenant tokens keep their permissions: the nodes judge them. The master
// key (WithMasterKey), when it is the caller's token, is still accepted by
// the handler itself and then the node keys are used. Every node must share
// the fleet's master key, so that a key has the same value everywhere.
func WithAuthPassthrough() HandlerOption { return func(c *handlerConfig) { c.passthrough = true } }

// WithMaxBodyBytes bounds request bodies, after decompression (default
// DefaultMaxBodyBytes); larger bodies answer 413 payload_too_large.
func WithMaxBodyBytes(n int64) HandlerOption {
	return func(c *handlerConfig) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// WithContentCoding adds a Content-Encoding to the built-in gzip and
// deflate: request bodies with Content-Encoding name are decoded by decode,
// and answers to requests that accept name (Accept-Encoding) are encoded by
// encode (nil: never chosen for answers). Meilisearch also speaks brotli
// ("br"), which needs a package from outside the standard library, e.g.
// github.com/andybalholm/brotli:
//
//	miroir.WithContentCoding("br",
//		func(r io.Reader) (io.ReadCloser, error) { return io.NopCloser(brotli.NewReader(r)), nil },
//		func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) })
func WithContentCoding(name string, decode func(io.Reader) (io.ReadCloser, error), encode func(io.Writer) io.WriteCloser) HandlerOption {
	return func(c *handlerConfig) {
		if c.codings == nil {
			c.codings = map[string]contentCoding{}
		}
		c.codings[strings.ToLower(name)] = contentCoding{decode, encode}
	}
}

// authLevel is what a route requires.
type authLevel int

const (
	authPublic authLevel = iota // /health
	authMaster                  // the Meilisearch API
	authAdmin                   // /_miroir/*
)

// handler is the http.Handler Cluster.Handler returns.
type handler struct {
	c      *Cluster
	cfg    handlerConfig
	mux    *http.ServeMux
	master [32]byte // sha256 of the master key
	admin  [32]byte // sha256 of the admin key (or the master key)
	hasAdm bool
	keys   keyCache // pass-through: API keys read from the fleet
}

// Handler returns an http.Handler serving Meilisearch's REST API over the
// fleet (proxy mode): health, version, stats, indexes, documents (JSON,
// NDJSON, CSV), search, facet search, similar documents, multi-search,
// settings, tasks and keys, plus /_miroir/topology, /_miroir/shards and
// /_miroir/ready. Answers have Meilisearch's shapes, status codes and
// errors; a write or read that was degraded carries X-Miroir-Degraded.
// Mount it at the root of a server or under a prefix with
// http.StripPrefix.
func (c *Cluster) Handler(opts ...HandlerOption) http.Handler {
	h := &handler{c: c, cfg: handlerConfig{maxBody: DefaultMaxBodyBytes}, mux: http.NewServeMux(), keys: keyCache{c: c}}
	for _, o := range opts {
		if o != nil {
			o(&h.cfg)
		}
	}
	h.master = sha256.Sum256([]byte(h.cfg.masterKey))
	switch {
	case h.cfg.adminKey != "":
		h.admin, h.hasAdm = sha256.Sum256([]byte(h.cfg.adminKey)), true
	case h.cfg.masterKey != "":
		h.admin, h.hasAdm = h.master, true
	}
	h.routes()
	return h
}

// reply is what a route answers: a status and a body, either raw JSON
// ([]byte) or a value to encode; nil is no body.
type reply struct {
	status int
	body   any
	// contentType overrides application/json (NDJSON task documents).
	contentType string
}

type routeFunc func(r *http.Request) (reply, error)

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

// ServeHTTP routes r. Unknown routes answer 404 (405 for a known path
// with another method) before authentication, as Meilisearch does.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, o routeOpts, fn routeFunc) {
	ctx, err := h.authorize(r, o)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if o.write {
		ctx = context.WithoutCancel(ctx)
	}
	rep := &Report{}
	ctx = WithReport(ctx, rep)
	r = r.WithContext(ctx)
	res, err := fn(r)
	if deg := degradedHeader(rep); deg != "" {
		w.Header().Set("X-Miroir-Degraded", deg)
	}
	if err != nil {
		if status, _ := errorStatus(err); status >= 500 {
			h.c.opts.logger.Warn("miroir: proxy request failed", "method", r.Method, "path", r.URL.Path, "code", apiCode(err), "status", status)
		}
		h.writeError(w, r, err)
		return
	}
	h.writeReply(w, r, res)
}

// ---- rendering ----

// errorStatus returns the HTTP status and the Meilisearch error body of
// err. Node errors keep the node's status and code; a node that did not
// answer is 503; miroir's own errors carry their status.
func errorStatus(err error) (int, []byte) {
	status, body := errorBody(err)
	if status == http.StatusInternalServerError {
		switch {
		case isTransportError(err) || apiCode(err) == CodeNodeUnreachable:
			status = http.StatusServiceUnavailable
		case errors.Is(err, context.DeadlineExceeded):
			status = http.StatusGatewayTimeout
		case errors.Is(err, ErrClosed):
			status = http.StatusServiceUnavailable
		}
	}
	return status, body
}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := errorStatus(err)
	h.write(w, r, status, body)
}

func (h *handler) writeReply(w http.ResponseWriter, r *http.Request, res reply) {
	if res.status == 0 {
		res.status = http.StatusOK
	}
	var b []byte
	switch v := res.body.(type) {
	case nil:
		w.WriteHeader(res.status)
		return
	case []byte:
		b = v
		if res.contentType != "" {
			w.Header().Set("Content-Type", res.contentType)
		}
	case json.RawMessage:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			h.writeError(w, r, fmt.Errorf("miroir: encoding the answer: %w", err))
			return
		}
	}
	h.write(w, r, res.status, b)
}

// write sends a body (JSON unless the Content-Type is already set), encoded with the first coding the request
// accepts (as Meilisearch compresses its answers; meilisearch-go configured
// with a content encoding expects them so).
func (h *handler) write(w http.ResponseWriter, r *http.Request, status int, b []byte) {
	hd := w.Header()
	if hd.Get("Content-Type") == "" {
		hd.Set("Content-Type", "application/json")
	}
	if ae := r.Header.Get("Accept-Encoding"); ae != "" {
		if name, enc := h.pickEncoding(ae); enc != nil {
			var buf bytes.Buffer
			zw := enc(&buf)
			_, err1 := zw.Write(b)
			if err2 := zw.Close(); err1 == nil && err2 == nil {
				hd.Set("Content-Encoding", name)
				hd.Add("Vary", "Accept-Encoding")
				b = buf.Bytes()
			}
		}
	}
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// pickEncoding returns the first coding of an Accept-Encoding header the
// handler can produce (q=0 entries are skipped).
func (h *handler) pickEncoding(ae string) (string, func(io.Writer) io.WriteCloser) {
	for part := range strings.SplitSeq(ae, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if q := strings.TrimSpace(params); strings.HasPrefix(q, "q=") {
			if v, err := strconv.ParseFloat(q[2:], 64); err == nil && v == 0 {
				continue
			}
		}
		switch name {
		case "gzip":
			return name, func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }
		case "deflate":
			return name, func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) }
		}
		if c, ok := h.cfg.codings[name]; ok && c.encode != nil {
			return name, c.encode
		}
	}
	return "", nil
}

// degradedHeader renders what made a call degraded: the (group/shard)
// pairs of a write whose group missed quorum, and the shards a read could
// not reach, e.g. "groups=1/3,1/7; unavailable=12". Empty when the call
// was complete.
func degradedHeader(r *Report) string {
	if !r.IsDegraded() {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	if len(r.Degraded) > 0 {
		b.WriteString("groups=")
		for i, p := range r.Degraded {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d/%d", p.Group, p.Shard)
		}
	}
	if len(r.UnavailableShards) > 0 {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString("unavailable=")
		for i, s := range r.UnavailableShards {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(s))
		}
	}
	return b.String()
}

// taskSummary is the 202 answer of a write, in Meilisearch's shape.
type taskSummary struct {
	TaskUID    int64                  `json:"taskUid"`
	IndexUID   *string                `json:"indexUid"`
	Status     meilisearch.TaskStatus `json:"status"`
	Type       meilisearch.TaskType   `json:"type"`
	EnqueuedAt time.Time              `json:"enqueuedAt"`
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// accepted renders a write's cluster task as Meilisearch's 202 answer.
func accepted(info *meilisearch.TaskInfo, err error) (reply, error) {
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted, body: taskSummary{
		TaskUID: info.TaskUID, IndexUID: nullString(info.IndexUID), Status: info.Status, Type: info.Type, EnqueuedAt: info.EnqueuedAt,
	}}, nil
}

// ---- routing table ----

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

	h.mux.HandleFunc("/", h.notFound)
}

// notFound answers an unknown route as Meilisearch's router does, before
// authentication and with an empty body: 405 when the path exists with
// other methods, else 404.
func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := h.mux.Handler(r2); p != "/" && p != "" {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
	}
	w.WriteHeader(http.StatusNotFound)
}

func (h *handler) unsupportedRoute(what string) routeFunc {
	return func(r *http.Request) (reply, error) {
		return reply{}, unsupported(what, "it has no meaning on a sharded fleet behind miroir")
	}
}
