package miroir

// Proxy mode (Cluster.Handler) tested from outside, over HTTP: the request
// helpers every proxy_*_test.go file uses, and the admin topology routes.
// Most proxy tests compare the proxy with one meilitest node playing
// Meilisearch, request by request.

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// req is one request to the proxy.
type req struct {
	method, path string
	body         any // string, []byte or a value to encode as JSON
	ct           string
	hdr          map[string]string
	noAuth       bool
	token        string // overrides the default token
}

type resp struct {
	status int
	hdr    http.Header
	body   []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (r resp) code() string {
	var e struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Code
}

func (p *testFleet) do(t testing.TB, q req) resp {
	t.Helper()
	return doReq(t, p.url, p.token, q)
}

func doReq(t testing.TB, base, key string, q req) resp {
	t.Helper()
	var body io.Reader
	ct := q.ct
	switch b := q.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(raw)
		if ct == "" {
			ct = "application/json"
		}
	}
	r, err := http.NewRequest(q.method, base+q.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	tok := key
	if q.token != "" {
		tok = q.token
	}
	if tok != "" && !q.noAuth {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range q.hdr {
		r.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{res.StatusCode, res.Header, b}
}

// expect fails unless the answer has status and (when code is set) the
// Meilisearch error code, in Meilisearch's error shape.
func expect(t testing.TB, r resp, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.hdr.Get("Content-Type"); len(r.body) > 0 && ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if code == "" {
		return
	}
	var e map[string]any
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body is not JSON: %s", r.body)
	}
	for _, k := range []string{"message", "code", "type", "link"} {
		if _, ok := e[k].(string); !ok {
			t.Fatalf("error body lacks %q: %s", k, r.body)
		}
	}
	if e["code"] != code {
		t.Fatalf("code %v, want %s: %s", e["code"], code, r.body)
	}
}

// waitTask polls GET /tasks/{uid} until the task is finished and returns it.
func (p *testFleet) waitTask(t testing.TB, r resp) map[string]any {
	t.Helper()
	if r.status != http.StatusAccepted && r.status != http.StatusOK {
		t.Fatalf("write answered %d: %s", r.status, r.body)
	}
	var sum struct {
		TaskUID *int64 `json:"taskUid"`
	}
	if err := json.Unmarshal(r.body, &sum); err != nil || sum.TaskUID == nil {
		t.Fatalf("not a task summary: %s", r.body)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		g := p.do(t, req{method: "GET", path: fmt.Sprintf("/tasks/%d", *sum.TaskUID)})
		expect(t, g, 200, "")
		task := g.json(t)
		switch task["status"] {
		case "succeeded", "failed", "canceled":
			return task
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %d not finished: %s", *sum.TaskUID, g.body)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mustSucceed waits for the task of r and fails unless it succeeded.
func (p *testFleet) mustSucceed(t testing.TB, r resp) map[string]any {
	t.Helper()
	task := p.waitTask(t, r)
	if task["status"] != "succeeded" {
		t.Fatalf("task failed: %v", task)
	}
	return task
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var moviesJSON = `[
 {"id": 1, "title": "Carol", "genre": "drama", "year": 2015},
 {"id": 2, "title": "Wonder Woman", "genre": "action", "year": 2017},
 {"id": 3, "title": "Life of Pi", "genre": "drama", "year": 2012},
 {"id": 4, "title": "Mad Max: Fury Road", "genre": "action", "year": 2015},
 {"id": 5, "title": "Moana", "genre": "animation", "year": 2016},
 {"id": 6, "title": "Philadelphia", "genre": "drama", "year": 1993}
]`

// loadMovies creates index uid with filterable genre, sortable year, and
// the six movies.
func (p *testFleet) loadMovies(t testing.TB, uid string) {
	t.Helper()
	p.mustSucceed(t, p.do(t, req{method: "POST", path: "/indexes", body: map[string]any{"uid": uid, "primaryKey": "id"}}))
	p.mustSucceed(t, p.do(t, req{method: "PATCH", path: "/indexes/" + uid + "/settings",
		body: map[string]any{"filterableAttributes": []string{"genre", "year"}, "sortableAttributes": []string{"year"}}}))
	p.mustSucceed(t, p.do(t, req{method: "POST", path: "/indexes/" + uid + "/documents", body: moviesJSON, ct: "application/json"}))
}

const (
	auditNodeKey  = "node-master-key-0123456789abcdef"
	auditProxyKey = "proxy-master-key-fedcba9876543210"
	auditAdminKey = "proxy-admin-key-5555"
)

type auditHTTP struct {
	status int
	header http.Header
	body   []byte
}

func (r auditHTTP) json(t testing.TB) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("answer is not JSON (status %d): %q", r.status, auditTrunc(r.body))
	}
	return v
}

func (r auditHTTP) obj(t testing.TB) map[string]any {
	t.Helper()
	m, ok := r.json(t).(map[string]any)
	if !ok {
		t.Fatalf("answer is not a JSON object: %s", auditTrunc(r.body))
	}
	return m
}

// auditDo sends one request. hdr may set Content-Type, Authorization,
// Content-Encoding...; token "" sends no Authorization header.
func auditDo(t testing.TB, base, method, path string, body []byte, token string, hdr map[string]string) auditHTTP {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return auditHTTP{status: resp.StatusCode, header: resp.Header, body: b}
}

// auditStr renders a JSON value as text (numbers without exponent).
func auditStr(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// auditWaitHTTP polls GET /tasks/{uid} until the task is finished.
func auditWaitHTTP(t testing.TB, base, token string, uid any) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := auditDo(t, base, "GET", "/tasks/"+auditStr(uid), nil, token, nil)
		if r.status != 200 {
			t.Fatalf("GET /tasks/%v: %d %s", uid, r.status, auditTrunc(r.body))
		}
		m := r.obj(t)
		switch m["status"] {
		case "succeeded", "failed", "canceled":
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %v never finished: %s", uid, auditTrunc(r.body))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// auditScrub removes what legitimately differs between two servers
// (timings, dates, task and batch uids, sizes) before comparing JSON.
func auditScrub(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			switch k {
			case "processingTimeMs", "enqueuedAt", "startedAt", "finishedAt", "duration", "createdAt", "updatedAt",
				"taskUid", "batchUid", "databaseSize", "usedDatabaseSize", "lastUpdate", "avgDocumentSize",
				"rawDocumentDbSize", "numberOfEmbeddings", "numberOfEmbeddedDocuments", "from", "next", "canceledBy":
				out[k] = "<volatile>"
				continue
			case "uid":
				if _, num := e.(float64); num {
					out[k] = "<volatile>"
					continue
				}
			}
			out[k] = auditScrub(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = auditScrub(e)
		}
		return out
	}
	return v
}

// auditShape replaces every scalar of v by its JSON type: what remains is
// the field names and the kinds of values.
func auditShape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = auditShape(e)
		}
		return out
	case []any:
		if len(x) == 0 {
			return []any{}
		}
		return []any{auditShape(x[0])}
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// auditCompareTasks compares two finished tasks leniently: status, type,
// index, error code/type/link, and the document counts both report.
func auditCompareTasks(t testing.TB, label string, got, want map[string]any) {
	t.Helper()
	for _, k := range []string{"status", "type", "indexUid"} {
		if auditCanon(got[k]) != auditCanon(want[k]) {
			t.Errorf("%s: finished task %s = %v, want %v (error %v)", label, k, got[k], want[k], got["error"])
		}
	}
	ge, _ := got["error"].(map[string]any)
	we, _ := want["error"].(map[string]any)
	if (ge == nil) != (we == nil) {
		t.Errorf("%s: finished task error %v, want %v", label, got["error"], want["error"])
	} else if ge != nil {
		for _, k := range []string{"code", "type", "link"} {
			if ge[k] != we[k] {
				t.Errorf("%s: task error %s %v, want %v", label, k, ge[k], we[k])
			}
		}
	}
	gd, _ := got["details"].(map[string]any)
	wd, _ := want["details"].(map[string]any)
	for _, k := range []string{"receivedDocuments", "indexedDocuments", "deletedDocuments", "providedIds", "matchedTasks", "canceledTasks", "deletedTasks"} {
		gv, gok := gd[k]
		wv, wok := wd[k]
		if gok && wok && auditCanon(gv) != auditCanon(wv) {
			t.Errorf("%s: task details %s = %v, want %v", label, k, gv, wv)
		}
		if wok && !gok && wv != 0.0 && wv != nil {
			t.Errorf("%s: task details lack %s (reference %v)", label, k, wv)
		}
	}
}

func auditKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

type auditPair struct {
	// strict: finished tasks compared by shape (field names and kinds)
	strict bool
	// strictErr: error answers compared whole, messages included
	strictErr         bool
	t                 *testing.T
	proxy, ref        string
	pTok, rTok        string
	pVars, rVars      map[string]string
	failures          int
	lastPTask, lastRT map[string]any
}

type auditStep struct {
	method, path, body string
	hdr                map[string]string
	// mode: "exact" (scrubbed JSON equal), "shape" (same top-level
	// fields), "status" (status and Content-Type only)
	mode string
	// wait: a 202 answer's task is awaited on both sides and the finished
	// tasks compared
	wait bool
	// save: remember a top-level string field of each side's answer
	save, as string
}

func (p *auditPair) sub(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

func (p *auditPair) run(steps ...auditStep) {
	t := p.t
	t.Helper()
	for _, st := range steps {
		label := st.method + " " + st.path
		var body []byte
		var pb, rb []byte
		if st.body != "" {
			body = []byte(st.body)
			pb, rb = []byte(p.sub(st.body, p.pVars)), []byte(p.sub(st.body, p.rVars))
		}
		_ = body
		pr := auditDo(t, p.proxy, st.method, p.sub(st.path, p.pVars), pb, p.pTok, st.hdr)
		rr := auditDo(t, p.ref, st.method, p.sub(st.path, p.rVars), rb, p.rTok, st.hdr)
		if pr.status != rr.status {
			t.Errorf("%s: status %d, want %d (proxy %s | reference %s)", label, pr.status, rr.status, auditTrunc(pr.body), auditTrunc(rr.body))
			continue
		}
		if len(rr.body) > 0 && pr.header.Get("Content-Type") != rr.header.Get("Content-Type") {
			t.Errorf("%s: Content-Type %q, want %q", label, pr.header.Get("Content-Type"), rr.header.Get("Content-Type"))
		}
		if len(rr.body) == 0 {
			if len(pr.body) != 0 {
				t.Errorf("%s: body %s, want none", label, auditTrunc(pr.body))
			}
			continue
		}
		pv, rv := pr.json(t), rr.json(t)
		pm, _ := pv.(map[string]any)
		rm, _ := rv.(map[string]any)
		if st.save != "" && pm != nil && rm != nil {
			p.pVars[st.as] = auditStr(pm[st.save])
			p.rVars[st.as] = auditStr(rm[st.save])
		}
		mode := st.mode
		if rr.status >= 400 {
			mode = "error"
			if p.strictErr {
				mode = "exact"
			}
		}
		switch mode {
		case "error":
			if pm == nil || rm == nil {
				t.Errorf("%s: error answer not an object: %s", label, auditTrunc(pr.body))
				break
			}
			if a, b := auditKeys(pm), auditKeys(rm); !slices.Equal(a, b) {
				t.Errorf("%s: error fields %v, want %v", label, a, b)
			}
			for _, k := range []string{"code", "type", "link"} {
				if pm[k] != rm[k] {
					t.Errorf("%s: error %s %v, want %v (message %q, reference %q)", label, k, pm[k], rm[k], pm["message"], rm["message"])
				}
			}
		case "exact":
			if a, b := auditCanon(auditScrub(pv)), auditCanon(auditScrub(rv)); a != b {
				t.Errorf("%s:\n got %s\nwant %s", label, auditTrunc([]byte(a)), auditTrunc([]byte(b)))
			}
		case "shape":
			if pm == nil || rm == nil {
				if (pm == nil) != (rm == nil) {
					t.Errorf("%s: answer kinds differ: %s vs %s", label, auditTrunc(pr.body), auditTrunc(rr.body))
				}
			} else if a, b := auditKeys(pm), auditKeys(rm); !slices.Equal(a, b) {
				t.Errorf("%s: fields %v, want %v", label, a, b)
			}
		}
		if rr.status == 202 && pm != nil && rm != nil {
			if a, b := auditKeys(pm), auditKeys(rm); !slices.Equal(a, b) {
				t.Errorf("%s: 202 summary fields %v, want %v", label, a, b)
			}
			for _, k := range []string{"indexUid", "status", "type"} {
				if auditCanon(pm[k]) != auditCanon(rm[k]) {
					t.Errorf("%s: 202 summary %s = %v, want %v", label, k, pm[k], rm[k])
				}
			}
			if st.wait {
				ptask := auditWaitHTTP(t, p.proxy, p.pTok, pm["taskUid"])
				rtask := auditWaitHTTP(t, p.ref, p.rTok, rm["taskUid"])
				p.lastPTask, p.lastRT = ptask, rtask
				if p.strict {
					delete(ptask, "batchUid") // batches are unsupported by design
					delete(rtask, "batchUid")
					if a, b := auditCanon(auditShape(ptask)), auditCanon(auditShape(rtask)); a != b {
						t.Errorf("%s: finished task's shape\n got %s\nwant %s", label, a, b)
					}
				} else {
					auditCompareTasks(t, label, ptask, rtask)
				}
				p.pVars["task"] = auditStr(pm["taskUid"])
				p.rVars["task"] = auditStr(rm["taskUid"])
			}
		}
	}
}

func auditMovies(n int) []map[string]any {
	genres := []string{"drama", "comedy", "action", "documentary"}
	words := []string{"star", "night", "river", "love", "war", "city", "ghost", "dream"}
	docs := make([]map[string]any, n)
	for i := range docs {
		docs[i] = map[string]any{
			"id":       i + 1,
			"title":    words[i%len(words)] + " " + words[(i*3+1)%len(words)],
			"overview": words[(i*5+2)%len(words)] + " of the " + words[(i*7+3)%len(words)],
			"genre":    genres[i%len(genres)],
			"year":     1990 + (i*7)%30,
		}
	}
	return docs
}

func auditMust(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

type auditSyncBuf struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *auditSyncBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *auditSyncBuf) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
