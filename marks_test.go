package miroir

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Issue 12: replicas that miss writes are marked stale and serve no
// reads, from the writing instance and from any other instance sharing
// the fleet.

// staleDocs makes n documents with ids prefix0..prefix(n-1).
func staleDocs(prefix string, n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"id": fmt.Sprintf("%s%d", prefix, i), "title": "doc " + prefix, "n": i}
	}
	return out
}

// checkAllVisible checks, reads times over, that c's search, document
// listing and GetDocument all see exactly the documents of ids.
func checkAllVisible(t *testing.T, c *Cluster, uid string, ids []string, reads int) {
	t.Helper()
	ctx := testCtx(t)
	ix := c.Index(uid)
	for r := range reads {
		res, err := ix.Search(ctx, "", &meilisearch.SearchRequest{Limit: int64(len(ids) + 10)})
		if err != nil {
			t.Fatalf("read %d: search: %v", r, err)
		}
		if res.EstimatedTotalHits != int64(len(ids)) || len(res.Hits) != len(ids) {
			t.Fatalf("read %d: search found %d hits (estimated %d), want %d", r, len(res.Hits), res.EstimatedTotalHits, len(ids))
		}
		for _, h := range res.Hits {
			if _, ok := h[versionField]; ok {
				t.Fatalf("read %d: a hit shows %s", r, versionField)
			}
		}
		var docs meilisearch.DocumentsResult
		if err := ix.GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: int64(len(ids) + 10)}, &docs); err != nil {
			t.Fatalf("read %d: documents: %v", r, err)
		}
		if docs.Total != int64(len(ids)) || len(docs.Results) != len(ids) {
			t.Fatalf("read %d: listing shows %d documents (total %d), want %d", r, len(docs.Results), docs.Total, len(ids))
		}
	}
	for _, id := range ids {
		var d map[string]any
		if err := ix.GetDocument(ctx, id, nil, &d); err != nil {
			t.Fatalf("GetDocument(%s): %v", id, err)
		}
		if _, ok := d[versionField]; ok {
			t.Fatalf("GetDocument(%s) shows %s", id, versionField)
		}
	}
}

func idsOf(docs []map[string]any) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d["id"].(string)
	}
	return out
}

// staleNodes returns, per node ID, the shards of uid c sees stale there.
func staleNodes(c *Cluster, uid string) map[string][]int {
	out := map[string][]int{}
	for _, s := range c.Topology().Stale {
		if s.Index == uid {
			out[s.Node] = append(out[s.Node], s.Shard)
		}
	}
	return out
}

