package miroir

// Per-index state (index_state.go): the shard count recorded on the fleet
// and refused when it differs, and a node re-verified (index present,
// settings equal) before documents reach it again.

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

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

func TestAuditCoreShardCountMismatch(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 50), nil))
	f.idle(t)

	// miroir_meta lives on every node and records the shard count.
	for i := range f.srv {
		st, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/miroir_meta/documents?limit=1000", nil, "")
		if st != 200 || !strings.Contains(string(body), `"docs"`) {
			t.Fatalf("node %d miroir_meta: %d %s", i, st, body)
		}
		var res struct {
			Results []map[string]any `json:"results"`
		}
		_ = json.Unmarshal(body, &res)
		found := false
		for _, d := range res.Results {
			hasUID, has8, hasTime := false, false, false
			for _, v := range d {
				if v == "docs" {
					hasUID = true
				}
				if v == float64(8) {
					has8 = true
				}
				if s, ok := v.(string); ok {
					if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
						hasTime = true
					}
				}
				if n, ok := v.(float64); ok && n > 1e9 {
					hasTime = true // epoch seconds or millis
				}
			}
			found = found || (hasUID && has8 && hasTime)
		}
		if !found {
			t.Errorf("node %d: no miroir_meta record with uid docs, S=8 and a creation time: %s", i, body)
		}
	}

	for _, otherS := range []int{16, 64} {
		opts := append(oneRetry.options(), WithShards(otherS))
		other := f.newCluster(t, opts...)
		spy := f.spy()
		oix := other.Index("docs")
		var m map[string]any
		var res meilisearch.DocumentsResult
		pk := "id"
		calls := map[string]error{
			"AddDocuments":     second(oix.AddDocuments(ctx, acDocs(1000, 5), nil)),
			"UpdateDocuments":  second(oix.UpdateDocuments(ctx, acDocs(1000, 5), &meilisearch.DocumentOptions{PrimaryKey: &pk})),
			"AddNdjson":        second(oix.AddDocumentsNdjson(ctx, []byte("{\"id\":5000}\n"), nil)),
			"GetDocument":      oix.GetDocument(ctx, "1", nil, &m),
			"GetDocuments":     oix.GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 5}, &res),
			"Search":           second(oix.Search(ctx, "title", &meilisearch.SearchRequest{})),
			"DeleteDocument":   second(oix.DeleteDocument(ctx, "1", nil)),
			"DeleteDocuments":  second(oix.DeleteDocuments(ctx, []string{"1", "2"}, nil)),
			"DeleteByFilter":   second(oix.DeleteDocumentsByFilter(ctx, "n = 1", nil)),
			"DeleteAll":        second(oix.DeleteAllDocuments(ctx, nil)),
			"UpdateSettings":   second(oix.UpdateSettings(ctx, &meilisearch.Settings{StopWords: []string{"x"}})),
			"Stats":            second(oix.GetStats(ctx, nil)),
			"GetIndex":         second(other.GetIndex(ctx, "docs")),
			"FetchInfo":        second(oix.FetchInfo(ctx)),
			"GetSettings":      second(oix.GetSettings(ctx)),
			"AddCsv":           second(oix.AddDocumentsCsv(ctx, []byte("id\n9001\n"), nil)),
			"FacetSearch":      second(oix.FacetSearch(ctx, &meilisearch.FacetSearchRequest{FacetName: "n"})),
			"UpdateByFunction": second(oix.UpdateDocumentsByFunction(ctx, &meilisearch.UpdateDocumentByFunctionRequest{Function: "doc.x = 1"})),
			"UpdateIndex":      second(oix.UpdateIndex(ctx, &meilisearch.UpdateIndexRequestParams{PrimaryKey: "id"})),
			"MultiSearch":      second(other.MultiSearch(ctx, &meilisearch.MultiSearchRequest{Queries: []*meilisearch.SearchRequest{{IndexUID: "docs", Query: "title"}}})),
		}
		for name, err := range calls {
			if err == nil {
				t.Errorf("S=%d %s: accepted on an index created with S=8", otherS, name)
				continue
			}
			if !errors.Is(err, ErrShardCountMismatch) || acAPICode(err) != CodeShardCountMismatch {
				t.Errorf("S=%d %s: %v (code %q)", otherS, name, err, acAPICode(err))
			}
		}
		for _, r := range spy.take() {
			if !strings.Contains(r, " GET ") {
				t.Errorf("S=%d: a write reached a node: %s", otherS, r)
			}
		}
	}
	// Nothing changed on the fleet.
	total := 0
	for i := range f.srv {
		total += len(f.nodeDocsByID(t, i, "docs"))
	}
	if total != 50 {
		t.Fatalf("fleet holds %d documents after refused calls, want 50", total)
	}
	// A Cluster with the right count (a new process) reads S from the fleet.
	same := f.newCluster(t, append(oneRetry.options(), WithShards(8))...)
	acWaitOK(t, same)(same.Index("docs").AddDocuments(ctx, acDocs(50, 10), nil))
	var d map[string]any
	if err := same.Index("docs").GetDocument(ctx, "55", nil, &d); err != nil {
		t.Fatal(err)
	}
}

