package miroir

// Task details in proxy mode: the `details` object of GET /tasks/{uid} and
// GET /tasks must be what one Meilisearch node (meilitest) shows for the
// same request: same keys, same values (task uids aside), for every kind
// of task, finished or still enqueued.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// tdEnv is a 2-node fleet behind the proxy, and one reference node
// with the same node options.
type tdEnv struct {
	t          *testing.T
	proxy, ref string
	c          *Cluster
	nodes      []*meilitest.Server
	refSrv     *meilitest.Server
}

func tdSetup(t *testing.T, rf int, copts ...Option) *tdEnv {
	t.Helper()
	return tdSetupWith(t, rf, []meilitest.Option{meilitest.WithTaskDuration(0)}, copts...)
}

// tdSetupWith is tdSetup with these options for every node, the reference
// included.
func tdSetupWith(t *testing.T, rf int, srvOpts []meilitest.Option, copts ...Option) *tdEnv {
	t.Helper()
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: rf, shards: 4, nodeOpts: srvOpts, timing: newDefaults, opts: copts, proxy: true})
	ref, _ := startRef(t, srvOpts...)
	return &tdEnv{t: t, proxy: f.url, ref: ref.URL(), c: f.c, nodes: f.srv, refSrv: ref}
}

// tdDo sends one request and decodes the JSON answer (nil when empty).
func tdDo(t *testing.T, base, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: answer %d is not a JSON object: %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, m
}

func tdUID(t *testing.T, m map[string]any) int64 {
	t.Helper()
	f, ok := m["taskUid"].(float64)
	if !ok {
		t.Fatalf("no taskUid in %v", m)
	}
	return int64(f)
}

