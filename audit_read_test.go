package miroir

// Black-box audit of the read path (DESIGN.md §2, §5, §8 and issue 4):
// a cluster of meilitest nodes must answer like one meilitest node holding
// every document. Only the public API of miroir and meilitest is used.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// auditQueries is the generated query set of the equivalence test.
func auditQueries() []auditQuery {
	var qs []auditQuery
	add := func(name, q string, mk func(r *meilisearch.SearchRequest)) {
		qs = append(qs, auditQuery{name: name, q: q, mk: func() *meilisearch.SearchRequest {
			r := &meilisearch.SearchRequest{}
			if mk != nil {
				mk(r)
			}
			return r
		}})
	}
	facets := []string{"genre", "tags", "year", "rating", "meta.color", "brand", "price"}
	words := []string{"river", "mountain river", "rivr", "mountian", "moun", "castle dragon", "7", "2024", "3", "12", "5", "42 apple", "silver tiger 1999", "qzxv"}
	for i, w := range words {
		add("words "+w, w, nil)
		add("facets "+w, w, func(r *meilisearch.SearchRequest) { r.Facets = facets; r.Limit = 30 })
		switch i % 4 {
		case 0:
			add("filter "+w, w, func(r *meilisearch.SearchRequest) {
				r.Filter = "year > 2000 AND rating >= 2"
				r.Facets = []string{"genre"}
			})
		case 1:
			add("arrfilter "+w, w, func(r *meilisearch.SearchRequest) {
				r.Filter = []any{[]any{"genre = fantasy", "genre = drama"}, "tags = sale"}
			})
		case 2:
			add("sort "+w, w, func(r *meilisearch.SearchRequest) { r.Sort = []string{"year:desc", "price:asc"}; r.Limit = 25 })
		case 3:
			add("page "+w, w, func(r *meilisearch.SearchRequest) {
				r.Page = 2
				r.HitsPerPage = auditI64(6)
				r.Facets = []string{"tags"}
			})
		}
	}
	// placeholder searches, sorts, both pagination modes, deep offsets
	add("placeholder", "", nil)
	add("placeholder facets", "", func(r *meilisearch.SearchRequest) { r.Facets = facets })
	add("sort price asc", "", func(r *meilisearch.SearchRequest) { r.Sort = []string{"price:asc"}; r.Offset = 230; r.Limit = 40 })
	add("sort price desc", "", func(r *meilisearch.SearchRequest) { r.Sort = []string{"price:desc"}; r.Offset = 10; r.Limit = 40 })
	add("sort mixed asc", "", func(r *meilisearch.SearchRequest) { r.Sort = []string{"code:asc", "id:asc"}; r.Limit = 60 })
	add("sort mixed desc", "", func(r *meilisearch.SearchRequest) {
		r.Sort = []string{"code:desc", "id:desc"}
		r.Offset = 300
		r.Limit = 60
	})
	add("sort mixed tail", "", func(r *meilisearch.SearchRequest) {
		r.Sort = []string{"code:asc", "id:asc"}
		r.Offset = 200
		r.Limit = 100
	})
	add("sort title", "", func(r *meilisearch.SearchRequest) { r.Sort = []string{"title:asc"}; r.Limit = 30 })
	add("sort geo", "", func(r *meilisearch.SearchRequest) { r.Sort = []string{"_geoPoint(45.0, 5.0):asc"}; r.Limit = 30 })
	add("sort word+year", "silver", func(r *meilisearch.SearchRequest) { r.Sort = []string{"rating:asc", "year:desc"}; r.Limit = 30 })
	add("deep offset", "", func(r *meilisearch.SearchRequest) { r.Offset = 150; r.Limit = 30; r.Sort = []string{"id:desc"} })
	add("beyond maxTotalHits", "", func(r *meilisearch.SearchRequest) {
		r.Offset = 240
		r.Limit = 20
		r.Sort = []string{"year:desc", "id:asc"}
	})
	add("page 1", "", func(r *meilisearch.SearchRequest) {
		r.Page = 1
		r.HitsPerPage = auditI64(10)
		r.Sort = []string{"id:asc"}
	})
	add("page 3x7", "river", func(r *meilisearch.SearchRequest) { r.Page = 3; r.HitsPerPage = auditI64(7) })
	add("page deep", "", func(r *meilisearch.SearchRequest) {
		r.Page = 12
		r.HitsPerPage = auditI64(20)
		r.Sort = []string{"price:desc", "id:asc"}
	})
	add("page past end", "castle", func(r *meilisearch.SearchRequest) { r.Page = 400; r.HitsPerPage = auditI64(20) })
	add("page facets", "", func(r *meilisearch.SearchRequest) {
		r.Page = 2
		r.HitsPerPage = auditI64(15)
		r.Facets = facets
		r.Filter = "genre = scifi"
	})
	add("page zero hits", "", func(r *meilisearch.SearchRequest) {
		r.Page = 1
		r.HitsPerPage = auditI64(0)
		r.Facets = []string{"genre"}
	})
	// retrieve / highlight / crop / matches
	add("retrieve", "river", func(r *meilisearch.SearchRequest) { r.AttributesToRetrieve = []string{"title", "year"} })
	add("retrieve nested", "river", func(r *meilisearch.SearchRequest) { r.AttributesToRetrieve = []string{"id", "meta.color"} })
	add("highlight", "river golden", func(r *meilisearch.SearchRequest) {
		r.AttributesToHighlight = []string{"*"}
		r.HighlightPreTag = "<b>"
		r.HighlightPostTag = "</b>"
	})
	add("crop", "river", func(r *meilisearch.SearchRequest) {
		r.AttributesToCrop = []string{"description"}
		r.CropLength = 4
		r.CropMarker = "~"
		r.AttributesToRetrieve = []string{"id", "title"}
	})
	add("matches", "storm", func(r *meilisearch.SearchRequest) { r.ShowMatchesPosition = true })
	add("strategy all", "river storm", func(r *meilisearch.SearchRequest) { r.MatchingStrategy = meilisearch.All })
	add("searchOn", "river", func(r *meilisearch.SearchRequest) { r.AttributesToSearchOn = []string{"title"} })
	add("threshold", "river golden", func(r *meilisearch.SearchRequest) { r.RankingScoreThreshold = 0.7; r.Limit = 50 })
	add("score only", "river", func(r *meilisearch.SearchRequest) { r.ShowRankingScore = true; r.Sort = []string{"year:asc"} })
	// distinct
	qs = append(qs,
		auditQuery{name: "distinct words", q: "river", distinct: "brand", mk: func() *meilisearch.SearchRequest {
			return &meilisearch.SearchRequest{Distinct: "brand", Limit: 30}
		}},
		auditQuery{name: "distinct sort", q: "", distinct: "brand", mk: func() *meilisearch.SearchRequest {
			return &meilisearch.SearchRequest{Distinct: "brand", Sort: []string{"price:asc"}, Offset: 5, Limit: 20, Facets: []string{"genre"}}
		}},
		auditQuery{name: "distinct page", q: "golden", distinct: "brand", mk: func() *meilisearch.SearchRequest {
			return &meilisearch.SearchRequest{Distinct: "brand", Page: 2, HitsPerPage: auditI64(5)}
		}},
		auditQuery{name: "distinct retrieve", q: "storm", distinct: "brand", mk: func() *meilisearch.SearchRequest {
			return &meilisearch.SearchRequest{Distinct: "brand", AttributesToRetrieve: []string{"title"}, Limit: 40}
		}},
	)
	return qs
}

