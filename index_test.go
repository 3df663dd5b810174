package miroir

// The index lifecycle (index.go): create, update, delete, swap and list,
// unmanaged indexes, the hidden miroir_meta index, and index uids checked
// before any node.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func TestCreateIndexConvergesAndAlreadyExists(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8})
	ctx := testCtx(t)
	// A half-failed creation: the index exists on node 1 only.
	if _, err := f.direct(1).CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies", PrimaryKey: "id"}); err != nil {
		t.Fatal(err)
	}
	_ = f.srv[1].WaitIdle(ctx)
	f.wait(t, must(f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies", PrimaryKey: "id"})), meilisearch.TaskStatusSucceeded)
	for i := range f.srv {
		info, err := f.direct(i).GetIndex(ctx, "movies")
		if err != nil || info.PrimaryKey != "id" {
			t.Fatalf("node %d: %+v %v", i, info, err)
		}
		fa, _ := f.direct(i).Index("movies").GetFilterableAttributes(ctx)
		if !slices.Contains(*fa, any(shardField)) {
			t.Fatalf("node %d filterable %v", i, *fa)
		}
	}
	// Complete everywhere: the task fails like on one Meilisearch.
	task := f.wait(t, must(f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies"})), meilisearch.TaskStatusFailed)
	if task.Error.Code != "index_already_exists" || task.Error.Message != "Index `movies` already exists." {
		t.Fatalf("%+v", task.Error)
	}
	if _, err := f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "bad uid"}); apiCode(err) != "invalid_index_uid" {
		t.Fatalf("bad uid: %v", err)
	}
	if _, err := f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: metaIndex}); apiCode(err) != CodeReservedIndex {
		t.Fatalf("meta uid: %v", err)
	}
	// A node down: creation needs every node and says which is missing.
	f.stop(t, 2)
	_, err := f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "other"})
	var e *Error
	if !errors.As(err, &e) || !slices.Equal(e.Nodes, []string{"n2"}) || !strings.Contains(err.Error(), "n2") {
		t.Fatalf("node down: %v", err)
	}
}