// tdWait polls GET /tasks/{uid} until the task is finished.
func tdWait(t *testing.T, base string, uid int64) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, m := tdDo(t, base, "GET", "/tasks/"+strconv.FormatInt(uid, 10), "")
		if st != http.StatusOK {
			t.Fatalf("GET /tasks/%d: %d %v", uid, st, m)
		}
		switch m["status"] {
		case "succeeded", "failed", "canceled":
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %d never finished: %v", uid, m)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func tdJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// tdCompare checks that two tasks have the same details object (present
// or absent alike), the same status and the same error code.
func tdCompare(t *testing.T, label string, got, want map[string]any) {
	t.Helper()
	if got["status"] != want["status"] || got["type"] != want["type"] {
		t.Errorf("%s: task %v/%v, reference %v/%v (error %v, reference error %v)", label, got["type"], got["status"], want["type"], want["status"], got["error"], want["error"])
	}
	ge, _ := got["error"].(map[string]any)
	we, _ := want["error"].(map[string]any)
	if (ge == nil) != (we == nil) || (ge != nil && ge["code"] != we["code"]) {
		t.Errorf("%s: error %v, reference %v", label, got["error"], want["error"])
	}
	gd, gok := got["details"]
	wd, wok := want["details"]
	if gok != wok || !reflect.DeepEqual(gd, wd) {
		t.Errorf("%s: details\n  proxy     %s\n  reference %s", label, tdJSON(gd), tdJSON(wd))
	}
}

// tdStep is one request sent to both servers. fix, if set, rewrites the
// proxy task (its details) before the comparison: task uids differ.
type tdStep struct {
	method, path, body string
	// path on the proxy when it names task uids (the reference's is path)
	proxyPath string
	fix       func(proxyTask map[string]any)
}

// run sends the step to both servers, waits for both tasks and compares
// them. It returns the two task uids.
func (e *tdEnv) run(s tdStep) (proxyUID, refUID int64) {
	t := e.t
	t.Helper()
	label := s.method + " " + s.path
	pp := s.path
	if s.proxyPath != "" {
		pp = s.proxyPath
	}
	ps, pm := tdDo(t, e.proxy, s.method, pp, s.body)
	rs, rm := tdDo(t, e.ref, s.method, s.path, s.body)
	if ps != rs || ps >= 300 {
		t.Fatalf("%s: proxy %d %v, reference %d %v", label, ps, pm, rs, rm)
	}
	proxyUID, refUID = tdUID(t, pm), tdUID(t, rm)
	pt, rt := tdWait(t, e.proxy, proxyUID), tdWait(t, e.ref, refUID)
	if s.fix != nil {
		s.fix(pt)
	}
	tdCompare(t, label, pt, rt)
	return proxyUID, refUID
}

// both sends a request that is not a task to both servers.
func (e *tdEnv) both(method, path, body string) {
	e.t.Helper()
	for _, base := range []string{e.proxy, e.ref} {
		if st, m := tdDo(e.t, base, method, path, body); st >= 300 {
			e.t.Fatalf("%s %s on %s: %d %v", method, path, base, st, m)
		}
	}
}

func tdMovies(n int) string {
	genres := []string{"drama", "comedy", "horror"}
	docs := make([]map[string]any, n)
	for i := range docs {
		docs[i] = map[string]any{"id": i + 1, "title": fmt.Sprintf("Movie %d", i+1), "genre": genres[i%3], "year": 1995 + i}
	}
	return tdJSON(docs)
}

// tdReplaceFilterUIDs rewrites the uids of a task's originalFilter from
// the proxy's to the reference's.
func tdReplaceFilterUIDs(from, to int64) func(map[string]any) {
	return func(task map[string]any) {
		if d, ok := task["details"].(map[string]any); ok {
			if f, ok := d["originalFilter"].(string); ok {
				d["originalFilter"] = strings.ReplaceAll(f, strconv.FormatInt(from, 10), strconv.FormatInt(to, 10))
			}
		}
	}
}

func TestTaskDetailsProxyMatchOneNode(t *testing.T) {
	for _, rf := range []int{1, 2} {
		t.Run(fmt.Sprintf("rf%d", rf), func(t *testing.T) {
			e := tdSetup(t, rf)
			e.both("PATCH", "/experimental-features", `{"editDocumentsByFunction": true}`)
			steps := []tdStep{
				// indexes
				{method: "POST", path: "/indexes", body: `{"uid": "movies", "primaryKey": "id"}`},
				{method: "POST", path: "/indexes", body: `{"uid": "movies"}`}, // fails: already exists
				{method: "POST", path: "/indexes", body: `{"uid": "other"}`},
				// documents
				{method: "POST", path: "/indexes/movies/documents", body: tdMovies(12)},
				{method: "PUT", path: "/indexes/movies/documents", body: `[{"id": 1, "title": "Changed"}, {"id": 40, "title": "New", "genre": "drama", "year": 2001}]`},
				{method: "POST", path: "/indexes/movies/documents", body: `[]`},
				// settings: the whole object, with normalisations
				{method: "PATCH", path: "/indexes/movies/settings", body: `{
					"filterableAttributes": ["genre", "year", {"attributePatterns": ["tag*"], "features": {"facetSearch": true}}],
					"sortableAttributes": ["year", "title", "year"],
					"stopWords": ["the", "a", "the"],
					"rankingRules": ["words", "typo", "year:desc", "proximity", "attribute", "sort", "exactness"],
					"displayedAttributes": ["title", "*"],
					"synonyms": {"film": ["movie", "picture"]},
					"distinctAttribute": "title",
					"typoTolerance": {"minWordSizeForTypos": {"oneTypo": 4}},
					"faceting": {"maxValuesPerFacet": 50, "sortFacetValuesBy": {"genre": "count"}},
					"pagination": {"maxTotalHits": 500}}`},
				// settings: one at a time
				{method: "PUT", path: "/indexes/movies/settings/dictionary", body: `["foo", "bar", "foo"]`},
				{method: "PUT", path: "/indexes/movies/settings/separator-tokens", body: `["&", "#"]`},
				{method: "PUT", path: "/indexes/movies/settings/non-separator-tokens", body: `["-"]`},
				{method: "PUT", path: "/indexes/movies/settings/proximity-precision", body: `"byAttribute"`},
				{method: "PUT", path: "/indexes/movies/settings/search-cutoff-ms", body: `150`},
				{method: "PUT", path: "/indexes/movies/settings/localized-attributes", body: `[{"attributePatterns": ["title"], "locales": ["eng"]}]`},
				{method: "PATCH", path: "/indexes/movies/settings/embedders", body: `{"default": {"source": "userProvided", "dimensions": 3}}`},
				{method: "PUT", path: "/indexes/movies/settings/facet-search", body: `false`},
				{method: "PUT", path: "/indexes/movies/settings/prefix-search", body: `"disabled"`},
				{method: "PATCH", path: "/indexes/movies/settings/typo-tolerance", body: `{"disableOnWords": ["b", "a"]}`},
				{method: "PUT", path: "/indexes/movies/settings/searchable-attributes", body: `["title", "genre"]`},
				{method: "PUT", path: "/indexes/movies/settings/synonyms", body: `{"sf": ["science fiction"]}`},
				// settings: resets
				{method: "DELETE", path: "/indexes/movies/settings/stop-words"},
				{method: "DELETE", path: "/indexes/movies/settings/displayed-attributes"},
				{method: "DELETE", path: "/indexes/movies/settings/filterable-attributes"},
				{method: "DELETE", path: "/indexes/movies/settings/typo-tolerance"},
				{method: "PATCH", path: "/indexes/movies/settings", body: `{"rankingRules": null, "searchableAttributes": null, "filterableAttributes": null}`},
				{method: "PUT", path: "/indexes/movies/settings/filterable-attributes", body: `["genre", "year"]`},
				// deletions and edition
				{method: "DELETE", path: "/indexes/movies/documents/3"},
				{method: "POST", path: "/indexes/movies/documents/delete-batch", body: `["1", "2", 999]`},
				{method: "POST", path: "/indexes/movies/documents/delete", body: `{"filter": "genre = drama"}`},
				{method: "POST", path: "/indexes/movies/documents/delete", body: `{"filter": ["genre = horror", "year > 2003"]}`},
				{method: "POST", path: "/indexes/movies/documents/edit", body: `{"function": "doc.title = doc.title + \"!\"", "filter": "year > 2000", "context": {"x": 1}}`},
				{method: "POST", path: "/indexes/movies/documents/edit", body: `{"function": "doc.seen = true"}`},
				// key-less task cancelation and deletion
				{method: "POST", path: "/tasks/cancel?types=documentDeletion"},
				{method: "POST", path: "/tasks/cancel?statuses=enqueued,processing"},
				{method: "DELETE", path: "/tasks?types=taskCancelation"},
				// the whole settings object reset
				{method: "DELETE", path: "/indexes/movies/settings"},
				{method: "PATCH", path: "/indexes/other", body: `{"primaryKey": "key"}`},
				{method: "POST", path: "/indexes/other/documents", body: `[{"key": "a"}, {"key": "b"}]`},
				{method: "POST", path: "/swap-indexes", body: `[{"indexes": ["movies", "other"]}]`},
				{method: "POST", path: "/swap-indexes", body: `[{"indexes": ["other", "renamed"], "rename": true}]`},
				{method: "PATCH", path: "/indexes/renamed", body: `{"uid": "other"}`},
				{method: "POST", path: "/indexes/movies/compact"},
				{method: "POST", path: "/snapshots"},
			}
			var firstWrite [2]int64
			for i, s := range steps {
				p, r := e.run(s)
				if i == 3 {
					firstWrite = [2]int64{p, r}
				}
			}
			// Tasks named by uid (which differ between the two servers).
			p, r := e.run(tdStep{method: "POST", path: fmt.Sprintf("/tasks/cancel?uids=%d", firstWrite[1]),
				proxyPath: fmt.Sprintf("/tasks/cancel?uids=%d", firstWrite[0]), fix: tdReplaceFilterUIDs(firstWrite[0], firstWrite[1])})
			e.run(tdStep{method: "DELETE", path: fmt.Sprintf("/tasks?uids=%d,%d", r, firstWrite[1]),
				proxyPath: fmt.Sprintf("/tasks?uids=%d,%d", p, firstWrite[0]), fix: func(task map[string]any) {
					tdReplaceFilterUIDs(p, r)(task)
					tdReplaceFilterUIDs(firstWrite[0], firstWrite[1])(task)
				}})
			for _, s := range []tdStep{
				{method: "DELETE", path: "/indexes/other/documents"},
				{method: "DELETE", path: "/indexes/movies"},
				{method: "DELETE", path: "/indexes/other"},
				{method: "DELETE", path: "/indexes/nope"}, // fails: index_not_found
			} {
				e.run(s)
			}
			tdCheckListing(t, e)
		})
	}
}

// tdCheckListing checks that GET /tasks shows every task's details as GET
// /tasks/{uid} does, and that GetTask's typed details are what
// meilisearch-go decodes from them.
func tdCheckListing(t *testing.T, e *tdEnv) {
	t.Helper()
	st, list := tdDo(t, e.proxy, "GET", "/tasks?limit=1000", "")
	if st != http.StatusOK {
		t.Fatalf("GET /tasks: %d %v", st, list)
	}
	results, _ := list["results"].([]any)
	if len(results) < 40 {
		t.Fatalf("GET /tasks: %d tasks", len(results))
	}
	for _, x := range results {
		lt := x.(map[string]any)
		uid := int64(lt["uid"].(float64))
		_, one := tdDo(t, e.proxy, "GET", "/tasks/"+strconv.FormatInt(uid, 10), "")
		if !reflect.DeepEqual(lt["details"], one["details"]) {
			t.Errorf("task %d: listed details %s, alone %s", uid, tdJSON(lt["details"]), tdJSON(one["details"]))
		}
		task, err := e.c.GetTask(context.Background(), uid)
		if err != nil {
			t.Fatal(err)
		}
		var want meilisearch.Details
		if d, ok := one["details"]; ok {
			b, _ := json.Marshal(d)
			_ = json.Unmarshal(b, &want) // type mismatches are meilisearch-go's
		}
		if !reflect.DeepEqual(task.Details, want) {
			t.Errorf("task %d (%s): GetTask details %+v, REST details decode to %+v", uid, task.Type, task.Details, want)
		}
	}
}

// TestTaskDetailsEnqueued compares the details of tasks still enqueued
// (no node processed them) with the reference's enqueued tasks.
func TestTaskDetailsEnqueued(t *testing.T) {
	e := tdSetup(t, 1)
	e.both("PATCH", "/experimental-features", `{"editDocumentsByFunction": true}`)
	e.run(tdStep{method: "POST", path: "/indexes", body: `{"uid": "movies", "primaryKey": "id"}`})
	e.run(tdStep{method: "POST", path: "/indexes/movies/documents", body: tdMovies(6)})
	e.run(tdStep{method: "PUT", path: "/indexes/movies/settings/filterable-attributes", body: `["genre"]`})
	for _, s := range append(e.nodes, e.refSrv) {
		s.PauseTasks()
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			for _, s := range append(e.nodes, e.refSrv) {
				s.ResumeTasks()
			}
		}
	}
	defer resume()
	type pair struct {
		label    string
		pUID, rU int64
	}
	var pairs []pair
	for _, s := range []tdStep{
		{method: "POST", path: "/indexes/movies/documents", body: tdMovies(4)},
		{method: "DELETE", path: "/indexes/movies/documents/3"},
		{method: "POST", path: "/indexes/movies/documents/delete-batch", body: `["1", "2"]`},
		{method: "POST", path: "/indexes/movies/documents/delete", body: `{"filter": "genre = drama"}`},
		{method: "DELETE", path: "/indexes/movies/documents"},
		{method: "POST", path: "/indexes/movies/documents/edit", body: `{"function": "doc.seen = true", "filter": "genre = comedy"}`},
		{method: "POST", path: "/indexes/movies/documents/edit", body: `{"function": "doc.seen = false", "context": {"a": [1, 2]}}`},
		{method: "POST", path: "/indexes", body: `{"uid": "other"}`},
		{method: "POST", path: "/indexes", body: `{"uid": "third", "primaryKey": "pk"}`},
		{method: "PATCH", path: "/indexes/movies", body: `{"primaryKey": "id"}`},
		{method: "POST", path: "/swap-indexes", body: `[{"indexes": ["movies", "other"]}]`},
		{method: "DELETE", path: "/indexes/movies"},
		{method: "POST", path: "/snapshots"},
	} {
		ps, pm := tdDo(t, e.proxy, s.method, s.path, s.body)
		rs, rm := tdDo(t, e.ref, s.method, s.path, s.body)
		if ps != rs || ps >= 300 {
			t.Fatalf("%s %s: proxy %d %v, reference %d %v", s.method, s.path, ps, pm, rs, rm)
		}
		pairs = append(pairs, pair{s.method + " " + s.path, tdUID(t, pm), tdUID(t, rm)})
	}
	for _, p := range pairs {
		_, pt := tdDo(t, e.proxy, "GET", "/tasks/"+strconv.FormatInt(p.pUID, 10), "")
		_, rt := tdDo(t, e.ref, "GET", "/tasks/"+strconv.FormatInt(p.rU, 10), "")
		if rt["status"] != "enqueued" || pt["status"] != "enqueued" {
			t.Fatalf("%s: proxy %v, reference %v: not enqueued", p.label, pt["status"], rt["status"])
		}
		tdCompare(t, p.label+" (enqueued)", pt, rt)
	}
	resume()
	for _, p := range pairs {
		tdCompare(t, p.label, tdWait(t, e.proxy, p.pUID), tdWait(t, e.ref, p.rU))
	}
}