type auditTopo struct {
	name                 string
	groups, perGroup, rf int
}

var auditTopos = []auditTopo{
	{"1x1", 1, 3, 1},
	{"1x3", 1, 4, 3},
	{"2x2", 2, 3, 2},
	{"3x1", 3, 2, 1},
}

var auditTotals = []string{"estimatedTotalHits", "totalHits", "totalPages"}

func auditRefs(t testing.TB, ref auditSearcher, qs []auditQuery) []*auditRef {
	out := make([]*auditRef, len(qs))
	for i, q := range qs {
		out[i] = auditReference(t, ref, q)
	}
	return out
}

// TestAuditReadEquivalence: issue 4 "Done when": for RG×RF in {1×1, 1×3,
// 2×2, 3×1} and S in {1, 7, 64}, the cluster's hits equal the single
// node's hit for hit (ties as sets), and totals and facets are equal.
// (Totals of distinct queries are checked in TestAuditReadDistinctTotals.)
// 2×2/S7 runs every query (a third of them also without forced ranking
// scores), 3×1/S64 a third with forced scores, the other fleets a rotating
// eighth.
func TestAuditReadEquivalence(t *testing.T) {
	docs := auditDocs(auditN, 11)
	_, ref := startRef(t, meilitest.WithTaskDuration(0))
	auditLoad(t, ref, "a", auditSettingsA(), docs)
	auditLoad(t, ref, "b", auditSettingsB(), docs)
	queries := auditQueries()
	for i := range queries {
		if queries[i].distinct != "" {
			queries[i].ignore = auditTotals
		}
	}
	refA := auditRefs(t, ref.Index("a"), queries)
	pickB := func(i int, q auditQuery) bool { return i%3 == 0 || strings.HasPrefix(q.name, "sort") }
	refB := make([]*auditRef, len(queries))
	for i, q := range queries {
		if pickB(i, q) {
			refB[i] = auditReference(t, ref.Index("b"), q)
		}
	}
	for ti, topo := range auditTopos {
		for si, shards := range []int{1, 7, 64} {
			t.Run(fmt.Sprintf("%s/S%d", topo.name, shards), func(t *testing.T) {
				t.Parallel()
				c := startFleet(t, fleetSpec{groups: groupsOf(topo.groups, topo.perGroup), rf: topo.rf, shards: shards, ids: "node-", instant: true, timing: newDefaults}).c
				auditLoad(t, c, "a", auditSettingsA(), docs)
				full := topo.name == "2x2" && shards == 7
				forcedOnly := topo.name == "3x1" && shards == 64
				for i, q := range queries {
					switch {
					case full && i%3 == 0:
						auditRun(t, "a/"+q.name, refA[i], c.Index("a"), q)
					case full:
						auditRunForced(t, "a/"+q.name, refA[i], c.Index("a"), q)
					case forcedOnly && i%3 == 1:
						auditRunForced(t, "a/"+q.name, refA[i], c.Index("a"), q)
					case i%8 == (ti*3+si)%8:
						auditRun(t, "a/"+q.name, refA[i], c.Index("a"), q)
					}
				}
				// index b: explicit searchable attributes, custom rules
				if topo.name == "1x3" && shards == 7 {
					auditLoad(t, c, "b", auditSettingsB(), docs)
					for i, q := range queries {
						if refB[i] != nil {
							auditRunForced(t, "b/"+q.name, refB[i], c.Index("b"), q)
						}
					}
				}
			})
		}
	}
}

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

func auditMultiJSON(t testing.TB, r *meilisearch.MultiSearchResponse) map[string]any {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return auditJSON(t, b)
}