func TestDeleteRenameSwap(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 4})
	ctx := testCtx(t)
	a := f.createIndex(t, "a", "id")
	f.createIndex(t, "b", "id")
	f.wait(t, must(a.AddDocuments(ctx, coreMovies(5), nil)), meilisearch.TaskStatusSucceeded)
	// Swap a and b: documents follow, both stay managed.
	f.wait(t, must(f.c.SwapIndexes(ctx, []*meilisearch.SwapIndexesParams{{Indexes: []string{"a", "b"}}})), meilisearch.TaskStatusSucceeded)
	var m coreMovie
	if err := f.c.index("b").GetDocument(ctx, "3", nil, &m); err != nil || m.ID != 3 {
		t.Fatalf("after swap: %v", err)
	}
	// Rename b to c through UpdateIndex: the meta record moves along.
	b := f.c.index("b")
	f.wait(t, must(b.UpdateIndex(ctx, &meilisearch.UpdateIndexRequestParams{UID: "c"})), meilisearch.TaskStatusSucceeded)
	if b.uid != "c" {
		t.Fatalf("index handle names %q", b.uid)
	}
	for i := range f.srv {
		var rec metaRecord
		if err := f.direct(i).Index(metaIndex).GetDocument(ctx, "c", nil, &rec); err != nil || rec.Shards != 4 {
			t.Fatalf("node %d meta for c: %v", i, err)
		}
		if err := f.direct(i).Index(metaIndex).GetDocument(ctx, "b", nil, &rec); apiCode(err) != "document_not_found" {
			t.Fatalf("node %d meta for b: %v", i, err)
		}
	}
	if err := f.c.index("c").GetDocument(ctx, "3", nil, &m); err != nil {
		t.Fatalf("after rename: %v", err)
	}
	// Rename with SwapIndexes{Rename}.
	f.wait(t, must(f.c.SwapIndexes(ctx, []*meilisearch.SwapIndexesParams{{Indexes: []string{"c", "d"}, Rename: true}})), meilisearch.TaskStatusSucceeded)
	if err := f.c.index("d").GetDocument(ctx, "4", nil, &m); err != nil {
		t.Fatalf("after swap-rename: %v", err)
	}
	// Delete: index and record gone everywhere; deletedDocuments counted once.
	task := f.wait(t, must(f.c.DeleteIndex(ctx, "d")), meilisearch.TaskStatusSucceeded)
	if task.Details.DeletedDocuments != 5 {
		t.Fatalf("deleted %d", task.Details.DeletedDocuments)
	}
	for i := range f.srv {
		if _, err := f.direct(i).GetIndex(ctx, "d"); apiCode(err) != "index_not_found" {
			t.Fatalf("node %d still has d: %v", i, err)
		}
	}
	task = f.wait(t, must(f.c.DeleteIndex(ctx, "d")), meilisearch.TaskStatusFailed)
	if task.Error.Code != "index_not_found" {
		t.Fatalf("second delete %+v", task.Error)
	}
	ok, err := a.Delete(ctx, "a")
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	// Compact and update-by-function broadcast.
	ix := f.createIndex(t, "e", "id")
	f.wait(t, must(ix.AddDocuments(ctx, coreMovies(4), nil)), meilisearch.TaskStatusSucceeded)
	f.wait(t, must(ix.Compact(ctx)), meilisearch.TaskStatusSucceeded)
	if _, err := f.c.ExperimentalFeatures().SetEditDocumentsByFunction(true).Update(ctx); err != nil {
		t.Fatal(err)
	}
	f.wait(t, must(ix.UpdateDocumentsByFunction(ctx, &meilisearch.UpdateDocumentByFunctionRequest{Function: "doc.title = \"x\""})), meilisearch.TaskStatusSucceeded)
	if err := ix.GetDocument(ctx, "2", nil, &m); err != nil || m.Title != "x" {
		t.Fatalf("by function: %+v %v", m, err)
	}
	f.wait(t, must(ix.DeleteDocumentsByFilter(ctx, "_miroir_shard >= 0", nil)), meilisearch.TaskStatusSucceeded)
	if st, _ := ix.GetStats(ctx, nil); st.NumberOfDocuments != 0 {
		t.Fatalf("%d left", st.NumberOfDocuments)
	}
}

