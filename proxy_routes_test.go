package miroir

// Every proxy route against one node: status, answer shape and the state
// it leaves.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miroirsearch/miroir/meilitest"
)

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

func TestHandlerRoutes(t *testing.T) {
	p := startFleet(t, fleetSpec{groups: []int{0, 0, 1, 1}, rf: 2, shards: 16, nodeKey: "k", token: "k", hopts: []HandlerOption{WithMasterKey("k")}, proxy: true})
	p.loadMovies(t, "movies")

	t.Run("index", func(t *testing.T) {
		r := p.do(t, req{method: "GET", path: "/indexes/movies"})
		expect(t, r, 200, "")
		if m := r.json(t); m["uid"] != "movies" || m["primaryKey"] != "id" {
			t.Fatalf("index: %s", r.body)
		}
		r = p.do(t, req{method: "GET", path: "/indexes?limit=5"})
		expect(t, r, 200, "")
		if m := r.json(t); m["total"] != 1.0 || m["limit"] != 5.0 {
			t.Fatalf("index list: %s", r.body)
		}
		r = p.do(t, req{method: "GET", path: "/indexes/movies/stats"})
		expect(t, r, 200, "")
		if m := r.json(t); m["numberOfDocuments"] != 6.0 {
			t.Fatalf("stats: %s", r.body)
		}
		if bytes.Contains(r.body, []byte(shardField)) {
			t.Fatalf("stats show the shard field: %s", r.body)
		}
		expect(t, p.do(t, req{method: "GET", path: "/stats"}), 200, "")
		expect(t, p.do(t, req{method: "GET", path: "/version"}), 200, "")
		expect(t, p.do(t, req{method: "GET", path: "/indexes/nope"}), 404, "index_not_found")
	})

	t.Run("documents", func(t *testing.T) {
		p.mustSucceed(t, p.do(t, req{method: "POST", path: "/indexes/movies/documents", ct: "application/x-ndjson",
			body: "{\"id\": 10, \"title\": \"Heat\", \"genre\": \"crime\", \"year\": 1995}\n{\"id\": 11, \"title\": \"Ran\", \"genre\": \"drama\", \"year\": 1985}\n"}))
		p.mustSucceed(t, p.do(t, req{method: "POST", path: "/indexes/movies/documents?csvDelimiter=%3B", ct: "text/csv",
			body: "id;title;genre;year:number\n12;Alien;horror;1979\n13;Brazil;comedy;1985\n"}))
		p.mustSucceed(t, p.do(t, req{method: "PUT", path: "/indexes/movies/documents", ct: "application/json",
			body: gz(t, []byte(`[{"id": 12, "title": "Alien (director's cut)"}]`)), hdr: map[string]string{"Content-Encoding": "gzip"}}))
		r := p.do(t, req{method: "GET", path: "/indexes/movies/documents/12"})
		expect(t, r, 200, "")
		if m := r.json(t); m["title"] != "Alien (director's cut)" || m["genre"] != "horror" || m["year"] != 1979.0 {
			t.Fatalf("document 12: %s", r.body)
		}
		if bytes.Contains(r.body, []byte(shardField)) {
			t.Fatalf("document shows the shard field: %s", r.body)
		}
		r = p.do(t, req{method: "GET", path: "/indexes/movies/documents/12?fields=title"})
		expect(t, r, 200, "")
		if m := r.json(t); len(m) != 1 {
			t.Fatalf("fields=title: %s", r.body)
		}
		expect(t, p.do(t, req{method: "GET", path: "/indexes/movies/documents/999"}), 404, "document_not_found")

		r = p.do(t, req{method: "GET", path: "/indexes/movies/documents?limit=3&offset=0&fields=id,title"})
		expect(t, r, 200, "")
		m := r.json(t)
		if m["total"] != 10.0 || len(m["results"].([]any)) != 3 || m["limit"] != 3.0 {
			t.Fatalf("listing: %s", r.body)
		}
		r = p.do(t, req{method: "POST", path: "/indexes/movies/documents/fetch", body: map[string]any{"filter": "genre = drama", "limit": 50}})
		expect(t, r, 200, "")
		if m := r.json(t); m["total"] != 4.0 {
			t.Fatalf("fetch dramas: %s", r.body)
		}
		// Walk every page: each document exactly once.
		seen := map[string]int{}
		for off := 0; off < 10; off += 3 {
			r = p.do(t, req{method: "GET", path: fmt.Sprintf("/indexes/movies/documents?limit=3&offset=%d", off)})
			for _, d := range r.json(t)["results"].([]any) {
				seen[fmt.Sprint(d.(map[string]any)["id"])]++
			}
		}
		if len(seen) != 10 {
			t.Fatalf("paging saw %d documents: %v", len(seen), seen)
		}
	})

	t.Run("search", func(t *testing.T) {
		r := p.do(t, req{method: "GET", path: "/indexes/movies/search?q=&filter=genre%20%3D%20drama&sort=year:asc&facets=genre,year&limit=2"})
		expect(t, r, 200, "")
		m := r.json(t)
		hits := m["hits"].([]any)
		if len(hits) != 2 || hits[0].(map[string]any)["title"] != "Ran" || hits[1].(map[string]any)["title"] != "Philadelphia" {
			t.Fatalf("GET search: %s", r.body)
		}
		if m["estimatedTotalHits"] != 4.0 || m["facetDistribution"].(map[string]any)["genre"].(map[string]any)["drama"] != 4.0 {
			t.Fatalf("GET search totals/facets: %s", r.body)
		}
		r2 := p.do(t, req{method: "POST", path: "/indexes/movies/search", body: map[string]any{
			"q": "", "filter": "genre = drama", "sort": []string{"year:asc"}, "facets": []string{"genre", "year"}, "limit": 2}})
		expect(t, r2, 200, "")
		m2 := r2.json(t)
		delete(m, "processingTimeMs")
		delete(m2, "processingTimeMs")
		a, _ := json.Marshal(m)
		b, _ := json.Marshal(m2)
		if !bytes.Equal(a, b) {
			t.Fatalf("GET and POST search differ:\n%s\n%s", a, b)
		}
		if bytes.Contains(r.body, []byte(shardField)) {
			t.Fatalf("search shows the shard field: %s", r.body)
		}
		r = p.do(t, req{method: "POST", path: "/indexes/movies/search", body: map[string]any{"q": "carol"}, hdr: map[string]string{"Meili-Include-Metadata": "true"}})
		expect(t, r, 200, "")
		md, _ := r.json(t)["metadata"].(map[string]any)
		if md["indexUid"] != "movies" || md["primaryKey"] != "id" || md["queryUid"] == "" {
			t.Fatalf("metadata: %s", r.body)
		}
		r = p.do(t, req{method: "POST", path: "/indexes/movies/facet-search", body: map[string]any{"facetName": "genre", "facetQuery": "dr"}})
		expect(t, r, 200, "")
		if hits := r.json(t)["facetHits"].([]any); len(hits) != 1 || hits[0].(map[string]any)["count"] != 4.0 {
			t.Fatalf("facet search: %s", r.body)
		}
		r = p.do(t, req{method: "POST", path: "/multi-search", body: map[string]any{"queries": []any{
			map[string]any{"indexUid": "movies", "q": "moana"}, map[string]any{"indexUid": "movies", "q": "heat"}}}})
		expect(t, r, 200, "")
		if res := r.json(t)["results"].([]any); len(res) != 2 || res[0].(map[string]any)["indexUid"] != "movies" {
			t.Fatalf("multi-search: %s", r.body)
		}
		expect(t, p.do(t, req{method: "POST", path: "/indexes/nope/search", body: map[string]any{"q": "x"}}), 404, "index_not_found")
		expect(t, p.do(t, req{method: "POST", path: "/indexes/movies/search", body: map[string]any{"filter": "nope = 1"}}), 400, "invalid_search_filter")
	})

	t.Run("settings", func(t *testing.T) {
		p.mustSucceed(t, p.do(t, req{method: "PUT", path: "/indexes/movies/settings/ranking-rules", body: []string{"words", "typo", "year:desc", "proximity", "attribute", "sort", "exactness"}}))
		r := p.do(t, req{method: "GET", path: "/indexes/movies/settings/ranking-rules"})
		expect(t, r, 200, "")
		if !bytes.Contains(r.body, []byte("year:desc")) {
			t.Fatalf("ranking rules: %s", r.body)
		}
		p.mustSucceed(t, p.do(t, req{method: "PATCH", path: "/indexes/movies/settings/typo-tolerance", body: map[string]any{"enabled": false}}))
		r = p.do(t, req{method: "GET", path: "/indexes/movies/settings"})
		expect(t, r, 200, "")
		s := r.json(t)
		if bytes.Contains(r.body, []byte(shardField)) {
			t.Fatalf("settings show the shard field: %s", r.body)
		}
		if s["typoTolerance"].(map[string]any)["enabled"] != false {
			t.Fatalf("typo tolerance: %s", r.body)
		}
		r = p.do(t, req{method: "GET", path: "/indexes/movies/settings/filterable-attributes"})
		expect(t, r, 200, "")
		var fa []string
		_ = json.Unmarshal(r.body, &fa)
		slices.Sort(fa)
		if !slices.Equal(fa, []string{"genre", "year"}) {
			t.Fatalf("filterable attributes: %s", r.body)
		}
		p.mustSucceed(t, p.do(t, req{method: "DELETE", path: "/indexes/movies/settings/ranking-rules"}))
		p.mustSucceed(t, p.do(t, req{method: "DELETE", path: "/indexes/movies/settings/typo-tolerance"}))
		// Refused at once, as Meilisearch does: no task.
		expect(t, p.do(t, req{method: "PUT", path: "/indexes/movies/settings/ranking-rules", body: []string{"nope:sideways"}}), 400, "invalid_settings_ranking_rules")
	})

	t.Run("tasks", func(t *testing.T) {
		r := p.do(t, req{method: "GET", path: "/tasks?indexUids=movies&types=documentAdditionOrUpdate&statuses=succeeded&limit=2"})
		expect(t, r, 200, "")
		m := r.json(t)
		res := m["results"].([]any)
		if len(res) != 2 || m["next"] == nil || m["total"].(float64) < 4 {
			t.Fatalf("task list: %s", r.body)
		}
		for _, x := range res {
			task := x.(map[string]any)
			for _, k := range []string{"uid", "indexUid", "status", "type", "details", "error", "duration", "enqueuedAt", "startedAt", "finishedAt", "canceledBy", "batchUid"} {
				if _, ok := task[k]; !ok {
					t.Fatalf("task lacks %q: %v", k, task)
				}
			}
			if task["type"] != "documentAdditionOrUpdate" || task["indexUid"] != "movies" {
				t.Fatalf("filtered task: %v", task)
			}
		}
		r = p.do(t, req{method: "GET", path: fmt.Sprintf("/tasks?limit=2&from=%d", int64(m["next"].(float64)))})
		expect(t, r, 200, "")
		// An explicit limit=0 lists nothing, as on Meilisearch (the Go API's
		// zero Limit means "not given").
		r = p.do(t, req{method: "GET", path: "/tasks?limit=0"})
		expect(t, r, 200, "")
		if z := r.json(t); len(z["results"].([]any)) != 0 || z["limit"] != 0.0 || z["next"] == nil {
			t.Fatalf("limit=0: %s", r.body)
		}
		r = p.do(t, req{method: "POST", path: "/tasks/cancel?statuses=enqueued,processing"})
		expect(t, r, 200, "")
		task := p.mustSucceed(t, r)
		if task["type"] != "taskCancelation" || task["details"].(map[string]any)["originalFilter"] != "?statuses=enqueued,processing" {
			t.Fatalf("cancelation: %v", task)
		}
		r = p.do(t, req{method: "DELETE", path: "/tasks?types=taskCancelation"})
		expect(t, r, 200, "")
		p.mustSucceed(t, r)
		expect(t, p.do(t, req{method: "GET", path: "/tasks/12345"}), 404, "task_not_found")
	})

	t.Run("keys", func(t *testing.T) {
		r := p.do(t, req{method: "POST", path: "/keys", body: map[string]any{"name": "k", "actions": []string{"search"}, "indexes": []string{"movies"}, "expiresAt": "2099-01-01T00:00:00Z"}})
		expect(t, r, 201, "")
		k := r.json(t)
		uid := k["uid"].(string)
		r = p.do(t, req{method: "PATCH", path: "/keys/" + uid, body: map[string]any{"description": "d"}})
		expect(t, r, 200, "")
		if k := r.json(t); k["description"] != "d" || k["name"] != "k" {
			t.Fatalf("updated key: %s", r.body)
		}
		r = p.do(t, req{method: "GET", path: "/keys/" + uid})
		expect(t, r, 200, "")
		r = p.do(t, req{method: "GET", path: "/keys"})
		expect(t, r, 200, "")
		expect(t, p.do(t, req{method: "DELETE", path: "/keys/" + uid}), 204, "")
		expect(t, p.do(t, req{method: "GET", path: "/keys/" + uid}), 404, "api_key_not_found")
	})

	t.Run("deletions and lifecycle", func(t *testing.T) {
		p.mustSucceed(t, p.do(t, req{method: "DELETE", path: "/indexes/movies/documents/13"}))
		p.mustSucceed(t, p.do(t, req{method: "POST", path: "/indexes/movies/documents/delete-batch", body: []any{12, "11"}}))
		p.mustSucceed(t, p.do(t, req{method: "POST", path: "/indexes/movies/documents/delete", body: map[string]any{"filter": "genre = crime"}}))
		r := p.do(t, req{method: "PATCH", path: "/experimental-features", body: map[string]any{"editDocumentsByFunction": true}})
		expect(t, r, 200, "")
		if r.json(t)["editDocumentsByFunction"] != true {
			t.Fatalf("features: %s", r.body)
		}
		expect(t, p.do(t, req{method: "GET", path: "/experimental-features"}), 200, "")
		p.mustSucceed(t, p.do(t, req{method: "POST", path: "/indexes/movies/documents/edit", body: map[string]any{"function": "doc.title = doc.title + \"!\"", "filter": "year = 2015 AND genre = drama"}}))
		r = p.do(t, req{method: "GET", path: "/indexes/movies/documents/1"})
		if m := r.json(t); m["title"] != "Carol!" {
			t.Fatalf("edited: %s", r.body)
		}
		r = p.do(t, req{method: "GET", path: "/indexes/movies/stats"})
		if m := r.json(t); m["numberOfDocuments"] != 6.0 {
			t.Fatalf("after deletions: %s", r.body)
		}
		p.mustSucceed(t, p.do(t, req{method: "POST", path: "/indexes", body: map[string]any{"uid": "other"}}))
		p.mustSucceed(t, p.do(t, req{method: "POST", path: "/swap-indexes", body: []any{map[string]any{"indexes": []string{"movies", "other"}}}}))
		r = p.do(t, req{method: "GET", path: "/indexes/other/stats"})
		if m := r.json(t); m["numberOfDocuments"] != 6.0 {
			t.Fatalf("after swap: %s", r.body)
		}
		p.mustSucceed(t, p.do(t, req{method: "DELETE", path: "/indexes/other/documents"}))
		p.mustSucceed(t, p.do(t, req{method: "PATCH", path: "/indexes/other", body: map[string]any{"primaryKey": "key"}}))
		p.mustSucceed(t, p.do(t, req{method: "DELETE", path: "/indexes/other"}))
		p.mustSucceed(t, p.do(t, req{method: "DELETE", path: "/indexes/movies"}))
		r = p.do(t, req{method: "GET", path: "/indexes"})
		if m := r.json(t); m["total"] != 0.0 {
			t.Fatalf("indexes left: %s", r.body)
		}
	})

	t.Run("miroir", func(t *testing.T) {
		r := p.do(t, req{method: "GET", path: "/_miroir/topology"})
		expect(t, r, 200, "")
		var topo Topology
		if err := json.Unmarshal(r.body, &topo); err != nil || len(topo.Nodes) != 4 || topo.Shards != 16 || topo.Groups != 2 {
			t.Fatalf("topology: %s", r.body)
		}
		r = p.do(t, req{method: "GET", path: "/_miroir/shards"})
		expect(t, r, 200, "")
		var sh struct {
			Map []shardView `json:"map"`
		}
		if err := json.Unmarshal(r.body, &sh); err != nil || len(sh.Map) != 16 || len(sh.Map[3].Replicas) != 2 || len(sh.Map[3].Replicas[1]) != 2 || !sh.Map[3].Available {
			t.Fatalf("shards: %s", r.body)
		}
		expect(t, p.do(t, req{method: "GET", path: "/_miroir/ready"}), 200, "")
		expect(t, p.do(t, req{method: "GET", path: "/health"}), 200, "")
	})
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
