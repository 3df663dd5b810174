// Package proxy serves Meilisearch's REST API over a Backend (the
// Cluster): proxy mode, DESIGN §9. Every route is a translation onto a
// Backend method: request parsing and response rendering live here,
// routing, quorum, merging and settings logic never do, and this package
// cannot reach them (it does not import the root package, which imports
// it).
//
// Files: backend.go (the Backend interface and the types it speaks),
// handler.go (configuration, serving, rendering), routes.go (the route
// table), auth.go, body.go (reading bodies), indexes.go (server and
// indexes), keys.go, documents.go, search.go, settings.go, tasks.go,
// tasks_query.go, miroir.go (/_miroir/*), observe.go (request log, metrics
// route), json.go (small JSON builders).
package proxy

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Config is the handler's configuration (the root's HandlerOptions set
// it).
type Config struct {
	// MasterKey, when set, is required of every route but /health.
	MasterKey string
	// AdminKey is required by /_miroir/* (the master key when unset).
	AdminKey string
	// Passthrough accepts API keys and tenant tokens, judged as a node
	// judges them, and forwards them to the nodes.
	Passthrough bool
	// MaxBody bounds request bodies after decompression.
	MaxBody int64
	// Codings are the Content-Encodings beyond gzip and deflate, by
	// lower-case name.
	Codings map[string]Coding
	// Metrics, when set, is served at GET /_miroir/metrics behind the
	// admin key (a Prometheus handler); without it the route is 404.
	Metrics http.Handler
}

// Coding is one Content-Encoding beyond gzip and deflate: Decode reads
// request bodies, Encode (nil: never chosen) writes answers.
type Coding struct {
	Decode func(io.Reader) (io.ReadCloser, error)
	Encode func(io.Writer) io.WriteCloser
}

// handler is the http.Handler New returns.
type handler struct {
	b      Backend
	cfg    Config
	mux    *http.ServeMux
	master [32]byte // sha256 of the master key
	admin  [32]byte // sha256 of the admin key (or the master key)
	hasAdm bool
	keys   keyCache // pass-through: API keys read from the fleet
}

// New returns the handler serving Meilisearch's REST API over b.
func New(b Backend, cfg Config) http.Handler {
	h := &handler{b: b, cfg: cfg, mux: http.NewServeMux(), keys: keyCache{b: b}}
	h.master = sha256.Sum256([]byte(h.cfg.MasterKey))
	switch {
	case h.cfg.AdminKey != "":
		h.admin, h.hasAdm = sha256.Sum256([]byte(h.cfg.AdminKey)), true
	case h.cfg.MasterKey != "":
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

// ServeHTTP routes r. Unknown routes answer 404 (405 for a known path
// with another method) before authentication, as Meilisearch does.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, o routeOpts, fn routeFunc) {
	start := time.Now()
	status, degraded := h.serveRoute(w, r, o, fn)
	h.logRequest(r, status, time.Since(start), degraded)
}

// serveRoute authorizes and runs one route; it returns the status it
// answered with and whether the call was degraded (for the request log).
func (h *handler) serveRoute(w http.ResponseWriter, r *http.Request, o routeOpts, fn routeFunc) (int, bool) {
	ctx, err := h.authorize(r, o)
	if err != nil {
		return h.writeError(w, r, err), false
	}
	if o.write {
		ctx = context.WithoutCancel(ctx)
	}
	ctx, degradation := h.b.Track(ctx)
	r = r.WithContext(ctx)
	res, err := fn(r)
	deg := degradedHeader(degradation())
	if deg != "" {
		w.Header().Set("X-Miroir-Degraded", deg)
	}
	if err != nil {
		status, code, body := h.b.RenderError(err)
		if status >= 500 {
			h.b.Logger().Warn("miroir: proxy request failed", "method", r.Method, "route", r.Pattern, "code", code, "status", status)
		}
		h.write(w, r, status, body)
		return status, deg != ""
	}
	return h.writeReply(w, r, res), deg != ""
}

// ---- rendering ----

// writeError answers err and returns the status it answered with.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) int {
	status, _, body := h.b.RenderError(err)
	h.write(w, r, status, body)
	return status
}

// writeReply answers res and returns the status it answered with.
func (h *handler) writeReply(w http.ResponseWriter, r *http.Request, res reply) int {
	if res.status == 0 {
		res.status = http.StatusOK
	}
	var b []byte
	switch v := res.body.(type) {
	case nil:
		w.WriteHeader(res.status)
		return res.status
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
			return h.writeError(w, r, fmt.Errorf("miroir: encoding the answer: %w", err))
		}
	}
	h.write(w, r, res.status, b)
	return res.status
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
		case "gzip", "deflate":
			pool := compressors[name]
			return name, func(w io.Writer) io.WriteCloser {
				zw := pool.Get().(resettableWriter)
				zw.Reset(w)
				return &pooledWriter{resettableWriter: zw, pool: pool}
			}
		}
		if c, ok := h.cfg.Codings[name]; ok && c.Encode != nil {
			return name, c.Encode
		}
	}
	return "", nil
}

// resettableWriter is what gzip.Writer and zlib.Writer have in common.
type resettableWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

// compressors keeps gzip and zlib writers for reuse: Go's HTTP clients ask
// for gzip on every request, and a fresh writer allocates ~800 KB of
// compressor state, more than most answers it compresses.
var compressors = map[string]*sync.Pool{
	"gzip":    {New: func() any { return gzip.NewWriter(nil) }},
	"deflate": {New: func() any { return zlib.NewWriter(nil) }},
}

// pooledWriter returns its writer to the pool once closed.
type pooledWriter struct {
	resettableWriter
	pool *sync.Pool
}

func (p *pooledWriter) Close() error {
	err := p.resettableWriter.Close()
	p.pool.Put(p.resettableWriter)
	return err
}

// degradedHeader renders what made a call degraded: the (group/shard)
// pairs of a write whose group missed quorum, and the shards a read could
// not reach, e.g. "groups=1/3,1/7; unavailable=12". Empty when the call
// was complete.
func degradedHeader(d Degradation) string {
	var b strings.Builder
	if len(d.Groups) > 0 {
		b.WriteString("groups=")
		for i, p := range d.Groups {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d/%d", p.Group, p.Shard)
		}
	}
	if len(d.Unavailable) > 0 {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString("unavailable=")
		for i, s := range d.Unavailable {
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