func TestAuditCoreIndexLifecycle(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ctx := testCtx(t)

	// Create: every node has the index and _miroir_shard filterable.
	info, err := f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies", PrimaryKey: "id"})
	task := acWaitOK(t, f.c)(info, err)
	if task.Type != meilisearch.TaskTypeIndexCreation || task.IndexUID != "movies" {
		t.Errorf("creation task %+v", task)
	}
	for i := range f.srv {
		st, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/movies", nil, "")
		if st != 200 || !strings.Contains(string(body), `"primaryKey":"id"`) {
			t.Errorf("node %d index: %d %s", i, st, body)
		}
		var fa []any
		_ = json.Unmarshal(f.nodeSettings(t, i, "movies")["filterableAttributes"], &fa)
		if !slices.Contains(fa, any("_miroir_shard")) {
			t.Errorf("node %d: _miroir_shard not filterable after creation: %v", i, fa)
		}
	}
	// Created a second time: fails as on one Meilisearch.
	task = acWait(t, f.c)(f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies", PrimaryKey: "id"}))
	if task.Status != meilisearch.TaskStatusFailed || task.Error.Code != "index_already_exists" {
		t.Errorf("second creation: %s %+v", task.Status, task.Error)
	}
	// GetIndex from the fleet.
	res, err := f.c.GetIndex(ctx, "movies")
	if err != nil || res.UID != "movies" || res.PrimaryKey != "id" {
		t.Errorf("GetIndex: %+v %v", res, err)
	}

	// A node down: creation needs every node and names the missing one;
	// after the node returns, retrying converges.
	f.stop(t, 1)
	info, err = f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "books", PrimaryKey: "isbn"})
	acFailsNaming(t, f.c, "CreateIndex", "n1", info, err)
	f.start(t, 1)
	acWaitOK(t, f.c)(f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "books", PrimaryKey: "isbn"}))
	for i := range f.srv {
		st, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/books", nil, "")
		if st != 200 || !strings.Contains(string(body), `"primaryKey":"isbn"`) {
			t.Errorf("node %d after converging create: %d %s", i, st, body)
		}
		var fa []any
		_ = json.Unmarshal(f.nodeSettings(t, i, "books")["filterableAttributes"], &fa)
		if !slices.Contains(fa, any("_miroir_shard")) {
			t.Errorf("node %d: _miroir_shard not filterable after converging create: %v", i, fa)
		}
	}

	// A half-failed creation (the index exists on some node only) converges.
	st, body := acHTTP(t, f.srv[2].URL(), "POST", "/indexes", map[string]any{"uid": "half", "primaryKey": "id"}, "")
	if st != 202 {
		t.Fatalf("direct create: %d %s", st, body)
	}
	f.idle(t)
	acWaitOK(t, f.c)(f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "half", PrimaryKey: "id"}))
	for i := range f.srv {
		if st, _ := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/half", nil, ""); st != 200 {
			t.Errorf("node %d lacks half after converging create", i)
		}
		var fa []any
		_ = json.Unmarshal(f.nodeSettings(t, i, "half")["filterableAttributes"], &fa)
		if !slices.Contains(fa, any("_miroir_shard")) {
			t.Errorf("node %d: _miroir_shard not filterable on half: %v", i, fa)
		}
	}
	acWaitOK(t, f.c)(f.c.Index("half").AddDocuments(ctx, acDocs(0, 10), nil))

	// Update the primary key (empty index) on every node.
	acWaitOK(t, f.c)(f.c.Index("books").UpdateIndex(ctx, &meilisearch.UpdateIndexRequestParams{PrimaryKey: "code"}))
	for i := range f.srv {
		_, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/books", nil, "")
		if !strings.Contains(string(body), `"primaryKey":"code"`) {
			t.Errorf("node %d after UpdateIndex: %s", i, body)
		}
	}

	// Swap: documents follow on every node.
	mix := f.c.Index("movies")
	acWaitOK(t, f.c)(mix.AddDocuments(ctx, acDocs(0, 30), nil))
	acWaitOK(t, f.c)(f.c.SwapIndexes(ctx, []*meilisearch.SwapIndexesParams{{Indexes: []string{"movies", "half"}}}))
	var d map[string]any
	if err := f.c.Index("half").GetDocument(ctx, "25", nil, &d); err != nil {
		t.Errorf("after swap, half lacks movies' document 25: %v", err)
	}
	stats, err := f.c.Index("half").GetStats(ctx, nil)
	if err != nil || stats.NumberOfDocuments != 30 {
		t.Errorf("after swap, half stats %+v %v", stats, err)
	}

	// Delete on every node; then gone.
	f.stop(t, 0)
	info, err = f.c.DeleteIndex(ctx, "books")
	acFailsNaming(t, f.c, "DeleteIndex", "n0", info, err)
	f.start(t, 0)
	acWaitOK(t, f.c)(f.c.DeleteIndex(ctx, "books"))
	for i := range f.srv {
		if st, _ := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/books", nil, ""); st != 404 {
			t.Errorf("node %d still has books (%d)", i, st)
		}
	}
	if _, err := f.c.GetIndex(ctx, "books"); acAPICode(err) != "index_not_found" {
		t.Errorf("GetIndex after delete: %v", err)
	}
}

func TestUnmanagedIndexes(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 4})
	ctx := testCtx(t)
	// Empty and unmanaged: adopted on first use.
	for i := range f.srv {
		_, _ = f.direct(i).CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "empty"})
		_ = f.srv[i].WaitIdle(ctx)
	}
	f.wait(t, must(f.c.index("empty").AddDocuments(ctx, coreMovies(10), nil)), meilisearch.TaskStatusSucceeded)
	var rec metaRecord
	if err := f.direct(1).Index(metaIndex).GetDocument(ctx, "empty", nil, &rec); err != nil || rec.Shards != 4 {
		t.Fatalf("adopted: %v", err)
	}
	// With documents: refused.
	if _, err := f.direct(0).Index("full").AddDocuments(ctx, []map[string]any{{"id": 1}}, nil); err != nil {
		t.Fatal(err)
	}
	_ = f.srv[0].WaitIdle(ctx)
	_, err := f.c.index("full").AddDocuments(ctx, coreMovies(1), nil)
	if apiCode(err) != CodeIndexNotManaged {
		t.Fatalf("unmanaged with documents: %v", err)
	}
}