// TestStaleRestartScenario is issue 12's scenario: two groups of two nodes
// (RF 1, S 8), one node of group 0 stopped, 100 documents added, the node
// started again. Every read after that sees the 100 documents, from the
// writing instance and from another instance after one refresh.
func TestStaleRestartScenario(t *testing.T) {
	var obs replicaRecorder
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 2), shards: 8, instant: true, opts: []Option{WithObserver(&obs)}})
	f.create(t, "books", "id")
	// Another instance that knows the index but never sees the node
	// fail (no health checks): it relies on its refresh.
	other := f.newCluster(t, WithShards(8), WithHealthCheck(0, 0, 0, 0), WithRetries(RetryPolicy{}), WithFleetRefresh(20*time.Millisecond))
	if _, err := other.Index("books").Search(testCtx(t), "", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	f.stop(t, 0)
	docs := staleDocs("a", 100)
	rep := &Report{}
	info, err := f.c.Index("books").AddDocuments(WithReport(testCtx(t), rep), docs, nil)
	if err != nil {
		t.Fatalf("AddDocuments with n0 down: %v", err)
	}
	f.wait(t, info, meilisearch.TaskStatusSucceeded)
	if len(rep.Degraded) == 0 {
		t.Fatalf("the write is not reported degraded")
	}
	f.start(t, 0)

	want := f.c.topo().shardsOf(0)
	got := staleNodes(f.c, "books")
	if !slices.Equal(got["n0"], want) || len(got) != 1 {
		t.Fatalf("stale replicas %v, want n0's shards %v only", got, want)
	}
	if len(obs.staleOf("books", "n0")) != len(want) {
		t.Fatalf("observer saw %v stale, want shards %v", obs.staleOf("books", "n0"), want)
	}
	checkAllVisible(t, f.c, "books", idsOf(docs), 6)

	// The raw replica really lacks them: reading it would lose documents.
	if n := len(f.nodeDocsByID(t, 0, "books")); n != 0 {
		t.Fatalf("n0 holds %d documents; the test expects it to have missed them all", n)
	}

	// The other instance: stale after a refresh, then every read sees all.
	eventually(t, "the other instance sees n0 stale", func() bool { return len(staleNodes(other, "books")["n0"]) == len(want) })
	checkAllVisible(t, other, "books", idsOf(docs), 6)

	// A fresh instance loads the marks on first use of the index.
	fresh := f.newCluster(t, WithShards(8), WithHealthCheck(0, 0, 0, 0))
	checkAllVisible(t, fresh, "books", idsOf(docs), 4)

	// A search reports the stale replicas it passed over.
	rep = &Report{}
	if _, err := f.c.Index("books").Search(WithReport(testCtx(t), rep), "", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	stale := 0
	for _, fb := range rep.Fallbacks {
		if fb.Stale {
			stale++
		}
	}
	if stale == 0 {
		t.Fatalf("no stale fallback reported: %+v", rep.Fallbacks)
	}
}

// TestStaleRF3OneReplicaDown: RF 3, one replica down for a write (quorum
// 2 of 3 met); after it comes back, it serves no read of the shards it
// missed.
func TestStaleRF3OneReplicaDown(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 3, shards: 4, instant: true})
	f.create(t, "books", "id")
	f.stop(t, 2)
	docs := staleDocs("b", 40)
	acWaitOK(t, f.c)(f.c.Index("books").AddDocuments(testCtx(t), docs, nil))
	f.start(t, 2)
	if got := staleNodes(f.c, "books"); len(got) != 1 || len(got["n2"]) != 4 {
		t.Fatalf("stale replicas %v, want n2's 4 shards", got)
	}
	checkAllVisible(t, f.c, "books", idsOf(docs), 9) // 9 reads rotate over the 3 replicas
	other := f.newCluster(t, WithShards(4), WithReplicationFactor(3), WithHealthCheck(0, 0, 0, 0))
	checkAllVisible(t, other, "books", idsOf(docs), 9)
}

// TestStaleFailedNodeTask: a node task that fails after its 202 leaves
// that replica stale, found when the task is waited on.
func TestStaleFailedNodeTask(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, shards: 4})
	f.create(t, "books", "id")
	clear := f.srv[1].FailTasks(func(r *http.Request) bool {
		return r.Method == http.MethodPost && r.URL.Path == "/indexes/books/documents"
	}, "internal")
	docs := staleDocs("c", 30)
	info, err := f.c.Index("books").AddDocuments(testCtx(t), docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	task, err := f.c.WaitForTask(testCtx(t), info.TaskUID, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	clear()
	if task.Status != meilisearch.TaskStatusFailed {
		t.Fatalf("task status %s, want failed (one node task failed)", task.Status)
	}
	if got := staleNodes(f.c, "books"); len(got) != 1 || len(got["n1"]) != 4 {
		t.Fatalf("stale replicas %v, want n1's 4 shards", got)
	}
	// The task is failed as soon as n1's node task fails; n0's may still
	// be applying the documents, and the mark records are readable by
	// another instance only once the nodes processed them (an instance
	// that never saw n1 fail may read it for one refresh interval, §12).
	f.idle(t)
	checkAllVisible(t, f.c, "books", idsOf(docs), 6)
	other := f.newCluster(t, WithShards(4), WithHealthCheck(0, 0, 0, 0))
	checkAllVisible(t, other, "books", idsOf(docs), 6)
}

// TestStaleQuorumFailureLanded: a write that fails quorum but lands on one
// node leaves the replicas it missed stale, so that reads agree with the
// node that has the documents.
func TestStaleQuorumFailureLanded(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 3, shards: 4, instant: true})
	f.create(t, "books", "id")
	f.stop(t, 1)
	f.stop(t, 2)
	docs := staleDocs("d", 20)
	_, err := f.c.Index("books").AddDocuments(testCtx(t), docs, nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeNoQuorum {
		t.Fatalf("write with 2 of 3 replicas down: %v, want %s", err, CodeNoQuorum)
	}
	f.idle(t)
	f.start(t, 1)
	f.start(t, 2)
	got := staleNodes(f.c, "books")
	if len(got) != 2 || len(got["n1"]) != 4 || len(got["n2"]) != 4 {
		t.Fatalf("stale replicas %v, want n1 and n2 on every shard", got)
	}
	// Every read answers from n0, which has them: reads agree.
	checkAllVisible(t, f.c, "books", idsOf(docs), 6)
}