// TestAuditReadMultiSearch: issue 4 "MultiSearch (plain and federated,
// with weights)"; DESIGN §5 "Multi-search runs each query's own
// scatter-gather; federated multi-search merges across queries with
// Meilisearch's weighting".
func TestAuditReadMultiSearch(t *testing.T) {
	t.Parallel()
	docs := auditDocs(auditN, 3)
	_, ref := startRef(t, meilitest.WithTaskDuration(0))
	auditLoad(t, ref, "a", auditSettingsA(), docs)
	auditLoad(t, ref, "a2", auditSettingsA(), docs[:200])
	auditLoad(t, ref, "b", auditSettingsB(), docs)
	c := startFleet(t, fleetSpec{groups: groupsOf(2, 3), rf: 2, shards: 7, ids: "node-", instant: true, timing: newDefaults}).c
	auditLoad(t, c, "a", auditSettingsA(), docs)
	auditLoad(t, c, "a2", auditSettingsA(), docs[:200])
	auditLoad(t, c, "b", auditSettingsB(), docs)
	ctx := context.Background()

	plain := func() *meilisearch.MultiSearchRequest {
		return &meilisearch.MultiSearchRequest{Queries: []*meilisearch.SearchRequest{
			{IndexUID: "a", Query: "river", Facets: []string{"genre", "tags"}, Limit: 15, ShowRankingScore: true, ShowRankingScoreDetails: true},
			{IndexUID: "b", Query: "mountain", Sort: []string{"year:desc"}, Page: 2, HitsPerPage: auditI64(5), ShowRankingScore: true, ShowRankingScoreDetails: true},
			{IndexUID: "a", Query: "", Filter: "rating = 5", Sort: []string{"price:asc", "id:asc"}, Offset: 10, Limit: 10, ShowRankingScore: true, ShowRankingScoreDetails: true},
		}}
	}
	want, err := ref.MultiSearch(ctx, plain())
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.MultiSearch(ctx, plain())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != len(want.Results) {
		t.Fatalf("multi-search: %d results, want %d", len(got.Results), len(want.Results))
	}
	for i := range want.Results {
		wb, _ := json.Marshal(want.Results[i])
		gb, _ := json.Marshal(got.Results[i])
		self := func(h map[string]any) (string, bool) { k := auditRankKey(h); return k, k != "" }
		auditCompareSearch(t, fmt.Sprintf("multi[%d]", i), auditQuery{ignore: []string{"processingTimeMs"}}, auditJSON(t, wb), auditJSON(t, gb), wb, gb, self)
		if got.Results[i].IndexUID != want.Results[i].IndexUID {
			t.Errorf("multi[%d]: indexUid %q, want %q", i, got.Results[i].IndexUID, want.Results[i].IndexUID)
		}
	}

	auditFederated(t, ref, c, []auditFed{
		{"weights", func() *meilisearch.MultiSearchRequest {
			return &meilisearch.MultiSearchRequest{
				Federation: &meilisearch.MultiSearchFederation{Limit: 25},
				Queries: []*meilisearch.SearchRequest{
					{IndexUID: "a", Query: "river golden", FederationOptions: &meilisearch.SearchFederationOptions{Weight: 1.3}},
					{IndexUID: "a2", Query: "castle", FederationOptions: &meilisearch.SearchFederationOptions{Weight: 0.6}},
				},
			}
		}},
		{"offset", func() *meilisearch.MultiSearchRequest {
			return &meilisearch.MultiSearchRequest{
				Federation: &meilisearch.MultiSearchFederation{Offset: 7, Limit: 12},
				Queries: []*meilisearch.SearchRequest{
					{IndexUID: "a", Query: "moon"},
					{IndexUID: "a2", Query: "king queen", Filter: "year > 1995", FederationOptions: &meilisearch.SearchFederationOptions{Weight: 2}},
				},
			}
		}},
		{"facets", func() *meilisearch.MultiSearchRequest {
			return &meilisearch.MultiSearchRequest{
				Federation: &meilisearch.MultiSearchFederation{Limit: 10, FacetsByIndex: map[string][]string{"a": {"genre", "year"}, "a2": {"genre"}}, MergeFacets: &meilisearch.MultiSearchFederationMergeFacets{MaxValuesPerFacet: 3}},
				Queries: []*meilisearch.SearchRequest{
					{IndexUID: "a", Query: "river"},
					{IndexUID: "a2", Query: "dragon"},
				},
			}
		}},
		{"facets unmerged", func() *meilisearch.MultiSearchRequest {
			return &meilisearch.MultiSearchRequest{
				Federation: &meilisearch.MultiSearchFederation{Limit: 10, FacetsByIndex: map[string][]string{"a": {"genre", "rating"}, "a2": {"tags"}}},
				Queries: []*meilisearch.SearchRequest{
					{IndexUID: "a", Query: "silver"},
					{IndexUID: "a2", Query: "silver"},
				},
			}
		}},
	})
}

type auditFed struct {
	name string
	mk   func() *meilisearch.MultiSearchRequest
}

// auditFederated compares federated multi-searches with the reference:
// hits up to ties of weightedRankingScore (identity: index and id),
// totals, facets.
func auditFederated(t *testing.T, ref meilisearch.ServiceManager, c *Cluster, feds []auditFed) {
	t.Helper()
	ctx := context.Background()
	fedKey := func(h map[string]any) (string, bool) {
		f, _ := h["_federation"].(map[string]any)
		if f == nil {
			return "", false
		}
		return auditCanon(f["weightedRankingScore"]), true
	}
	for _, fed := range feds {
		w, err := ref.MultiSearch(ctx, fed.mk())
		if err != nil {
			t.Fatalf("%s: reference: %v", fed.name, err)
		}
		g, err := c.MultiSearch(ctx, fed.mk())
		if err != nil {
			t.Fatalf("%s: %v", fed.name, err)
		}
		wm, gm := auditMultiJSON(t, w), auditMultiJSON(t, g)
		for _, m := range []map[string]any{wm, gm} {
			for _, h := range auditHits(m) {
				f, _ := h["_federation"].(map[string]any)
				if f != nil {
					h["id"] = fmt.Sprint(f["indexUid"], "/", h["id"])
				}
			}
		}
		wb, _ := json.Marshal(wm)
		gb, _ := json.Marshal(gm)
		// processingTimeMs is ignored: both sides went through
		// meilisearch-go's typed MultiSearchResponse, whose omitempty drops
		// a 0 ms time, so its presence says only whether a side took under
		// a millisecond. The raw answer always carries it (proxy tests).
		auditCompareSearch(t, "federated "+fed.name, auditQuery{ignore: []string{"processingTimeMs"}}, wm, gm, wb, gb, fedKey)
	}
}

