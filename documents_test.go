package miroir

// The write path (documents.go): documents routed by shard to their
// replicas in every group, ids canonical, the primary key inferred or
// resolved as Meilisearch does, a missing index created.

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// topologies of the "done when": RG×RF with enough nodes that a
// node holds only part of the shards.
var coreTopologies = []struct {
	name   string
	groups []int
	rf     int
}{
	{"1x1", []int{0, 0, 0}, 1},
	{"1x2", []int{0, 0, 0}, 2},
	{"1x3", []int{0, 0, 0, 0}, 3},
	{"2x1", []int{0, 0, 1, 1}, 1},
	{"2x2", []int{0, 0, 0, 1, 1, 1}, 2},
}

// nodeDocs lists every document node i holds for uid, directly.
func (f *testFleet) nodeDocs(t testing.TB, i int, uid string, filter any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for off := int64(0); ; off += 1000 {
		var res meilisearch.DocumentsResult
		err := f.direct(i).Index(uid).GetDocuments(testCtx(t), &meilisearch.DocumentsQuery{Offset: off, Limit: 1000, Filter: filter}, &res)
		if err != nil {
			t.Fatalf("node %d documents: %v", i, err)
		}
		for _, h := range res.Results {
			m := map[string]any{}
			for k, v := range h {
				var x any
				_ = json.Unmarshal(v, &x)
				m[k] = x
			}
			out = append(out, m)
		}
		if int64(len(res.Results)) < 1000 {
			return out
		}
	}
}