func TestMetaHiddenAndListIndexes(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 4})
	ctx := testCtx(t)
	for _, uid := range []string{"a", "b", "n", "z"} {
		f.createIndex(t, uid, "id")
	}
	f.wait(t, must(f.c.index("z").AddDocuments(ctx, coreMovies(3), nil)), meilisearch.TaskStatusSucceeded)
	all, err := f.c.ListIndexes(ctx, nil)
	if err != nil || all.Total != 4 || len(all.Results) != 4 {
		t.Fatalf("%+v %v", all, err)
	}
	var uids []string
	for _, r := range all.Results {
		uids = append(uids, r.UID)
	}
	if !slices.Equal(uids, []string{"a", "b", "n", "z"}) {
		t.Fatalf("uids %v", uids)
	}
	page, _ := f.c.ListIndexes(ctx, &meilisearch.IndexesQuery{Offset: 2, Limit: 2})
	if page.Total != 4 || len(page.Results) != 2 || page.Results[0].UID != "n" || page.Results[1].UID != "z" || page.Offset != 2 {
		t.Fatalf("page %+v", page)
	}
	raw, _ := f.c.GetRawIndexes(ctx, &meilisearch.IndexesQuery{Limit: 1})
	if raw["total"] != float64(4) || len(raw["results"].([]any)) != 1 {
		t.Fatalf("raw %v", raw)
	}
	if _, err := f.c.GetIndex(ctx, metaIndex); apiCode(err) != "index_not_found" {
		t.Fatalf("GetIndex(meta): %v", err)
	}
	stats, err := f.c.GetStats(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stats.Indexes[metaIndex]; ok || len(stats.Indexes) != 4 || stats.Indexes["z"].NumberOfDocuments != 3 {
		t.Fatalf("stats indexes %v", stats.Indexes)
	}
	if _, ok := stats.Indexes["z"].FieldDistribution[shardField]; ok {
		t.Fatal("shard field in global stats")
	}
	human, _ := f.c.GetStats(ctx, &meilisearch.StatsParams{SizeFormat: "human"})
	if s, ok := human.DatabaseSize.(string); !ok || !strings.HasSuffix(s, "B") {
		t.Fatalf("human size %#v", human.DatabaseSize)
	}
	gi, err := f.c.GetIndex(ctx, "z")
	if err != nil || gi.UID != "z" || gi.PrimaryKey != "id" || gi.CreatedAt.IsZero() {
		t.Fatalf("GetIndex %+v %v", gi, err)
	}
	rawIdx, _ := f.c.GetRawIndex(ctx, "z")
	if rawIdx["primaryKey"] != "id" {
		t.Fatalf("raw index %v", rawIdx)
	}
}