// TestAuditReadFacetSearch: DESIGN §5 "Facet search sums counts per value
// and re-sorts"; compared with one node.
func TestAuditReadFacetSearch(t *testing.T) {
	t.Parallel()
	docs := auditDocs(auditN, 9)
	_, ref := startRef(t, meilitest.WithTaskDuration(0))
	auditLoad(t, ref, "a", auditSettingsA(), docs)
	c := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 2, shards: 64, ids: "node-", instant: true, timing: newDefaults}).c
	auditLoad(t, c, "a", auditSettingsA(), docs)
	auditFacetSearchCompare(t, ref.Index("a"), c.Index("a"))
}

func auditFacetSearchCompare(t *testing.T, ref, clu meilisearch.IndexManager) {
	t.Helper()
	ctx := context.Background()
	for _, req := range []meilisearch.FacetSearchRequest{
		{FacetName: "genre"},
		{FacetName: "genre", FacetQuery: "dr"},
		{FacetName: "brand", FacetQuery: "brand1"},
		{FacetName: "tags", Q: "river"},
		{FacetName: "tags", FacetQuery: "s", Filter: "rating >= 3"},
		{FacetName: "meta.color", Q: "castle", Filter: []any{"year > 1990"}},
		{FacetName: "brand", Q: "qzxv"},
	} {
		r1, r2 := req, req
		w, err := ref.FacetSearch(ctx, &r1)
		if err != nil {
			t.Fatalf("%+v: reference: %v", req, err)
		}
		g, err := clu.FacetSearch(ctx, &r2)
		if err != nil {
			t.Fatalf("%+v: %v", req, err)
		}
		wm, gm := auditJSON(t, *w), auditJSON(t, *g)
		delete(wm, "processingTimeMs")
		if _, ok := gm["processingTimeMs"]; !ok {
			t.Errorf("%+v: processingTimeMs missing", req)
		}
		delete(gm, "processingTimeMs")
		if auditCanon(wm) != auditCanon(gm) {
			t.Errorf("facet search %+v:\n got %s\nwant %s", req, auditCanon(gm), auditCanon(wm))
		}
	}
}

// TestAuditReadVectors: DESIGN §5 "Vector and hybrid requests merge by
// the same rules"; similar documents across every shard; the over-fetch
// option.
func TestAuditReadVectors(t *testing.T) {
	t.Parallel()
	docs := auditDocs(200, 21)
	r := rand.New(rand.NewPCG(5, 6))
	for _, d := range docs {
		d["_vectors"] = map[string]any{"default": []float64{r.Float64(), r.Float64(), r.Float64()}}
	}
	st := auditSettingsA()
	st.Embedders = map[string]meilisearch.Embedder{"default": {Source: "userProvided", Dimensions: 3}}
	_, ref := startRef(t, meilitest.WithTaskDuration(0))
	auditLoad(t, ref, "v", st, docs)
	for _, of := range []float64{1, 3} {
		c := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithOverFetch(of)}}).c
		auditLoad(t, c, "v", st, docs)
		for _, q := range []auditQuery{
			{name: "vector", mk: func() *meilisearch.SearchRequest {
				return &meilisearch.SearchRequest{Vector: []float32{0.2, 0.7, 0.1}, Hybrid: &meilisearch.SearchRequestHybrid{Embedder: "default", SemanticRatio: 1}, Limit: 15}
			}},
			{name: "hybrid", q: "river", mk: func() *meilisearch.SearchRequest {
				return &meilisearch.SearchRequest{Vector: []float32{0.9, 0.1, 0.4}, Hybrid: &meilisearch.SearchRequestHybrid{Embedder: "default", SemanticRatio: 0.5}, Limit: 12, Offset: 3}
			}},
			{name: "vector filter", mk: func() *meilisearch.SearchRequest {
				return &meilisearch.SearchRequest{Vector: []float32{0.5, 0.5, 0.5}, Hybrid: &meilisearch.SearchRequestHybrid{Embedder: "default", SemanticRatio: 1}, Filter: "rating > 2", Limit: 10}
			}},
		} {
			auditRun(t, fmt.Sprintf("overfetch %v %s", of, q.name), auditReference(t, ref.Index("v"), q), c.Index("v"), q)
		}
		var want, got meilisearch.SimilarDocumentResult
		sq := func() *meilisearch.SimilarDocumentQuery {
			return &meilisearch.SimilarDocumentQuery{Id: 17, Embedder: "default", Limit: 10, ShowRankingScore: true}
		}
		if err := ref.Index("v").SearchSimilarDocuments(context.Background(), sq(), &want); err != nil {
			t.Fatal(err)
		}
		if err := c.Index("v").SearchSimilarDocuments(context.Background(), sq(), &got); err != nil {
			t.Fatalf("similar: %v", err)
		}
		wb, _ := json.Marshal(want)
		gb, _ := json.Marshal(got)
		wm, gm := auditJSON(t, wb), auditJSON(t, gb)
		self := func(h map[string]any) (string, bool) { k := auditRankKey(h); return k, k != "" }
		// processingTimeMs 0 is dropped by SimilarDocumentResult's omitempty
		auditCompareSearch(t, "similar", auditQuery{ignore: []string{"processingTimeMs"}}, wm, gm, wb, gb, self)
	}
}

