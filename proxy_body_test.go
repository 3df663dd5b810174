package miroir

// Request bodies through the proxy: bad JSON, content types and
// encodings, gzip, the size limit, and parameter errors, each answered as
// one node answers.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

func auditGzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func TestHandlerBadBodies(t *testing.T) {
	p := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, hopts: []HandlerOption{WithMaxBodyBytes(4096)}, proxy: true})
	p.loadMovies(t, "movies")
	big := "[" + strings.Repeat(`{"id":1,"t":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},`, 200) + `{"id":2}]`
	cases := []struct {
		name   string
		q      req
		status int
		code   string
	}{
		{"malformed JSON documents", req{method: "POST", path: "/indexes/movies/documents", body: `[{"id":1,`, ct: "application/json"}, 400, "malformed_payload"},
		{"documents not objects", req{method: "POST", path: "/indexes/movies/documents", body: `[1,2]`, ct: "application/json"}, 400, "malformed_payload"},
		{"malformed NDJSON", req{method: "POST", path: "/indexes/movies/documents", body: "{\"id\":1}\n{oops}\n", ct: "application/x-ndjson"}, 400, "malformed_payload"},
		{"wrong content type", req{method: "POST", path: "/indexes/movies/documents", body: `[{"id":1}]`, ct: "text/plain"}, 415, "invalid_content_type"},
		{"missing content type", req{method: "POST", path: "/indexes/movies/documents", body: `[{"id":1}]`}, 415, "missing_content_type"},
		{"empty payload", req{method: "POST", path: "/indexes/movies/documents", body: "  ", ct: "application/json"}, 400, "missing_payload"},
		{"too large", req{method: "POST", path: "/indexes/movies/documents", body: big, ct: "application/json"}, 413, "payload_too_large"},
		{"too large once gunzipped", req{method: "POST", path: "/indexes/movies/documents", body: gz(t, []byte(big)), ct: "application/json", hdr: map[string]string{"Content-Encoding": "gzip"}}, 413, "payload_too_large"},
		{"broken gzip", req{method: "POST", path: "/indexes/movies/documents", body: "not gzip", ct: "application/json", hdr: map[string]string{"Content-Encoding": "gzip"}}, 400, "malformed_payload"},
		{"unknown encoding", req{method: "POST", path: "/indexes/movies/documents", body: "x", ct: "application/json", hdr: map[string]string{"Content-Encoding": "zstd"}}, 415, "invalid_content_type"},
		{"reserved field", req{method: "POST", path: "/indexes/movies/documents", body: `[{"id":8,"_miroir_shard":3}]`, ct: "application/json"}, 400, CodeReservedField},
		{"csv delimiter with JSON", req{method: "POST", path: "/indexes/movies/documents?csvDelimiter=%3B", body: `[{"id":1}]`, ct: "application/json"}, 400, "invalid_document_csv_delimiter"},
		{"bad csv delimiter", req{method: "POST", path: "/indexes/movies/documents?csvDelimiter=ab", body: "id\n1\n", ct: "text/csv"}, 400, "invalid_document_csv_delimiter"},
		{"malformed search JSON", req{method: "POST", path: "/indexes/movies/search", body: `{"q":`, ct: "application/json"}, 400, "bad_request"},
		{"search body not an object", req{method: "POST", path: "/indexes/movies/search", body: `[1]`, ct: "application/json"}, 400, "bad_request"},
		{"search wrong content type", req{method: "POST", path: "/indexes/movies/search", body: `{"q":"a"}`, ct: "text/csv"}, 415, "invalid_content_type"},
		{"search missing body", req{method: "POST", path: "/indexes/movies/search"}, 415, "missing_content_type"},
		{"search too large", req{method: "POST", path: "/indexes/movies/search", body: `{"q":"` + strings.Repeat("a", 5000) + `"}`, ct: "application/json"}, 413, "payload_too_large"},
		{"settings not an object", req{method: "PATCH", path: "/indexes/movies/settings", body: `["x"]`, ct: "application/json"}, 400, "bad_request"},
		{"settings malformed", req{method: "PATCH", path: "/indexes/movies/settings", body: `{"rankingRules":`, ct: "application/json"}, 400, "bad_request"},
		{"setting with the wrong verb", req{method: "PATCH", path: "/indexes/movies/settings/ranking-rules", body: `["words"]`, ct: "application/json"}, 405, ""},
		{"unknown setting", req{method: "GET", path: "/indexes/movies/settings/nope"}, 404, ""},
		{"create index without uid", req{method: "POST", path: "/indexes", body: map[string]any{"primaryKey": "id"}}, 400, "missing_index_uid"},
		{"create index unknown field", req{method: "POST", path: "/indexes", body: map[string]any{"uid": "x", "foo": 1}}, 400, "bad_request"},
		{"invalid index uid", req{method: "GET", path: "/indexes/a%20b/search?q=x"}, 400, "invalid_index_uid"},
		{"delete by filter without filter", req{method: "POST", path: "/indexes/movies/documents/delete", body: map[string]any{}}, 400, "missing_document_filter"},
		{"delete batch not ids", req{method: "POST", path: "/indexes/movies/documents/delete-batch", body: `[{"a":1}]`, ct: "application/json"}, 400, "invalid_document_id"},
		{"bad task status", req{method: "GET", path: "/tasks?statuses=done"}, 400, "invalid_task_statuses"},
		{"bad task uid", req{method: "GET", path: "/tasks/abc"}, 400, "invalid_task_uids"},
		{"bad task date", req{method: "GET", path: "/tasks?beforeEnqueuedAt=yesterday"}, 400, "invalid_task_before_enqueued_at"},
		{"cancel without filter", req{method: "POST", path: "/tasks/cancel"}, 400, "missing_task_filters"},
		{"unknown task parameter", req{method: "GET", path: "/tasks?foo=1"}, 400, "bad_request"},
		{"key without actions", req{method: "POST", path: "/keys", body: map[string]any{"indexes": []string{"*"}}}, 400, "missing_api_key_actions"},
		{"key immutable field", req{method: "PATCH", path: "/keys/abc", body: map[string]any{"actions": []string{"*"}}}, 400, "immutable_api_key_actions"},
		{"unknown route", req{method: "GET", path: "/indexes/movies/nothing"}, 404, ""},
		{"wrong method", req{method: "PUT", path: "/indexes/movies/search"}, 405, ""}, // empty body, as Meilisearch's router
		{"unsupported route", req{method: "GET", path: "/batches"}, 501, CodeUnsupported},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, p.do(t, tc.q), tc.status, tc.code)
		})
	}
	// What one node accepts and then fails (ids, primary key) is accepted
	// and its task fails with the node's code.
	for _, tc := range []struct {
		name string
		q    req
		code string
	}{
		{"missing primary key", req{method: "POST", path: "/indexes/nopk/documents", body: `[{"title":"no id"}]`, ct: "application/json"}, "index_primary_key_no_candidate_found"},
		{"missing document id", req{method: "POST", path: "/indexes/movies/documents", body: `[{"title":"no id"}]`, ct: "application/json"}, "missing_document_id"},
		{"invalid id", req{method: "POST", path: "/indexes/movies/documents", body: `[{"id":"a b"}]`, ct: "application/json"}, "invalid_document_id"},
		{"float id", req{method: "POST", path: "/indexes/movies/documents", body: `[{"id":1.5}]`, ct: "application/json"}, "invalid_document_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := p.do(t, tc.q)
			expect(t, r, 202, "")
			task := p.waitTask(t, r)
			if e, _ := task["error"].(map[string]any); task["status"] != "failed" || e["code"] != tc.code {
				t.Fatalf("task %v, want failed with %s", task, tc.code)
			}
		})
	}
	// Nothing of the refused or failed writes reached the nodes.
	r := p.do(t, req{method: "GET", path: "/indexes/movies/documents?limit=100"})
	expect(t, r, 200, "")
	if total := r.json(t)["total"].(float64); total != 6 {
		t.Fatalf("after refused writes: %v documents, want 6", total)
	}
}

