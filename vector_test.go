package miroir

// Vector and hybrid search (search.go, merge.go): the fleet's answer equals
// one node's, with the per-node window widened by WithOverFetch.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// Vector and hybrid search on real vector ranking: an index with a
// userProvided embedder whose documents carry vectors (some none), hybrid
// searches with semanticRatio 0, 0.5 and 1 answered by one meilitest node
// and by clusters of 1×3 and 2×2, with and without over-fetch: the same
// hits in the same order, the same scores, totals and semanticHitCount.

// vectorDocs are genDocs with a 4-dimension vector for embedder "emb"
// on all but every 13th document.
func vectorDocs(n int) []testDoc {
	docs := genDocs(n, 17)
	r := rand.New(rand.NewPCG(5, 6))
	for i, d := range docs {
		if i%13 != 0 {
			d["_vectors"] = map[string]any{"emb": []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}}
		}
	}
	return docs
}

func vectorSettings() *meilisearch.Settings {
	st := testSettings(false)
	st.Embedders = map[string]meilisearch.Embedder{"emb": {Source: "userProvided", Dimensions: 4}}
	return st
}

// vectorQueries are the hybrid searches of the test.
func vectorQueries() []map[string]any {
	vecs := [][]float64{{0.3, -1.2, 0.8, 0.1}, {-0.5, 0.2, 0.1, 1.4}}
	var out []map[string]any
	for _, ratio := range []float64{0, 0.5, 1} {
		for i, q := range []string{"river", "mountain castle", "seven 7"} {
			body := map[string]any{
				"q": q, "vector": vecs[i%len(vecs)], "hybrid": map[string]any{"embedder": "emb", "semanticRatio": ratio},
				"showRankingScore": true, "limit": 10, "offset": 5 * (i % 2),
			}
			if i == 2 {
				body["filter"] = "year > 2000"
				body["facets"] = []string{"category"}
			}
			out = append(out, body)
		}
	}
	// the keyword part is good enough: a node answers with it alone
	out = append(out, map[string]any{"q": "river", "vector": vecs[0], "hybrid": map[string]any{"embedder": "emb", "semanticRatio": 0.2}, "showRankingScore": true, "limit": 5})
	return out
}

func TestVectorSearchEquivalence(t *testing.T) {
	docs := vectorDocs(400)
	oracle, _ := startRef(t)
	loadNode(t, oracle.URL(), "vec", vectorSettings(), docs)
	waitIdle(t, oracle)
	queries := vectorQueries()
	wants := make([]map[string]any, len(queries))
	fellBack := false
	for i, body := range queries {
		wants[i] = postJSON(t, oracle.URL()+"/indexes/vec/search", body)
		ratio := body["hybrid"].(map[string]any)["semanticRatio"].(float64)
		_, has := wants[i]["semanticHitCount"]
		if (ratio == 0) == has {
			t.Fatalf("oracle %v: semanticHitCount %v", body, wants[i]["semanticHitCount"])
		}
		fellBack = fellBack || (ratio > 0 && ratio < 1 && fmt.Sprint(wants[i]["semanticHitCount"]) == "0")
		if ratio == 1 && fmt.Sprint(wants[i]["semanticHitCount"]) != fmt.Sprint(len(wants[i]["hits"].([]any))) {
			t.Fatalf("oracle %v: semantic only, semanticHitCount %v", body, wants[i]["semanticHitCount"])
		}
	}
	if !fellBack {
		t.Fatal("no query exercises a keyword part good enough to answer alone")
	}
	ctx := context.Background()
	for _, fl := range []equivFleet{{"1x3", 1, 4, 3}, {"2x2", 2, 3, 2}} {
		for _, of := range []float64{1, 3} {
			t.Run(fmt.Sprintf("%s/overfetch%v", fl.name, of), func(t *testing.T) {
				f := startFleet(t, fleetSpec{groups: groupsOf(fl.rg, fl.npg), rf: fl.rf, shards: 7, timing: noProbes, opts: []Option{WithOverFetch(of)}})
				f.load(t, "vec", vectorSettings(), docs)
				for i, body := range queries {
					b, _ := json.Marshal(body)
					out, err := f.c.searchBody(ctx, "vec", b)
					if err != nil {
						t.Fatalf("%s: %v", b, err)
					}
					got := decodeUseNumber(t, out)
					label := fmt.Sprintf("overfetch %v", of)
					compareAnswers(t, label, body, wants[i], got, nil, nil)
					if fmt.Sprint(got["semanticHitCount"]) != fmt.Sprint(wants[i]["semanticHitCount"]) {
						t.Errorf("%s %s: semanticHitCount %v want %v", label, b, got["semanticHitCount"], wants[i]["semanticHitCount"])
					}
					// vector similarities do not tie: the order is exactly one node's
					if body["hybrid"].(map[string]any)["semanticRatio"] == 1.0 {
						if g, w := vectorHitIDs(got), vectorHitIDs(wants[i]); g != w {
							t.Errorf("%s %s: order %s want %s", label, b, g, w)
						}
					}
				}
			})
		}
	}
}

