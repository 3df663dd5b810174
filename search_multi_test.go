package miroir

// Multi-search, federated or not (search_multi.go), compared with one
// node.

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

func auditMultiJSON(t testing.TB, r *meilisearch.MultiSearchResponse) map[string]any {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return auditJSON(t, b)
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