// checkPlacement asserts that every node holds exactly the documents of the
// shards the rendezvous assigns it, each tagged with its shard.
func (f *testFleet) checkPlacement(t testing.TB, uid string, ids []string) {
	t.Helper()
	shards := f.c.opts.shards
	for i := range f.srv {
		held := f.c.topo().shardsOf(i)
		var want []string
		for _, id := range ids {
			if slices.Contains(held, ShardOf(id, shards)) {
				want = append(want, id)
			}
		}
		docs := f.nodeDocs(t, i, uid, nil)
		var got []string
		for _, d := range docs {
			id := fmt.Sprint(d["id"])
			got = append(got, id)
			sh, ok := d["_miroir_shard"].(float64)
			if !ok || int(sh) != ShardOf(id, shards) {
				t.Fatalf("node %d: doc %s has _miroir_shard %v, want %d", i, id, d["_miroir_shard"], ShardOf(id, shards))
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Fatalf("node %d holds %d docs, want %d (shards %v)", i, len(got), len(want), held)
		}
		// The shard field is filterable: one shard's documents by filter.
		if len(held) > 0 {
			s := held[0]
			byFilter := f.nodeDocs(t, i, uid, fmt.Sprintf("_miroir_shard = %d", s))
			n := 0
			for _, id := range ids {
				if ShardOf(id, shards) == s {
					n++
				}
			}
			if len(byFilter) != n {
				t.Fatalf("node %d: filter _miroir_shard = %d gave %d docs, want %d", i, s, len(byFilter), n)
			}
		}
	}
}

// checkAllRetrievable reads every document by id through the Cluster (a
// few readers in parallel) and compares it with what was written.
func (f *testFleet) checkAllRetrievable(t testing.TB, ix *Index, docs []coreMovie) {
	t.Helper()
	ctx := testCtx(t)
	errs := make(chan error, len(docs))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(docs); i += 8 {
				d := docs[i]
				var got coreMovie
				if err := ix.GetDocument(ctx, fmt.Sprint(d.ID), nil, &got); err != nil {
					errs <- fmt.Errorf("GetDocument(%d): %w", d.ID, err)
					continue
				}
				if got != d {
					errs <- fmt.Errorf("GetDocument(%d) = %+v, want %+v", d.ID, got, d)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestTopologiesWriteAndPlacement(t *testing.T) {
	for _, tp := range coreTopologies {
		t.Run(tp.name, func(t *testing.T) {
			t.Parallel()
			f := startFleet(t, fleetSpec{groups: tp.groups, rf: tp.rf, shards: 16})
			ix := f.createIndex(t, "movies", "id")
			ctx := testCtx(t)
			docs := coreMovies(1000)
			info, err := ix.AddDocuments(ctx, docs, nil)
			if err != nil {
				t.Fatal(err)
			}
			task := f.wait(t, info, meilisearch.TaskStatusSucceeded)
			if task.Details.ReceivedDocuments != 1000 || task.Details.IndexedDocuments != 1000 {
				t.Fatalf("details %+v", task.Details)
			}
			ids := make([]string, len(docs))
			for i, d := range docs {
				ids[i] = fmt.Sprint(d.ID)
			}
			f.checkAllRetrievable(t, ix, docs)
			f.checkPlacement(t, "movies", ids)
			st, err := ix.GetStats(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if st.NumberOfDocuments != 1000 {
				t.Fatalf("stats: %d documents", st.NumberOfDocuments)
			}
			if _, ok := st.FieldDistribution["_miroir_shard"]; ok || st.FieldDistribution["title"] != 1000 {
				t.Fatalf("fieldDistribution %v", st.FieldDistribution)
			}
		})
	}
}

func TestAuditCorePlacementAcrossTopologies(t *testing.T) {
	layouts := []struct {
		name   string
		groups []int
		rf     int
	}{
		{"1x1", []int{0, 0, 0}, 1},
		{"1x2", []int{0, 0, 0}, 2},
		{"1x3", []int{0, 0, 0, 0}, 3},
		{"2x1", []int{0, 0, 1, 1}, 1},
		{"2x2", []int{0, 0, 0, 1, 1, 1}, 2},
	}
	const S, N = 16, 1000
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			f := startFleet(t, fleetSpec{groups: l.groups, rf: l.rf, shards: S, timing: oneRetry})
			ix := f.create(t, "docs", "id")
			ctx := testCtx(t)
			docs := acDocs(0, N)
			for i := range docs {
				if i%2 == 1 {
					docs[i]["id"] = fmt.Sprintf("s-%d", i) // string ids too
				}
			}
			acWaitOK(t, f.c)(ix.AddDocuments(ctx, docs, nil))
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := w; k < len(docs); k += 8 * 10 { // every 10th id; all ids below
						d := docs[k]
						id := acIDString(d["id"])
						var got map[string]any
						if err := ix.GetDocument(ctx, id, nil, &got); err != nil {
							t.Errorf("GetDocument(%s): %v", id, err)
							return
						}
						if _, ok := got["_miroir_shard"]; ok {
							t.Errorf("GetDocument leaked _miroir_shard: %v", got)
							return
						}
						if got["title"] != d["title"] {
							t.Errorf("GetDocument(%s) = %v", id, got)
							return
						}
					}
				}()
			}
			wg.Wait()
			// Every id, retrieved by id in bulk.
			var ids []string
			for _, d := range docs {
				ids = append(ids, acIDString(d["id"]))
			}
			var res meilisearch.DocumentsResult
			if err := ix.GetDocuments(ctx, &meilisearch.DocumentsQuery{Ids: ids, Limit: 2 * N}, &res); err != nil {
				t.Fatal(err)
			}
			if res.Total != N || len(res.Results) != N {
				t.Errorf("GetDocuments(ids=all): total %d, %d results, want %d", res.Total, len(res.Results), N)
			}
			seenIDs := map[string]bool{}
			for _, h := range res.Results {
				var id any
				_ = json.Unmarshal(h["id"], &id)
				seenIDs[acIDString(id)] = true
				if _, ok := h["_miroir_shard"]; ok {
					t.Fatalf("GetDocuments leaked _miroir_shard")
				}
			}
			for _, id := range ids {
				if !seenIDs[id] {
					t.Errorf("document %s not retrievable by id", id)
				}
			}
			groups := f.groupIDs()
			for i, n := range f.nodes {
				held := f.nodeDocsByID(t, i, "docs")
				want := map[string]bool{}
				for _, d := range docs {
					id := acIDString(d["id"])
					if slices.Contains(acReplicas(acShard(id, S), groups[n.Group], l.rf), n.ID) {
						want[id] = true
					}
				}
				if len(held) != len(want) {
					t.Errorf("node %s holds %d documents, rendezvous assigns %d", n.ID, len(held), len(want))
				}
				for id, d := range held {
					if !want[id] {
						t.Errorf("node %s holds %s (shard %d) which is not assigned to it", n.ID, id, acShard(id, S))
					}
					if sh, ok := d["_miroir_shard"].(float64); !ok || int(sh) != acShard(id, S) {
						t.Errorf("node %s doc %s _miroir_shard=%v, want %d", n.ID, id, d["_miroir_shard"], acShard(id, S))
					}
				}
				// Filtering on _miroir_shard works on every node (it is filterable).
				top := f.c.Topology()
				var mine []string
				for _, ns := range top.Nodes {
					if ns.ID == n.ID {
						for _, s := range ns.Shards {
							mine = append(mine, strconv.Itoa(s))
						}
					}
				}
				filter := "_miroir_shard IN [" + strings.Join(mine, ",") + "]"
				st, body := acHTTP(t, f.srv[i].URL(), "POST", "/indexes/docs/documents/fetch", map[string]any{"filter": filter, "limit": 1}, "")
				if st != 200 {
					t.Fatalf("node %s filter on _miroir_shard: %d %s", n.ID, st, body)
				}
				var res struct {
					Total int `json:"total"`
				}
				_ = json.Unmarshal(body, &res)
				if res.Total != len(want) {
					t.Errorf("node %s: filter %s matched %d, want %d", n.ID, filter, res.Total, len(want))
				}
			}
		})
	}
}

