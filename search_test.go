package miroir

// Search (search.go): a fleet answers like one node, the shard field
// never matches a query nor shows in an answer, and a field new on some
// node is searchable.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// auditPlainDocs has no numeric word anywhere in its text.
func auditPlainDocs(n int) []map[string]any {
	ws := []string{"amber", "birch", "cedar", "dune", "ember", "fjord", "grove", "heath"}
	docs := make([]map[string]any, n)
	for i := range docs {
		docs[i] = map[string]any{
			"id":    fmt.Sprintf("doc-%d", i),
			"title": ws[i%len(ws)] + " " + ws[(i/3)%len(ws)],
			"body":  ws[(i*5)%len(ws)] + " " + ws[(i*7+1)%len(ws)] + " " + ws[(i/2)%len(ws)],
			"kind":  ws[i%3],
		}
	}
	return docs
}

func TestSearchBasic(t *testing.T) {
	docs := genDocs(300, 1)
	oracle, _ := startRef(t)
	loadNode(t, oracle.URL(), "items", testSettings(false), docs)
	waitIdle(t, oracle)
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 7, timing: noProbes})
	f.load(t, "items", testSettings(false), docs)

	ctx := context.Background()
	req := &meilisearch.SearchRequest{Query: "river 7", Limit: 10, Facets: []string{"category", "year"}}
	got, err := f.c.search(ctx, "items", "", req)
	if err != nil {
		t.Fatal(err)
	}
	want, err := meilisearch.New(oracle.URL()).Index("items").Search(ctx, "", &meilisearch.SearchRequest{Query: "river 7", Limit: 10, Facets: []string{"category", "year"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.EstimatedTotalHits != want.EstimatedTotalHits || len(got.Hits) != len(want.Hits) {
		t.Fatalf("totals: got %d/%d want %d/%d", got.EstimatedTotalHits, len(got.Hits), want.EstimatedTotalHits, len(want.Hits))
	}
	for _, h := range got.Hits {
		if _, ok := h[shardField]; ok {
			t.Fatalf("hit leaks the shard field: %v", h)
		}
		if _, ok := h["_rankingScore"]; ok {
			t.Fatalf("hit leaks _rankingScore")
		}
	}
	var gd, wd map[string]map[string]int
	_ = json.Unmarshal(got.FacetDistribution, &gd)
	_ = json.Unmarshal(want.FacetDistribution, &wd)
	if fmt.Sprint(gd) != fmt.Sprint(wd) {
		t.Fatalf("facets: got %v want %v", gd, wd)
	}
	t.Logf("got %d hits of %d; facets %s", len(got.Hits), got.EstimatedTotalHits, got.FacetDistribution)
}

func TestSearchPageModeAndRaw(t *testing.T) {
	docs := genDocs(250, 33)
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 2, shards: 7, timing: noProbes})
	f.load(t, "items", testSettings(false), docs)
	idx := f.c.index("items")
	ctx := context.Background()
	hpp := int64(9)
	resp, err := idx.Search(ctx, "", &meilisearch.SearchRequest{Page: 3, HitsPerPage: &hpp})
	if err != nil {
		t.Fatal(err)
	}
	if resp.TotalHits != 250 || resp.TotalPages != 28 || resp.Page != 3 || resp.HitsPerPage != 9 || len(resp.Hits) != 9 {
		t.Fatalf("page mode: %+v", resp)
	}
	raw, err := idx.SearchRaw(ctx, "river", &meilisearch.SearchRequest{Limit: 2, Offset: 1})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(*raw, &m); err != nil {
		t.Fatalf("raw: %v: %s", err, *raw)
	}
	if m["limit"].(float64) != 2 || m["offset"].(float64) != 1 || m["query"] != "river" {
		t.Fatalf("raw echo: %s", *raw)
	}
	if _, err := idx.Search(ctx, "", nil); !errors.Is(err, meilisearch.ErrNoSearchRequest) {
		t.Fatalf("nil request: %v", err)
	}
	if _, err := idx.Search(ctx, "", &meilisearch.SearchRequest{Filter: "nope = 1"}); err == nil {
		t.Fatal("invalid filter: no error")
	}
}