// TestTaskDetailsSerialisingStore: the raw details survive a store that
// keeps tasks as JSON (a snapshot's absent details included).
func TestTaskDetailsSerialisingStore(t *testing.T) {
	e := tdSetup(t, 1, WithTaskStore(&jsonTaskStore{}))
	e.run(tdStep{method: "POST", path: "/indexes", body: `{"uid": "movies"}`})
	e.run(tdStep{method: "POST", path: "/indexes/movies/documents", body: tdMovies(5)})
	e.run(tdStep{method: "PATCH", path: "/indexes/movies/settings/typo-tolerance", body: `{"disableOnWords": ["b", "a"]}`})
	e.run(tdStep{method: "DELETE", path: "/indexes/movies/settings"})
	e.run(tdStep{method: "POST", path: "/indexes/movies/documents/delete", body: `{"filter": "id > 2"}`})
	e.run(tdStep{method: "POST", path: "/snapshots"})
	e.run(tdStep{method: "DELETE", path: "/indexes/movies"})
}

func TestAuditCoreTaskDetailsAndTimes(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	docs := acDocs(0, 90)
	info, err := ix.AddDocuments(ctx, docs, nil)
	task := acWaitOK(t, f.c)(info, err)
	if task.Details.ReceivedDocuments != 90 || task.Details.IndexedDocuments != 90 {
		t.Errorf("add details %+v, want received=indexed=90", task.Details)
	}
	if task.Type != meilisearch.TaskTypeDocumentAdditionOrUpdate || task.IndexUID != "docs" || task.UID != info.TaskUID {
		t.Errorf("task header %+v", task)
	}
	// Times: enqueuedAt/startedAt earliest, finishedAt latest over node tasks.
	ct, err := f.store.Get(ctx, info.TaskUID)
	if err != nil || ct == nil {
		t.Fatalf("store: %v %v", ct, err)
	}
	if len(ct.Nodes) != 3 {
		t.Fatalf("cluster task maps to %d node tasks, want 3: %+v", len(ct.Nodes), ct.Nodes)
	}
	var minE, minS, maxF time.Time
	for _, nt := range ct.Nodes {
		i := f.nodeIndex(nt.Node)
		if i < 0 {
			t.Fatalf("unknown node %q", nt.Node)
		}
		nodeTask, err := meilisearch.New(f.srv[i].URL()).GetTask(ctx, nt.TaskUID)
		if err != nil {
			t.Fatal(err)
		}
		if nodeTask.Type != meilisearch.TaskTypeDocumentAdditionOrUpdate {
			t.Errorf("node task %d on %s is %s", nt.TaskUID, nt.Node, nodeTask.Type)
		}
		if minE.IsZero() || nodeTask.EnqueuedAt.Before(minE) {
			minE = nodeTask.EnqueuedAt
		}
		if minS.IsZero() || nodeTask.StartedAt.Before(minS) {
			minS = nodeTask.StartedAt
		}
		if nodeTask.FinishedAt.After(maxF) {
			maxF = nodeTask.FinishedAt
		}
	}
	if !task.EnqueuedAt.Equal(minE) {
		t.Errorf("enqueuedAt %v, want earliest node enqueuedAt %v", task.EnqueuedAt, minE)
	}
	if !task.StartedAt.Equal(minS) {
		t.Errorf("startedAt %v, want earliest node startedAt %v", task.StartedAt, minS)
	}
	if !task.FinishedAt.Equal(maxF) {
		t.Errorf("finishedAt %v, want latest node finishedAt %v", task.FinishedAt, maxF)
	}
	// Deletion counts.
	task = acWaitOK(t, f.c)(ix.DeleteDocuments(ctx, []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "100000"}, nil))
	if task.Details.ProvidedIds != 11 || task.Details.DeletedDocuments != 10 {
		t.Errorf("delete details %+v, want providedIds=11 deletedDocuments=10", task.Details)
	}
	task = acWaitOK(t, f.c)(ix.DeleteAllDocuments(ctx, nil))
	if task.Details.DeletedDocuments != 80 {
		t.Errorf("delete all details %+v, want deletedDocuments=80", task.Details)
	}
}