func TestHandlerEncodings(t *testing.T) {
	p := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, proxy: true})
	p.loadMovies(t, "movies")
	r, err := http.NewRequest("POST", p.url+"/indexes/movies/search", strings.NewReader(`{"q":"moana"}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept-Encoding", "br;q=0, deflate")
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Encoding") != "deflate" {
		t.Fatalf("Content-Encoding %q, want deflate", res.Header.Get("Content-Encoding"))
	}
	// The Go client asks for gzip and decodes it transparently.
	g := p.do(t, req{method: "GET", path: "/indexes/movies/search?q=moana"})
	expect(t, g, 200, "")
	if !bytes.Contains(g.body, []byte("Moana")) {
		t.Fatalf("gzip answer: %s", g.body)
	}
}

// TestAuditProxyGzipBodies: issue 6 "gzip request bodies accepted".
func TestAuditProxyGzipBodies(t *testing.T) {
	t.Parallel()
	pURL := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 7, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, proxy: true}).url
	ref, _ := startRef(t, meilitest.WithTaskDuration(0))
	p := &auditPair{t: t, proxy: pURL, ref: ref.URL(), pVars: map[string]string{}, rVars: map[string]string{}}
	gz := map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/json"}
	p.run(
		auditStep{method: "POST", path: "/indexes", body: string(auditGzip([]byte(`{"uid":"g","primaryKey":"id"}`))), hdr: gz, wait: true},
		auditStep{method: "POST", path: "/indexes/g/documents", body: string(auditGzip([]byte(auditMust(auditMovies(25))))), hdr: gz, wait: true},
		auditStep{method: "POST", path: "/indexes/g/documents", body: string(auditGzip([]byte("{\"id\":100,\"title\":\"gz ndjson\"}\n"))), hdr: map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"}, wait: true},
		auditStep{method: "POST", path: "/indexes/g/search", body: string(auditGzip([]byte(`{"q":"star","sort":[],"limit":50}`))), hdr: gz, mode: "shape"},
		auditStep{method: "GET", path: "/indexes/g/documents/100", mode: "exact"},
		auditStep{method: "POST", path: "/indexes/g/search", body: "not gzip at all", hdr: gz, mode: "status"},
	)
	r := auditDo(t, pURL, "POST", "/indexes/g/search", auditGzip([]byte(`{"q":"","limit":100}`)), "", gz)
	if r.status != 200 || len(auditHits(r.obj(t))) != 26 {
		t.Errorf("gzip search body: %d %s", r.status, auditTrunc(r.body))
	}
	// an answer compressed on request decodes to the same JSON
	r = auditDo(t, pURL, "GET", "/indexes/g/documents/100", nil, "", map[string]string{"Accept-Encoding": "gzip"})
	body := r.body
	if r.header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(zr)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil || doc["title"] != "gz ndjson" {
		t.Errorf("Accept-Encoding gzip answer: %q (%v)", auditTrunc(body), err)
	}
}

// TestAuditProxyMaxBodyBytes: issue 6 "miroir.WithMaxBodyBytes(n)
// (default 100 MiB) gives payload_too_large".
func TestAuditProxyMaxBodyBytes(t *testing.T) {
	t.Parallel()
	pURL := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 7, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, proxy: true, hopts: []HandlerOption{WithMaxBodyBytes(2048)}}).url
	r := auditDo(t, pURL, "POST", "/indexes", []byte(`{"uid":"m","primaryKey":"id"}`), "", nil)
	auditWaitHTTP(t, pURL, "", r.obj(t)["taskUid"])
	small := []byte(auditMust(auditMovies(5)))
	if r := auditDo(t, pURL, "POST", "/indexes/m/documents", small, "", nil); r.status != 202 {
		t.Errorf("%d-byte body under a 2048-byte limit: %d %s", len(small), r.status, auditTrunc(r.body))
	}
	big := []byte(auditMust(auditMovies(100)))
	check := func(label string, r auditHTTP) {
		t.Helper()
		if r.status != 413 {
			t.Errorf("%s: status %d, want 413: %s", label, r.status, auditTrunc(r.body))
			return
		}
		m := r.obj(t)
		if m["code"] != "payload_too_large" || m["type"] != "invalid_request" || m["link"] != "https://docs.meilisearch.com/errors#payload_too_large" {
			t.Errorf("%s: body %s", label, r.body)
		}
		if ks := auditKeys(m); !slices.Equal(ks, []string{"code", "link", "message", "type"}) {
			t.Errorf("%s: fields %v", label, ks)
		}
	}
	check("documents", auditDo(t, pURL, "POST", "/indexes/m/documents", big, "", nil))
	check("ndjson", auditDo(t, pURL, "POST", "/indexes/m/documents", big, "", map[string]string{"Content-Type": "application/x-ndjson"}))
	check("search", auditDo(t, pURL, "POST", "/indexes/m/search", []byte(`{"q":"`+strings.Repeat("a", 3000)+`"}`), "", nil))
	check("gzip expanding past the limit", auditDo(t, pURL, "POST", "/indexes/m/documents", auditGzip(big), "", map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/json"}))
	// default limit: a 3 MiB body is accepted
	pURL2 := startFleet(t, fleetSpec{groups: groupsOf(1, 1), rf: 1, shards: 3, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, proxy: true}).url
	r = auditDo(t, pURL2, "POST", "/indexes", []byte(`{"uid":"m","primaryKey":"id"}`), "", nil)
	auditWaitHTTP(t, pURL2, "", r.obj(t)["taskUid"])
	docs := make([]map[string]any, 300)
	for i := range docs {
		docs[i] = map[string]any{"id": i, "blob": strings.Repeat("x", 10000)}
	}
	if r := auditDo(t, pURL2, "POST", "/indexes/m/documents", []byte(auditMust(docs)), "", nil); r.status != 202 {
		t.Errorf("3 MiB body under the default limit: %d %s", r.status, auditTrunc(r.body))
	}
}

// TestAuditProxyErrorBodies: issue 6 "error bodies {message, code, type,
// link}" and bad bodies (malformed JSON, wrong content type, missing
// primary key, reserved field) with Meilisearch's status codes.
func TestAuditProxyErrorBodies(t *testing.T) {
	t.Parallel()
	pURL := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 7, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, proxy: true}).url
	ref, _ := startRef(t, meilitest.WithTaskDuration(0))
	p := &auditPair{t: t, proxy: pURL, ref: ref.URL(), pVars: map[string]string{}, rVars: map[string]string{}}
	p.run(
		auditStep{method: "POST", path: "/indexes", body: `{"uid":"e","primaryKey":"id"}`, wait: true},
		auditStep{method: "POST", path: "/indexes", body: `{"uid":"bad uid!"}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes", body: `{"primaryKey":"id"}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/e/search", body: `{"q": "x",`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/e/search", body: `{"q": 3}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/e/search", body: `{"filter": "nofield = 3"}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/e/search", body: `{"sort": ["title:asc"]}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/e/search", body: `{"q":"x"}`, hdr: map[string]string{"Content-Type": "text/plain"}, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/e/documents", body: `[{"id":1}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/e/documents", body: `{"id":1}`, hdr: map[string]string{"Content-Type": "application/xml"}, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/missing/search", body: `{"q":"x"}`, mode: "exact"},
		auditStep{method: "GET", path: "/indexes/missing", mode: "exact"},
		auditStep{method: "GET", path: "/indexes/missing/documents/1", mode: "exact"},
		auditStep{method: "GET", path: "/indexes/e/documents/1", mode: "exact"},
		auditStep{method: "GET", path: "/tasks?statuses=nope", mode: "exact"},
		auditStep{method: "POST", path: "/multi-search", body: `{"queries":[{"indexUid":"missing","q":"a"}]}`, mode: "exact"},
	)
	// every error answer has exactly Meilisearch's four fields
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/indexes/missing", ""},
		{"POST", "/indexes/e/search", `{"q":`},
		{"POST", "/indexes/e/documents", `[{"_miroir_shard":1,"id":5}]`},
	} {
		var b []byte
		if req.body != "" {
			b = []byte(req.body)
		}
		r := auditDo(t, pURL, req.method, req.path, b, "", nil)
		if r.status < 400 {
			t.Errorf("%s %s: status %d, want an error", req.method, req.path, r.status)
			continue
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s %s: Content-Type %q", req.method, req.path, ct)
		}
		m := r.obj(t)
		if ks := auditKeys(m); !slices.Equal(ks, []string{"code", "link", "message", "type"}) {
			t.Errorf("%s %s: error fields %v, want code, link, message, type", req.method, req.path, ks)
		}
		code, _ := m["code"].(string)
		if link, _ := m["link"].(string); link != "https://docs.meilisearch.com/errors#"+code {
			t.Errorf("%s %s: link %q for code %q", req.method, req.path, link, code)
		}
	}
	// miroir's own validation error (reserved field): 400 with its code;
	// what one node accepts and fails (invalid ids, no primary key
	// candidate): 202 and a failed task with the node's code (issue 10)
	r := auditDo(t, pURL, "POST", "/indexes/e/documents", []byte(`[{"_miroir_shard":1,"id":5}]`), "", nil)
	if r.status != 400 || r.obj(t)["code"] != "miroir_reserved_field" {
		t.Errorf("POST documents with the shard field: %d %s, want 400 miroir_reserved_field", r.status, auditTrunc(r.body))
	}
	auditDo(t, pURL, "POST", "/indexes", []byte(`{"uid":"nopk"}`), "", nil)
	for _, tc := range []struct{ path, body, code string }{
		{"/indexes/e/documents", `[{"id":1.5}]`, "invalid_document_id"},
		{"/indexes/e/documents", `[{"id":true}]`, "invalid_document_id"},
		{"/indexes/e/documents", `[{"title":"no id"}]`, "missing_document_id"},
		{"/indexes/nopk/documents", `[{"title":"a","name":"b"}]`, "index_primary_key_no_candidate_found"},
	} {
		r := auditDo(t, pURL, "POST", tc.path, []byte(tc.body), "", nil)
		if r.status != 202 {
			t.Errorf("POST %s %s: %d %s, want 202", tc.path, tc.body, r.status, auditTrunc(r.body))
			continue
		}
		task := auditWaitHTTP(t, pURL, "", r.obj(t)["taskUid"])
		if e, _ := task["error"].(map[string]any); task["status"] != "failed" || e["code"] != tc.code {
			t.Errorf("POST %s %s: task %v, want failed with %s", tc.path, tc.body, task, tc.code)
		}
	}
}

// TestAuditProxySearchParamErrors: error codes of invalid search
// parameters are Meilisearch's ("status codes ... error bodies").
func TestAuditProxySearchParamErrors(t *testing.T) {
	t.Parallel()
	pURL := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 7, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, proxy: true}).url
	ref, _ := startRef(t, meilitest.WithTaskDuration(0))
	p := &auditPair{t: t, proxy: pURL, ref: ref.URL(), pVars: map[string]string{}, rVars: map[string]string{}}
	p.run(
		auditStep{method: "POST", path: "/indexes", body: `{"uid":"e","primaryKey":"id"}`, wait: true},
		auditStep{method: "POST", path: "/indexes/e/search", body: `{"limit": -1}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/e/search", body: `{"offset": -3}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/e/search", body: `{"page": -1}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/e/search", body: `{"hitsPerPage": -1}`, mode: "exact"},
	)
}

// TestAuditProxyFilterErrorHidesShardField: DESIGN §7 "_miroir_shard
// always stays in filterableAttributes ... reads hide it": an invalid
// filter's error must read like one node's, without the reserved field.
func TestAuditProxyFilterErrorHidesShardField(t *testing.T) {
	t.Parallel()
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 7, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, proxy: true})
	pURL, c := f.url, f.c
	ref, _ := startRef(t, meilitest.WithTaskDuration(0))
	p := &auditPair{strictErr: true, t: t, proxy: pURL, ref: ref.URL(), pVars: map[string]string{}, rVars: map[string]string{}}
	p.run(
		auditStep{method: "POST", path: "/indexes", body: `{"uid":"e","primaryKey":"id"}`, wait: true},
		auditStep{method: "POST", path: "/indexes/e/search", body: `{"filter": "nofield = 3"}`, mode: "exact"},
		auditStep{method: "PATCH", path: "/indexes/e/settings", body: `{"filterableAttributes":["genre"]}`, wait: true},
		auditStep{method: "POST", path: "/indexes/e/search", body: `{"filter": "nofield = 3"}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/e/documents/delete", body: `{"filter": "nofield = 3"}`, mode: "exact"},
	)
	_, err := c.Index("e").Search(context.Background(), "", &meilisearch.SearchRequest{Filter: "nofield = 3"})
	if err == nil || strings.Contains(err.Error(), "_miroir_shard") {
		t.Errorf("Search with a filter on a non-filterable attribute: %v", err)
	}
}