func TestShardFieldNeverMatches(t *testing.T) {
	docs := genDocs(300, 31)
	for _, explicit := range []bool{false, true} {
		st := testSettings(false)
		if explicit {
			st.SearchableAttributes = []string{"title", "desc", "tags"}
		}
		oracle, _ := startRef(t)
		loadNode(t, oracle.URL(), "items", st, docs)
		waitIdle(t, oracle)
		f := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 7, timing: noProbes})
		f.load(t, "items", st, docs)
		idx := f.c.index("items")
		ctx := context.Background()
		// shards 0..6 exist: a query word equal to a shard number must match
		// what it matches on one node, not the shard's documents
		for _, q := range []string{"5", "6", "5 6", "0", "3", "4 river"} {
			for _, on := range [][]string{nil, {"title", shardField}} {
				if explicit && on != nil {
					continue // one node rejects an unknown attribute too
				}
				req := func() *meilisearch.SearchRequest {
					return &meilisearch.SearchRequest{Query: q, AttributesToSearchOn: on, ShowRankingScore: true, Limit: 50}
				}
				oreq := req()
				if on != nil {
					oreq.AttributesToSearchOn = []string{"title"}
				}
				want, err := meilisearch.New(oracle.URL()).Index("items").Search(ctx, "", oreq)
				if err != nil {
					t.Fatal(err)
				}
				got, err := idx.Search(ctx, "", req())
				if err != nil {
					t.Fatal(err)
				}
				if got.EstimatedTotalHits != want.EstimatedTotalHits || len(got.Hits) != len(want.Hits) {
					t.Fatalf("explicit=%v q=%q on=%v: %d hits, one node %d", explicit, q, on, got.EstimatedTotalHits, want.EstimatedTotalHits)
				}
				for i := range got.Hits {
					if string(got.Hits[i]["_rankingScore"]) != string(want.Hits[i]["_rankingScore"]) {
						t.Fatalf("explicit=%v q=%q: hit %d score %s, one node %s", explicit, q, i, got.Hits[i]["_rankingScore"], want.Hits[i]["_rankingScore"])
					}
				}
			}
		}
	}
}

