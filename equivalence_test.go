package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
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

func TestEquivalenceMultiSearch(t *testing.T) {
	docs := genDocs(1200, 9)
	oracle, _ := startRef(t)
	loadNode(t, oracle.URL(), "items", testSettings(false), docs)
	loadNode(t, oracle.URL(), "ranked", testSettings(true), docs)
	waitIdle(t, oracle)
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 3), rf: 2, shards: 7, timing: noProbes})
	f.load(t, "items", testSettings(false), docs)
	f.load(t, "ranked", testSettings(true), docs)
	ctx := context.Background()

	plain := map[string]any{"queries": []any{
		map[string]any{"indexUid": "items", "q": "river", "limit": 7, "showRankingScore": true, "facets": []string{"color"}},
		map[string]any{"indexUid": "ranked", "q": "7 mountain", "offset": 3, "limit": 5, "showRankingScore": true, "showRankingScoreDetails": true},
		map[string]any{"indexUid": "items", "q": "", "sort": []string{"price:desc"}, "page": 2, "hitsPerPage": 4, "showRankingScore": true, "showRankingScoreDetails": true},
	}}
	want := postJSON(t, oracle.URL()+"/multi-search", plain)
	b, _ := json.Marshal(plain)
	out, err := f.c.multiSearchBody(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeUseNumber(t, out)
	wr, gr := want["results"].([]any), got["results"].([]any)
	if len(wr) != len(gr) {
		t.Fatalf("results: got %d want %d", len(gr), len(wr))
	}
	for i := range wr {
		w, g := wr[i].(map[string]any), gr[i].(map[string]any)
		if w["indexUid"] != g["indexUid"] {
			t.Errorf("result %d: indexUid %v want %v", i, g["indexUid"], w["indexUid"])
		}
		q := plain["queries"].([]any)[i].(map[string]any)
		compareAnswers(t, fmt.Sprint("multi ", i), q, w, g, nil, nil)
	}

	fed := map[string]any{
		"federation": map[string]any{"offset": 2, "limit": 12, "facetsByIndex": map[string]any{"items": []string{"category", "year"}, "ranked": []string{"color"}}},
		"queries": []any{
			map[string]any{"indexUid": "items", "q": "river", "filter": "year <= 2000", "showRankingScore": true},
			map[string]any{"indexUid": "ranked", "q": "castle", "filter": "rating = 5", "federationOptions": map[string]any{"weight": 1.3}},
			map[string]any{"indexUid": "items", "q": "golden", "filter": "year > 2000", "federationOptions": map[string]any{"weight": 0.7}},
			map[string]any{"indexUid": "ranked", "q": "tiger", "filter": "rating = 4", "federationOptions": map[string]any{"weight": 0.9}},
		},
	}
	want = postJSON(t, oracle.URL()+"/multi-search", fed)
	b, _ = json.Marshal(fed)
	out, err = f.c.multiSearchBody(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	got = decodeUseNumber(t, out)
	for _, k := range []string{"estimatedTotalHits", "limit", "offset", "facetsByIndex"} {
		if !reflect.DeepEqual(want[k], got[k]) {
			t.Errorf("federated %s: got %v want %v", k, got[k], want[k])
		}
	}
	wh, gh := want["hits"].([]any), got["hits"].([]any)
	if len(wh) != len(gh) {
		t.Fatalf("federated hits: got %d want %d", len(gh), len(wh))
	}
	for i := range wh {
		w, g := wh[i].(map[string]any), gh[i].(map[string]any)
		if fedKey(w) != fedKey(g) {
			t.Errorf("federated hit %d: %s want %s", i, fedKey(g), fedKey(w))
		}
		if _, leak := g[shardField]; leak {
			t.Errorf("federated hit %d leaks the shard field", i)
		}
	}

	// the typed face
	resp, err := f.c.MultiSearch(ctx, &meilisearch.MultiSearchRequest{Queries: []*meilisearch.SearchRequest{
		{IndexUID: "items", Query: "river", Limit: 3},
		{IndexUID: "ranked", Query: "castle", Limit: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 2 || resp.Results[0].IndexUID != "items" || len(resp.Results[0].Hits) != 3 || len(resp.Results[1].Hits) != 2 {
		t.Fatalf("typed multi-search: %+v", resp)
	}
	fresp, err := f.c.MultiSearch(ctx, &meilisearch.MultiSearchRequest{
		Federation: &meilisearch.MultiSearchFederation{Limit: 5},
		Queries: []*meilisearch.SearchRequest{
			{IndexUID: "items", Query: "river"},
			{IndexUID: "ranked", Query: "castle", FederationOptions: &meilisearch.SearchFederationOptions{Weight: 2}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fresp.Hits) != 5 || fresp.EstimatedTotalHits == 0 {
		t.Fatalf("typed federated: %+v", fresp)
	}
}
