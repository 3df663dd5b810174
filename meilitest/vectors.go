package meilitest

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Vectors: documents' `_vectors`, their retrieval (retrieveVectors), and
// semantic and hybrid search with user-provided vectors, as milli does it
// (search/hybrid.rs, search/new/vector_sort.rs, score_details.rs).
//
// Embeddings are f32 in Meilisearch: vectors are rounded to f32 when
// stored, compared and returned. The similarity of two vectors is
// 1 - arroy's cosine distance, (1 + cos) / 2.

// embedderSource returns the embedder's source, and whether it exists.
func embedderSource(st *settings, name string) (string, bool) {
	cfg, ok := st.Embedders[name]
	if !ok {
		return "", false
	}
	m, _ := cfg.(map[string]any)
	src, _ := m["source"].(string)
	if src == "" {
		src = "openAi"
	}
	return src, true
}

// embedderDimensions returns an embedder's configured dimensions, or 0.
func embedderDimensions(st *settings, name string) int {
	m, _ := st.Embedders[name].(map[string]any)
	n, _ := toFloat(m["dimensions"])
	return int(n)
}

// f32 rounds x to the nearest float32, as Meilisearch stores embeddings.
func f32(x float64) float64 { return float64(float32(x)) }

// parseEmbeddings reads one embedder's entry of `_vectors`: an
// embedding, an array of embeddings, or {embeddings, regenerate}. ok is
// false when the entry holds no embedding (null, []).
func parseEmbeddings(v any) (embs [][]float64, regenerate bool, ok bool) {
	if m, isMap := v.(map[string]any); isMap {
		regenerate, _ = m["regenerate"].(bool)
		v = m["embeddings"]
	}
	a, isArr := v.([]any)
	if !isArr || len(a) == 0 {
		return nil, regenerate, false
	}
	vecs := [][]any{a}
	if _, nested := a[0].([]any); nested {
		vecs = vecs[:0]
		for _, e := range a {
			if inner, ok := e.([]any); ok {
				vecs = append(vecs, inner)
			}
		}
	}
	for _, vec := range vecs {
		out := make([]float64, 0, len(vec))
		for _, x := range vec {
			f, ok := toFloat(x)
			if !ok {
				return nil, regenerate, false
			}
			out = append(out, f32(f))
		}
		if len(out) > 0 {
			embs = append(embs, out)
		}
	}
	return embs, regenerate, len(embs) > 0
}

// docVectors returns a document's embeddings for embedder name.
func docVectors(fields map[string]any, name string) [][]float64 {
	vs, _ := fields["_vectors"].(map[string]any)
	embs, _, _ := parseEmbeddings(vs[name])
	return embs
}