// TestAuditReadShardNumberNeverMatches: DESIGN §5 "a query word 7 would
// match every document of shard 7 ... Queries must therefore never search
// that field"; issue 4: "a query word equal to a shard number must not
// match that shard's documents, with the default searchableAttributes:
// ["*"] as well as with an explicit list". Also checked through a second
// Cluster instance that never saw the writes (fields known from
// fieldDistribution), and fieldDistribution never shows _miroir_shard.
func TestAuditReadShardNumberNeverMatches(t *testing.T) {
	t.Parallel()
	docs := auditPlainDocs(120)
	_, ref := startRef(t, meilitest.WithTaskDuration(0))
	explicit := &meilisearch.Settings{SearchableAttributes: []string{"title", "body"}, FilterableAttributes: []string{"kind"}}
	auditLoad(t, ref, "star", nil, docs)
	auditLoad(t, ref, "list", explicit, docs)
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 7, ids: "node-", instant: true, timing: newDefaults})
	c := f.c
	auditLoad(t, c, "star", nil, docs)
	auditLoad(t, c, "list", explicit, docs)
	c2 := f.newCluster(t, WithShards(7))
	ctx := context.Background()
	for _, cl := range []struct {
		name string
		c    *Cluster
	}{{"writer", c}, {"fresh", c2}} {
		for _, uid := range []string{"star", "list"} {
			for _, q := range []string{"0", "1", "2", "3", "4", "5", "6", "3 amber", "amber 6"} {
				for _, on := range [][]string{nil, {"title"}} {
					req := func() *meilisearch.SearchRequest {
						return &meilisearch.SearchRequest{Limit: 200, ShowRankingScore: true, ShowRankingScoreDetails: true, AttributesToSearchOn: on}
					}
					want, err := ref.Index(uid).Search(ctx, q, req())
					if err != nil {
						t.Fatal(err)
					}
					got, err := cl.c.Index(uid).Search(ctx, q, req())
					if err != nil {
						t.Fatalf("%s %s %q: %v", cl.name, uid, q, err)
					}
					label := fmt.Sprintf("%s/%s q=%q on=%v", cl.name, uid, q, on)
					if got.EstimatedTotalHits != want.EstimatedTotalHits || len(got.Hits) != len(want.Hits) {
						t.Errorf("%s: %d hits (total %d), want %d (total %d)", label, len(got.Hits), got.EstimatedTotalHits, len(want.Hits), want.EstimatedTotalHits)
						continue
					}
					// same scores for the same documents
					ws := map[string]string{}
					for _, h := range want.Hits {
						ws[string(h["id"])] = string(h["_rankingScoreDetails"])
					}
					for _, h := range got.Hits {
						if d, ok := ws[string(h["id"])]; !ok || d != string(h["_rankingScoreDetails"]) {
							t.Errorf("%s: hit %s details %s, want %s", label, h["id"], h["_rankingScoreDetails"], d)
						}
					}
				}
			}
		}
		st, err := cl.c.Index("star").GetStats(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st.FieldDistribution["_miroir_shard"]; ok {
			t.Errorf("%s: index stats fieldDistribution shows _miroir_shard: %v", cl.name, st.FieldDistribution)
		}
		if st.NumberOfDocuments != int64(len(docs)) {
			t.Errorf("%s: numberOfDocuments %d, want %d", cl.name, st.NumberOfDocuments, len(docs))
		}
		gs, err := cl.c.GetStats(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for uid, is := range gs.Indexes {
			if _, ok := is.FieldDistribution["_miroir_shard"]; ok {
				t.Errorf("%s: global stats of %s show _miroir_shard", cl.name, uid)
			}
		}
	}
}

func TestStripping(t *testing.T) {
	docs := genDocs(300, 32)
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 7, timing: noProbes})
	f.load(t, "items", testSettings(false), docs)
	idx := f.c.index("items")
	ctx := context.Background()
	resp, err := idx.Search(ctx, "river", &meilisearch.SearchRequest{
		AttributesToRetrieve: []string{"title"}, Distinct: "brand", Sort: []string{"year:desc"},
		AttributesToHighlight: []string{"*"}, ShowMatchesPosition: true, Facets: []string{"*"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Hits) == 0 {
		t.Fatal("no hits")
	}
	for _, h := range resp.Hits {
		for k := range h {
			switch k {
			case "title", "_formatted", "_matchesPosition":
			default:
				t.Fatalf("unexpected member %q in %v", k, h)
			}
		}
		var fm map[string]any
		_ = json.Unmarshal(h["_formatted"], &fm)
		if _, ok := fm["brand"]; ok {
			t.Fatalf("_formatted keeps the attribute added for merging: %v", fm)
		}
		if _, ok := fm[shardField]; ok {
			t.Fatalf("_formatted keeps the shard field: %v", fm)
		}
	}
	var fd map[string]any
	_ = json.Unmarshal(resp.FacetDistribution, &fd)
	if _, ok := fd[shardField]; ok || len(fd) == 0 {
		t.Fatalf("facets [*]: %s", resp.FacetDistribution)
	}
	// asked for: kept
	resp, err = idx.Search(ctx, "river", &meilisearch.SearchRequest{ShowRankingScore: true, Sort: []string{"year:desc"}, ShowRankingScoreDetails: true, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range resp.Hits {
		if h["_rankingScore"] == nil || h["_rankingScoreDetails"] == nil || h[shardField] != nil {
			t.Fatalf("hit %v", h)
		}
	}
}

// TestAuditReadStripping: DESIGN §5 "strip _miroir_shard from hits and
// from _formatted, strip _rankingScore / _rankingScoreDetails unless
// requested, and strip attributes added for merging"; §2 "_miroir_shard is
// stripped from every document returned to callers"; §7 reads hide it.
func TestAuditReadStripping(t *testing.T) {
	t.Parallel()
	docs := auditDocs(120, 5)
	_, ref := startRef(t, meilitest.WithTaskDuration(0))
	auditLoad(t, ref, "s", auditSettingsA(), docs)
	c := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 1, shards: 7, ids: "node-", instant: true, timing: newDefaults}).c
	auditLoad(t, c, "s", auditSettingsA(), docs)
	ctx := context.Background()
	idx := c.Index("s")

	check := func(label string, req *meilisearch.SearchRequest, q string, allowed map[string]bool) {
		t.Helper()
		raw, err := idx.SearchRaw(ctx, q, req)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		if bytes.Contains(*raw, []byte("_miroir_shard")) {
			t.Errorf("%s: answer mentions _miroir_shard: %s", label, auditTrunc(*raw))
		}
		m := auditJSON(t, *raw)
		hs := auditHits(m)
		if len(hs) == 0 {
			t.Fatalf("%s: no hits", label)
		}
		for _, h := range hs {
			for k := range h {
				if !allowed[k] {
					t.Errorf("%s: hit has field %q, caller asked for %v", label, k, allowed)
				}
			}
		}
	}
	set := func(ks ...string) map[string]bool {
		m := map[string]bool{}
		for _, k := range ks {
			m[k] = true
		}
		return m
	}
	check("retrieve title + distinct", &meilisearch.SearchRequest{AttributesToRetrieve: []string{"title"}, Distinct: "brand", Sort: []string{"year:asc"}}, "river", set("title"))
	check("retrieve title + sort", &meilisearch.SearchRequest{AttributesToRetrieve: []string{"title"}, Sort: []string{"price:desc"}}, "", set("title"))
	check("score only with sort", &meilisearch.SearchRequest{AttributesToRetrieve: []string{"id"}, ShowRankingScore: true, Sort: []string{"year:desc"}}, "river", set("id", "_rankingScore"))
	check("details only", &meilisearch.SearchRequest{AttributesToRetrieve: []string{"id"}, ShowRankingScoreDetails: true}, "river", set("id", "_rankingScoreDetails"))
	check("highlight", &meilisearch.SearchRequest{AttributesToRetrieve: []string{"id"}, AttributesToHighlight: []string{"*"}}, "river", set("id", "_formatted"))

	// facets ["*"]: every filterable attribute, as one node answers
	q := auditQuery{name: "facets *", mk: func() *meilisearch.SearchRequest { return &meilisearch.SearchRequest{Facets: []string{"*"}, Limit: 5} }}
	auditRun(t, "facets *", auditReference(t, ref.Index("s"), q), idx, q)

	// a request reused by the caller gives the same answer again
	req := &meilisearch.SearchRequest{AttributesToRetrieve: []string{"title"}, Sort: []string{"year:asc"}, Distinct: "brand", Limit: 5}
	for i := 0; i < 2; i++ {
		res, err := idx.Search(ctx, "river", req)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range res.Hits {
			if len(h) != 1 {
				t.Errorf("reused request, call %d: hit %v, want only title", i, h)
			}
		}
	}

	// documents read back never carry the shard field
	var one map[string]any
	if err := idx.GetDocument(ctx, "7", nil, &one); err != nil {
		t.Fatal(err)
	}
	if _, ok := one["_miroir_shard"]; ok || one["title"] == nil {
		t.Errorf("GetDocument: %v", one)
	}
	var list meilisearch.DocumentsResult
	if err := idx.GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 200}, &list); err != nil {
		t.Fatal(err)
	}
	for _, d := range list.Results {
		if _, ok := d["_miroir_shard"]; ok {
			t.Fatalf("GetDocuments result carries _miroir_shard")
		}
	}
	var list2 meilisearch.DocumentsResult
	if err := idx.GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 5, Fields: []string{"title"}}, &list2); err != nil {
		t.Fatal(err)
	}
	for _, d := range list2.Results {
		if len(d) != 1 || d["title"] == nil {
			t.Errorf("GetDocuments fields [title]: %v", d)
		}
	}
	fa, err := idx.GetFilterableAttributes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(auditCanon(fa), "_miroir_shard") {
		t.Errorf("filterable attributes show _miroir_shard: %v", *fa)
	}
	st, err := idx.GetSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(auditCanon(st), "_miroir_shard") {
		t.Errorf("settings show _miroir_shard")
	}
}

