package miroir

// Degraded work through the proxy: X-Miroir-Degraded on partial reads and
// degraded writes, 503 for FailFast and for a write without quorum.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestHandlerDegraded(t *testing.T) {
	t.Run("write missing a group", func(t *testing.T) {
		p := startFleet(t, fleetSpec{groups: []int{0, 1}, shards: 4, proxy: true})
		p.mustSucceed(t, p.do(t, req{method: "POST", path: "/indexes", body: map[string]any{"uid": "m", "primaryKey": "id"}}))
		p.srv[1].Stop()
		eventually(t, "node down", func() bool { return !p.c.node(1).isHealthy() })
		r := p.do(t, req{method: "POST", path: "/indexes/m/documents", ct: "application/json", body: `[{"id":1},{"id":2},{"id":3},{"id":4},{"id":5},{"id":6},{"id":7},{"id":8}]`})
		expect(t, r, 202, "")
		deg := r.hdr.Get("X-Miroir-Degraded")
		if !strings.HasPrefix(deg, "groups=1/") {
			t.Fatalf("X-Miroir-Degraded = %q", deg)
		}
		var want []string
		for s := range 4 {
			for id := 1; id <= 8; id++ {
				if ShardOf(fmt.Sprint(id), 4) == s {
					want = append(want, fmt.Sprintf("1/%d", s))
					break
				}
			}
		}
		if deg != "groups="+strings.Join(want, ",") {
			t.Fatalf("X-Miroir-Degraded = %q, want every written shard of group 1: %v", deg, want)
		}
		// A complete read says nothing.
		r = p.do(t, req{method: "GET", path: "/indexes/m/search?q="})
		expect(t, r, 200, "")
		if h := r.hdr.Get("X-Miroir-Degraded"); h != "" {
			t.Fatalf("complete read marked degraded: %q", h)
		}
	})
	t.Run("partial read", func(t *testing.T) {
		p := startFleet(t, fleetSpec{groups: []int{0, 0}, shards: 8, proxy: true})
		p.mustSucceed(t, p.do(t, req{method: "POST", path: "/indexes", body: map[string]any{"uid": "m", "primaryKey": "id"}}))
		p.mustSucceed(t, p.do(t, req{method: "POST", path: "/indexes/m/documents", ct: "application/json", body: `[{"id":1},{"id":2},{"id":3},{"id":4}]`}))
		p.srv[1].Stop()
		eventually(t, "node down", func() bool { return !p.c.node(1).isHealthy() })
		r := p.do(t, req{method: "GET", path: "/indexes/m/search?q="})
		expect(t, r, 200, "")
		deg := r.hdr.Get("X-Miroir-Degraded")
		var lost []string
		for _, s := range p.c.topo().shardsOf(1) {
			lost = append(lost, fmt.Sprint(s))
		}
		if deg != "unavailable="+strings.Join(lost, ",") {
			t.Fatalf("X-Miroir-Degraded = %q, want unavailable=%s", deg, strings.Join(lost, ","))
		}
		expect(t, p.do(t, req{method: "GET", path: "/_miroir/ready"}), 503, CodeShardUnavailable)
		expect(t, p.do(t, req{method: "GET", path: "/health"}), 503, CodeShardUnavailable)
		// A write to a shard with no replica fails with 503 no quorum.
		var id string
		for i := 0; ; i++ {
			if slices.Contains(p.c.topo().shardsOf(1), ShardOf(fmt.Sprint(i), 8)) {
				id = fmt.Sprint(i)
				break
			}
		}
		expect(t, p.do(t, req{method: "POST", path: "/indexes/m/documents", ct: "application/json", body: `[{"id":` + id + `}]`}), 503, CodeNoQuorum)
	})
}

