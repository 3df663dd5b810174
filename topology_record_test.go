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
	"github.com/miroirsearch/miroir/meilitest"
)

// TestTopologyRecordedAndFollowed: the first Cluster records its node
// list; a Cluster given another list follows the record and says so.
func TestTopologyRecordedAndFollowed(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, instant: true, opts: []Option{WithFleetRefresh(20 * 1e6)}})
	ctx := testCtx(t)
	if _, err := f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies", PrimaryKey: "id"}); err != nil {
		t.Fatal(err)
	}
	if top := f.c.Topology(); top.Epoch != 1 || !top.Configured {
		t.Fatalf("first Cluster: epoch %d configured %v, want 1 and true", top.Epoch, top.Configured)
	}
	other, err := New(f.nodes[:1], WithShards(8), WithFleetRefresh(20*1e6))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Index("movies").GetStats(ctx, nil); err != nil {
		t.Fatal(err)
	}
	top := other.Topology()
	if top.Epoch != 1 || top.Configured || len(top.Nodes) != 3 {
		t.Fatalf("second Cluster: epoch %d configured %v nodes %d, want 1, false, 3", top.Epoch, top.Configured, len(top.Nodes))
	}
}

// TestChangeTopologyAddNodeSmoke grows a 3-node group by one node and
// checks the end state: every document found once, nodes holding only
// their own shards, Verify clean.
func TestChangeTopologyAddNodeSmoke(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, shards: 16, instant: true, opts: []Option{WithFleetRefresh(20 * 1e6)}})
	ctx := testCtx(t)
	ix := f.c.Index("docs")
	var docs []map[string]any
	for i := range 300 {
		docs = append(docs, map[string]any{"id": fmt.Sprint(i), "title": fmt.Sprintf("doc %d", i)})
	}
	info, err := ix.AddDocuments(ctx, docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tk, err := f.c.WaitForTask(ctx, info.TaskUID, 0); err != nil || tk.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("add: %v %+v", err, tk)
	}
	extra := meilitest.RunT(t, meilitest.WithTaskDuration(0))
	target := append(slices.Clone(f.nodes), Node{ID: "n3", URL: extra.URL(), Group: 0})
	if err := f.c.ChangeTopology(ctx, target); err != nil {
		t.Fatalf("ChangeTopology: %v", err)
	}
	top := f.c.Topology()
	if top.Epoch != 2 || top.Change != nil || len(top.Nodes) != 4 {
		t.Fatalf("after: epoch %d change %+v nodes %d", top.Epoch, top.Change, len(top.Nodes))
	}
	res, err := ix.Search(ctx, "", &meilisearch.SearchRequest{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 300 || res.EstimatedTotalHits != 300 {
		t.Fatalf("search: %d hits, total %d, want 300", len(res.Hits), res.EstimatedTotalHits)
	}
	v, err := f.c.Verify(ctx, "docs")
	if err != nil {
		t.Fatal(err)
	}
	if !v.Consistent() {
		t.Fatalf("verify: %+v", v)
	}
	srvs := append(slices.Clone(f.srv), extra)
	total := 0
	for i, s := range srvs {
		var got meilisearch.DocumentsResult
		if err := meilisearch.New(s.URL()).Index("docs").GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 1000, Fields: []string{"id"}}, &got); err != nil {
			t.Fatal(err)
		}
		total += len(got.Results)
		held := map[int]bool{}
		for _, sh := range top.Nodes[i].Shards {
			held[sh] = true
		}
		for _, d := range got.Results {
			var id string
			_ = json.Unmarshal(d["id"], &id)
			if sh := ShardOf(id, 16); !held[sh] {
				t.Fatalf("node %d holds %s of shard %d, not its own", i, id, sh)
			}
		}
	}
	if total != 300 {
		t.Fatalf("nodes hold %d documents, want 300", total)
	}
}