func TestAuditCoreIntegerAndStringIDAreOneDocument(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 16, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, []map[string]any{{"id": 42, "v": 1}}, nil))
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, []map[string]any{{"id": "42", "v": 2}}, nil))
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, []byte(`[{"id": 4242, "v": 3}]`), nil))
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, []byte(`[{"id": "4242", "v": 4}]`), nil))
	total := 0
	for i := range f.srv {
		docs := f.nodeDocsByID(t, i, "docs")
		total += len(docs)
		for id, d := range docs {
			if sh, _ := d["_miroir_shard"].(float64); int(sh) != acShard(id, 16) {
				t.Errorf("node %d doc %s has _miroir_shard %v, want %d", i, id, d["_miroir_shard"], acShard(id, 16))
			}
		}
	}
	if total != 2 {
		t.Fatalf("fleet holds %d documents, want 2 (42 and \"42\" are one document)", total)
	}
	var d map[string]any
	if err := ix.GetDocument(ctx, "42", nil, &d); err != nil {
		t.Fatal(err)
	}
	if d["v"] != float64(2) {
		t.Fatalf("doc 42 = %v", d)
	}
}

// An integer id hashes its exact decimal text, also beyond 2^53.
func TestAuditCoreLargeIntegerIDs(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 64, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	ids := []string{"9007199254740993", "18446744073709551615", "12345678901234567890", "0"}
	var b strings.Builder
	b.WriteString("[")
	for i, id := range ids {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%s,"v":%d}`, id, i)
	}
	b.WriteString("]")
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, []byte(b.String()), nil))
	top := f.c.Topology()
	for _, id := range ids {
		want := top.Replicas(acShard(id, 64), 0)[0]
		st, body := acHTTP(t, f.srv[f.nodeIndex(want)].URL(), "GET", "/indexes/docs/documents/"+id, nil, "")
		if st != 200 {
			t.Errorf("id %s not on %s (its shard %d's replica): %d %s", id, want, acShard(id, 64), st, body)
			continue
		}
		if !strings.Contains(string(body), fmt.Sprintf(`"_miroir_shard":%d`, acShard(id, 64))) {
			t.Errorf("id %s: %s", id, body)
		}
		var d map[string]any
		if err := ix.GetDocument(ctx, id, nil, &d); err != nil {
			t.Errorf("GetDocument(%s): %v", id, err)
		}
	}
}

// One request per target node per write, all documents of the node batched.
func TestAuditCoreOneRequestPerTargetNode(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0, 1, 1, 1}, rf: 2, shards: 16, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 3), nil))
	spy := f.spy()
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 300), nil))
	per := map[string]int{}
	for _, r := range spy.take() {
		if strings.Contains(r, " POST /indexes/docs/documents") {
			per[strings.Fields(r)[0]]++
		}
	}
	for _, n := range f.nodes {
		if per[n.ID] != 1 {
			t.Errorf("node %s got %d document requests for one write, want 1", n.ID, per[n.ID])
		}
	}
}

func TestAuditCorePrimaryKeyInference(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ctx := testCtx(t)
	// A fresh index without a primary key: inferred from the single
	// attribute ending in "id" (case-insensitively), then given to every node.
	ix := f.create(t, "inferred", "")
	docs := []map[string]any{}
	for i := 0; i < 30; i++ {
		docs = append(docs, map[string]any{"productID": fmt.Sprintf("p%d", i), "name": "x"})
	}
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, docs, nil))
	for i := range f.srv {
		st, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/inferred", nil, "")
		if st != 200 || !strings.Contains(string(body), `"primaryKey":"productID"`) {
			t.Errorf("node %d: %d %s", i, st, body)
		}
	}
	var d map[string]any
	if err := ix.GetDocument(ctx, "p7", nil, &d); err != nil {
		t.Fatalf("GetDocument p7: %v", err)
	}

	// Zero or several candidates: the task fails with Meilisearch's code
	// (issue 10), nothing sent.
	f.create(t, "zero", "")
	f.create(t, "several", "")
	spy := f.spy()
	info, err := f.c.Index("zero").AddDocuments(ctx, []map[string]any{{"name": "a", "idea": 1}}, nil)
	acTaskFailsWith(t, f.c, "zero candidates", info, err, "index_primary_key_no_candidate_found")
	info, err = f.c.Index("several").AddDocuments(ctx, []map[string]any{{"id": 1, "userId": 2}}, nil)
	acTaskFailsWith(t, f.c, "several candidates", info, err, "index_primary_key_multiple_candidates_found")
	for _, r := range spy.take() {
		if !strings.Contains(r, " GET ") && !strings.HasSuffix(r, "/documents/fetch") {
			t.Errorf("a write reached a node: %s", r)
		}
	}
	// The call's PrimaryKey option wins and is given to every node.
	pk := "name"
	acWaitOK(t, f.c)(f.c.Index("several").AddDocuments(ctx, []map[string]any{{"id": 1, "userId": 2, "name": "k1"}}, &meilisearch.DocumentOptions{PrimaryKey: &pk}))
	for i := range f.srv {
		st, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/several", nil, "")
		if st != 200 || !strings.Contains(string(body), `"primaryKey":"name"`) {
			t.Errorf("node %d: %d %s", i, st, body)
		}
	}
}

// Routing uses the index's known primary key (not inference), also in a
// Cluster that did not create the index; a key given or inferred reaches
// every node even when a node gets no document.
func TestAuditCorePrimaryKeyResolution(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 16, timing: oneRetry})
	ctx := testCtx(t)
	ix := f.create(t, "skus", "sku")
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, []map[string]any{{"sku": "a1", "id": 5}, {"sku": "a2", "id": 5}}, nil))
	other := f.newCluster(t, append(oneRetry.options(), WithShards(16))...)
	acWaitOK(t, other)(other.Index("skus").AddDocuments(ctx, []map[string]any{{"sku": "b2", "id": 6}}, nil))
	top := f.c.Topology()
	for _, sku := range []string{"a1", "a2", "b2"} {
		holder := top.Replicas(acShard(sku, 16), 0)[0]
		st, body := acHTTP(t, f.srv[f.nodeIndex(holder)].URL(), "GET", "/indexes/skus/documents/"+sku, nil, "")
		if st != 200 {
			t.Errorf("sku %s not on %s (replica of its shard): %d %s", sku, holder, st, body)
		}
		var d map[string]any
		if err := ix.GetDocument(ctx, sku, nil, &d); err != nil {
			t.Errorf("GetDocument(%s): %v", sku, err)
		}
	}
	// One document: every node learns the inferred key.
	f.create(t, "single", "")
	acWaitOK(t, f.c)(f.c.Index("single").AddDocuments(ctx, []map[string]any{{"bookId": "x1", "t": "a"}}, nil))
	for i := range f.srv {
		_, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/single", nil, "")
		if !strings.Contains(string(body), `"primaryKey":"bookId"`) {
			t.Errorf("node %d did not get the inferred primary key: %s", i, body)
		}
	}
}

func TestWriteCreatesMissingIndex(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8})
	ctx := testCtx(t)
	ix := f.c.index("auto")
	f.wait(t, must(ix.AddDocuments(ctx, coreMovies(50), nil)), meilisearch.TaskStatusSucceeded)
	for i := range f.srv {
		fa, err := f.direct(i).Index("auto").GetFilterableAttributes(ctx)
		if err != nil || !slices.Contains(*fa, any("_miroir_shard")) {
			t.Fatalf("node %d filterable %v %v", i, fa, err)
		}
		var rec metaRecord
		if err := f.direct(i).Index(metaIndex).GetDocument(ctx, "auto", nil, &rec); err != nil || rec.Shards != 8 {
			t.Fatalf("node %d meta %+v %v", i, rec, err)
		}
	}
	var m coreMovie
	if err := ix.GetDocument(ctx, "42", nil, &m); err != nil || m.ID != 42 {
		t.Fatal(m, err)
	}
}

// A write to an index that does not exist creates it on the whole fleet with
// the fleet's settings and record, not with a node's defaults.
func TestAuditCoreWriteToMissingIndex(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ctx := testCtx(t)
	acWaitOK(t, f.c)(f.c.Index("fresh").AddDocuments(ctx, []map[string]any{{"id": 1}, {"id": 2}}, nil))
	for i := range f.srv {
		if st, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/fresh", nil, ""); st != 200 {
			t.Errorf("node %d lacks the index: %d %s", i, st, body)
			continue
		}
		fa := asStrings(f.nodeSettings(t, i, "fresh")["filterableAttributes"])
		if !slices.Contains(fa, "_miroir_shard") {
			t.Errorf("node %d: index created without _miroir_shard filterable: %v", i, fa)
		}
		_, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/miroir_meta/documents?limit=100", nil, "")
		if !strings.Contains(string(body), `"fresh"`) {
			t.Errorf("node %d: no miroir_meta record for fresh: %s", i, body)
		}
	}
	// A cluster with another S refuses it now.
	other := f.newCluster(t, append(oneRetry.options(), WithShards(9))...)
	if _, err := other.Index("fresh").AddDocuments(ctx, []map[string]any{{"id": 3}}, nil); !errors.Is(err, ErrShardCountMismatch) {
		t.Errorf("other S on an index created by a write: %v", err)
	}
}