// TestAuditReadGetDocumentsPagesStable: issue 4 "GetDocuments pages are
// stable: walking all pages of a listing returns every document exactly
// once, with or without a filter" (with replicas and rotating groups).
func TestAuditReadGetDocumentsPagesStable(t *testing.T) {
	t.Parallel()
	docs := auditDocs(auditN, 4)
	_, ref := startRef(t, meilitest.WithTaskDuration(0))
	auditLoad(t, ref, "d", auditSettingsA(), docs)
	c := startFleet(t, fleetSpec{groups: groupsOf(2, 3), rf: 2, shards: 7, ids: "node-", instant: true, timing: newDefaults}).c
	auditLoad(t, c, "d", auditSettingsA(), docs)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		filter any
		fields []string
		limit  int64
	}{
		{"all", nil, nil, 7},
		{"filter", "genre = scifi OR rating = 5", nil, 9},
		{"array filter fields", []any{"year >= 2000", []any{"tags = sale", "tags = rare"}}, []string{"id", "year"}, 13},
		{"big pages", nil, []string{"id"}, 100},
	} {
		var refList meilisearch.DocumentsResult
		if err := ref.Index("d").GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 1000, Filter: tc.filter, Fields: []string{"id"}}, &refList); err != nil {
			t.Fatal(err)
		}
		wantIDs := map[string]bool{}
		for _, d := range refList.Results {
			wantIDs[string(d["id"])] = true
		}
		seen := map[string]int{}
		var total int64 = -1
		for off := int64(0); off < int64(len(docs))+tc.limit; off += tc.limit {
			var page meilisearch.DocumentsResult
			if err := c.Index("d").GetDocuments(ctx, &meilisearch.DocumentsQuery{Offset: off, Limit: tc.limit, Filter: tc.filter, Fields: tc.fields}, &page); err != nil {
				t.Fatalf("%s offset %d: %v", tc.name, off, err)
			}
			if page.Offset != off || page.Limit != tc.limit {
				t.Errorf("%s: page echoes offset %d limit %d, want %d %d", tc.name, page.Offset, page.Limit, off, tc.limit)
			}
			if total >= 0 && page.Total != total {
				t.Errorf("%s: total changed between pages: %d then %d", tc.name, total, page.Total)
			}
			total = page.Total
			for _, d := range page.Results {
				seen[string(d["id"])]++
				if tc.fields != nil && len(d) != len(tc.fields) {
					t.Errorf("%s: document %v, fields %v", tc.name, d, tc.fields)
				}
			}
		}
		if total != refList.Total {
			t.Errorf("%s: total %d, want %d", tc.name, total, refList.Total)
		}
		for id, n := range seen {
			if n != 1 || !wantIDs[id] {
				t.Errorf("%s: document %s listed %d times (matches: %v)", tc.name, id, n, wantIDs[id])
			}
		}
		if len(seen) != len(wantIDs) {
			t.Errorf("%s: walked %d distinct documents, want %d", tc.name, len(seen), len(wantIDs))
		}
	}
	// with sort, the listing is the reference's, page by page
	for _, off := range []int64{0, 17, 280} {
		q := func() *meilisearch.DocumentsQuery {
			return &meilisearch.DocumentsQuery{Offset: off, Limit: 17, Sort: []string{"year:desc", "id:asc"}, Fields: []string{"id", "year"}}
		}
		var w, g meilisearch.DocumentsResult
		if err := ref.Index("d").GetDocuments(ctx, q(), &w); err != nil {
			t.Fatal(err)
		}
		if err := c.Index("d").GetDocuments(ctx, q(), &g); err != nil {
			t.Fatalf("sorted listing: %v", err)
		}
		if auditCanon(w) != auditCanon(g) {
			t.Errorf("sorted listing offset %d:\n got %s\nwant %s", off, auditTrunc([]byte(auditCanon(g))), auditTrunc([]byte(auditCanon(w))))
		}
	}
}

func auditDocsInShards(docs []map[string]any, shards, inShards []int) int {
	n := 0
	for _, d := range docs {
		if slices.Contains(inShards, ShardOf(fmt.Sprint(d["id"]), shards[0])) {
			n++
		}
	}
	return n
}

// TestAuditReadPartialReportsExactlyMissingShards: issue 4 "with every
// replica of a shard stopped, Partial reports exactly that shard";
// DESIGN §5 "Policy Partial (default): answer from the shards that are
// available and report the missing ones (§8)", in the Report and to the
// Observer.
func TestAuditReadPartialReportsExactlyMissingShards(t *testing.T) {
	t.Parallel()
	docs := auditDocs(auditN, 8)
	obs := newAuditObserver()
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 2, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithObserver(obs), WithRetries(RetryPolicy{})}})
	c, srvs := f.c, f.srv
	auditLoad(t, c, "p", auditSettingsA(), docs)
	top := c.Topology()
	srvs[0].Stop()
	srvs[1].Stop()
	missing := auditShardsOnly(top, "node-0", "node-1")
	if len(missing) == 0 || len(missing) == 7 {
		t.Fatalf("bad fixture: shards only on node-0/node-1: %v", missing)
	}
	var avail []int
	for s := 0; s < 7; s++ {
		if !slices.Contains(missing, s) {
			avail = append(avail, s)
		}
	}
	want := auditDocsInShards(docs, []int{7}, avail)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		var rep Report
		res, err := c.Index("p").Search(WithReport(ctx, &rep), "", &meilisearch.SearchRequest{Limit: 1000})
		if err != nil {
			t.Fatalf("search %d under Partial: %v", i, err)
		}
		got := slices.Clone(rep.UnavailableShards)
		sort.Ints(got)
		if !slices.Equal(got, missing) {
			t.Errorf("search %d: Report.UnavailableShards %v, want exactly %v", i, got, missing)
		}
		if !rep.IsDegraded() {
			t.Errorf("search %d: report not degraded", i)
		}
		if int(res.EstimatedTotalHits) != want || len(res.Hits) != want {
			t.Errorf("search %d: %d hits (total %d), want the %d documents of shards %v", i, len(res.Hits), res.EstimatedTotalHits, want, avail)
		}
		for _, h := range res.Hits {
			var id int
			_ = json.Unmarshal(h["id"], &id)
			if sh := ShardOf(fmt.Sprint(id), 7); slices.Contains(missing, sh) {
				t.Errorf("hit %d of unavailable shard %d", id, sh)
			}
		}
	}
	obs.mu.Lock()
	calls := obs.unavailable["p"]
	obs.mu.Unlock()
	if len(calls) == 0 {
		t.Errorf("Observer.UnavailableShards never called for index p (calls: %v)", obs.unavailable)
	}
	for _, sh := range calls {
		sort.Ints(sh)
		if !slices.Equal(sh, missing) {
			t.Errorf("Observer.UnavailableShards(%v), want %v", sh, missing)
		}
	}
	// the other reads answer too, and report
	var rep Report
	rctx := WithReport(ctx, &rep)
	if _, err := c.MultiSearch(rctx, &meilisearch.MultiSearchRequest{Queries: []*meilisearch.SearchRequest{{IndexUID: "p", Query: "river"}}}); err != nil {
		t.Errorf("multi-search under Partial: %v", err)
	}
	if _, err := c.Index("p").FacetSearch(rctx, &meilisearch.FacetSearchRequest{FacetName: "genre"}); err != nil {
		t.Errorf("facet search under Partial: %v", err)
	}
	var list meilisearch.DocumentsResult
	if err := c.Index("p").GetDocuments(rctx, &meilisearch.DocumentsQuery{Limit: 1000}, &list); err != nil {
		t.Errorf("GetDocuments under Partial: %v", err)
	} else if int(list.Total) != want {
		t.Errorf("GetDocuments under Partial: total %d, want %d", list.Total, want)
	}
	got := slices.Clone(rep.UnavailableShards)
	sort.Ints(got)
	got = slices.Compact(got)
	if !slices.Equal(got, missing) {
		t.Errorf("multi/facet/documents Report.UnavailableShards %v, want %v", got, missing)
	}
}