// TestChangeTopologyReAddNode: a node removed and added again starts
// clean: no heartbeat of its earlier life (which would count as a live
// instance and stall the change) and no settings of its earlier life.
func TestChangeTopologyReAddNode(t *testing.T) {
	refresh := WithFleetRefresh(20 * time.Millisecond)
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, shards: 16, instant: true, opts: []Option{refresh}})
	ctx := testCtx(t)
	f.create(t, "docs", "id")
	seedDocs(t, f, "docs", 200)
	other := f.newCluster(t, WithShards(16), refresh)
	if _, err := other.Index("docs").GetStats(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ChangeTopology(ctx, f.nodes[:2]); err != nil {
		t.Fatal(err)
	}
	for other.Topology().Epoch != 2 || other.Topology().Change != nil {
		time.Sleep(5 * time.Millisecond) // until it follows the end of the change
	}
	other.Close() // its heartbeat is removed from the members: n0 and n1
	f.idle(t)     // the removal processed (CI read n0 before it was)
	heartbeats := func(i int) int { return heartbeatsOf(t, f, i, other.lanes.instance) }
	if heartbeats(2) != 1 || heartbeats(0) != 0 {
		t.Fatalf("precondition: the removed node should keep the closed instance's heartbeat (n2 %d, n0 %d)", heartbeats(2), heartbeats(0))
	}
	acWaitOK(t, f.c)(f.c.Index("docs").UpdateSearchableAttributes(ctx, &[]string{"title"}))
	if err := f.c.ChangeTopology(ctx, f.nodes); err != nil {
		t.Fatal(err)
	}
	if n := heartbeats(2); n != 0 {
		t.Fatalf("the re-added node still holds %d heartbeat(s) of a closed instance", n)
	}
	for i := range 3 {
		got, err := f.direct(i).Index("docs").GetSearchableAttributes(ctx)
		if err != nil || len(*got) != 1 || (*got)[0] != "title" {
			t.Fatalf("node %d searchable attributes %v %v, want [title]", i, got, err)
		}
	}
	res, err := f.c.Index("docs").Search(ctx, "", &meilisearch.SearchRequest{Limit: 1000})
	if err != nil || len(res.Hits) != 200 {
		t.Fatalf("%d hits, %v", len(res.Hits), err)
	}
}

func heartbeatsOf(t *testing.T, f *testFleet, i int, instance string) int {
	var got meilisearch.DocumentsResult
	if err := f.direct(i).Index(metaIndex).GetDocuments(testCtx(t), &meilisearch.DocumentsQuery{Limit: 1000}, &got); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range got.Results {
		var inst string
		_ = json.Unmarshal(d["instance"], &inst)
		if string(d["kind"]) == `"instance"` && inst == instance {
			n++
		}
	}
	return n
}

// pauseAt is a TopologyObserver that holds the driver when the change
// reaches phase, until release is closed.
type pauseAt struct {
	NopObserver
	phase   string
	reached chan struct{}
	release chan struct{}
	once    sync.Once
}

func (p *pauseAt) TopologyProgress(tc TopologyChange) {
	if tc.Phase == p.phase {
		p.once.Do(func() {
			close(p.reached)
			<-p.release
		})
	}
}

// TestStatsDuringChange: mid-change, the document count counts every
// document once although new replicas hold copies and old ones were not
// emptied yet.
func TestStatsDuringChange(t *testing.T) {
	p := &pauseAt{phase: PhaseCutover, reached: make(chan struct{}), release: make(chan struct{})}
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, shards: 16, instant: true, opts: []Option{WithFleetRefresh(20 * time.Millisecond), WithObserver(p)}})
	ctx := testCtx(t)
	f.create(t, "docs", "id")
	seedDocs(t, f, "docs", 300)
	extra := meilitest.RunT(t, meilitest.WithTaskDuration(0))
	done := make(chan error, 1)
	go func() {
		done <- f.c.ChangeTopology(ctx, append(slices.Clone(f.nodes), Node{ID: "n3", URL: extra.URL()}))
	}()
	<-p.reached
	st, err := f.c.Index("docs").GetStats(ctx, nil)
	close(p.release)
	if err != nil || st.NumberOfDocuments != 300 {
		t.Fatalf("mid-change stats: %d documents, %v; want 300", st.NumberOfDocuments, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestTopologyUnknownRefusesWrites: an instance that cannot read the
// fleet's record for several intervals refuses writes with
// miroir_topology_unknown, and writes again once it reads it; reads go on.
func TestTopologyUnknownRefusesWrites(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, shards: 8, instant: true, opts: []Option{WithFleetRefresh(20 * time.Millisecond)}})
	ctx := testCtx(t)
	f.create(t, "docs", "id")
	var clears []func()
	for _, s := range f.srv {
		clears = append(clears, s.FailRequests(func(r *http.Request) bool {
			return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/documents/"+topologyRecordID)
		}, http.StatusServiceUnavailable, "internal"))
	}
	doc := []map[string]any{{"id": "a"}}
	var err error
	for i := 0; ; i++ { // until the record has been unreadable long enough
		if _, err = f.c.Index("docs").AddDocuments(ctx, doc, nil); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !errors.Is(err, ErrTopologyUnknown) || apiCode(err) != CodeTopologyUnknown {
		t.Fatalf("write with the record unreadable: %v, want %s", err, CodeTopologyUnknown)
	}
	if _, err := f.c.Index("docs").Search(ctx, "", &meilisearch.SearchRequest{}); err != nil {
		t.Fatalf("reads go on: %v", err)
	}
	for _, c := range clears {
		c()
	}
	for { // until the record was read again
		if _, err = f.c.Index("docs").AddDocuments(ctx, doc, nil); err == nil {
			break
		}
		if !errors.Is(err, ErrTopologyUnknown) {
			t.Fatalf("write after the record is readable again: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
