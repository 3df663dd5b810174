package meilitest

import (
	"math"
	"net/http"
	"strings"
)

// POST /indexes/{uid}/fields (routes/indexes/fields.rs): the index's
// fields with what the settings make of each (displayed, searchable,
// sortable, distinct, custom ranking rule, filterable features, locales),
// filtered and paged by the body {offset, limit, filter}.
//
// Meilisearch lists the names of its fields map, which keeps a field once
// a document had it; meilitest lists the fields of the documents it holds
// (each object and each nested field by its dotted path, `_vectors`
// aside), by name.

// fieldsFilter is the body's filter; nil members are not checked.
type fieldsFilter struct {
	patterns                                                           []string
	hasPatterns                                                        bool
	displayed, searchable, sortable, distinct, rankingRule, filterable *bool
}

var fieldsFilterKeys = []string{"attributePatterns", "displayed", "searchable", "sortable", "distinct", "rankingRule", "filterable"}

// parseFieldsBody reads {offset, limit, filter} with ListFields' error
// codes (deserr's, in the body's order).
func parseFieldsBody(body map[string]any) (offset, limit uint64, f fieldsFilter, e *apiError) {
	limit = defaultLimit
	if _, e = (vctx{code: "bad_request"}).object(body, []string{"offset", "limit", "filter"}); e != nil {
		return
	}
	if v, ok := body["offset"]; ok {
		if offset, e = (vctx{"invalid_index_offset", ".offset"}).uint(v, math.MaxInt64); e != nil {
			return
		}
	}
	if v, ok := body["limit"]; ok {
		if limit, e = (vctx{"invalid_index_limit", ".limit"}).uint(v, math.MaxInt64); e != nil {
			return
		}
	}
	fv, ok := body["filter"]
	if !ok || fv == nil {
		return
	}
	fm, e := (vctx{"invalid_index_fields_filter", ".filter"}).object(fv, fieldsFilterKeys)
	if e != nil {
		return
	}
	flags := map[string]**bool{"displayed": &f.displayed, "searchable": &f.searchable, "sortable": &f.sortable,
		"distinct": &f.distinct, "rankingRule": &f.rankingRule, "filterable": &f.filterable}
	for _, k := range fieldsFilterKeys {
		v, ok := fm[k]
		if !ok || v == nil {
			continue
		}
		c := vctx{"invalid_index_fields_filter_" + snakeCase(k), ".filter." + k}
		if k == "attributePatterns" {
			if f.patterns, e = c.strList(v); e != nil {
				return
			}
			f.hasPatterns = true
			continue
		}
		b, be := c.boolean(v)
		if be != nil {
			e = be
			return
		}
		*flags[k] = &b
	}
	return
}

// snakeCase turns a camelCase key into the snake_case of error codes.
func snakeCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// handleListFields is POST /indexes/{uid}/fields.
func (s *Server) handleListFields(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if body == nil {
		writeError(w, newError("bad_request", "Invalid value type: expected an object, but found null: `null`"))
		return
	}
	offset, limit, filter, e := parseFieldsBody(body)
	if e != nil {
		writeError(w, e)
		return
	}
	s.mu.RLock()
	ix, err := s.readIndex(r.PathValue("uid"))
	if err != nil {
		s.mu.RUnlock()
		writeError(w, err)
		return
	}
	var fields []*orderedObject
	for _, name := range indexFieldNames(ix) {
		if f := fieldView(ix.settings, name, filter); f != nil {
			fields = append(fields, f)
		}
	}
	s.mu.RUnlock()
	results := []*orderedObject{}
	for i := offset; i < uint64(len(fields)) && uint64(len(results)) < limit; i++ {
		results = append(results, fields[i])
	}
	writeJSON(w, http.StatusOK, pageJSON[*orderedObject, uint64]{Results: results, Offset: offset, Limit: limit, Total: len(fields)})
}

// indexFieldNames lists the dotted paths of the index's documents, sorted.
func indexFieldNames(ix *index) []string {
	seen := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				if p == "_vectors" {
					continue
				}
				seen[p] = true
				walk(p, e)
			}
		case []any:
			for _, e := range x {
				walk(prefix, e)
			}
		}
	}
	for _, d := range ix.documents() {
		walk("", d.fields)
	}
	return sortedKeys(seen)
}

