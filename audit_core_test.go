package miroir

// Black-box acceptance audit of the cluster core (DESIGN.md §1-§4, §6, §8
// and issue 3). Only the public API of miroir, meilisearch-go and meilitest
// is used; node contents are checked over plain HTTP.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAuditCoreProxyNoQuorum503AndDegradedHeader(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, rf: 1, shards: 4, timing: oneRetry})
	f.create(t, "docs", "id")
	h := f.c.Handler()
	srv := httptest.NewServer(h)
	defer srv.Close()

	f.stop(t, 0)
	st, body := acHTTP(t, srv.URL, "POST", "/indexes/docs/documents", `[{"id":1},{"id":2},{"id":3}]`, "")
	if st != 202 {
		t.Fatalf("degraded write: %d %s", st, body)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/indexes/docs/documents", strings.NewReader(`[{"id":4}]`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 || resp.Header.Get("X-Miroir-Degraded") == "" {
		t.Errorf("degraded write: status %d, X-Miroir-Degraded %q", resp.StatusCode, resp.Header.Get("X-Miroir-Degraded"))
	}
	f.stop(t, 1)
	st, body = acHTTP(t, srv.URL, "POST", "/indexes/docs/documents", `[{"id":5}]`, "")
	var e struct{ Message, Code, Type, Link string }
	_ = json.Unmarshal(body, &e)
	if st != 503 || e.Code != CodeNoQuorum || e.Message == "" || e.Type == "" {
		t.Errorf("no quorum in proxy mode: %d %s", st, body)
	}
}

func TestAuditCoreProxyTopologyRoutes(t *testing.T) {
	const master = "proxy-master-key-000000"
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, shards: 8, nodeKey: master, timing: oneRetry,
		proxy: true, hopts: []HandlerOption{WithMasterKey("front-key"), WithAdminKey("admin-key")}})
	for _, p := range []string{"/_miroir/topology", "/_miroir/shards"} {
		st, body := acHTTP(t, f.url, "GET", p, nil, "admin-key")
		if st != 200 || !json.Valid(body) {
			t.Errorf("%s: %d %s", p, st, body)
		}
		if strings.Contains(string(body), master) {
			t.Errorf("%s leaks the node key", p)
		}
		if st, _ := acHTTP(t, f.url, "GET", p, nil, "front-key"); st != 403 {
			t.Errorf("%s with the master key instead of the admin key: %d, want 403", p, st)
		}
	}
	if st, body := acHTTP(t, f.url, "GET", "/indexes", nil, ""); st != 401 || !strings.Contains(string(body), "missing_authorization_header") {
		t.Errorf("no auth: %d %s", st, body)
	}
	if st, body := acHTTP(t, f.url, "GET", "/indexes", nil, "wrong"); st != 403 || !strings.Contains(string(body), "invalid_api_key") {
		t.Errorf("wrong key: %d %s", st, body)
	}
	if st, _ := acHTTP(t, f.url, "GET", "/health", nil, ""); st != 200 {
		t.Errorf("/health must be open: %d", st)
	}
	var top map[string]any
	_, body := acHTTP(t, f.url, "GET", "/_miroir/topology", nil, "admin-key")
	_ = json.Unmarshal(body, &top)
	if top["shards"] != float64(8) {
		t.Errorf("topology JSON: %s", body)
	}
}
