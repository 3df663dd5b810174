package miroir

// Merged answers (merge.go: parsing, planning, merging, rendering): over
// many topologies and shard counts, the fleet's answer to each query is the
// reference node's.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// Equivalence: a cluster answers every query hit for hit like one node
// holding every document (DESIGN §5). The same generated documents go into
// one meilitest node and into fleets of RG×RF in {1×1, 1×3, 2×2, 3×1}
// (with more nodes per group than RF, so nodes hold some shards but not
// all) and S in {1, 7, 64}; a generated query set runs on both.
//
// -short runs S=7 only; MIROIR_EQUIV=full runs every query on every
// fleet (the default runs every query on S=7, and a sample of them on the
// 1x3 and 2x2 fleets with S=1 and S=64).

type equivFleet struct {
	name string
	rg   int
	npg  int // nodes per group
	rf   int
}

var equivFleets = []equivFleet{
	{"1x1", 1, 3, 1},
	{"1x3", 1, 4, 3},
	{"2x2", 2, 3, 2},
	{"3x1", 3, 2, 1},
}

// equivQueries is the generated query set: request bodies for
// /indexes/{uid}/search.
func equivQueries() []map[string]any {
	qs := []string{"", "river", "mountain river", "seven", "7", "2024", "42 apple", "rivr", "mountian", "docu", "gal", "silver tiger 1999", "castle", "12", "3", "orange"}
	filters := []any{nil, "year > 2010", "category = books OR category = music", []any{[]any{"category = games", "category = toys"}, "rating >= 3"}, "tags = sale", "price 100 TO 500"}
	sorts := [][]string{nil, {"price:asc"}, {"year:desc", "price:asc"}, {"sku:asc"}, {"sku:desc"}, {"title:asc"}}
	var out []map[string]any
	add := func(m map[string]any) { out = append(out, m) }
	for i, q := range qs {
		m := map[string]any{"q": q}
		if f := filters[i%len(filters)]; f != nil {
			m["filter"] = f
		}
		if i%3 == 0 {
			m["facets"] = []string{"category", "year", "tags", "color"}
		}
		add(m)
		s := map[string]any{"q": q, "sort": sorts[1+i%(len(sorts)-1)], "limit": 15}
		if i%2 == 1 {
			s["offset"] = 10
		}
		add(s)
	}
	// pagination modes and deep offsets
	add(map[string]any{"q": "", "offset": 300, "limit": 40})
	add(map[string]any{"q": "", "offset": 990, "limit": 20, "sort": []string{"year:desc"}})
	add(map[string]any{"q": "", "page": 50, "hitsPerPage": 21})
	add(map[string]any{"q": "river", "offset": 45, "limit": 10})
	add(map[string]any{"q": "", "page": 3, "hitsPerPage": 7, "sort": []string{"year:asc"}})
	add(map[string]any{"q": "mountain", "page": 2, "hitsPerPage": 25})
	add(map[string]any{"q": "apple", "page": 1, "hitsPerPage": 5, "facets": []string{"category"}})
	add(map[string]any{"q": "", "page": 40, "hitsPerPage": 20, "sort": []string{"price:desc"}})
	add(map[string]any{"q": "", "limit": 0, "facets": []string{"*"}})
	// distinct
	add(map[string]any{"q": "river", "distinct": "brand", "limit": 30})
	add(map[string]any{"q": "", "distinct": "brand", "sort": []string{"price:asc"}, "offset": 20, "limit": 30})
	add(map[string]any{"q": "golden", "distinct": "color"})
	// attributes, highlight, crop
	add(map[string]any{"q": "river castle", "attributesToRetrieve": []string{"title", "year"}, "attributesToHighlight": []string{"title"}})
	add(map[string]any{"q": "mountain", "attributesToCrop": []string{"desc"}, "cropLength": 5, "attributesToHighlight": []string{"*"}})
	add(map[string]any{"q": "7", "attributesToRetrieve": []string{"title"}, "distinct": "brand", "showMatchesPosition": true})
	add(map[string]any{"q": "2024 river", "attributesToSearchOn": []string{"title"}})
	add(map[string]any{"q": "seven", "matchingStrategy": "all", "facets": []string{"rating"}})
	add(map[string]any{"q": "river", "rankingScoreThreshold": 0.5})
	// geo
	add(map[string]any{"q": "", "sort": []string{"_geoPoint(50, 5):asc"}, "limit": 25, "offset": 5})
	add(map[string]any{"q": "mountain", "sort": []string{"_geoPoint(46.5, 1.2):desc", "year:asc"}, "filter": "_geoRadius(50, 5, 400000)"})
	return out
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

func auditRefs(t testing.TB, ref auditSearcher, qs []auditQuery) []*auditRef {
	out := make([]*auditRef, len(qs))
	for i, q := range qs {
		out[i] = auditReference(t, ref, q)
	}
	return out
}

func TestEquivalence(t *testing.T) {
	ndocs := 2000
	shardCounts := []int{1, 7, 64}
	if testing.Short() {
		shardCounts = []int{7}
	}
	full := os.Getenv("MIROIR_EQUIV") == "full"
	docs := genDocs(ndocs, 42)
	oracle, _ := startRef(t)
	loadNode(t, oracle.URL(), "items", testSettings(false), docs)
	loadNode(t, oracle.URL(), "ranked", testSettings(true), docs)
	waitIdle(t, oracle)
	queries := equivQueries()
	ctx := context.Background()
	type prepared struct {
		body      map[string]any
		want      map[string]any
		full      map[string]map[string]any
		index     string
		sortLabel string
	}
	var preps []prepared
	start := time.Now()
	for _, idx := range []string{"items", "ranked"} {
		for qi, q := range queries {
			if idx == "ranked" && qi%2 == 1 {
				continue
			}
			body := cloneBody(q)
			body["showRankingScore"] = true
			if ar, ok := body["attributesToRetrieve"].([]string); ok {
				ar = append([]string{"id"}, ar...)
				if d, ok := body["distinct"].(string); ok {
					ar = append(ar, d)
				}
				body["attributesToRetrieve"] = ar
			}
			if _, sorted := body["sort"]; sorted || idx == "ranked" {
				body["showRankingScoreDetails"] = true
			}
			url := oracle.URL() + "/indexes/" + idx + "/search"
			preps = append(preps, prepared{body: body, want: postJSON(t, url, body), full: oracleFullHits(t, url, body), index: idx})
		}
	}
	t.Logf("%d queries on the oracle in %v", len(preps), time.Since(start))
	for _, s := range shardCounts {
		for _, fl := range equivFleets {
			if !full && s != 7 && (fl.name == "1x1" || fl.name == "3x1") {
				continue
			}
			name := fmt.Sprintf("%s/S%d", fl.name, s)
			t.Run(name, func(t *testing.T) {
				t.Parallel() // own fleet; preps and the oracle are only read
				start := time.Now()
				f := startFleet(t, fleetSpec{groups: groupsOf(fl.rg, fl.npg), rf: fl.rf, shards: s, timing: noProbes})
				f.load(t, "items", testSettings(false), docs)
				f.load(t, "ranked", testSettings(true), docs)
				loaded := time.Since(start)
				n := 0
				for pi, p := range preps {
					if !full && s != 7 && pi%8 != 0 {
						continue
					}
					b, _ := json.Marshal(p.body)
					out, err := f.c.searchBody(ctx, p.index, b)
					if err != nil {
						t.Fatalf("%s %s: %v", p.index, b, err)
					}
					lookup := func(id string) map[string]any {
						return oracleHit(t, oracle.URL()+"/indexes/"+p.index+"/search", p.body, id)
					}
					compareAnswers(t, p.index, p.body, p.want, decodeUseNumber(t, out), p.full, lookup)
					n++
				}
				t.Logf("%d queries; load %v, total %v", n, loaded, time.Since(start))
			})
		}
	}
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

func TestCombineFilter(t *testing.T) {
	for _, tc := range []struct{ user, shard, want string }{
		{"", "", ""},
		{"", "_miroir_shard IN [1]", `"_miroir_shard IN [1]"`},
		{`null`, "_miroir_shard IN [1]", `"_miroir_shard IN [1]"`},
		{`"a = 1"`, "", `"a = 1"`},
		{`"a = 1 OR b = 2"`, "_miroir_shard IN [1,2]", `"(a = 1 OR b = 2) AND _miroir_shard IN [1,2]"`},
		{`["a = 1", ["b = 2", "c = 3"]]`, "_miroir_shard IN [3]", `["a = 1", ["b = 2", "c = 3"],"_miroir_shard IN [3]"]`},
		{`[]`, "_miroir_shard IN [3]", `["_miroir_shard IN [3]"]`},
	} {
		if got := string(combineFilter([]byte(tc.user), tc.shard)); got != tc.want {
			t.Errorf("combineFilter(%s, %q) = %s, want %s", tc.user, tc.shard, got, tc.want)
		}
	}
}