// TestStaleGroupDownForLoad: a whole group down for a load comes back stale
// for every shard; the other group serves every read meanwhile.
func TestStaleGroupDownForLoad(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 2), shards: 8, instant: true})
	f.create(t, "books", "id")
	f.stop(t, 2)
	f.stop(t, 3)
	var all []map[string]any
	for b := range 4 {
		docs := staleDocs(fmt.Sprintf("g%d-", b), 50)
		all = append(all, docs...)
		acWaitOK(t, f.c)(f.c.Index("books").AddDocuments(testCtx(t), docs, nil))
	}
	f.start(t, 2)
	f.start(t, 3)
	got := staleNodes(f.c, "books")
	if len(got["n2"])+len(got["n3"]) != 8 || len(got) != 2 {
		t.Fatalf("stale replicas %v, want group 1's 8 replicas", got)
	}
	checkAllVisible(t, f.c, "books", idsOf(all), 6)
	other := f.newCluster(t, WithShards(8), WithHealthCheck(0, 0, 0, 0))
	checkAllVisible(t, other, "books", idsOf(all), 6)
}

// TestStaleMarksNotStored: a degraded write whose marks no in-sync node
// acknowledges is not acknowledged (miroir_no_quorum).
func TestStaleMarksNotStored(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, shards: 4, instant: true})
	f.create(t, "books", "id")
	f.stop(t, 1)
	clear := f.srv[0].FailRequests(func(r *http.Request) bool {
		return r.Method == http.MethodPost && r.URL.Path == "/indexes/"+metaIndex+"/documents"
	}, http.StatusInternalServerError, "internal")
	defer clear()
	_, err := f.c.Index("books").AddDocuments(testCtx(t), staleDocs("e", 5), nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeNoQuorum || !errors.Is(err, errMarksNotStored) {
		t.Fatalf("write whose marks could not be stored: %v, want %s (marks not stored)", err, CodeNoQuorum)
	}
	// This instance still knows the replica is stale.
	if got := staleNodes(f.c, "books"); len(got["n1"]) != 4 {
		t.Fatalf("stale replicas %v, want n1's shards", got)
	}
}