func TestAuditCoreMetaIndexHidden(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 4, timing: oneRetry, proxy: true})
	ctx := testCtx(t)
	f.create(t, "alpha", "id")
	ix := f.create(t, "beta", "id")
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 20), nil))
	f.idle(t)
	list, err := f.c.ListIndexes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, r := range list.Results {
		uids = append(uids, r.UID)
	}
	if !slices.Equal(uids, []string{"alpha", "beta"}) || list.Total != 2 {
		t.Errorf("ListIndexes: %v total %d", uids, list.Total)
	}
	// Pagination around the reserved index's place in uid order.
	f.create(t, "nu", "id")
	f.create(t, "zeta", "id")
	page, err := f.c.ListIndexes(ctx, &meilisearch.IndexesQuery{Offset: 1, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	uids = nil
	for _, r := range page.Results {
		uids = append(uids, r.UID)
	}
	if !slices.Equal(uids, []string{"beta", "nu"}) || page.Total != 4 {
		t.Errorf("ListIndexes offset 1 limit 2: %v total %d, want [beta nu] total 4", uids, page.Total)
	}
	raw, err := f.c.GetRawIndexes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(raw); strings.Contains(string(b), "miroir_meta") {
		t.Errorf("GetRawIndexes shows miroir_meta: %s", b)
	}
	stats, err := f.c.GetStats(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stats.Indexes["miroir_meta"]; ok {
		t.Errorf("GetStats shows miroir_meta")
	}
	if stats.Indexes["beta"].NumberOfDocuments != 20 {
		t.Errorf("global stats beta: %+v", stats.Indexes["beta"])
	}
	if _, ok := stats.Indexes["beta"].FieldDistribution["_miroir_shard"]; ok {
		t.Errorf("global stats fieldDistribution shows _miroir_shard")
	}
	for _, p := range []string{"/indexes", "/stats"} {
		st, body := acHTTP(t, f.url, "GET", p, nil, "")
		if st != 200 || strings.Contains(string(body), "miroir_meta") {
			t.Errorf("proxy %s: %d %s", p, st, body)
		}
	}
}

// TestBadIndexUIDNeverReachesANode: every index-scoped call answers a bad
// uid with invalid_index_uid before any node sees a request with it.
func TestBadIndexUIDNeverReachesANode(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 4, timing: noProbes})
	var leaked atomic.Int32
	for _, s := range f.srv {
		clear := s.FailRequests(func(r *http.Request) bool {
			if strings.Contains(r.URL.RawPath+r.URL.Path, "bad uid") || strings.Contains(r.URL.EscapedPath(), "%25") {
				leaked.Add(1)
				return true
			}
			return false
		}, 500, "internal")
		defer clear()
	}
	ctx := context.Background()
	for _, uid := range []string{"%0", "bad uid", "a/b", "", strings.Repeat("x", 401)} {
		idx := f.c.Index(uid)
		calls := map[string]func() error{
			"Search": func() error { _, err := idx.Search(ctx, "x", &meilisearch.SearchRequest{}); return err },
			"GetDocument": func() error {
				var d map[string]any
				return idx.GetDocument(ctx, "1", nil, &d)
			},
			"GetDocuments": func() error {
				var r meilisearch.DocumentsResult
				return idx.GetDocuments(ctx, nil, &r)
			},
			"AddDocuments": func() error {
				_, err := idx.AddDocuments(ctx, []map[string]any{{"id": 1}}, nil)
				return err
			},
			"DeleteDocument": func() error { _, err := idx.DeleteDocument(ctx, "1", nil); return err },
			"GetSettings":    func() error { _, err := idx.GetSettings(ctx); return err },
			"GetStats":       func() error { _, err := idx.GetStats(ctx, nil); return err },
			"FacetSearch": func() error {
				_, err := idx.FacetSearch(ctx, &meilisearch.FacetSearchRequest{FacetName: "g"})
				return err
			},
			"MultiSearch": func() error {
				_, err := f.c.MultiSearch(ctx, &meilisearch.MultiSearchRequest{Queries: []*meilisearch.SearchRequest{{IndexUID: uid, Query: "x"}}})
				return err
			},
			"SwapIndexes": func() error {
				_, err := f.c.SwapIndexes(ctx, []*meilisearch.SwapIndexesParams{{Indexes: []string{uid, "other"}}})
				return err
			},
			"CreateIndex": func() error {
				_, err := f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: uid})
				return err
			},
			"DeleteIndex": func() error { _, err := f.c.DeleteIndex(ctx, uid); return err },
		}
		for name, call := range calls {
			err := call()
			want := "invalid_index_uid"
			if name == "MultiSearch" && uid == "" {
				want = "missing_index_uid" // as Meilisearch says of an empty indexUid
			}
			if code := apiCode(err); code != want {
				t.Errorf("%s(%q): code %q, err %v", name, uid, code, err)
			}
		}
	}
	if n := leaked.Load(); n > 0 {
		t.Errorf("%d requests with a bad uid reached a node", n)
	}
}
