package proxy

import (
	"log/slog"
	"net/http"
	"time"
)

// Operating the proxy (DESIGN §14): one log line per request and the
// metrics route.

// logRequest writes the request's one structured line through the
// Backend's logger: method, route pattern (never the raw path, which may
// hold a document id or a key), status, duration, index and whether the
// call was degraded. Never the body, the query string or a key.
func (h *handler) logRequest(r *http.Request, status int, d time.Duration, degraded bool) {
	l := h.b.Logger()
	ctx := r.Context()
	if !l.Enabled(ctx, slog.LevelInfo) {
		return // the default discard logger: nothing built
	}
	route := r.Pattern
	if route == "" || route == "/" {
		route = "unmatched"
	}
	l.LogAttrs(ctx, slog.LevelInfo, "miroir: request",
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.String("index", r.PathValue("uid")),
		slog.Bool("degraded", degraded))
}

// statusWriter remembers the status a wrapped handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// metrics serves the configured metrics handler behind the admin key, as
// the other /_miroir/* routes.
func (h *handler) metrics(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	status := 0
	if _, err := h.authorize(r, routeOpts{level: authAdmin}); err != nil {
		status = h.writeError(w, r, err)
	} else {
		sw := &statusWriter{ResponseWriter: w}
		h.cfg.Metrics.ServeHTTP(sw, r)
		status = sw.status
		if status == 0 {
			status = http.StatusOK
		}
	}
	h.logRequest(r, status, time.Since(start), false)
}