// TestClearMarks: clearing up to a version keeps newer marks; clearing
// them all makes the replica readable again and tells the observer.
func TestClearMarks(t *testing.T) {
	var obs replicaRecorder
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, shards: 2, instant: true, opts: []Option{WithObserver(&obs)}})
	f.create(t, "books", "id")
	f.stop(t, 1)
	info1, err := f.c.Index("books").AddDocuments(testCtx(t), staleDocs("f", 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	info2, err := f.c.Index("books").AddDocuments(testCtx(t), staleDocs("g", 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.start(t, 1)
	ctx := testCtx(t)
	marks, err := f.c.readMarks(ctx, "books")
	if err != nil {
		t.Fatal(err)
	}
	versions := map[int64]int{}
	for _, m := range marks {
		if m.Node != "n1" {
			t.Fatalf("mark of %s, want n1 only: %+v", m.Node, m)
		}
		versions[m.Version]++
	}
	if versions[info1.TaskUID] != 2 || versions[info2.TaskUID] != 2 || len(versions) != 2 {
		t.Fatalf("mark versions %v, want 2 marks (2 shards) for each of tasks %d and %d", versions, info1.TaskUID, info2.TaskUID)
	}
	for s := range 2 {
		if err := f.c.clearMarks(ctx, "books", s, "n1", info1.TaskUID); err != nil {
			t.Fatal(err)
		}
		if !f.c.isStale("books", s, 1) {
			t.Fatalf("shard %d: clearing up to the first write's version left no mark", s)
		}
	}
	for s := range 2 {
		if err := f.c.clearMarks(ctx, "books", s, "n1", info2.TaskUID); err != nil {
			t.Fatal(err)
		}
		if f.c.isStale("books", s, 1) {
			t.Fatalf("shard %d: still stale after clearing every mark", s)
		}
	}
	if n := len(obs.inSyncOf("books", "n1")); n != 2 {
		t.Fatalf("observer saw %d replicas back in sync, want 2", n)
	}
	f.idle(t)
	// Another instance reading the fleet finds nothing left.
	other := f.newCluster(t, WithShards(2), WithHealthCheck(0, 0, 0, 0))
	if left, err := other.readMarks(ctx, "books"); err != nil || len(left) != 0 {
		t.Fatalf("marks left on the fleet: %v, %v", left, err)
	}
}

// TestVersionIsTaskUID: every document carries its write's cluster task
// uid as _miroir_v on the nodes; a write in batches gives each batch its
// task's uid.
func TestVersionIsTaskUID(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, shards: 4, instant: true})
	f.create(t, "books", "id")
	ctx := testCtx(t)
	info, err := f.c.Index("books").AddDocuments(ctx, staleDocs("v", 5), nil)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := f.c.Index("books").AddDocumentsInBatches(ctx, staleDocs("w", 6), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.idle(t)
	want := map[string]int64{}
	for i := range 5 {
		want[fmt.Sprintf("v%d", i)] = info.TaskUID
	}
	for i := range 6 {
		want[fmt.Sprintf("w%d", i)] = infos[i/2].TaskUID
	}
	for n := range f.srv {
		for id, d := range f.nodeDocsByID(t, n, "books") {
			v, _ := d[versionField].(float64)
			if int64(v) != want[id] {
				t.Fatalf("node %d document %s: %s %v, want %d", n, id, versionField, d[versionField], want[id])
			}
		}
	}
	if infos[0].TaskUID == infos[1].TaskUID || infos[1].TaskUID == infos[2].TaskUID {
		t.Fatalf("batches share a task uid: %v", infos)
	}
}

// TestObserveAdvances: the allocator moves past a version it reads when a
// slot it holds has room above it, and stays in its lane.
func TestObserveAdvances(t *testing.T) {
	f := startFleet(t, fleetSpec{})
	ctx := testCtx(t)
	m := f.c.tasks
	first, err := m.nextUID(ctx) // claims a slot
	if err != nil {
		t.Fatal(err)
	}
	ahead := first + 2_000_000 // two seconds ahead of this clock, inside the slot
	m.observe(ahead)
	next, err := m.nextUID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next <= ahead {
		t.Fatalf("next uid %d, want above the observed %d", next, ahead)
	}
	if next%uidLanes != first%uidLanes {
		t.Fatalf("next uid %d left the lane of %d", next, first)
	}
	// A version beyond every slot held is not followed: allocation goes on.
	m.observe(maxTaskUID - 1)
	if _, err := m.nextUID(ctx); err != nil {
		t.Fatalf("after observing a far version: %v", err)
	}
}

// TestStaleProxyRoutes: /_miroir/topology and /_miroir/shards show stale
// replicas; /_miroir/ready is 503 while a shard has no in-sync healthy
// replica.
func TestStaleProxyRoutes(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, shards: 2, instant: true, proxy: true})
	f.create(t, "books", "id")
	f.stop(t, 0)
	acWaitOK(t, f.c)(f.c.Index("books").AddDocuments(testCtx(t), staleDocs("p", 10), nil))
	f.start(t, 0)
	st, body := acHTTP(t, f.url, "GET", "/_miroir/topology", nil, "")
	if st != 200 || !strings.Contains(string(body), `"stale":[{"index":"books","shard":0,"node":"n0"}`) {
		t.Fatalf("topology: %d %s", st, body)
	}
	st, body = acHTTP(t, f.url, "GET", "/_miroir/shards", nil, "")
	var shards struct {
		Map []shardView `json:"map"`
	}
	if err := json.Unmarshal(body, &shards); st != 200 || err != nil {
		t.Fatalf("shards: %d %s", st, body)
	}
	for _, v := range shards.Map {
		if !slices.Equal(v.Stale["books"], []string{"n0"}) || !v.Available {
			t.Fatalf("shard %d: %+v, want n0 stale for books, available", v.Shard, v)
		}
	}
	if st, body := acHTTP(t, f.url, "GET", "/_miroir/ready", nil, ""); st != 200 {
		t.Fatalf("ready with n1 in sync: %d %s", st, body)
	}
	// Proxy answers never show the version field.
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/indexes/books/documents/p1", nil},
		{"GET", "/indexes/books/documents?limit=20", nil},
		{"POST", "/indexes/books/documents/fetch", map[string]any{"limit": 20}},
		{"POST", "/indexes/books/search", map[string]any{"q": "doc", "attributesToHighlight": []string{"*"}, "showMatchesPosition": true}},
		{"GET", "/indexes/books/stats", nil},
		{"GET", "/indexes/books/settings", nil},
	} {
		st, body := acHTTP(t, f.url, r.method, r.path, r.body, "")
		if st != 200 || strings.Contains(string(body), versionField) {
			t.Fatalf("%s %s: %d %s", r.method, r.path, st, body)
		}
	}
	f.stop(t, 1)
	if st, body := acHTTP(t, f.url, "GET", "/_miroir/ready", nil, ""); st != 503 {
		t.Fatalf("ready with only a stale replica up: %d %s", st, body)
	}
}