// similarity is Meilisearch's vector score of a against b: 1 minus
// arroy's cosine distance (1 - cos) / 2, in f32; a zero vector is at
// distance 0 as in arroy. ok is false when the dimensions differ.
func similarity(a, b []float64) (float64, bool) {
	if len(a) != len(b) || len(a) == 0 {
		return 0, false
	}
	var dot, na, nb float64
	for i := range a {
		dot += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	pnqn := math.Sqrt(na) * math.Sqrt(nb)
	if pnqn <= 1.1920929e-07 { // f32::EPSILON
		return 1, true
	}
	dist := f32((1 - dot/pnqn) / 2)
	return f32(math.Max(0, math.Min(1, 1-dist))), true
}

// bestSimilarity is a document's score for query vector q: its closest
// embedding's (each embedding is a point of the vector store, a document
// ranks at its best one). ok is false without a comparable embedding.
func bestSimilarity(q []float64, embs [][]float64) (float64, bool) {
	best, found := 0.0, false
	for _, e := range embs {
		if s, ok := similarity(q, e); ok && (!found || s > best) {
			best, found = s, true
		}
	}
	return best, found
}

// vectorsView is `_vectors` of a document returned with retrieveVectors:
// entries of names that are not embedders as the document has them, and
// for each embedder the document has embeddings for,
// {embeddings: [[...]], regenerate} with f32 values.
func vectorsView(st *settings, fields map[string]any) *orderedObject {
	out := &orderedObject{}
	vs, _ := fields["_vectors"].(map[string]any)
	for _, name := range sortedKeys(vs) {
		v := vs[name]
		if _, isEmbedder := st.Embedders[name]; !isEmbedder {
			out.set(name, v)
			continue
		}
		embs, regenerate, ok := parseEmbeddings(v)
		if !ok {
			continue
		}
		rows := make([]any, len(embs))
		for i, e := range embs {
			row := make([]json.Number, len(e))
			for j, x := range e {
				row[j] = json.Number(ryuFormat(x, 32))
			}
			rows[i] = row
		}
		if src, _ := embedderSource(st, name); src == "userProvided" {
			regenerate = false // userProvided vectors are never regenerated
		}
		e := &orderedObject{}
		e.set("embeddings", rows)
		e.set("regenerate", regenerate)
		out.set(name, e)
	}
	return out
}

// vectorsDisplayed reports whether `_vectors` may be returned: Meilisearch
// hides it when displayedAttributes is a list without it.
func vectorsDisplayed(st *settings) bool {
	for _, d := range st.DisplayedAttributes {
		if d == "*" || d == "_vectors" {
			return true
		}
	}
	return false
}

// withVectors returns doc with `_vectors` as retrieveVectors shows it
// (always present, maybe empty), or without `_vectors` at all.
func withVectors(st *settings, doc, fields map[string]any, retrieve bool) map[string]any {
	_, has := doc["_vectors"]
	keep := retrieve && vectorsDisplayed(st)
	if !has && !keep {
		return doc
	}
	out := make(map[string]any, len(doc)+1)
	for k, v := range doc {
		if k != "_vectors" {
			out[k] = v
		}
	}
	if keep {
		out["_vectors"] = vectorsView(st, fields)
	}
	return out
}

// ---------------------------------------------------------------------
// semantic and hybrid search

// searchKind is Meilisearch's SearchKind.
type searchKind int

const (
	kindKeyword searchKind = iota
	kindSemantic
	kindHybrid
)

// kind chooses the search kind as routes/indexes/search.rs's search_kind
// does: without a vector an empty query stays a placeholder search,
// semanticRatio 1 is semantic only, 0 keyword only, no query with a
// vector semantic only, a query with hybrid a hybrid search.
func (p *searchParams) kind() searchKind {
	switch {
	case p.hybrid == nil:
		return kindKeyword
	case p.vector == nil && (!p.qSet || strings.TrimSpace(p.q) == ""):
		return kindKeyword
	case p.hybrid.semanticRatio == 1:
		return kindSemantic
	case p.hybrid.semanticRatio == 0:
		return kindKeyword
	case !p.qSet:
		return kindSemantic
	}
	return kindHybrid
}

// vectorScored is a hit of the vector search: its similarity, or no
// similarity for documents without an embedding (ranked after, score 0).
func vectorScored(d *document, sim float64, has bool) *scored {
	var simJSON any
	if has {
		simJSON = sim
	} else {
		sim = 0
	}
	return &scored{
		doc: d, score: sim, semantic: true,
		keys:    []sortKey{{isScore: true, score: sim}},
		details: []detail{{key: "vectorSort", value: map[string]any{"order": 0, "similarity": simJSON}}},
	}
}

// semanticRank ranks docs by similarity to q (ties in docid order); the
// documents without an embedding come last, as vector_sort's final bucket.
func semanticRank(docs []*document, embedder string, q []float64) []*scored {
	var with, without []*scored
	for _, d := range docs {
		if sim, ok := bestSimilarity(q, docVectors(d.fields, embedder)); ok {
			with = append(with, vectorScored(d, sim, true))
		} else {
			without = append(without, vectorScored(d, 0, false))
		}
	}
	sort.SliceStable(with, func(i, j int) bool { return with[i].score > with[j].score })
	return append(with, without...)
}

// goodEnoughScore is hybrid.rs's GOOD_ENOUGH_SCORE.
const goodEnoughScore = 0.45

// keywordGoodEnough is hybrid.rs's results_good_enough: n keyword hits
// whose scores, weighted by 1-ratio, all reach goodEnoughScore make the
// semantic search useless.
func keywordGoodEnough(hits []*scored, n int, ratio float64) bool {
	if len(hits) < n {
		return false
	}
	for _, h := range hits[:n] {
		if h.score*(1-ratio) < goodEnoughScore {
			return false
		}
	}
	return true
}

// compareHybrid is hybrid.rs's compare_scores: the score values of two
// hits, each weighted by its list's ratio, compared in order; positive
// when a ranks first.
func compareHybrid(a *scored, ra float64, b *scored, rb float64) int {
	for i := 0; ; i++ {
		switch {
		case i >= len(a.keys) && i >= len(b.keys):
			return 0
		case i >= len(a.keys):
			return -1
		case i >= len(b.keys):
			return 1
		}
		l, r := a.keys[i], b.keys[i]
		switch {
		case l.isScore && r.isScore:
			lw, rw := l.score*ra, r.score*rb
			if math.Abs(lw-rw) <= epsilon64 {
				continue
			}
			return cmpFloat(lw, rw)
		case l.isScore:
			if l.score == 0 {
				return -1
			}
			return 1
		case r.isScore:
			if r.score == 0 {
				return 1
			}
			return -1
		default:
			// compareSort is negative when l comes first, i.e. is greater
			if c := compareSort(l.val, r.val, l.asc); c != 0 {
				return -c
			}
		}
	}
}

// mergeHybrid is hybrid.rs's ScoreWithRatioResult::merge: the vector and
// keyword lists merged by weighted score (the vector hit first on a tie),
// each document kept at its first occurrence, then distinct, at most n.
func mergeHybrid(vector, keyword []*scored, ratio float64, distinct string, n int) []*scored {
	out := make([]*scored, 0, n)
	seen := map[*document]bool{}
	seenDistinct := map[string]bool{}
	i, j := 0, 0
	for len(out) < n && (i < len(vector) || j < len(keyword)) {
		var h *scored
		if j >= len(keyword) || (i < len(vector) && compareHybrid(vector[i], ratio, keyword[j], 1-ratio) >= 0) {
			h = vector[i]
			i++
		} else {
			h = keyword[j]
			j++
		}
		if seen[h.doc] {
			continue
		}
		seen[h.doc] = true
		if distinct != "" {
			keys := distinctKeys(h.doc.fields, distinct)
			dup := false
			for _, k := range keys {
				dup = dup || seenDistinct[k]
			}
			for _, k := range keys {
				seenDistinct[k] = true
			}
			if dup {
				continue
			}
		}
		out = append(out, h)
	}
	return out
}

// vectorDimensionsError is milli's InvalidVectorDimensions.
func vectorDimensionsError(expected, found int) *apiError {
	return newError("invalid_vector_dimensions", "Invalid vector dimensions: expected: `%s`, found: `%s`.", strconv.Itoa(expected), strconv.Itoa(found))
}
