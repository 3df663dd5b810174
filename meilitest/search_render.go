package meilitest

import (
	"crypto/rand"
	"encoding/hex"
	"math"
	"net/http"
	"strings"
	"time"
)

// Rendering of search hits and responses.

// ---------------------------------------------------------------------
// rendering hits

// pickAttributes returns fields restricted to the displayed attributes and
// attributesToRetrieve (nil: all), supporting dotted paths.
func pickAttributes(fields map[string]any, displayedAttrs []string, retrieve []string) map[string]any {
	out := fields
	if !containsStar(displayedAttrs) {
		out = selectPaths(out, displayedAttrs)
	}
	if retrieve != nil && !containsStar(retrieve) {
		out = selectPaths(out, retrieve)
	}
	return out
}

func containsStar(l []string) bool {
	for _, s := range l {
		if s == "*" {
			return true
		}
	}
	return false
}

// selectPaths keeps the fields whose dotted path is selected (or lies under
// a selected path, or leads to one).
func selectPaths(fields map[string]any, paths []string) map[string]any {
	var sel func(prefix string, m map[string]any) map[string]any
	sel = func(prefix string, m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			full, partial := false, false
			for _, s := range paths {
				if s == p || strings.HasPrefix(p, s+".") || matchPattern(s, p) {
					full = true
					break
				}
				if strings.HasPrefix(s, p+".") {
					partial = true
				}
			}
			switch {
			case full:
				out[k] = v
			case partial:
				switch x := v.(type) {
				case map[string]any:
					out[k] = sel(p, x)
				case []any:
					var arr []any
					for _, e := range x {
						if em, ok := e.(map[string]any); ok {
							arr = append(arr, sel(p, em))
						}
					}
					if arr != nil {
						out[k] = arr
					}
				}
			}
		}
		return out
	}
	return sel("", fields)
}

// renderHit builds one hit of the response.
func (ex *searchExec) renderHit(h *scored, fo *formatOptions) map[string]any {
	st := ex.ix.settings
	p := ex.p
	fields := pickAttributes(h.doc.fields, st.DisplayedAttributes, p.attributesToRetrieve)
	hit := make(map[string]any, len(fields)+4)
	for k, v := range withVectors(st, fields, h.doc.fields, p.retrieveVectors) {
		hit[k] = v
	}
	q := ex.rr.query
	tok := ex.rr.snap.tok
	if fo.enabled() || p.showMatchesPosition {
		disp := pickAttributes(h.doc.fields, st.DisplayedAttributes, nil)
		if fo.enabled() {
			// Meilisearch leaves an empty _formatted out
			if f := fo.formatted(tok, q, disp); len(f) > 0 {
				hit["_formatted"] = f
			}
		}
		if p.showMatchesPosition {
			hit["_matchesPosition"] = matchesPosition(tok, q, disp)
		}
	}
	if h.geoDist != nil {
		hit["_geoDistance"] = int64(math.Round(*h.geoDist))
	}
	if p.showRankingScore {
		hit["_rankingScore"] = h.score
	}
	if p.showRankingScoreDetails {
		hit["_rankingScoreDetails"] = detailsJSON(h.details)
	}
	return hit
}

// formatOptions is the formatting of this search's hits, computed once.
func (ex *searchExec) formatOptions() *formatOptions {
	if ex.fo == nil {
		ex.fo = newFormatOptions(ex.ix, ex.p)
	}
	return ex.fo
}

// response renders the whole search response of one index.
func (ex *searchExec) response(start time.Time, metadata bool) *orderedObject {
	from, to, info := ex.window()
	fo := ex.formatOptions()
	hits := make([]any, 0, to-from)
	semanticCount := 0
	for _, h := range ex.hits[from:to] {
		hits = append(hits, ex.renderHit(h, fo))
		if h.semantic {
			semanticCount++
		}
	}
	out := &orderedObject{}
	out.set("hits", hits)
	out.set("query", ex.p.q)
	out.set("processingTimeMs", time.Since(start).Milliseconds())
	for i, k := range info.keys {
		out.set(k, info.values[i])
	}
	if ex.p.facetsAsked {
		out.set("facetDistribution", ex.facetDist)
		out.set("facetStats", ex.facetStat)
	}
	if ex.semanticCount != nil {
		if ex.allSemantic {
			semanticCount = len(hits)
		}
		out.set("semanticHitCount", semanticCount)
	}
	if ex.p.showPerformanceDetails {
		out.set("performanceDetails", map[string]any{"search": rustDuration(time.Since(start))})
	}
	if metadata {
		out.set("metadata", ex.metadata())
	}
	return out
}

func (ex *searchExec) metadata() map[string]any {
	m := map[string]any{"queryUid": newUUID(), "indexUid": ex.ix.uid}
	if ex.ix.primaryKey != "" {
		m["primaryKey"] = ex.ix.primaryKey
	}
	return m
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x70 // v7-looking
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func wantsMetadata(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Meili-Include-Metadata"), "true")
}