// TestAuditReadFailFast: issue 4 "miroir.FailFast returns
// ErrShardUnavailable (miroir_shard_unavailable)"; DESIGN §5 "fail with
// miroir_shard_unavailable (HTTP 503)".
func TestAuditReadFailFast(t *testing.T) {
	t.Parallel()
	docs := auditDocs(100, 8)
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithUnavailableShardPolicy(FailFast), WithRetries(RetryPolicy{})}})
	c, srvs := f.c, f.srv
	auditLoad(t, c, "p", auditSettingsA(), docs)
	missing := auditShardsOnly(c.Topology(), "node-2")
	srvs[2].Stop()
	ctx := context.Background()
	checkErr := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s under FailFast with node-2 stopped: no error", what)
			return
		}
		if !errors.Is(err, ErrShardUnavailable) {
			t.Errorf("%s: error %v does not match ErrShardUnavailable", what, err)
		}
		var me *Error
		if !errors.As(err, &me) {
			t.Errorf("%s: error %T is not a *miroir.Error", what, err)
		} else {
			if me.Code != "miroir_shard_unavailable" {
				t.Errorf("%s: code %q", what, me.Code)
			}
			if me.Status != 503 {
				t.Errorf("%s: status %d, want 503", what, me.Status)
			}
			sh := slices.Clone(me.Shards)
			sort.Ints(sh)
			if !slices.Equal(sh, missing) {
				t.Errorf("%s: error shards %v, want %v", what, sh, missing)
			}
		}
		var mg *meilisearch.Error
		if !errors.As(err, &mg) || string(mg.APIError.Code) != "miroir_shard_unavailable" {
			t.Errorf("%s: not readable as *meilisearch.Error with code miroir_shard_unavailable: %#v", what, mg)
		}
	}
	_, err := c.Index("p").Search(ctx, "river", &meilisearch.SearchRequest{})
	checkErr("Search", err)
	_, err = c.Index("p").SearchRaw(ctx, "", &meilisearch.SearchRequest{})
	checkErr("SearchRaw", err)
	_, err = c.MultiSearch(ctx, &meilisearch.MultiSearchRequest{Queries: []*meilisearch.SearchRequest{{IndexUID: "p", Query: "x"}}})
	checkErr("MultiSearch", err)
	_, err = c.Index("p").FacetSearch(ctx, &meilisearch.FacetSearchRequest{FacetName: "genre"})
	checkErr("FacetSearch", err)
	var list meilisearch.DocumentsResult
	checkErr("GetDocuments", c.Index("p").GetDocuments(ctx, &meilisearch.DocumentsQuery{}, &list))
	// Health says the same
	_, err = c.Health(ctx)
	checkErr("Health", err)
	if c.IsHealthy() {
		t.Errorf("IsHealthy with every replica of shards %v down", missing)
	}
	// back up: reads succeed again
	if err := srvs[2].Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err = c.Index("p").Search(ctx, "river", &meilisearch.SearchRequest{})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("search after the node came back: %v", err)
	}
}

