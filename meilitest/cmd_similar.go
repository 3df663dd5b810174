package meilitest

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"
)

// handleSimilar is GET and POST /indexes/{uid}/similar: the documents
// ranked by the similarity of their embeddings to the given document's
// (the best pair when either has several).
func (s *Server) handleSimilar(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var body map[string]any
	if r.Method == http.MethodGet {
		body = searchParamsFromQuery(r.URL.Query())
	} else if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	m, e := (vctx{code: "bad_request"}).object(body, []string{"id", "embedder", "offset", "limit", "filter", "attributesToRetrieve", "showRankingScore", "showRankingScoreDetails", "showPerformanceDetails", "rankingScoreThreshold", "retrieveVectors"})
	if e != nil {
		writeError(w, e)
		return
	}
	idV, ok := m["id"]
	if !ok || idV == nil {
		writeError(w, newError("invalid_similar_id", "Missing field `id`"))
		return
	}
	var id string
	switch x := idV.(type) {
	case string:
		id = x
	case json.Number:
		id = x.String()
	default:
		writeError(w, (vctx{"invalid_similar_id", ".id"}).typeErr("a string or an integer", idV))
		return
	}
	embV, ok := m["embedder"]
	if !ok || embV == nil {
		writeError(w, newError("invalid_similar_embedder", "Missing field `embedder`"))
		return
	}
	embedder, e := (vctx{"invalid_similar_embedder", ".embedder"}).str(embV)
	if e != nil {
		writeError(w, e)
		return
	}
	inner := map[string]any{}
	for _, k := range []string{"offset", "limit", "filter", "attributesToRetrieve", "showRankingScore", "showRankingScoreDetails", "showPerformanceDetails", "rankingScoreThreshold", "retrieveVectors"} {
		if v, ok := m[k]; ok {
			inner[k] = v
		}
	}
	p, e := parseSearchParams(inner, false)
	if e != nil {
		e.Code = strings.Replace(e.Code, "invalid_search_", "invalid_similar_", 1)
		writeError(w, e)
		return
	}
	p.filter = withTokenFilter(r, r.PathValue("uid"), p.filter)
	s.mu.RLock()
	defer s.mu.RUnlock()
	ix, err := s.readIndex(r.PathValue("uid"))
	if err != nil {
		writeError(w, err)
		return
	}
	st := ix.settings
	if _, ok := embedderSource(st, embedder); !ok {
		writeError(w, newError("invalid_similar_embedder", "Cannot find embedder with name `%s`.", embedder))
		return
	}
	target, ok := ix.docs[id]
	if !ok {
		writeError(w, newError("not_found_similar_id", "Invalid value at `.id`: Document `%s` not found.", id))
		return
	}
	filter, e := compileFilter(p.filter, st, "invalid_similar_filter")
	if e != nil {
		writeError(w, e)
		return
	}
	tvs := docVectors(target.fields, embedder)
	var hits []*scored
	for _, d := range ix.documents() {
		if d == target || (filter != nil && !filter(d.fields)) {
			continue
		}
		// the best pair of the target's and the document's embeddings
		sim, found := 0.0, false
		for _, tv := range tvs {
			if s, ok := bestSimilarity(tv, docVectors(d.fields, embedder)); ok && (!found || s > sim) {
				sim, found = s, true
			}
		}
		if !found {
			continue
		}
		if p.rankingScoreThreshold != nil && sim < *p.rankingScoreThreshold {
			continue
		}
		hits = append(hits, vectorScored(d, sim, true))
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return hits[i].score > hits[j].score
		}
		return hits[i].doc.seq < hits[j].doc.seq
	})
	ex := &searchExec{ix: ix, p: p, hits: hits, rr: &rankResult{snap: &snapshot{tok: newTokenizer(st)}}}
	from, to, info := ex.window()
	fo := &formatOptions{}
	out := &orderedObject{}
	rendered := make([]any, 0, to-from)
	for _, h := range hits[from:to] {
		rendered = append(rendered, ex.renderHit(h, fo))
	}
	out.set("hits", rendered)
	out.set("id", id)
	out.set("processingTimeMs", time.Since(start).Milliseconds())
	for i, k := range info.keys {
		out.set(k, info.values[i])
	}
	if p.showPerformanceDetails {
		out.set("performanceDetails", map[string]any{"search": rustDuration(time.Since(start))})
	}
	writeJSON(w, http.StatusOK, out)
}
