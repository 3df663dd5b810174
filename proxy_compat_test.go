package miroir

// Clients see the proxy as Meilisearch: answers shaped like one node's,
// and meilisearch-go working unchanged against it.

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// shape renders the structure of a JSON value: objects by their member
// names (recursively), arrays by their first element.
func shape(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k)
			if k == "fieldDistribution" || k == "facetDistribution" {
				continue // data-dependent names
			}
			b.WriteByte(':')
			b.WriteString(shape(x[k]))
		}
		b.WriteByte('}')
		return b.String()
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		return "[" + shape(x[0]) + "]"
	case nil:
		return "null"
	case string:
		return "s"
	case float64:
		return "n"
	case bool:
		return "b"
	}
	return "?"
}

func errorsAs(err error, me **meilisearch.Error) bool { return asMeili(err, me) }

func auditErrorsAs(err error, target any) bool { return errors.As(err, target) }

// TestHandlerShapesMatchSingleNode sends the same requests to one
// meilitest node and to the proxy over a fleet and compares status codes
// and the structure of the answers (member names, recursively).
func TestHandlerShapesMatchSingleNode(t *testing.T) {
	single, _ := startRef(t, meilitest.WithMasterKey("k"))
	p := startFleet(t, fleetSpec{groups: []int{0, 1}, nodeKey: "k", token: "k", hopts: []HandlerOption{WithMasterKey("k")}, proxy: true})
	steps := []req{
		{method: "POST", path: "/indexes", body: map[string]any{"uid": "movies", "primaryKey": "id"}},
		{method: "PATCH", path: "/indexes/movies/settings", body: map[string]any{"filterableAttributes": []string{"genre"}, "sortableAttributes": []string{"year"}}},
		{method: "POST", path: "/indexes/movies/documents", body: moviesJSON, ct: "application/json"},
		{method: "GET", path: "/indexes/movies"},
		{method: "GET", path: "/indexes"},
		{method: "GET", path: "/indexes/movies/documents/1"},
		{method: "GET", path: "/indexes/movies/documents?limit=2"},
		{method: "POST", path: "/indexes/movies/documents/fetch", body: map[string]any{"limit": 2, "filter": "genre = drama"}},
		{method: "POST", path: "/indexes/movies/search", body: map[string]any{"q": "", "facets": []string{"genre"}, "sort": []string{"year:desc"}}},
		{method: "GET", path: "/indexes/movies/search?q=mad&showRankingScore=true"},
		{method: "POST", path: "/indexes/movies/search", body: map[string]any{"q": "", "page": 1, "hitsPerPage": 2}},
		{method: "POST", path: "/indexes/movies/facet-search", body: map[string]any{"facetName": "genre"}},
		{method: "POST", path: "/multi-search", body: map[string]any{"queries": []any{map[string]any{"indexUid": "movies", "q": "pi"}}}},
		{method: "GET", path: "/indexes/movies/settings"},
		{method: "GET", path: "/indexes/movies/settings/typo-tolerance"},
		{method: "GET", path: "/indexes/movies/settings/filterable-attributes"},
		{method: "GET", path: "/keys"},
		{method: "GET", path: "/version"},
		{method: "GET", path: "/health"},
		{method: "GET", path: "/indexes/nope"},
		{method: "GET", path: "/indexes/movies/documents/404"},
		{method: "POST", path: "/indexes/movies/search", body: map[string]any{"filter": "year = 1"}},
		{method: "POST", path: "/indexes/movies/documents", body: `[{"id":1}]`, ct: "text/plain"},
		{method: "POST", path: "/indexes/movies/documents", body: `[{"id":1}]`},
		{method: "GET", path: "/tasks?statuses=nope"},
		{method: "GET", path: "/tasks/99999999"},
		{method: "GET", path: "/version", token: "wrong"},
		{method: "GET", path: "/version", noAuth: true},
		{method: "DELETE", path: "/indexes/movies/documents/6"},
		{method: "POST", path: "/indexes/movies/documents/delete-batch", body: []int{5}},
		{method: "DELETE", path: "/indexes/movies"},
	}
	for _, q := range steps {
		name := q.method + " " + q.path
		a := doReq(t, single.URL(), "k", q)
		b := p.do(t, q)
		if a.status != b.status {
			t.Errorf("%s: status %d on one node, %d through the proxy: %s", name, a.status, b.status, b.body)
			continue
		}
		if a.status == 202 {
			single.WaitIdle(context.Background())
			p.waitTask(t, b)
		}
		var va, vb any
		_ = json.Unmarshal(a.body, &va)
		_ = json.Unmarshal(b.body, &vb)
		sa, sb := shape(va), shape(vb)
		if sa != sb {
			t.Errorf("%s: shapes differ\n one node: %s\n proxy:    %s", name, sa, sb)
		}
	}
}

// TestHandlerMeilisearchGo drives the proxy with meilisearch-go itself.
func TestHandlerMeilisearchGo(t *testing.T) {
	p := startFleet(t, fleetSpec{groups: []int{0, 1}, nodeKey: "k", token: "k", hopts: []HandlerOption{WithMasterKey("k")}, proxy: true})
	ctx := testCtx(t)
	for _, enc := range []meilisearch.ContentEncoding{"", meilisearch.GzipEncoding, meilisearch.DeflateEncoding} {
		opts := []meilisearch.Option{meilisearch.WithAPIKey("k")}
		if enc != "" {
			opts = append(opts, meilisearch.WithContentEncoding(enc, meilisearch.DefaultCompression))
		}
		client := meilisearch.New(p.url, opts...)
		uid := "books" + string(enc)
		info, err := client.Index(uid).AddDocuments(ctx, []map[string]any{{"id": 1, "title": "Dune"}, {"id": 2, "title": "Emma"}}, nil)
		if err != nil {
			t.Fatalf("%q: %v", enc, err)
		}
		task, err := client.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
		if err != nil || task.Status != meilisearch.TaskStatusSucceeded {
			t.Fatalf("%q: task %+v, %v", enc, task, err)
		}
		res, err := client.Index(uid).Search(ctx, "dune", &meilisearch.SearchRequest{})
		if err != nil || len(res.Hits) != 1 {
			t.Fatalf("%q: search %+v, %v", enc, res, err)
		}
		_, err = client.Index(uid).Search(ctx, "dune", &meilisearch.SearchRequest{Filter: "nope = 1"})
		var me *meilisearch.Error
		if !errorsAs(err, &me) || me.StatusCode != 400 || me.APIError.Code != "invalid_search_filter" {
			t.Fatalf("%q: node error through the proxy: %v", enc, err)
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
