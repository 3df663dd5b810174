package miroir

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// /_miroir/metrics serves the given handler behind the admin key, and
// does not exist without one.
func TestHandlerMetricsRoute(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, "miroir_requests_total 3\n")
	})
	p := startFleet(t, fleetSpec{groups: []int{0, 0}, proxy: true,
		hopts: []HandlerOption{WithMasterKey("pm"), WithAdminKey("pa"), WithMetricsHandler(metrics)}})
	expect(t, p.do(t, req{method: "GET", path: "/_miroir/metrics", noAuth: true}), 401, "missing_authorization_header")
	expect(t, p.do(t, req{method: "GET", path: "/_miroir/metrics", token: "pm"}), 403, "invalid_api_key")
	r := p.do(t, req{method: "GET", path: "/_miroir/metrics", token: "pa"})
	if r.status != 200 || string(r.body) != "miroir_requests_total 3\n" || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics with the admin key: %d %q %q", r.status, r.hdr.Get("Content-Type"), r.body)
	}
	expect(t, p.do(t, req{method: "POST", path: "/_miroir/metrics", token: "pa"}), 405, "")

	q := startFleet(t, fleetSpec{groups: []int{0, 0}, proxy: true, hopts: []HandlerOption{WithMasterKey("pm"), WithAdminKey("pa")}})
	expect(t, q.do(t, req{method: "GET", path: "/_miroir/metrics", token: "pa"}), 404, "")
}

// Each request is one structured log line with the route's pattern, its
// status, index and degradation, and nothing of the body, the query text,
// a document id or a key.
func TestHandlerRequestLog(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&buf, &mu}, nil))
	p := startFleet(t, fleetSpec{groups: []int{0, 1}, shards: 4, instant: true, token: "pm", nodeKey: "nodekey-0000", proxy: true,
		opts: []Option{WithLogger(logger)}, hopts: []HandlerOption{WithMasterKey("pm")}})
	expect(t, p.do(t, req{method: "POST", path: "/indexes/movies/documents", body: `[{"id":4242,"title":"bodysecret"}]`, ct: "application/json"}), 202, "")
	p.idle(t)
	expect(t, p.do(t, req{method: "GET", path: "/indexes/movies/search?q=querysecret"}), 200, "")
	expect(t, p.do(t, req{method: "GET", path: "/indexes/movies/documents/4242"}), 200, "")
	expect(t, p.do(t, req{method: "GET", path: "/keys/keysecret-0000"}), 404, "api_key_not_found")
	expect(t, p.do(t, req{method: "GET", path: "/nowhere"}), 404, "")
	p.stop(t, 1)
	r := p.do(t, req{method: "POST", path: "/indexes/movies/documents", body: `[{"id":1}]`, ct: "application/json"})
	expect(t, r, 202, "")

	mu.Lock()
	out := buf.String()
	mu.Unlock()
	type line struct {
		Msg      string   `json:"msg"`
		Method   string   `json:"method"`
		Route    string   `json:"route"`
		Status   int      `json:"status"`
		Duration *float64 `json:"duration"`
		Index    string   `json:"index"`
		Degraded bool     `json:"degraded"`
	}
	var got []line
	for _, s := range strings.Split(strings.TrimSpace(out), "\n") {
		var l line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, s)
		}
		if l.Msg == "miroir: request" {
			got = append(got, l)
		}
	}
	want := []line{
		{Method: "POST", Route: "POST /indexes/{uid}/documents", Status: 202, Index: "movies"},
		{Method: "GET", Route: "GET /indexes/{uid}/search", Status: 200, Index: "movies"},
		{Method: "GET", Route: "GET /indexes/{uid}/documents/{id}", Status: 200, Index: "movies"},
		{Method: "GET", Route: "GET /keys/{key}", Status: 404},
		{Method: "GET", Route: "unmatched", Status: 404},
		{Method: "POST", Route: "POST /indexes/{uid}/documents", Status: 202, Index: "movies", Degraded: true},
	}
	if len(got) != len(want) {
		t.Fatalf("%d request lines, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		g := got[i]
		if g.Duration == nil || *g.Duration < 0 {
			t.Errorf("line %d has no duration: %+v", i, g)
		}
		g.Msg, g.Duration = "", nil
		if g != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, g, want[i])
		}
	}
	// The time and the duration are digits that may contain the secret
	// id by chance: they are left out of the search.
	var scrubbed strings.Builder
	for _, s := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		_ = json.Unmarshal([]byte(s), &m)
		delete(m, "time")
		delete(m, "duration")
		b, _ := json.Marshal(m)
		scrubbed.Write(append(b, '\n'))
	}
	for _, secret := range []string{"bodysecret", "querysecret", "4242", "keysecret", "pm\"", "nodekey"} {
		if strings.Contains(scrubbed.String(), secret) {
			t.Errorf("the log shows %q:\n%s", secret, out)
		}
	}
}