// TestAuditReadNewFieldSearchable: DESIGN §5: with searchableAttributes
// "*", node requests list "the index's fields ... (fields known from
// fieldDistribution and from the top-level keys the router sees on every
// write)": a field first written after earlier searches must be searched.
func TestAuditReadNewFieldSearchable(t *testing.T) {
	t.Parallel()
	docs := auditPlainDocs(40)
	c := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 7, ids: "node-", instant: true, timing: newDefaults}).c
	auditLoad(t, c, "n", nil, docs)
	ctx := context.Background()
	if _, err := c.Index("n").Search(ctx, "amber", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	info, err := c.Index("n").AddDocuments(ctx, []map[string]any{{"id": "late", "title": "birch", "extra": "quokka"}}, nil)
	auditWait(t, c, info, err)
	got, err := c.Index("n").Search(ctx, "quokka", &meilisearch.SearchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Hits) != 1 || string(got.Hits[0]["id"]) != `"late"` {
		t.Errorf("search for a word of a new field: %d hits %v, want the document late", len(got.Hits), got.Hits)
	}
}

// TestAuditReadNewFieldOtherInstance: the same as above when the new
// field was written by another Cluster instance over the same fleet
// (several app instances, DESIGN §6), after this instance searched.
func TestAuditReadNewFieldOtherInstance(t *testing.T) {
	t.Parallel()
	docs := auditPlainDocs(40)
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 7, ids: "node-", instant: true, timing: newDefaults})
	c := f.c
	auditLoad(t, c, "n", nil, docs)
	reader := f.newCluster(t, WithShards(7))
	ctx := context.Background()
	if _, err := reader.Index("n").Search(ctx, "amber", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	info, err := c.Index("n").AddDocuments(ctx, []map[string]any{{"id": "late", "title": "birch", "extra": "quokka"}}, nil)
	auditWait(t, c, info, err)
	got, err := reader.Index("n").Search(ctx, "quokka", &meilisearch.SearchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Hits) != 1 {
		t.Errorf("another instance searching a word of a field it never saw: %d hits, want 1 (as one Meilisearch)", len(got.Hits))
	}
}