// legacyMatch is milli's match_field_legacy: the field is the attribute
// or lies under it.
func legacyMatch(attr, field string) bool { return facetedBy(field, attr) }

// fieldView is one field's metadata, or nil when the filter leaves it out.
func fieldView(st *settings, name string, f fieldsFilter) *orderedObject {
	displayed := false
	for _, d := range st.DisplayedAttributes {
		if d == "*" || legacyMatch(d, name) {
			displayed = true
		}
	}
	searchable := len(st.SearchableAttributes) == 0 || (len(st.SearchableAttributes) == 1 && st.SearchableAttributes[0] == "*")
	for _, a := range st.SearchableAttributes {
		searchable = searchable || legacyMatch(a, name)
	}
	sortable := false
	for _, a := range st.SortableAttributes {
		sortable = sortable || legacyMatch(a, name)
	}
	distinct := st.DistinctAttribute != nil && legacyMatch(*st.DistinctAttribute, name)
	order := ""
	for _, rr := range st.RankingRules {
		if a, ok := strings.CutSuffix(rr, ":asc"); ok && legacyMatch(a, name) && order == "" {
			order = "asc"
		} else if a, ok := strings.CutSuffix(rr, ":desc"); ok && legacyMatch(a, name) && order == "" {
			order = "desc"
		}
	}
	equality, comparison, facetSearch := false, false, false
	if i, rule := matchFilterRule(compileFilterRules(st), name); rule != nil {
		equality, comparison = rule.equality, rule.comparison
		switch x := st.FilterableAttributes[i].(type) {
		case string:
			facetSearch = true // a plain name keeps every feature
		case map[string]any:
			feat, _ := x["features"].(map[string]any)
			facetSearch, _ = feat["facetSearch"].(bool)
		}
	}
	filterable := equality || comparison || facetSearch
	if f.hasPatterns && !matchesAnyPattern(f.patterns, name) {
		return nil
	}
	for _, c := range []struct {
		want *bool
		got  bool
	}{{f.displayed, displayed}, {f.searchable, searchable}, {f.sortable, sortable}, {f.distinct, distinct}, {f.rankingRule, order != ""}, {f.filterable, filterable}} {
		if c.want != nil && *c.want != c.got {
			return nil
		}
	}
	sortBy := st.Faceting.SortFacetValuesBy[name]
	if sortBy == "" {
		if sortBy = st.Faceting.SortFacetValuesBy["*"]; sortBy == "" {
			sortBy = "alpha"
		}
	}
	enabled := func(b bool) *orderedObject {
		o := &orderedObject{}
		o.set("enabled", b)
		return o
	}
	rr := enabled(order != "")
	if order != "" {
		rr.set("order", order)
	}
	fo := enabled(filterable)
	fo.set("sortBy", sortBy)
	fo.set("facetSearch", facetSearch)
	fo.set("equality", equality)
	fo.set("comparison", comparison)
	loc := &orderedObject{}
	loc.set("locales", fieldLocales(st, name))
	out := &orderedObject{}
	out.set("name", name)
	out.set("displayed", enabled(displayed))
	out.set("searchable", enabled(searchable))
	out.set("sortable", enabled(sortable))
	out.set("distinct", enabled(distinct))
	out.set("rankingRule", rr)
	out.set("filterable", fo)
	out.set("localized", loc)
	return out
}

// matchesAnyPattern is AttributePatterns::match_str giving Match: a
// pattern's parent field does not count.
func matchesAnyPattern(patterns []string, name string) bool {
	for _, p := range patterns {
		if matchAttributePattern(p, name) {
			return true
		}
	}
	return false
}

// fieldLocales returns the locales of the first localizedAttributes rule
// matching name, or none.
func fieldLocales(st *settings, name string) []any {
	for _, rule := range st.LocalizedAttributes {
		m, _ := rule.(map[string]any)
		ps, _ := m["attributePatterns"].([]any)
		for _, p := range ps {
			if s, ok := p.(string); ok && matchAttributePattern(s, name) {
				if l, ok := m["locales"].([]any); ok {
					return l
				}
				return []any{}
			}
		}
	}
	return []any{}
}