// TestAuditReadFallbackToOtherGroup: issue 4 "with one node of a group
// stopped, searches stay complete (served through fallback) and say which
// fallback was taken"; DESIGN §2 per-shard fallback to the next groups.
func TestAuditReadFallbackToOtherGroup(t *testing.T) {
	t.Parallel()
	docs := auditDocs(auditN, 12)
	_, ref := startRef(t, meilitest.WithTaskDuration(0))
	auditLoad(t, ref, "g", auditSettingsA(), docs)
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 1, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithRetries(RetryPolicy{})}})
	c, srvs := f.c, f.srv
	auditLoad(t, c, "g", auditSettingsA(), docs)
	top := c.Topology()
	var node0Shards []int
	for _, n := range top.Nodes {
		if n.ID == "node-0" {
			node0Shards = n.Shards
		}
	}
	if len(node0Shards) == 0 {
		t.Fatalf("node-0 holds no shard: %+v", top)
	}
	srvs[0].Stop()
	q := auditQuery{name: "sorted", mk: func() *meilisearch.SearchRequest {
		return &meilisearch.SearchRequest{Sort: []string{"year:desc", "id:asc"}, Limit: 40, Offset: 20, Facets: []string{"genre"}}
	}}
	want := auditReference(t, ref.Index("g"), q)
	want.plainPass(t)
	sawFallback := false
	for i := 0; i < 6; i++ {
		var rep Report
		ctx := WithReport(context.Background(), &rep)
		req := q.mk()
		raw, err := c.Index("g").SearchRaw(ctx, "", req)
		if err != nil {
			t.Fatalf("search %d with node-0 stopped: %v", i, err)
		}
		got := auditJSON(t, *raw)
		auditCompareSearch(t, fmt.Sprintf("search %d", i), q, want.plain, got, want.plainRaw, *raw, func(h map[string]any) (string, bool) { return auditID(h), true })
		if len(rep.UnavailableShards) != 0 {
			t.Errorf("search %d: unavailable shards %v with group 1 up", i, rep.UnavailableShards)
		}
		if len(rep.Fallbacks) > 0 {
			sawFallback = true
			var fs []int
			for _, f := range rep.Fallbacks {
				fs = append(fs, f.Shard)
				if f.Preferred != 0 || f.Group != 1 {
					t.Errorf("search %d: fallback %+v, want preferred group 0 served by group 1", i, f)
				}
				if r := top.Replicas(f.Shard, 1); len(r) == 0 || f.Node != r[0] {
					t.Errorf("search %d: fallback %+v, want node %v", i, f, r)
				}
			}
			sort.Ints(fs)
			if !slices.Equal(fs, node0Shards) {
				t.Errorf("search %d: fallback shards %v, want node-0's shards %v", i, fs, node0Shards)
			}
		}
	}
	if !sawFallback {
		t.Errorf("six searches with node-0 (group 0) stopped, none reported a fallback")
	}
}

// TestAuditReadHealthChecks: issue 4 "a background health check per node
// (interval and thresholds as options) plus passive marking on request
// failures, with recovery; the covering set skips unhealthy nodes; Close
// stops the checks"; DESIGN §4 health: "healthy when every shard has a
// healthy replica somewhere".
func TestAuditReadHealthChecks(t *testing.T) {
	t.Parallel()
	obs := newAuditObserver()
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 2, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithObserver(obs), WithHealthCheck(10*time.Millisecond, 2*time.Second, 2, 2)}})
	c, srvs := f.c, f.srv
	docs := auditDocs(60, 1)
	auditLoad(t, c, "h", nil, docs)
	ctx := context.Background()
	if _, err := c.Health(ctx); err != nil {
		t.Fatalf("Health with every node up: %v", err)
	}
	healthy := func(id string) bool {
		for _, n := range c.Topology().Nodes {
			if n.ID == id {
				return n.Healthy
			}
		}
		t.Fatalf("no node %s", id)
		return false
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	srvs[1].Stop()
	waitFor("node-1 marked unhealthy by the health check", func() bool { return !healthy("node-1") })
	if !c.IsHealthy() {
		t.Errorf("IsHealthy false with one of two replicas down (RF=2)")
	}
	if _, err := c.Health(ctx); err != nil {
		t.Errorf("Health with every shard still served: %v", err)
	}
	// the covering set skips the unhealthy node
	for i := 0; i < 4; i++ {
		var rep Report
		res, err := c.Index("h").Search(WithReport(ctx, &rep), "", &meilisearch.SearchRequest{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(rep.NodesContacted, "node-1") {
			t.Errorf("search %d contacted unhealthy node-1: %v", i, rep.NodesContacted)
		}
		if len(res.Hits) != len(docs) {
			t.Errorf("search %d: %d hits, want %d", i, len(res.Hits), len(docs))
		}
		if !slices.IsSorted(rep.NodesContacted) || len(rep.NodesContacted) == 0 {
			t.Errorf("search %d: NodesContacted %v not a sorted, non-empty list", i, rep.NodesContacted)
		}
	}
	srvs[2].Stop()
	waitFor("node-2 marked unhealthy", func() bool { return !healthy("node-2") })
	missing := auditShardsOnly(c.Topology(), "node-1", "node-2")
	if len(missing) > 0 {
		if c.IsHealthy() {
			t.Errorf("IsHealthy with shards %v on no healthy node", missing)
		}
		_, err := c.Health(ctx)
		var me *Error
		if !errors.As(err, &me) || me.Code != CodeShardUnavailable {
			t.Errorf("Health with shards %v unavailable: %v", missing, err)
		}
	}
	if err := srvs[1].Start(); err != nil {
		t.Fatal(err)
	}
	if err := srvs[2].Start(); err != nil {
		t.Fatal(err)
	}
	waitFor("nodes recovered", func() bool { return healthy("node-1") && healthy("node-2") })
	if !c.IsHealthy() {
		t.Errorf("IsHealthy false after recovery")
	}
	if _, err := c.Health(ctx); err != nil {
		t.Errorf("Health after recovery: %v", err)
	}
	log := obs.stateLog()
	for _, want := range []string{"node-1=false", "node-1=true", "node-2=false", "node-2=true"} {
		if !slices.Contains(log, want) {
			t.Errorf("Observer.NodeStateChanged log %v lacks %s", log, want)
		}
	}
}

// TestAuditReadPassiveMarking: without background checks, a request
// failure marks the node unhealthy (passive marking) and later reads skip
// it.
func TestAuditReadPassiveMarking(t *testing.T) {
	t.Parallel()
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 2, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithHealthCheck(0, 0, 1, 1), WithRetries(RetryPolicy{})}})
	c, srvs := f.c, f.srv
	docs := auditDocs(40, 1)
	auditLoad(t, c, "h", nil, docs)
	srvs[0].Stop()
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		res, err := c.Index("h").Search(ctx, "", &meilisearch.SearchRequest{Limit: 100})
		if err != nil {
			t.Fatalf("search %d with one replica down: %v", i, err)
		}
		if len(res.Hits) != len(docs) {
			t.Errorf("search %d: %d hits, want %d", i, len(res.Hits), len(docs))
		}
	}
	for _, n := range c.Topology().Nodes {
		if n.ID == "node-0" && n.Healthy {
			t.Errorf("node-0 still healthy after failed requests to it")
		}
	}
	var rep Report
	if _, err := c.Index("h").Search(WithReport(ctx, &rep), "", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(rep.NodesContacted, "node-0") {
		t.Errorf("search contacted node-0 after it was marked down: %v", rep.NodesContacted)
	}
}

