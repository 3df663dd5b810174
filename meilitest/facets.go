package meilitest

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// Faceting: facetDistribution and facetStats over the whole candidate set
// (after filter, query and distinct; before pagination), and facet search.
//
// String values are grouped by their normalized form (trimmed, lowercased)
// and shown with the original text of the first candidate (in docid order)
// that carries it; numbers are shown as Rust prints an f64 ("4", "1.5");
// booleans as "true"/"false". A document counts once per value.

// orderedObject is a JSON object that keeps its keys' order.
type orderedObject struct {
	keys   []string
	values []any
}

func (o *orderedObject) set(k string, v any) {
	o.keys = append(o.keys, k)
	o.values = append(o.values, v)
}

func (o *orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.values[i])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// facetCount is one value of one facet.
type facetCount struct {
	isNum bool
	num   float64
	norm  string // grouping key for strings
	shown string // what facetDistribution shows
	count int
}

// formatFacetNumber prints a number the way Meilisearch prints an f64.
func formatFacetNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// collectFacet counts the values of attribute attr over docs.
func collectFacet(docs []*document, attr string) ([]*facetCount, bool, float64, float64) {
	byKey := map[string]*facetCount{}
	var out []*facetCount
	hasNum := false
	minV, maxV := 0.0, 0.0
	seen := map[string]bool{}
	for _, d := range docs {
		clear(seen)
		for _, v := range fieldValues(d.fields, attr) {
			var fc facetCount
			switch x := v.(type) {
			case string:
				fc = facetCount{norm: "s" + normalizeFacet(x), shown: x}
			case bool:
				s := strconv.FormatBool(x)
				fc = facetCount{norm: "s" + s, shown: s}
			default:
				f, ok := toFloat(v)
				if !ok {
					continue
				}
				fc = facetCount{isNum: true, num: f, norm: "n" + formatFacetNumber(f), shown: formatFacetNumber(f)}
				if !hasNum || f < minV {
					minV = f
				}
				if !hasNum || f > maxV {
					maxV = f
				}
				hasNum = true
			}
			if seen[fc.norm] {
				continue
			}
			seen[fc.norm] = true
			c := byKey[fc.norm]
			if c == nil {
				c = &fc
				byKey[fc.norm] = c
				out = append(out, c)
			}
			c.count++
		}
	}
	return out, hasNum, minV, maxV
}

// sortFacetBy returns "alpha" or "count" for attr.
func sortFacetBy(st *settings, attr string) string {
	if v, ok := st.Faceting.SortFacetValuesBy[attr]; ok {
		return v
	}
	if v, ok := st.Faceting.SortFacetValuesBy["*"]; ok {
		return v
	}
	return "alpha"
}

// alphaLess orders facet values: numbers ascending, then strings.
func alphaLess(a, b *facetCount) bool {
	if a.isNum != b.isNum {
		return a.isNum
	}
	if a.isNum {
		return a.num < b.num
	}
	return a.norm < b.norm
}

func sortFacetCounts(vals []*facetCount, by string) {
	sort.SliceStable(vals, func(i, j int) bool {
		if by == "count" && vals[i].count != vals[j].count {
			return vals[i].count > vals[j].count
		}
		return alphaLess(vals[i], vals[j])
	})
}

// facetDistribution computes facetDistribution and facetStats for attrs.
func facetDistribution(st *settings, docs []*document, attrs []string) (*orderedObject, *orderedObject) {
	dist := &orderedObject{}
	stats := &orderedObject{}
	for _, attr := range attrs {
		vals, hasNum, minV, maxV := collectFacet(docs, attr)
		sortFacetCounts(vals, sortFacetBy(st, attr))
		max := st.Faceting.MaxValuesPerFacet
		if max >= 0 && len(vals) > max {
			vals = vals[:max]
		}
		o := &orderedObject{}
		for _, v := range vals {
			o.set(v.shown, v.count)
		}
		dist.set(attr, o)
		if hasNum {
			stats.set(attr, map[string]float64{"min": minV, "max": maxV})
		}
	}
	return dist, stats
}

// filterableNames lists the attributes of docs that are filterable, for
// facets ["*"], sorted.
func filterableNames(st *settings, docs []*document) []string {
	set := map[string]bool{}
	for _, d := range docs {
		flatten("", d.fields, func(path string, v any) {
			if path == "" || set[path] {
				return
			}
			if isFilterableAttr(st, path) {
				set[path] = true
			}
		})
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// filterableList renders the filterable attributes for error messages.
func filterableList(st *settings) []string {
	var out []string
	for _, f := range st.FilterableAttributes {
		switch x := f.(type) {
		case string:
			out = append(out, x)
		case map[string]any:
			if ps, ok := x["attributePatterns"].([]any); ok {
				for _, p := range ps {
					if s, ok := p.(string); ok {
						out = append(out, s)
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// facetSearchable reports whether attr may be used in facet search.
func facetSearchable(st *settings, attr string) bool {
	for _, f := range st.FilterableAttributes {
		switch x := f.(type) {
		case string:
			if x == attr || strings.HasPrefix(attr, x+".") || matchPattern(x, attr) {
				return true
			}
		case map[string]any:
			feat, _ := x["features"].(map[string]any)
			if fs, _ := feat["facetSearch"].(bool); !fs {
				continue
			}
			ps, _ := x["attributePatterns"].([]any)
			for _, p := range ps {
				if s, ok := p.(string); ok && (s == attr || matchPattern(s, attr)) {
					return true
				}
			}
		}
	}
	return false
}

// matchPattern matches Meilisearch attribute patterns: "*", "prefix*",
// "*suffix", "*middle*".
func matchPattern(p, s string) bool {
	if !strings.Contains(p, "*") {
		return p == s
	}
	if p == "*" {
		return true
	}
	switch {
	case strings.HasPrefix(p, "*") && strings.HasSuffix(p, "*"):
		return strings.Contains(s, p[1:len(p)-1])
	case strings.HasPrefix(p, "*"):
		return strings.HasSuffix(s, p[1:])
	case strings.HasSuffix(p, "*"):
		return strings.HasPrefix(s, p[:len(p)-1])
	}
	return p == s
}

// facetSearch returns the facet values of attr among docs that match
// facetQuery (prefix, typo tolerant), as facetHits.
func facetSearch(st *settings, docs []*document, attr, facetQuery string) []map[string]any {
	vals, _, _, _ := collectFacet(docs, attr)
	q := normalizeWord(strings.TrimSpace(facetQuery))
	allowed := 0
	if q != "" {
		allowed = typosAllowed(st, q)
	}
	var hits []*facetCount
	for _, v := range vals {
		if v.isNum {
			continue
		}
		if q != "" {
			nv := normalizeWord(strings.TrimSpace(v.shown))
			ok := strings.HasPrefix(nv, q)
			if !ok {
				// any word of the value may start the match
				for _, w := range strings.Fields(nv) {
					if strings.HasPrefix(w, q) || (allowed > 0 && typoDistance(q, w, true, allowed) <= allowed) {
						ok = true
						break
					}
				}
			}
			if !ok {
				continue
			}
		}
		hits = append(hits, v)
	}
	sortFacetCounts(hits, sortFacetBy(st, attr))
	max := st.Faceting.MaxValuesPerFacet
	if max >= 0 && len(hits) > max {
		hits = hits[:max]
	}
	out := make([]map[string]any, 0, len(hits))
	for _, h := range hits {
		out = append(out, map[string]any{"value": h.shown, "count": h.count})
	}
	return out
}