// _matchesPosition covers every displayed attribute, retrieved or not
// (Meilisearch's format_fields), and _formatted the attributes to
// retrieve, highlight and crop: an attribute the cluster adds to
// attributesToRetrieve for merging (the distinct attribute) leaves
// _formatted, but stays in _matchesPosition as on one node.
func TestMatchesPositionOfAddedAttribute(t *testing.T) {
	docs := genDocs(300, 23)
	oracle, _ := startRef(t)
	loadNode(t, oracle.URL(), "items", testSettings(false), docs)
	waitIdle(t, oracle)
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 7, timing: noProbes})
	f.load(t, "items", testSettings(false), docs)
	// distinct on the id: the cluster adds it to attributesToRetrieve
	for _, q := range []string{"7", "12 river"} {
		body := map[string]any{"q": q, "distinct": "id", "attributesToRetrieve": []string{"title"},
			"attributesToHighlight": []string{"title"}, "showMatchesPosition": true, "showRankingScore": true, "limit": 1000}
		url := oracle.URL() + "/indexes/items/search"
		want := postJSON(t, url, body)
		idMatched := false
		for _, h := range want["hits"].([]any) {
			_, ok := h.(map[string]any)["_matchesPosition"].(map[string]any)["id"]
			idMatched = idMatched || ok
		}
		if !idMatched {
			t.Fatalf("%q: the oracle shows no match in id", q)
		}
		b, _ := json.Marshal(body)
		out, err := f.c.searchBody(context.Background(), "items", b)
		if err != nil {
			t.Fatal(err)
		}
		// every matching document is on the page: the hits must be the
		// same set (ties may order differently)
		set := func(m map[string]any) map[string]int {
			out := map[string]int{}
			for _, h := range m["hits"].([]any) {
				b, _ := json.Marshal(h)
				out[string(b)]++
			}
			return out
		}
		if w, g := set(want), set(decodeUseNumber(t, out)); !reflect.DeepEqual(w, g) {
			for k := range w {
				if g[k] == 0 {
					t.Errorf("%q: missing %s", q, k)
				}
			}
			for k := range g {
				if w[k] == 0 {
					t.Errorf("%q: extra %s", q, k)
				}
			}
		}
	}
}
