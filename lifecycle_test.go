package miroir

import (
	"errors"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

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

func TestShardCountMismatch(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8})
	ix := f.createIndex(t, "movies", "id")
	ctx := testCtx(t)
	f.wait(t, must(ix.AddDocuments(ctx, coreMovies(10), nil)), meilisearch.TaskStatusSucceeded)
	other := f.newCluster(t, WithShards(16))
	oix := other.index("movies")
	var m map[string]any
	calls := map[string]error{
		"GetDocument":    oix.GetDocument(ctx, "1", nil, &m),
		"AddDocuments":   second(oix.AddDocuments(ctx, coreMovies(1), nil)),
		"DeleteDocument": second(oix.DeleteDocument(ctx, "1", nil)),
		"GetIndex":       second(other.GetIndex(ctx, "movies")),
		"GetStats":       second(oix.GetStats(ctx, nil)),
		"DeleteAll":      second(oix.DeleteAllDocuments(ctx, nil)),
		"CreateIndex":    second(other.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies"})),
	}
	for name, err := range calls {
		var me *meilisearch.Error
		if !errors.Is(err, ErrShardCountMismatch) || !errors.As(err, &me) || me.APIError.Code != CodeShardCountMismatch {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Nothing reached the index.
	if st, _ := ix.GetStats(ctx, nil); st.NumberOfDocuments != 10 {
		t.Fatalf("%d documents", st.NumberOfDocuments)
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

// TestNodeRepairedBeforeWrites: a node that comes back without the index
// (disk loss) gets it re-created with the fleet's settings before any
// document reaches it.
func TestNodeRepairedBeforeWrites(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8})
	ix := f.createIndex(t, "movies", "id")
	ctx := testCtx(t)
	f.wait(t, must(ix.UpdateSortableAttributes(ctx, &[]string{"year"})), meilisearch.TaskStatusSucceeded)
	f.wait(t, must(ix.AddDocuments(ctx, coreMovies(10), nil)), meilisearch.TaskStatusSucceeded)
	// Node 2 loses its data while down.
	f.stop(t, 2)
	f.srv[2].Start()
	d := f.direct(2)
	if _, err := d.DeleteIndex(ctx, "movies"); err != nil {
		t.Fatal(err)
	}
	_ = f.srv[2].WaitIdle(ctx)
	eventually(t, "node up", func() bool { return f.c.nodes[2].isHealthy() })
	f.wait(t, must(ix.AddDocuments(ctx, coreMovies(300), nil)), meilisearch.TaskStatusSucceeded)
	st, err := d.Index("movies").GetSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.SortableAttributes, []string{"year"}) || !slices.Contains(st.FilterableAttributes, shardField) {
		t.Fatalf("repaired node settings: sortable %v filterable %v", st.SortableAttributes, st.FilterableAttributes)
	}
	f.checkAllRetrievable(t, ix, coreMovies(300))
}

func TestKeysBroadcast(t *testing.T) {
	const master = "a-master-key-of-sixteen-bytes-or-more"
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, shards: 4, nodeKey: master, timing: newDefaults})
	c, srv := f.c, f.srv
	ctx := testCtx(t)
	k, err := c.CreateKey(ctx, &meilisearch.Key{Name: "search", Actions: []string{"search", "documents.get"}, Indexes: []string{"*"}, ExpiresAt: time.Now().Add(time.Hour).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if !meilisearch.IsValidUUID(k.UID) || k.Key == "" {
		t.Fatalf("key %+v", k)
	}
	for i, s := range srv {
		got, err := meilisearch.New(s.URL(), meilisearch.WithAPIKey(master)).GetKey(ctx, k.UID)
		if err != nil || got.Key != k.Key {
			t.Fatalf("node %d: %+v %v", i, got, err)
		}
	}
	if _, err := c.UpdateKey(ctx, k.Key, &meilisearch.Key{Name: "renamed"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetKey(ctx, k.UID); got.Name != "renamed" {
		t.Fatalf("update: %+v", got)
	}
	keys, err := c.GetKeys(ctx, &meilisearch.KeysQuery{Limit: 100})
	if err != nil || !slices.ContainsFunc(keys.Results, func(x meilisearch.Key) bool { return x.UID == k.UID }) {
		t.Fatalf("keys %v", err)
	}
	// A tenant token computed locally is accepted by every node.
	tok, err := c.GenerateTenantToken(k.UID, map[string]any{"*": map[string]any{}}, &meilisearch.TenantTokenOptions{APIKey: k.Key})
	if err != nil {
		t.Fatal(err)
	}
	f.createIndex(t, "movies", "id")
	for i, s := range srv {
		_, err := meilisearch.New(s.URL(), meilisearch.WithAPIKey(tok)).Index("movies").Search(ctx, "x", &meilisearch.SearchRequest{})
		if err != nil {
			t.Fatalf("node %d refuses the tenant token: %v", i, err)
		}
	}
	if ok, err := c.DeleteKey(ctx, k.UID); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := c.GetKey(ctx, k.UID); apiCode(err) != "api_key_not_found" {
		t.Fatalf("deleted key: %v", err)
	}
}

func TestServiceCalls(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 1, 1}, rf: 1, shards: 8})
	ctx := testCtx(t)
	if v, err := f.c.Version(ctx); err != nil || v.PkgVersion == "" {
		t.Fatalf("version %+v %v", v, err)
	}
	if h, err := f.c.Health(ctx); err != nil || h.Status != "available" || !f.c.IsHealthy() {
		t.Fatalf("health %+v %v", h, err)
	}
	f.stop(t, 0) // group 1 still holds every shard
	if _, err := f.c.Health(ctx); err != nil || !f.c.IsHealthy() {
		t.Fatalf("one node down: %v", err)
	}
	f.stop(t, 2) // some shards on n0 (group 0) and n2 (group 1)
	if _, err := f.c.Health(ctx); !errors.Is(err, ErrShardUnavailable) || f.c.IsHealthy() {
		t.Fatalf("two nodes down: %v", err)
	}
	f.start(t, 0)
	f.start(t, 2)
	dump := f.wait(t, must(f.c.CreateDump(ctx)), meilisearch.TaskStatusSucceeded)
	// one dump per node, each named: "n0:<uid>,n1:<uid>,..."
	if parts := strings.Split(dump.Details.DumpUid, ","); len(parts) != len(f.srv) || !strings.HasPrefix(parts[0], "n0:") || len(parts[0]) <= 3 {
		t.Fatalf("dump uids %q", dump.Details.DumpUid)
	}
	f.wait(t, must(f.c.CreateSnapshot(ctx)), meilisearch.TaskStatusSucceeded)
	ef := f.c.ExperimentalFeatures()
	ef.SetContainsFilter(true)
	if _, err := ef.Update(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range f.srv {
		got, err := f.direct(i).ExperimentalFeatures().Get(ctx)
		if err != nil || !got.ContainsFilter {
			t.Fatalf("node %d features %+v %v", i, got, err)
		}
	}
	if got, err := f.c.ExperimentalFeatures().Get(ctx); err != nil || !got.ContainsFilter {
		t.Fatalf("get features %v", err)
	}
	for name, err := range map[string]error{
		"GetBatches":       second(f.c.GetBatches(ctx, nil)),
		"GetBatch":         second(f.c.GetBatch(ctx, 1)),
		"GetNetwork":       second(f.c.GetNetwork(ctx)),
		"UpdateNetwork":    second(f.c.UpdateNetwork(ctx, nil)),
		"Export":           second(f.c.Export(ctx, nil)),
		"ChatStream":       second(f.c.ChatCompletionStream(ctx, "w", nil)),
		"ListChat":         second(f.c.ListChatWorkspaces(ctx, nil)),
		"AddWebhook":       second(f.c.AddWebhook(ctx, nil)),
		"ListWebhooks":     second(f.c.ListWebhooks(ctx)),
		"DeleteWebhook":    f.c.DeleteWebhook(ctx, "x"),
		"UpdateSearchRule": second(f.c.UpdateSearchRule(ctx, "r", nil)),
		"DeleteSearchRule": second(f.c.DeleteSearchRule(ctx, nil)),
	} {
		var me *meilisearch.Error
		if !errors.Is(err, ErrUnsupported) || !errors.As(err, &me) || me.APIError.Code != CodeUnsupported || me.StatusCode != http.StatusNotImplemented {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCloseLeavesNoGoroutines: Close stops the health loop and idle
// connections; nothing of the Cluster keeps running.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}})
	f.c.Close() // the goroutines counted are those of the Clusters below
	settle := func() int {
		time.Sleep(50 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	before := settle()
	for round := range 3 {
		c := f.newCluster(t, WithShards(8), WithHealthCheck(5*time.Millisecond, 100*time.Millisecond, 1, 1))
		f.c = c
		ix := f.createIndex(t, "m"+string(rune('0'+round)), "id")
		f.wait(t, must(ix.AddDocuments(testCtx(t), coreMovies(20), nil)), meilisearch.TaskStatusSucceeded)
		var m coreMovie
		_ = ix.GetDocument(testCtx(t), "1", nil, &m)
		c.Close()
		c.Close() // idempotent
		if _, err := c.GetTask(testCtx(t), 1); !errors.Is(err, ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	after := settle()
	for after > before && time.Now().Before(deadline) {
		after = settle()
	}
	if after > before {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, after, buf[:n])
	}
}