// replicaRecorder is a ReplicaObserver recording what it is told.
type replicaRecorder struct {
	NopObserver
	mu      sync.Mutex
	stale   []string
	inSync  []string
	repairs int
}

func (r *replicaRecorder) ReplicaStale(index string, shard int, node string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stale = append(r.stale, fmt.Sprintf("%s/%d/%s", index, shard, node))
}

func (r *replicaRecorder) ReplicaInSync(index string, shard int, node string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inSync = append(r.inSync, fmt.Sprintf("%s/%d/%s", index, shard, node))
}

func (r *replicaRecorder) RepairCopied(string, int, string, int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.repairs++
}

func (r *replicaRecorder) staleOf(index, node string) []string { return r.filter(r.stale, index, node) }

func (r *replicaRecorder) inSyncOf(index, node string) []string {
	return r.filter(r.inSync, index, node)
}

func (r *replicaRecorder) filter(l []string, index, node string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range l {
		if strings.HasPrefix(e, index+"/") && strings.HasSuffix(e, "/"+node) {
			out = append(out, e)
		}
	}
	return out
}

// TestVersionFieldSettings: _miroir_v stays filterable and sortable on the
// nodes through creation, updates and resets, and reads never show it.
func TestVersionFieldSettings(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, shards: 2, instant: true})
	ix := f.create(t, "books", "id")
	ctx := testCtx(t)
	check := func(what string, sortable []string) {
		t.Helper()
		for n := range f.srv {
			s := f.nodeSettings(t, n, "books")
			var fa, sa []any
			_ = json.Unmarshal(s["filterableAttributes"], &fa)
			_ = json.Unmarshal(s["sortableAttributes"], &sa)
			if !slices.Contains(fa, any(versionField)) || !slices.Contains(fa, any(shardField)) || !slices.Contains(sa, any(versionField)) {
				t.Fatalf("%s: node %d filterable %s sortable %s", what, n, s["filterableAttributes"], s["sortableAttributes"])
			}
		}
		got, err := ix.GetSortableAttributes(ctx)
		if err != nil || !slices.Equal(*got, sortable) {
			t.Fatalf("%s: GetSortableAttributes %v %v, want %v", what, got, err, sortable)
		}
		st, err := ix.GetSettings(ctx)
		if err != nil || slices.Contains(st.SortableAttributes, versionField) || slices.Contains(st.FilterableAttributes, versionField) {
			t.Fatalf("%s: GetSettings shows %s: %+v %v", what, versionField, st, err)
		}
	}
	check("after creation", []string{})
	acWaitOK(t, f.c)(ix.UpdateSortableAttributes(ctx, &[]string{"year"}))
	check("UpdateSortableAttributes", []string{"year"})
	acWaitOK(t, f.c)(ix.UpdateSettings(ctx, &meilisearch.Settings{SortableAttributes: []string{"title"}, FilterableAttributes: []string{"genre"}}))
	check("UpdateSettings", []string{"title"})
	acWaitOK(t, f.c)(ix.ResetSortableAttributes(ctx))
	check("ResetSortableAttributes", []string{})
	acWaitOK(t, f.c)(ix.UpdateSortableAttributes(ctx, &[]string{"year"}))
	acWaitOK(t, f.c)(ix.ResetSettings(ctx))
	check("ResetSettings", []string{})
}

