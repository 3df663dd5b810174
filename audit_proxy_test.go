package miroir

// Black-box audit of proxy mode (DESIGN.md §9 and issue 6): Cluster.Handler
// over meilitest nodes, compared request by request with one meilitest
// node playing Meilisearch.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

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

// TestAuditProxyRoutes: issue 6 — every listed route, answered like
// Meilisearch: status codes (202 with a task summary for writes), field
// names, error bodies, Content-Type; the writes' tasks finish like one
// node's.
func TestAuditProxyRoutes(t *testing.T) {
	t.Parallel()
	pURL := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 7, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, proxy: true, hopts: []HandlerOption{WithMasterKey(auditProxyKey)}}).url
	ref, _ := startRef(t, meilitest.WithTaskDuration(0), meilitest.WithMasterKey(auditProxyKey))
	p := &auditPair{t: t, proxy: pURL, ref: ref.URL(), pTok: auditProxyKey, rTok: auditProxyKey, pVars: map[string]string{}, rVars: map[string]string{}}
	docs := auditMovies(30)
	var nd strings.Builder
	for i := 31; i <= 40; i++ {
		nd.WriteString(auditMust(map[string]any{"id": i, "title": "ndjson star", "genre": "drama", "year": 2001}) + "\n")
	}
	csv := "id;title;genre;year:number\n41;csv night;comedy;2005\n42;csv river;drama;2010\n43;\"csv; star\";action;1999\n"
	vecDocs := []map[string]any{}
	for i := 1; i <= 12; i++ {
		vecDocs = append(vecDocs, map[string]any{"id": i, "title": fmt.Sprintf("v%d", i), "_vectors": map[string]any{"default": []float64{float64(i%5) / 5, float64(i%7) / 7}}})
	}
	nd2 := "{\"id\":\"x1\",\"name\":\"a\"}\n{\"id\":\"x2\",\"name\":\"b\"}\n"
	p.run(
		auditStep{method: "GET", path: "/health", mode: "exact"},
		auditStep{method: "GET", path: "/version", mode: "shape"},
		auditStep{method: "POST", path: "/indexes", body: `{"uid":"movies","primaryKey":"id"}`, wait: true},
		auditStep{method: "POST", path: "/indexes", body: `{"uid":"movies"}`, wait: true},
		auditStep{method: "GET", path: "/indexes", mode: "exact"},
		auditStep{method: "GET", path: "/indexes?limit=1&offset=0", mode: "exact"},
		auditStep{method: "GET", path: "/indexes/movies", mode: "exact"},
		auditStep{method: "PATCH", path: "/indexes/movies/settings", body: `{"filterableAttributes":["genre","year","id"],"sortableAttributes":["year","id"],"searchableAttributes":["title","overview"]}`, wait: true},
		auditStep{method: "POST", path: "/indexes/movies/documents", body: auditMust(docs), wait: true},
		auditStep{method: "POST", path: "/indexes/movies/documents", body: nd.String(), hdr: map[string]string{"Content-Type": "application/x-ndjson"}, wait: true},
		auditStep{method: "POST", path: "/indexes/movies/documents?csvDelimiter=%3B", body: csv, hdr: map[string]string{"Content-Type": "text/csv"}, wait: true},
		auditStep{method: "PUT", path: "/indexes/movies/documents", body: `[{"id":1,"year":1999,"extra":"patched"}]`, wait: true},
		auditStep{method: "PUT", path: "/indexes/movies/documents", body: "{\"id\":2,\"year\":1998}\n", hdr: map[string]string{"Content-Type": "application/x-ndjson"}, wait: true},
		auditStep{method: "PUT", path: "/indexes/movies/documents", body: "id,year:number\n42,2011\n", hdr: map[string]string{"Content-Type": "text/csv"}, wait: true},
		auditStep{method: "GET", path: "/indexes/movies/documents/42", mode: "exact"},
		auditStep{method: "GET", path: "/indexes/movies/documents/1", mode: "exact"},
		auditStep{method: "GET", path: "/indexes/movies/documents/43?fields=title,year", mode: "exact"},
		auditStep{method: "GET", path: "/indexes/movies/documents/9999", mode: "exact"},
		auditStep{method: "GET", path: "/indexes/movies/documents?limit=5&offset=2&fields=id,title", mode: "shape"},
		auditStep{method: "POST", path: "/indexes/movies/documents/fetch", body: `{"limit":100,"filter":"genre = drama AND year > 2000","fields":["id"],"sort":["id:asc"]}`, mode: "exact"},
		auditStep{method: "GET", path: "/indexes/movies/documents?limit=4&filter=genre%20%3D%20comedy&sort=id:desc", mode: "exact"},
		auditStep{method: "GET", path: "/indexes/movies/search?q=star&sort=id:asc&limit=5", mode: "exact"},
		auditStep{method: "GET", path: "/indexes/movies/search?q=night&attributesToRetrieve=id,title&facets=genre&filter=year%20%3E%201995&sort=id:asc", mode: "exact"},
		auditStep{method: "POST", path: "/indexes/movies/search", body: `{"q":"","sort":["year:desc","id:asc"],"facets":["genre","year"],"limit":7,"offset":3}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/movies/search", body: `{"q":"star","page":2,"hitsPerPage":3,"sort":["id:asc"],"attributesToHighlight":["title"]}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/movies/search", body: `{"q":"river","limit":0,"facets":["*"]}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/movies/facet-search", body: `{"facetName":"genre","facetQuery":"dr"}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/movies/facet-search", body: `{"facetName":"genre","q":"star"}`, mode: "exact"},
		auditStep{method: "POST", path: "/multi-search", body: `{"queries":[{"indexUid":"movies","q":"star","sort":["id:asc"]},{"indexUid":"movies","q":"","limit":2,"sort":["id:desc"]}]}`, mode: "exact"},
		auditStep{method: "POST", path: "/multi-search", body: `{"federation":{"limit":5},"queries":[{"indexUid":"movies","q":"ghost","filter":"genre = drama"}]}`, mode: "shape"},
		// similar documents
		auditStep{method: "POST", path: "/indexes", body: `{"uid":"vec","primaryKey":"id"}`, wait: true},
		auditStep{method: "PATCH", path: "/indexes/vec/settings", body: `{"embedders":{"default":{"source":"userProvided","dimensions":2}}}`, wait: true},
		auditStep{method: "POST", path: "/indexes/vec/documents", body: auditMust(vecDocs), wait: true},
		auditStep{method: "GET", path: "/indexes/vec/similar?id=3&embedder=default&limit=4", mode: "exact"},
		auditStep{method: "POST", path: "/indexes/vec/similar", body: `{"id":5,"embedder":"default","limit":3,"offset":1}`, mode: "exact"},
		// documents: delete one, batch, by filter, edit by function, all
		auditStep{method: "DELETE", path: "/indexes/movies/documents/3", wait: true},
		auditStep{method: "POST", path: "/indexes/movies/documents/delete-batch", body: `[4,"5",99]`, wait: true},
		auditStep{method: "POST", path: "/indexes/movies/documents/delete", body: `{"filter":"year > 2015"}`, wait: true},
		auditStep{method: "GET", path: "/indexes/movies/stats", mode: "status"},
		auditStep{method: "PATCH", path: "/experimental-features", body: `{"editDocumentsByFunction":true}`, mode: "exact"},
		auditStep{method: "POST", path: "/indexes/movies/documents/edit", body: `{"function":"doc.title = \"edited\"","filter":"id = 1 OR id = 2"}`, wait: true},
		auditStep{method: "GET", path: "/indexes/movies/documents/2", mode: "exact"},
		// primaryKey parameter and a new index created by a write
		auditStep{method: "POST", path: "/indexes/other/documents?primaryKey=id", body: nd2, hdr: map[string]string{"Content-Type": "application/x-ndjson"}, wait: true},
		auditStep{method: "GET", path: "/indexes/other", mode: "exact"},
		// tasks
		auditStep{method: "GET", path: "/tasks?indexUids=movies&statuses=succeeded&types=documentAdditionOrUpdate&limit=2", mode: "exact"},
		auditStep{method: "GET", path: "/tasks/{task}", mode: "exact"},
		auditStep{method: "GET", path: "/tasks/123456", mode: "exact"},
		auditStep{method: "POST", path: "/tasks/cancel", mode: "exact"},
		auditStep{method: "POST", path: "/tasks/cancel?statuses=enqueued,processing", wait: true},
		auditStep{method: "DELETE", path: "/tasks?types=taskCancelation", wait: true},
		auditStep{method: "DELETE", path: "/tasks", mode: "exact"},
		// keys
		auditStep{method: "GET", path: "/keys", mode: "shape"},
		auditStep{method: "POST", path: "/keys", body: `{"description":"search movies","actions":["search"],"indexes":["movies"],"expiresAt":null}`, mode: "shape", save: "key", as: "key"},
		auditStep{method: "GET", path: "/keys/{key}", mode: "shape"},
		auditStep{method: "PATCH", path: "/keys/{key}", body: `{"name":"renamed"}`, mode: "shape"},
		auditStep{method: "DELETE", path: "/keys/{key}", mode: "status"},
		auditStep{method: "GET", path: "/keys/{key}", mode: "status"},
		// swap, stats, delete
		auditStep{method: "POST", path: "/indexes", body: `{"uid":"movies2","primaryKey":"id"}`, wait: true},
		auditStep{method: "PATCH", path: "/indexes/movies2", body: `{"primaryKey":"id"}`, wait: true},
		auditStep{method: "POST", path: "/swap-indexes", body: `[{"indexes":["movies","movies2"]}]`, wait: true},
		auditStep{method: "GET", path: "/indexes/movies/stats", mode: "status"},
		auditStep{method: "GET", path: "/indexes/movies2/stats", mode: "status"},
		auditStep{method: "GET", path: "/stats", mode: "status"},
		auditStep{method: "DELETE", path: "/indexes/movies/documents", wait: true},
		auditStep{method: "DELETE", path: "/indexes/movies2", wait: true},
		auditStep{method: "DELETE", path: "/indexes/movies2", wait: true},
		auditStep{method: "GET", path: "/indexes/movies2", mode: "exact"},
		auditStep{method: "GET", path: "/indexes/movies2/search?q=a", mode: "exact"},
		// unknown route
		auditStep{method: "GET", path: "/nope", mode: "status"},
	)
	// miroir's own routes
	for _, path := range []string{"/_miroir/topology", "/_miroir/shards", "/_miroir/ready"} {
		r := auditDo(t, pURL, "GET", path, nil, auditProxyKey, nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s: %d %q %s", path, r.status, r.header.Get("Content-Type"), auditTrunc(r.body))
			continue
		}
		r.json(t)
	}
	top := auditDo(t, pURL, "GET", "/_miroir/topology", nil, auditProxyKey, nil).obj(t)
	if top["shards"] != 7.0 {
		t.Errorf("/_miroir/topology shards = %v, want 7", top["shards"])
	}
	st := auditDo(t, pURL, "GET", "/stats", nil, auditProxyKey, nil)
	if bytes.Contains(st.body, []byte("miroir_meta")) {
		t.Errorf("/stats shows miroir_meta: %s", auditTrunc(st.body))
	}
	ix := auditDo(t, pURL, "GET", "/indexes?limit=100", nil, auditProxyKey, nil)
	if bytes.Contains(ix.body, []byte("miroir_meta")) {
		t.Errorf("/indexes shows miroir_meta")
	}
}

// auditSettingRoutes are Meilisearch's per-setting routes with their
// update verb and an example value.
var auditSettingRoutes = []struct{ name, verb, value string }{
	{"ranking-rules", "PUT", `["words","typo","year:desc","proximity","attribute","sort","exactness"]`},
	{"distinct-attribute", "PUT", `"genre"`},
	{"searchable-attributes", "PUT", `["title","overview"]`},
	{"displayed-attributes", "PUT", `["id","title","genre"]`},
	{"synonyms", "PUT", `{"film":["movie"]}`},
	{"stop-words", "PUT", `["the","of"]`},
	{"filterable-attributes", "PUT", `["genre","year"]`},
	{"sortable-attributes", "PUT", `["year"]`},
	{"typo-tolerance", "PATCH", `{"minWordSizeForTypos":{"oneTypo":4,"twoTypos":9},"disableOnWords":["star"]}`},
	{"pagination", "PATCH", `{"maxTotalHits":50}`},
	{"faceting", "PATCH", `{"maxValuesPerFacet":3,"sortFacetValuesBy":{"*":"count"}}`},
	{"dictionary", "PUT", `["J.R.R."]`},
	{"separator-tokens", "PUT", `["&"]`},
	{"non-separator-tokens", "PUT", `["@"]`},
	{"proximity-precision", "PUT", `"byAttribute"`},
	{"search-cutoff-ms", "PUT", `150`},
	{"localized-attributes", "PUT", `[{"attributePatterns":["title"],"locales":["eng"]}]`},
	{"embedders", "PATCH", `{"manual":{"source":"userProvided","dimensions":3}}`},
	{"facet-search", "PUT", `false`},
	{"prefix-search", "PUT", `"disabled"`},
}

// TestAuditProxySettingsRoutes: issue 6 "every /settings route (GET,
// PATCH/PUT, DELETE)", each compared with one node.
func TestAuditProxySettingsRoutes(t *testing.T) {
	t.Parallel()
	pURL := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 7, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, proxy: true}).url
	ref, _ := startRef(t, meilitest.WithTaskDuration(0))
	p := &auditPair{t: t, proxy: pURL, ref: ref.URL(), pVars: map[string]string{}, rVars: map[string]string{}}
	p.run(
		auditStep{method: "POST", path: "/indexes", body: `{"uid":"s","primaryKey":"id"}`, wait: true},
		auditStep{method: "POST", path: "/indexes/s/documents", body: auditMust(auditMovies(10)), wait: true},
		auditStep{method: "GET", path: "/indexes/s/settings", mode: "exact"},
	)
	for _, r := range auditSettingRoutes {
		path := "/indexes/s/settings/" + r.name
		p.run(
			auditStep{method: "GET", path: path, mode: "exact"},
			auditStep{method: r.verb, path: path, body: r.value, wait: true},
			auditStep{method: "GET", path: path, mode: "exact"},
		)
	}
	p.run(auditStep{method: "GET", path: "/indexes/s/settings", mode: "exact"})
	for _, r := range auditSettingRoutes {
		path := "/indexes/s/settings/" + r.name
		p.run(
			auditStep{method: "DELETE", path: path, wait: true},
			auditStep{method: "GET", path: path, mode: "exact"},
		)
	}
	p.run(
		auditStep{method: "PATCH", path: "/indexes/s/settings", body: `{"rankingRules":["words","typo","proximity","attribute","sort","exactness","year:asc"],"filterableAttributes":["genre"],"faceting":{"maxValuesPerFacet":7}}`, wait: true},
		auditStep{method: "GET", path: "/indexes/s/settings", mode: "exact"},
		auditStep{method: "DELETE", path: "/indexes/s/settings", wait: true},
		auditStep{method: "GET", path: "/indexes/s/settings", mode: "exact"},
		// a bad value answers the node's error, synchronously
		auditStep{method: "PUT", path: "/indexes/s/settings/ranking-rules", body: `["nope:sideways"]`, mode: "exact"},
		auditStep{method: "PATCH", path: "/indexes/s/settings", body: `{"unknownSetting":1}`, mode: "exact"},
		auditStep{method: "GET", path: "/indexes/s/settings/not-a-setting", mode: "status"},
	)
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

var auditAuthRoutes = []struct{ method, path, body string }{
	{"GET", "/version", ""},
	{"GET", "/stats", ""},
	{"GET", "/indexes", ""},
	{"POST", "/indexes", `{"uid":"zz"}`},
	{"GET", "/indexes/a", ""},
	{"PATCH", "/indexes/a", `{"primaryKey":"id"}`},
	{"DELETE", "/indexes/a", ""},
	{"GET", "/indexes/a/stats", ""},
	{"POST", "/swap-indexes", `[{"indexes":["a","b"]}]`},
	{"GET", "/indexes/a/documents", ""},
	{"POST", "/indexes/a/documents/fetch", `{}`},
	{"POST", "/indexes/a/documents", `[{"id":1}]`},
	{"PUT", "/indexes/a/documents", `[{"id":1}]`},
	{"GET", "/indexes/a/documents/1", ""},
	{"DELETE", "/indexes/a/documents/1", ""},
	{"POST", "/indexes/a/documents/delete-batch", `[1]`},
	{"POST", "/indexes/a/documents/delete", `{"filter":"id = 1"}`},
	{"DELETE", "/indexes/a/documents", ""},
	{"POST", "/indexes/a/documents/edit", `{"function":"doc"}`},
	{"GET", "/indexes/a/search?q=x", ""},
	{"POST", "/indexes/a/search", `{"q":"x"}`},
	{"POST", "/indexes/a/facet-search", `{"facetName":"genre"}`},
	{"POST", "/indexes/a/similar", `{"id":1,"embedder":"default"}`},
	{"GET", "/indexes/a/similar?id=1&embedder=default", ""},
	{"POST", "/multi-search", `{"queries":[]}`},
	{"GET", "/indexes/a/settings", ""},
	{"PATCH", "/indexes/a/settings", `{}`},
	{"DELETE", "/indexes/a/settings", ""},
	{"GET", "/indexes/a/settings/ranking-rules", ""},
	{"PUT", "/indexes/a/settings/ranking-rules", `["words"]`},
	{"DELETE", "/indexes/a/settings/ranking-rules", ""},
	{"GET", "/tasks", ""},
	{"GET", "/tasks/1", ""},
	{"POST", "/tasks/cancel?uids=1", ""},
	{"DELETE", "/tasks?uids=1", ""},
	{"GET", "/keys", ""},
	{"POST", "/keys", `{"actions":["search"],"indexes":["*"],"expiresAt":null}`},
	{"GET", "/keys/abc", ""},
	{"PATCH", "/keys/abc", `{"name":"x"}`},
	{"DELETE", "/keys/abc", ""},
}

// TestAuditProxyAuthOutcomes: issue 6 / DESIGN §9: with WithMasterKey
// every route but /health requires "Authorization: Bearer <key>";
// missing: 401 missing_authorization_header, wrong: 403 invalid_api_key,
// the same bodies as Meilisearch; WithAdminKey gates /_miroir/*.
func TestAuditProxyAuthOutcomes(t *testing.T) {
	t.Parallel()
	pURL := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 7, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, proxy: true, hopts: []HandlerOption{WithMasterKey(auditProxyKey), WithAdminKey(auditAdminKey)}}).url
	ref, _ := startRef(t, meilitest.WithTaskDuration(0), meilitest.WithMasterKey(auditProxyKey))
	for _, rt := range auditAuthRoutes {
		var b []byte
		if rt.body != "" {
			b = []byte(rt.body)
		}
		for _, tc := range []struct {
			name   string
			hdr    map[string]string
			status int
			code   string
		}{
			{"missing", nil, 401, "missing_authorization_header"},
			{"wrong", map[string]string{"Authorization": "Bearer not-the-key"}, 403, "invalid_api_key"},
			{"admin key", map[string]string{"Authorization": "Bearer " + auditAdminKey}, 403, "invalid_api_key"},
		} {
			pr := auditDo(t, pURL, rt.method, rt.path, b, "", tc.hdr)
			rr := auditDo(t, ref.URL(), rt.method, rt.path, b, "", tc.hdr)
			label := fmt.Sprintf("%s %s (%s)", rt.method, rt.path, tc.name)
			if pr.status != tc.status {
				t.Errorf("%s: status %d, want %d: %s", label, pr.status, tc.status, auditTrunc(pr.body))
				continue
			}
			if rr.status != tc.status {
				t.Fatalf("reference %s: status %d (test assumption broken)", label, rr.status)
			}
			if auditCanon(pr.json(t)) != auditCanon(rr.json(t)) {
				t.Errorf("%s: body %s, want %s", label, pr.body, rr.body)
			}
			if pr.header.Get("Content-Type") != rr.header.Get("Content-Type") {
				t.Errorf("%s: Content-Type %q, want %q", label, pr.header.Get("Content-Type"), rr.header.Get("Content-Type"))
			}
		}
		// the master key passes authentication
		pr := auditDo(t, pURL, rt.method, rt.path, b, auditProxyKey, nil)
		if pr.status == 401 || pr.status == 403 {
			t.Errorf("%s %s with the master key: %d %s", rt.method, rt.path, pr.status, auditTrunc(pr.body))
		}
	}
	// /health is open
	if r := auditDo(t, pURL, "GET", "/health", nil, "", nil); r.status != 200 {
		t.Errorf("GET /health without a key: %d", r.status)
	}
	// /_miroir/* take the admin key, not the master key
	for _, path := range []string{"/_miroir/topology", "/_miroir/shards", "/_miroir/ready"} {
		if r := auditDo(t, pURL, "GET", path, nil, auditAdminKey, nil); r.status != 200 {
			t.Errorf("GET %s with the admin key: %d %s", path, r.status, auditTrunc(r.body))
		}
		if r := auditDo(t, pURL, "GET", path, nil, "", nil); r.status != 401 || r.obj(t)["code"] != "missing_authorization_header" {
			t.Errorf("GET %s without a key: %d %s", path, r.status, auditTrunc(r.body))
		}
		if r := auditDo(t, pURL, "GET", path, nil, "wrong", nil); r.status != 403 || r.obj(t)["code"] != "invalid_api_key" {
			t.Errorf("GET %s with a wrong key: %d %s", path, r.status, auditTrunc(r.body))
		}
		if r := auditDo(t, pURL, "GET", path, nil, auditProxyKey, nil); r.status != 403 {
			t.Errorf("GET %s with the master key instead of the admin key: %d, want 403", path, r.status)
		}
	}
}

// TestAuditProxyAuthPassthrough: issue 6 "WithAuthPassthrough() forwards
// the caller's own token to the nodes so Meilisearch API keys and tenant
// tokens keep their permissions".
func TestAuditProxyAuthPassthrough(t *testing.T) {
	t.Parallel()
	// nodes and handler share the fleet's master key
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, shards: 7, nodeKey: auditNodeKey, instant: true, timing: newDefaults,
		proxy: true, hopts: []HandlerOption{WithMasterKey(auditNodeKey), WithAuthPassthrough()}})
	c, base := f.c, f.url
	mk := func(method, path, body, tok string) auditHTTP {
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		return auditDo(t, base, method, path, b, tok, nil)
	}
	for _, uid := range []string{"movies", "private"} {
		r := mk("POST", "/indexes", `{"uid":"`+uid+`","primaryKey":"id"}`, auditNodeKey)
		auditWaitHTTP(t, base, auditNodeKey, r.obj(t)["taskUid"])
		r = mk("PATCH", "/indexes/"+uid+"/settings", `{"filterableAttributes":["genre"]}`, auditNodeKey)
		auditWaitHTTP(t, base, auditNodeKey, r.obj(t)["taskUid"])
		r = mk("POST", "/indexes/"+uid+"/documents", auditMust(auditMovies(20)), auditNodeKey)
		if task := auditWaitHTTP(t, base, auditNodeKey, r.obj(t)["taskUid"]); task["status"] != "succeeded" {
			t.Fatalf("load %s: %v", uid, task)
		}
	}
	r := mk("POST", "/keys", `{"uid":"11111111-2222-4333-8444-555555555555","actions":["search"],"indexes":["movies"],"expiresAt":null}`, auditNodeKey)
	if r.status != 201 {
		t.Fatalf("create key: %d %s", r.status, r.body)
	}
	key, _ := r.obj(t)["key"].(string)
	if key == "" {
		t.Fatalf("no key value: %s", r.body)
	}
	if r := mk("POST", "/indexes/movies/search", `{"q":"star"}`, key); r.status != 200 {
		t.Errorf("search with a search key on its index: %d %s", r.status, auditTrunc(r.body))
	}
	if r := mk("GET", "/indexes/movies/search?q=star", "", key); r.status != 200 {
		t.Errorf("GET search with a search key: %d %s", r.status, auditTrunc(r.body))
	}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/indexes/private/search", `{"q":"star"}`},
		{"POST", "/indexes/movies/documents", `[{"id":999}]`},
		{"GET", "/keys", ""},
		{"GET", "/indexes/movies/settings", ""},
		{"DELETE", "/indexes/movies", ""},
		{"GET", "/tasks", ""},
		{"GET", "/indexes/movies/documents", ""},
	} {
		r := mk(tc.method, tc.path, tc.body, key)
		if r.status != 403 || r.obj(t)["code"] != "invalid_api_key" {
			t.Errorf("%s %s with a search-only key: %d %s, want 403 invalid_api_key", tc.method, tc.path, r.status, auditTrunc(r.body))
		}
	}
	if r := mk("POST", "/indexes/movies/search", `{"q":"star"}`, "garbage-token"); r.status != 403 {
		t.Errorf("search with an unknown token: %d, want 403", r.status)
	}
	if r := mk("POST", "/indexes/movies/search", `{"q":"star"}`, ""); r.status != 401 {
		t.Errorf("search without a token: %d, want 401", r.status)
	}
	// a tenant token restricts what the search key sees
	tok, err := c.GenerateTenantToken("11111111-2222-4333-8444-555555555555", map[string]any{"movies": map[string]any{"filter": "genre = drama"}}, &meilisearch.TenantTokenOptions{APIKey: key, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	r = mk("POST", "/indexes/movies/search", `{"q":"","limit":100}`, tok)
	if r.status != 200 {
		t.Fatalf("search with a tenant token: %d %s", r.status, auditTrunc(r.body))
	}
	hits := auditHits(r.obj(t))
	if len(hits) != 5 {
		t.Errorf("tenant token filter genre = drama: %d hits, want 5", len(hits))
	}
	for _, h := range hits {
		if h["genre"] != "drama" {
			t.Errorf("tenant token let through %v", h)
		}
	}
	if r := mk("POST", "/indexes/private/search", `{"q":""}`, tok); r.status != 403 {
		t.Errorf("tenant token on another index: %d, want 403", r.status)
	}
	// the master key still works for everything
	if r := mk("GET", "/keys", "", auditNodeKey); r.status != 200 {
		t.Errorf("GET /keys with the master key: %d", r.status)
	}
}

// TestAuditProxyNodeKeysNeverLeak: issue 6 "Node keys never appear in a
// response, log line or error".
func TestAuditProxyNodeKeysNeverLeak(t *testing.T) {
	t.Parallel()
	logs := &auditSyncBuf{b: new(bytes.Buffer)}
	logger := auditLogger(logs)
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 1, shards: 7, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, opts: []Option{WithLogger(logger), WithRetries(RetryPolicy{})}, proxy: true, hopts: []HandlerOption{WithMasterKey(auditProxyKey), WithAdminKey(auditAdminKey)}})
	pURL, srvs := f.url, f.srv
	var all []auditHTTP
	do := func(method, path, body, tok string) auditHTTP {
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		r := auditDo(t, pURL, method, path, b, tok, nil)
		all = append(all, r)
		return r
	}
	r := do("POST", "/indexes", `{"uid":"k","primaryKey":"id"}`, auditProxyKey)
	auditWaitHTTP(t, pURL, auditProxyKey, r.obj(t)["taskUid"])
	r = do("POST", "/indexes/k/documents", auditMust(auditMovies(20)), auditProxyKey)
	auditWaitHTTP(t, pURL, auditProxyKey, r.obj(t)["taskUid"])
	// node failures: errors relayed from nodes and unreachable nodes
	clear := srvs[0].FailRequests(func(*http.Request) bool { return true }, 500, "internal")
	do("POST", "/indexes/k/search", `{"q":"star"}`, auditProxyKey)
	do("GET", "/indexes/k/documents/1", "", auditProxyKey)
	do("PATCH", "/indexes/k/settings", `{"filterableAttributes":["genre"]}`, auditProxyKey)
	clear()
	srvs[1].Stop()
	do("POST", "/indexes/k/documents", `[{"id":1},{"id":2},{"id":3},{"id":4},{"id":5},{"id":6}]`, auditProxyKey)
	do("POST", "/indexes", `{"uid":"k2"}`, auditProxyKey)
	do("GET", "/indexes/k/settings", "", auditProxyKey)
	do("POST", "/indexes/k/search", `{"q":"star"}`, auditProxyKey)
	do("GET", "/stats", "", auditProxyKey)
	do("GET", "/_miroir/topology", "", auditAdminKey)
	do("GET", "/_miroir/shards", "", auditAdminKey)
	do("GET", "/_miroir/ready", "", auditAdminKey)
	do("GET", "/keys", "", auditProxyKey)
	do("GET", "/tasks?limit=50", "", auditProxyKey)
	do("GET", "/version", "", "wrong")
	for _, r := range all {
		if bytes.Contains(r.body, []byte(auditNodeKey)) {
			t.Errorf("a response body shows the node key: %s", auditTrunc(r.body))
		}
		for k, vs := range r.header {
			for _, v := range vs {
				if strings.Contains(v, auditNodeKey) {
					t.Errorf("header %s shows the node key", k)
				}
			}
		}
	}
	time.Sleep(20 * time.Millisecond)
	if strings.Contains(logs.String(), auditNodeKey) {
		t.Errorf("a log line shows the node key")
	}
}

func auditGzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
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

// TestAuditProxyMeilisearchGo: a meilisearch-go client works unchanged
// against the handler (issue 6: "no change on their side").
func TestAuditProxyMeilisearchGo(t *testing.T) {
	t.Parallel()
	pURL := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 1, shards: 7, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, proxy: true, hopts: []HandlerOption{WithMasterKey(auditProxyKey)}}).url
	cl := meilisearch.New(pURL, meilisearch.WithAPIKey(auditProxyKey))
	ctx := context.Background()
	info, err := cl.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "go", PrimaryKey: "id"})
	auditWait(t, cl, info, err)
	info, err = cl.Index("go").UpdateFilterableAttributes(ctx, &[]interface{}{"genre"})
	auditWait(t, cl, info, err)
	info, err = cl.Index("go").AddDocuments(ctx, auditMovies(40), nil)
	auditWait(t, cl, info, err)
	res, err := cl.Index("go").Search(ctx, "", &meilisearch.SearchRequest{Filter: "genre = action", Limit: 100, Facets: []string{"genre"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 10 || res.EstimatedTotalHits != 10 {
		t.Errorf("filtered search: %d hits, total %d, want 10", len(res.Hits), res.EstimatedTotalHits)
	}
	var doc map[string]any
	if err := cl.Index("go").GetDocument(ctx, "7", nil, &doc); err != nil || doc["id"] != 7.0 {
		t.Errorf("GetDocument: %v %v", doc, err)
	}
	if _, ok := doc["_miroir_shard"]; ok {
		t.Errorf("document carries _miroir_shard")
	}
	tasks, err := cl.GetTasks(ctx, &meilisearch.TasksQuery{IndexUIDS: []string{"go"}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks.Results) != 3 {
		t.Errorf("GetTasks: %d tasks of index go, want 3", len(tasks.Results))
	}
	_, err = cl.Index("nope").Search(ctx, "x", &meilisearch.SearchRequest{})
	var me *meilisearch.Error
	if !auditErrorsAs(err, &me) || me.StatusCode != 404 || me.APIError.Code != "index_not_found" {
		t.Errorf("search on a missing index: %v", err)
	}
	bad := meilisearch.New(pURL, meilisearch.WithAPIKey("wrong"))
	if _, err := bad.Version(ctx); !auditErrorsAs(err, &me) || me.StatusCode != 403 || me.APIError.Code != "invalid_api_key" {
		t.Errorf("wrong key: %v", err)
	}
}

func auditErrorsAs(err error, target any) bool { return errors.As(err, target) }

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

// auditLogger logs everything, at debug level, into w.
func auditLogger(w *auditSyncBuf) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
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