func vectorHitIDs(m map[string]any) string {
	var ids []string
	for _, h := range m["hits"].([]any) {
		ids = append(ids, hitID(h.(map[string]any)))
	}
	return strings.Join(ids, ",")
}

// The over-fetch option multiplies the per-node window of vector and
// hybrid searches only, and never the keyword part a hybrid search asks
// for first.
func TestOverFetchWindow(t *testing.T) {
	for _, c := range []struct {
		body   string
		window int
	}{
		{`{"q":"river","limit":10,"offset":5}`, 15},
		{`{"q":"river","vector":[1,0],"hybrid":{"embedder":"e","semanticRatio":0.5},"limit":10,"offset":5}`, 38},
		{`{"vector":[1,0],"hybrid":{"embedder":"e","semanticRatio":1},"limit":7}`, int(math.Ceil(7 * 2.5))},
	} {
		q, err := parseSearchQuery([]byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		p := newSearchPlan(q, mergeSettings{maxTotalHits: 1000}, func() []string { return nil }, 2.5, "")
		if p.nodeWindow != c.window {
			t.Errorf("%s: node window %d want %d", c.body, p.nodeWindow, c.window)
		}
		if q.hybridKind() {
			kp := newSearchPlan(q.keywordPart(), mergeSettings{maxTotalHits: 1000}, func() []string { return nil }, 1, "")
			if kp.nodeWindow != 15 || !strings.Contains(string(kp.body(0, kp.nodeWindow, false, "")), `"semanticRatio":0.0`) {
				t.Errorf("%s: keyword part %d %s", c.body, kp.nodeWindow, kp.body(0, kp.nodeWindow, false, ""))
			}
		}
	}
}

func TestHybridSearch(t *testing.T) {
	docs := genDocs(300, 41)
	r := rand.New(rand.NewPCG(3, 4))
	for _, d := range docs {
		if r.IntN(10) != 0 {
			d["_vectors"] = map[string]any{"default": []float64{r.Float64(), r.Float64(), r.Float64()}}
		}
	}
	st := testSettings(false)
	st.Embedders = map[string]meilisearch.Embedder{"default": {Source: "userProvided", Dimensions: 3}}
	oracle, _ := startRef(t)
	loadNode(t, oracle.URL(), "items", st, docs)
	waitIdle(t, oracle)
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 7, timing: noProbes, opts: []Option{WithOverFetch(2)}})
	f.load(t, "items", st, docs)
	ctx := context.Background()
	for _, ratio := range []float64{0, 0.3, 0.5, 1} {
		for _, q := range []string{"river", "", "7 castle"} {
			body := map[string]any{"q": q, "vector": []float64{0.2, 0.9, 0.4}, "hybrid": map[string]any{"embedder": "default", "semanticRatio": ratio}, "limit": 12, "offset": 3, "showRankingScore": true}
			want := postJSON(t, oracle.URL()+"/indexes/items/search", body)
			b, _ := json.Marshal(body)
			out, err := f.c.searchBody(ctx, "items", b)
			if err != nil {
				t.Fatal(err)
			}
			got := decodeUseNumber(t, out)
			compareAnswers(t, fmt.Sprint("hybrid ", ratio), body, want, got, nil, nil)
			if fmt.Sprint(got["semanticHitCount"]) != fmt.Sprint(want["semanticHitCount"]) {
				t.Errorf("ratio %v q %q: semanticHitCount %v want %v", ratio, q, got["semanticHitCount"], want["semanticHitCount"])
			}
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