// TestStaleDeleteByID: a deletion by id that misses a replica leaves it
// stale, so that no read shows a deleted document again.
func TestStaleDeleteByID(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, shards: 2, instant: true})
	f.create(t, "books", "id")
	docs := staleDocs("x", 20)
	acWaitOK(t, f.c)(f.c.Index("books").AddDocuments(testCtx(t), docs, nil))
	f.stop(t, 1)
	acWaitOK(t, f.c)(f.c.Index("books").DeleteDocuments(testCtx(t), []string{"x0", "x1", "x2"}, nil))
	f.start(t, 1)
	if got := staleNodes(f.c, "books"); len(got["n1"]) == 0 {
		t.Fatalf("stale replicas %v, want n1's", got)
	}
	checkAllVisible(t, f.c, "books", idsOf(docs[3:]), 6)
	other := f.newCluster(t, WithShards(2), WithHealthCheck(0, 0, 0, 0))
	checkAllVisible(t, other, "books", idsOf(docs[3:]), 6)
}

// TestStaleComebackRereadsMarks: an instance that saw a node fail re-reads
// the marks before that node serves its reads again, without waiting for
// a periodic refresh (off here).
func TestStaleComebackRereadsMarks(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 2), shards: 8, instant: true})
	f.create(t, "books", "id")
	other := f.newCluster(t, append(quick.options(), WithShards(8), WithFleetRefresh(0))...)
	if _, err := other.Index("books").Search(testCtx(t), "", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	f.stop(t, 0)
	eventually(t, "the other instance sees n0 down", func() bool { return !other.node(0).isHealthy() })
	docs := staleDocs("k", 60)
	acWaitOK(t, f.c)(f.c.Index("books").AddDocuments(testCtx(t), docs, nil))
	f.start(t, 0)
	eventually(t, "the other instance sees n0 up", func() bool { return other.node(0).isHealthy() })
	// From here on every read is complete: n0 serves none until the marks
	// were read, and then only its in-sync shards (none).
	checkAllVisible(t, other, "books", idsOf(docs), 6)
	eventually(t, "the other instance re-read the marks", func() bool { return !other.node(0).marksUnread.Load() })
	if got := staleNodes(other, "books"); len(got["n0"]) != len(f.c.topo().shardsOf(0)) {
		t.Fatalf("the other instance sees %v stale, want n0's shards", got)
	}
	checkAllVisible(t, other, "books", idsOf(docs), 6)
}

// TestStaleMarksFollowSwap: after a swap, the replica that missed writes
// of one index is stale under the name its data now has.
func TestStaleMarksFollowSwap(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, shards: 2, instant: true})
	f.create(t, "a", "id")
	f.create(t, "b", "id")
	f.stop(t, 1)
	docs := staleDocs("s", 10)
	acWaitOK(t, f.c)(f.c.Index("a").AddDocuments(testCtx(t), docs, nil))
	f.start(t, 1)
	acWaitOK(t, f.c)(f.c.SwapIndexes(testCtx(t), []*meilisearch.SwapIndexesParams{{Indexes: []string{"a", "b"}}}))
	if got := staleNodes(f.c, "b"); len(got["n1"]) != 2 {
		t.Fatalf("stale replicas of b after the swap: %v, want n1's", got)
	}
	checkAllVisible(t, f.c, "b", idsOf(docs), 4)
	other := f.newCluster(t, WithShards(2), WithHealthCheck(0, 0, 0, 0))
	checkAllVisible(t, other, "b", idsOf(docs), 4)
}
