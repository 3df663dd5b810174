package meilitest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// vectorIndex holds documents with user-provided vectors for embedder "m"
// (2 dimensions); doc 6 has none.
func vectorIndex(t *testing.T) *Server {
	t.Helper()
	srv, c := newClient(t)
	ix := c.Index("v")
	task, err := ix.UpdateSettings(context.Background(), &meilisearch.Settings{
		Embedders: map[string]meilisearch.Embedder{"m": {Source: "userProvided", Dimensions: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, c, task.TaskUID)
	docs := []map[string]any{
		{"id": 1, "title": "red apple", "_vectors": map[string]any{"m": []float64{1, 0}}},
		{"id": 2, "title": "green apple", "_vectors": map[string]any{"m": map[string]any{"embeddings": [][]float64{{0.8, 0.6}}, "regenerate": false}}},
		{"id": 3, "title": "red car", "_vectors": map[string]any{"m": []float64{0, 1}}},
		{"id": 4, "title": "blue car", "_vectors": map[string]any{"m": []float64{-1, 0}}},
		{"id": 5, "title": "apple pie", "_vectors": map[string]any{"m": []float64{0.6, 0.8}, "other": []int{7}}},
		{"id": 6, "title": "plain"},
	}
	task, err = ix.AddDocuments(context.Background(), docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, c, task.TaskUID)
	return srv
}

func searchV(t *testing.T, srv *Server, body string) map[string]any {
	t.Helper()
	status, b := rawRequest(t, srv, "POST", "/indexes/v/search", "", body)
	if status != 200 {
		t.Fatalf("%s: %d %s", body, status, b)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func vIDs(out map[string]any) string {
	var ids []string
	for _, h := range out["hits"].([]any) {
		ids = append(ids, fmt.Sprint(h.(map[string]any)["id"]))
	}
	return strings.Join(ids, ",")
}

func vScore(h any) float64 {
	f, _ := h.(map[string]any)["_rankingScore"].(json.Number).Float64()
	return f
}

// semantic search ranks by 1 - arroy's cosine distance, (1 + cos) / 2 in
// f32; documents without a vector come last with a null similarity.
func TestSemanticSearch(t *testing.T) {
	srv := vectorIndex(t)
	out := searchV(t, srv, `{"vector":[1,0],"hybrid":{"embedder":"m","semanticRatio":1},"showRankingScore":true,"showRankingScoreDetails":true}`)
	if got := vIDs(out); got != "1,2,5,3,4,6" {
		t.Fatalf("order %s", got)
	}
	for i, want := range []float64{1, 0.9, 0.8, 0.5, 0, 0} {
		h := out["hits"].([]any)[i]
		if got := vScore(h); math.Abs(got-float64(float32(want))) > 1e-7 {
			t.Errorf("hit %d: _rankingScore %v want %v", i, got, want)
		}
	}
	last := out["hits"].([]any)[5].(map[string]any)
	if d, _ := json.Marshal(last["_rankingScoreDetails"]); string(d) != `{"vectorSort":{"order":0,"similarity":null}}` {
		t.Errorf("details without a vector: %s", d)
	}
	if fmt.Sprint(out["semanticHitCount"]) != "6" || fmt.Sprint(out["estimatedTotalHits"]) != "6" {
		t.Errorf("semanticHitCount %v estimatedTotalHits %v", out["semanticHitCount"], out["estimatedTotalHits"])
	}
	// no q with a vector is semantic search too, whatever the ratio
	if got := vIDs(searchV(t, srv, `{"vector":[1,0],"hybrid":{"embedder":"m","semanticRatio":0.3},"limit":3}`)); got != "1,2,5" {
		t.Errorf("no q: %s", got)
	}
	status, b := rawRequest(t, srv, "POST", "/indexes/v/search", "", `{"vector":[1,0,0],"hybrid":{"embedder":"m","semanticRatio":1}}`)
	if status != 400 || !strings.Contains(string(b), `"invalid_vector_dimensions"`) || !strings.Contains(string(b), "expected: `2`, found: `3`") {
		t.Errorf("wrong dimensions: %d %s", status, b)
	}
}

// A hybrid search merges the keyword and vector lists by score weighted
// with 1-semanticRatio and semanticRatio; its keyword part answers alone
// when it is good enough; semanticRatio 0 is a keyword search without
// semanticHitCount.
func TestHybridSearchBlend(t *testing.T) {
	srv := vectorIndex(t)
	keyword := searchV(t, srv, `{"q":"car","showRankingScore":true}`)
	kscore := map[string]float64{}
	for _, h := range keyword["hits"].([]any) {
		kscore[fmt.Sprint(h.(map[string]any)["id"])] = vScore(h)
	}
	sims := map[string]float64{"1": 1, "2": 0.9, "5": 0.8, "3": 0.5, "4": 0, "6": 0}
	for _, ratio := range []float64{0.3, 0.5, 0.8} {
		// each document at its best weighted score, best first, vector hits
		// first on ties
		type cand struct {
			id       string
			w        float64
			semantic bool
		}
		best := map[string]cand{}
		for id, s := range sims {
			best[id] = cand{id, float64(float32(s)) * ratio, true}
		}
		for id, s := range kscore {
			if w := s * (1 - ratio); w > best[id].w+1e-12 {
				best[id] = cand{id, w, false}
			}
		}
		var all []cand
		for _, c := range best {
			all = append(all, c)
		}
		sort.Slice(all, func(i, j int) bool {
			if all[i].w != all[j].w {
				return all[i].w > all[j].w
			}
			return all[i].id < all[j].id
		})
		var want []string
		semantic := 0
		for _, c := range all {
			want = append(want, c.id)
			if c.semantic {
				semantic++
			}
		}
		out := searchV(t, srv, fmt.Sprintf(`{"q":"car","vector":[1,0],"hybrid":{"embedder":"m","semanticRatio":%v},"showRankingScore":true}`, ratio))
		if got := vIDs(out); got != strings.Join(want, ",") {
			t.Errorf("ratio %v: order %s want %s", ratio, got, strings.Join(want, ","))
		}
		if fmt.Sprint(out["semanticHitCount"]) != fmt.Sprint(semantic) {
			t.Errorf("ratio %v: semanticHitCount %v want %d", ratio, out["semanticHitCount"], semantic)
		}
	}
	// two "apple" hits suffice for limit 2 and score well: keyword only
	out := searchV(t, srv, `{"q":"apple","vector":[0,1],"hybrid":{"embedder":"m","semanticRatio":0.2},"limit":2}`)
	if fmt.Sprint(out["semanticHitCount"]) != "0" || fmt.Sprint(out["estimatedTotalHits"]) != "3" || vIDs(out) != vIDs(searchV(t, srv, `{"q":"apple","limit":2}`)) {
		t.Errorf("good enough keyword part: %v", out)
	}
	// limit 5 needs more than the 3 keyword hits: the vector part joins
	out = searchV(t, srv, `{"q":"apple","vector":[0,1],"hybrid":{"embedder":"m","semanticRatio":0.2},"limit":5}`)
	if fmt.Sprint(out["semanticHitCount"]) == "0" || fmt.Sprint(out["estimatedTotalHits"]) != "6" {
		t.Errorf("hybrid: %v", out)
	}
	out = searchV(t, srv, `{"q":"car","vector":[1,0],"hybrid":{"embedder":"m","semanticRatio":0}}`)
	if _, ok := out["semanticHitCount"]; ok || vIDs(out) != "3,4" {
		t.Errorf("semanticRatio 0: %v", out)
	}
}

// retrieveVectors returns every hit's _vectors: each embedder's
// embeddings as f32 arrays of arrays with regenerate, other entries as
// the document has them, {} without any; never without retrieveVectors.
func TestRetrieveVectors(t *testing.T) {
	srv := vectorIndex(t)
	out := searchV(t, srv, `{"q":"apple pie","retrieveVectors":true,"attributesToRetrieve":["id"],"limit":1}`)
	h := out["hits"].([]any)[0].(map[string]any)
	got, _ := json.Marshal(h["_vectors"])
	if string(got) != `{"m":{"embeddings":[[0.6,0.8]],"regenerate":false},"other":[7]}` || h["title"] != nil {
		t.Errorf("search _vectors %s (%v)", got, h)
	}
	out = searchV(t, srv, `{"q":"plain","retrieveVectors":true}`)
	if got, _ := json.Marshal(out["hits"].([]any)[0].(map[string]any)["_vectors"]); string(got) != `{}` {
		t.Errorf("no vectors: %s", got)
	}
	out = searchV(t, srv, `{"q":"apple pie"}`)
	if _, ok := out["hits"].([]any)[0].(map[string]any)["_vectors"]; ok {
		t.Errorf("_vectors without retrieveVectors: %v", out)
	}
	status, b := rawRequest(t, srv, "GET", "/indexes/v/documents/2?retrieveVectors=true&fields=id", "", "")
	if status != 200 || strings.TrimSpace(string(b)) != `{"_vectors":{"m":{"embeddings":[[0.8,0.6]],"regenerate":false}},"id":2}` {
		t.Errorf("document: %d %s", status, b)
	}
	status, b = rawRequest(t, srv, "GET", "/indexes/v/documents/2", "", "")
	if status != 200 || strings.Contains(string(b), "_vectors") {
		t.Errorf("document without retrieveVectors: %d %s", status, b)
	}
}

// An embedder's settings come back with its source's defaults, fields in
// Meilisearch's order.
func TestEmbedderDefaults(t *testing.T) {
	srv, c := newClient(t)
	task, err := c.Index("e").UpdateSettings(context.Background(), &meilisearch.Settings{Embedders: map[string]meilisearch.Embedder{
		"hf": {Source: "huggingFace"}, "hf2": {Source: "huggingFace", Model: "sentence-transformers/all-MiniLM-L6-v2"},
		"manual": {Source: "userProvided", Dimensions: 3}, "oa": {Source: "openAi", APIKey: "sk-0123456789abcdefghij"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, c, task.TaskUID)
	status, b := rawRequest(t, srv, "GET", "/indexes/e/settings/embedders", "", "")
	if status != 200 {
		t.Fatalf("%d %s", status, b)
	}
	tmpl, _ := json.Marshal(defaultDocumentTemplate)
	// a rest embedder rendering fragments has no document template
	status, b = rawRequest(t, srv, "PATCH", "/indexes/e/settings", "", `{"embedders":{"frag":{"source":"rest","url":"http://x","dimensions":2,"request":{"input":"{{fragment}}"},"response":{"e":"{{embedding}}"},"indexingFragments":{"t":{"value":"{{doc.title}}"}},"searchFragments":{"t":{"value":"{{q}}"}}}}}`)
	var ft struct {
		TaskUID int64 `json:"taskUid"`
	}
	_ = json.Unmarshal(b, &ft)
	waitTask(t, c, ft.TaskUID)
	status, b = rawRequest(t, srv, "GET", "/indexes/e/settings/embedders", "", "")
	if status != 200 || !strings.Contains(string(b), `"frag":{"source":"rest","dimensions":2,"url":"http://x","indexingFragments"`) {
		t.Errorf("fragments: %d %s", status, b)
	}
	for _, want := range []string{
		`"hf":{"source":"huggingFace","model":"BAAI/bge-base-en-v1.5","revision":"617ca489d9e86b49b8167676d8220688b99db36e","pooling":"useModel","documentTemplate":` + string(tmpl) + `,"documentTemplateMaxBytes":400}`,
		`"hf2":{"source":"huggingFace","model":"sentence-transformers/all-MiniLM-L6-v2","pooling":"useModel","documentTemplate":` + string(tmpl) + `,"documentTemplateMaxBytes":400}`,
		`"manual":{"source":"userProvided","dimensions":3}`,
		`"oa":{"source":"openAi","model":"text-embedding-3-small","apiKey":"sk-XXXXX...","documentTemplate":` + string(tmpl) + `,"documentTemplateMaxBytes":400}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("missing %s\nin %s", want, b)
		}
	}
}