// DESIGN §2: "A Cluster configured with another S refuses every call on that
// index with miroir_shard_count_mismatch." (issue 3: "refuses to touch that
// index"). DeleteIndex / Index.Delete from a Cluster with another shard count
// must be refused too.
func TestAuditCoreShardCountMismatchDelete(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 20), nil))
	for _, how := range []string{"Index.Delete", "DeleteIndex"} {
		other := f.newCluster(t, append(oneRetry.options(), WithShards(16))...)
		if how == "DeleteIndex" {
			info, err := other.DeleteIndex(ctx, "docs")
			if err == nil {
				task, _ := other.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
				t.Errorf("DeleteIndex with another shard count accepted (task %v)", task.Status)
			} else if !errors.Is(err, ErrShardCountMismatch) {
				t.Errorf("DeleteIndex with another shard count: %v", err)
			}
		} else {
			ok, err := other.Index("docs").Delete(ctx, "docs")
			if err == nil {
				t.Errorf("Index.Delete with another shard count accepted (%v)", ok)
			} else if !errors.Is(err, ErrShardCountMismatch) {
				t.Errorf("Index.Delete with another shard count: %v", err)
			}
		}
		other.Close()
		f.idle(t)
		if _, err := f.c.GetIndex(ctx, "docs"); err != nil {
			t.Fatalf("%s from a Cluster with S=16 deleted the S=8 index: %v", how, err)
		}
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
	eventually(t, "node up", func() bool { return f.c.node(2).isHealthy() })
	f.wait(t, must(ix.AddDocuments(ctx, coreMovies(300), nil)), meilisearch.TaskStatusSucceeded)
	st, err := d.Index("movies").GetSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.SortableAttributes, []string{versionField, "year"}) || !slices.Contains(st.FilterableAttributes, shardField) {
		t.Fatalf("repaired node settings: sortable %v filterable %v", st.SortableAttributes, st.FilterableAttributes)
	}
	f.checkAllRetrievable(t, ix, coreMovies(300))
}

// A node that comes back from being unhealthy is re-verified (index present,
// settings equal) before documents are routed to it again.
func TestAuditCoreNodeReverifiedBeforeRouting(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.UpdateRankingRules(ctx, &[]string{"words", "typo", "n:desc", "proximity", "attribute", "sort", "exactness"}))
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 20), nil))
	// Node 1 looks down to the cluster while it loses its index
	// (as after a disk loss).
	clear := f.srv[1].FailRequests(func(r *http.Request) bool { return r.URL.Path == "/health" }, 503, "internal")
	eventually(t, "n1 marked down", func() bool { return !f.healthy(1) })
	st, body := acHTTP(t, f.srv[1].URL(), "DELETE", "/indexes/docs", nil, "")
	if st != 202 {
		t.Fatalf("%d %s", st, body)
	}
	_ = f.srv[1].WaitIdle(ctx)
	clear()
	eventually(t, "n1 marked up", func() bool { return f.healthy(1) })
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(100, 50), nil))
	f.idle(t)
	s := f.nodeSettings(t, 1, "docs")
	var rr []string
	_ = json.Unmarshal(s["rankingRules"], &rr)
	if !slices.Contains(rr, "n:desc") {
		t.Errorf("node 1 received documents into an index without the fleet's ranking rules: %s", s["rankingRules"])
	}
	var fa []any
	_ = json.Unmarshal(s["filterableAttributes"], &fa)
	if !slices.Contains(fa, any("_miroir_shard")) {
		t.Errorf("node 1 index lacks _miroir_shard filterable: %s", s["filterableAttributes"])
	}
	_, body = acHTTP(t, f.srv[1].URL(), "GET", "/indexes/docs", nil, "")
	if !strings.Contains(string(body), `"primaryKey":"id"`) {
		t.Errorf("node 1 index: %s", body)
	}
}