// TestAuditProxyDegraded: issue 6 "X-Miroir-Degraded on degraded writes
// and partial reads, listing groups and shards"; DESIGN §3 no quorum is
// HTTP 503, §5 FailFast miroir_shard_unavailable is HTTP 503.
func TestAuditProxyDegraded(t *testing.T) {
	t.Parallel()
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 1, shards: 7, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, opts: []Option{WithRetries(RetryPolicy{})}, proxy: true})
	pURL, c, srvs := f.url, f.c, f.srv
	r := auditDo(t, pURL, "POST", "/indexes", []byte(`{"uid":"d","primaryKey":"id"}`), "", nil)
	auditWaitHTTP(t, pURL, "", r.obj(t)["taskUid"])
	docs := auditMovies(60)
	r = auditDo(t, pURL, "POST", "/indexes/d/documents", []byte(auditMust(docs)), "", nil)
	if h := r.header.Get("X-Miroir-Degraded"); h != "" {
		t.Errorf("complete write carries X-Miroir-Degraded %q", h)
	}
	auditWaitHTTP(t, pURL, "", r.obj(t)["taskUid"])
	if r := auditDo(t, pURL, "POST", "/indexes/d/search", []byte(`{"q":""}`), "", nil); r.header.Get("X-Miroir-Degraded") != "" {
		t.Errorf("complete read carries X-Miroir-Degraded %q", r.header.Get("X-Miroir-Degraded"))
	}
	top := c.Topology()
	// degraded write: node-2 (group 1) down; group 0 still takes every shard
	srvs[2].Stop()
	var n2 []int
	for _, n := range top.Nodes {
		if n.ID == "node-2" {
			n2 = n.Shards
		}
	}
	var batch []map[string]any
	hit := map[int]bool{}
	for i := 1000; len(hit) < len(n2) && i < 3000; i++ {
		s := ShardOf(fmt.Sprint(i), 7)
		if slices.Contains(n2, s) {
			hit[s] = true
			batch = append(batch, map[string]any{"id": i, "title": "late"})
		}
	}
	r = auditDo(t, pURL, "POST", "/indexes/d/documents", []byte(auditMust(batch)), "", nil)
	if r.status != 202 {
		t.Fatalf("write with one group's node down: %d %s", r.status, auditTrunc(r.body))
	}
	h := r.header.Get("X-Miroir-Degraded")
	if h == "" {
		t.Errorf("degraded write (group 1 missed shards %v) has no X-Miroir-Degraded", n2)
	}
	for _, s := range n2 {
		if !strings.Contains(h, fmt.Sprint(s)) || !strings.Contains(h, "1") {
			t.Errorf("X-Miroir-Degraded %q does not list group 1 / shard %d", h, s)
		}
	}
	// partial read: node-2 is down and node-0 too: the shards only they hold
	srvs[0].Stop()
	missing := auditShardsOnly(top, "node-0", "node-2")
	if len(missing) == 0 {
		t.Fatalf("fixture: no shard held only by node-0 and node-2")
	}
	r = auditDo(t, pURL, "POST", "/indexes/d/search", []byte(`{"q":""}`), "", nil)
	if r.status != 200 {
		t.Fatalf("partial read: %d %s", r.status, auditTrunc(r.body))
	}
	h = r.header.Get("X-Miroir-Degraded")
	if h == "" {
		t.Errorf("partial read (shards %v unavailable) has no X-Miroir-Degraded", missing)
	}
	for _, s := range missing {
		if !strings.Contains(h, fmt.Sprint(s)) {
			t.Errorf("X-Miroir-Degraded %q does not list unavailable shard %d", h, s)
		}
	}
	// no quorum: a document of a shard held only by stopped nodes
	var lost map[string]any
	for i := 5000; i < 9000; i++ {
		if slices.Contains(missing, ShardOf(fmt.Sprint(i), 7)) {
			lost = map[string]any{"id": i}
			break
		}
	}
	r = auditDo(t, pURL, "POST", "/indexes/d/documents", []byte(auditMust([]any{lost})), "", nil)
	if r.status != 503 || r.obj(t)["code"] != "miroir_no_quorum" {
		t.Errorf("write to a shard with no live replica: %d %s, want 503 miroir_no_quorum", r.status, auditTrunc(r.body))
	}
}

// TestAuditProxyFailFast: FailFast reads answer 503
// miroir_shard_unavailable.
func TestAuditProxyFailFast(t *testing.T) {
	t.Parallel()
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 7, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, opts: []Option{WithUnavailableShardPolicy(FailFast), WithRetries(RetryPolicy{})}, proxy: true})
	pURL, srvs := f.url, f.srv
	r := auditDo(t, pURL, "POST", "/indexes", []byte(`{"uid":"f","primaryKey":"id"}`), "", nil)
	auditWaitHTTP(t, pURL, "", r.obj(t)["taskUid"])
	r = auditDo(t, pURL, "POST", "/indexes/f/documents", []byte(auditMust(auditMovies(20))), "", nil)
	auditWaitHTTP(t, pURL, "", r.obj(t)["taskUid"])
	srvs[1].Stop()
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/indexes/f/search", `{"q":"star"}`},
		{"GET", "/indexes/f/search?q=star", ""},
		{"POST", "/multi-search", `{"queries":[{"indexUid":"f","q":"star"}]}`},
		{"GET", "/indexes/f/documents", ""},
	} {
		var b []byte
		if req.body != "" {
			b = []byte(req.body)
		}
		r := auditDo(t, pURL, req.method, req.path, b, "", nil)
		if r.status != 503 {
			t.Errorf("%s %s under FailFast with a shard down: %d %s, want 503", req.method, req.path, r.status, auditTrunc(r.body))
			continue
		}
		m := r.obj(t)
		if m["code"] != "miroir_shard_unavailable" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %s", req.method, req.path, r.body)
		}
		if ks := auditKeys(m); !slices.Equal(ks, []string{"code", "link", "message", "type"}) {
			t.Errorf("%s %s: error fields %v", req.method, req.path, ks)
		}
	}
}

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