// TestAuditReadCloseStopsChecks: "Close stops the checks"; calls after
// Close fail with ErrClosed.
func TestAuditReadCloseStopsChecks(t *testing.T) {
	srv := meilitest.RunT(t)
	var mu sync.Mutex
	probes := 0
	front := &auditCountingServer{inner: srv, count: func() { mu.Lock(); probes++; mu.Unlock() }}
	url := front.start(t)
	c, err := New([]Node{{ID: "x", URL: url}}, WithHealthCheck(5*time.Millisecond, 100*time.Millisecond, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	read := func() int { mu.Lock(); defer mu.Unlock(); return probes }
	deadline := time.Now().Add(20 * time.Second)
	for read() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no background health probes seen")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Close()
	time.Sleep(300 * time.Millisecond) // let an in-flight probe finish
	after := read()
	time.Sleep(200 * time.Millisecond)
	if n := read(); n != after {
		t.Errorf("health probes continued after Close: %d then %d", after, n)
	}
	if _, err := c.Index("x").Search(context.Background(), "a", &meilisearch.SearchRequest{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Search after Close: %v, want ErrClosed", err)
	}
	if _, err := c.Version(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Version after Close: %v, want ErrClosed", err)
	}
}

// TestAuditReadReportNodesAndFallbacksEmpty: a complete search over a
// healthy fleet reports the nodes it contacted and no degradation.
func TestAuditReadReportComplete(t *testing.T) {
	t.Parallel()
	c := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 1, shards: 7, ids: "node-", instant: true, timing: newDefaults}).c
	auditLoad(t, c, "r", nil, auditDocs(40, 2))
	if _, err := c.Index("r").Search(context.Background(), "river", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	var rep Report
	if _, err := c.Index("r").Search(WithReport(context.Background(), &rep), "river", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	if rep.IsDegraded() || len(rep.Fallbacks) != 0 || len(rep.UnavailableShards) != 0 {
		t.Errorf("healthy fleet: report fallbacks %v unavailable %v degraded %v", rep.Fallbacks, rep.UnavailableShards, rep.Degraded)
	}
	if len(rep.NodesContacted) == 0 || !slices.IsSorted(rep.NodesContacted) {
		t.Errorf("NodesContacted %v", rep.NodesContacted)
	}
	// one group serves the whole query (its nodes hold every shard)
	groups := map[int]bool{}
	for _, id := range rep.NodesContacted {
		for _, n := range c.Topology().Nodes {
			if n.ID == id {
				groups[n.Group] = true
			}
		}
	}
	if len(groups) != 1 {
		t.Errorf("healthy 2-group fleet: one search contacted groups %v, want one preferred group", groups)
	}
}

// auditCountingServer serves a meilitest node's handler on its own
// address, counting /health requests.
type auditCountingServer struct {
	inner *meilitest.Server
	count func()
}

func (a *auditCountingServer) start(t testing.TB) string {
	h := a.inner.Handler()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			a.count()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

// TestAuditReadRotation: DESIGN §2 "A per-Cluster atomic counter seq
// picks the preferred group g = seq mod RG (round-robin) and, inside g,
// rotates among each shard's RF replicas"; the Observer hears every node
// request.
func TestAuditReadRotation(t *testing.T) {
	t.Parallel()
	obs := newAuditObserver()
	c := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 1, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithObserver(obs)}}).c
	auditLoad(t, c, "r", nil, auditDocs(30, 2))
	c3 := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 3, shards: 7, ids: "node-", instant: true, timing: newDefaults}).c
	auditLoad(t, c3, "r", nil, auditDocs(30, 2))
	ctx := context.Background()
	groupOf := func(top Topology, id string) int {
		for _, n := range top.Nodes {
			if n.ID == id {
				return n.Group
			}
		}
		return -1
	}
	top := c.Topology()
	used := map[int]int{}
	for i := 0; i < 6; i++ {
		var rep Report
		if _, err := c.Index("r").Search(WithReport(ctx, &rep), "river", &meilisearch.SearchRequest{}); err != nil {
			t.Fatal(err)
		}
		gs := map[int]bool{}
		for _, id := range rep.NodesContacted {
			gs[groupOf(top, id)] = true
		}
		for g := range gs {
			used[g]++
		}
		obs.mu.Lock()
		for _, id := range rep.NodesContacted {
			if obs.requests[id] == 0 {
				t.Errorf("Observer.NodeRequest never called for contacted node %s", id)
			}
		}
		obs.mu.Unlock()
	}
	if used[0] == 0 || used[1] == 0 {
		t.Errorf("six searches on a 2-group fleet used groups %v, want both (round-robin)", used)
	}
	nodes := map[string]int{}
	for i := 0; i < 9; i++ {
		var rep Report
		if _, err := c3.Index("r").Search(WithReport(ctx, &rep), "river", &meilisearch.SearchRequest{}); err != nil {
			t.Fatal(err)
		}
		for _, id := range rep.NodesContacted {
			nodes[id]++
		}
	}
	if len(nodes) != 3 {
		t.Errorf("nine searches on RF=3 over 3 nodes contacted %v, want every replica in turn", nodes)
	}
}
