package meilitest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Search, multi-search (plain and federated), facet search and similar
// documents.

// searchParams is a validated search request.
type searchParams struct {
	q                       string
	qSet                    bool // q was given (an empty q is still a query for search_kind)
	offset, limit           int
	page, hitsPerPage       *int
	attributesToRetrieve    []string
	retrieveVectors         bool
	attributesToCrop        []string
	cropLength              int
	cropMarker              string
	attributesToHighlight   []string
	preTag, postTag         string
	showMatchesPosition     bool
	showRankingScore        bool
	showRankingScoreDetails bool
	showPerformanceDetails  bool
	filter                  any
	sort                    []string
	distinct                *string
	facets                  []string
	facetsAsked             bool
	matchingStrategy        string
	attributesToSearchOn    []string
	rankingScoreThreshold   *float64
	vector                  []float64
	hybrid                  *hybridParams
	weight                  float64
	hasWeight               bool
	indexUID                string
	paginationFields        []string // which of offset/limit/page/hitsPerPage were given
}

type hybridParams struct {
	embedder      string
	semanticRatio float64
}

var searchFields = []string{"q", "vector", "offset", "limit", "page", "hitsPerPage", "attributesToRetrieve", "retrieveVectors", "attributesToCrop", "cropLength", "cropMarker", "attributesToHighlight", "showMatchesPosition", "showRankingScore", "showRankingScoreDetails", "showPerformanceDetails", "filter", "sort", "distinct", "facets", "highlightPreTag", "highlightPostTag", "matchingStrategy", "attributesToSearchOn", "hybrid", "rankingScoreThreshold", "locales", "media", "personalize", "useNetwork", "inlineRule"}

var multiSearchExtraFields = []string{"indexUid", "federationOptions"}

const (
	defaultLimit       = 20
	defaultCropLength  = 10
	defaultCropMarker  = "…"
	defaultPreTag      = "<em>"
	defaultPostTag     = "</em>"
	maxSearchIntParams = math.MaxInt32
)

func intParam(code string, loc string, v any) (int, *apiError) {
	u, e := vctx{code, loc}.uint(v, maxSearchIntParams)
	return int(u), e
}

func boolParam(code, loc string, v any) (bool, *apiError) {
	return vctx{code, loc}.boolean(v)
}

func strListParam(code, loc string, v any) ([]string, *apiError) {
	if v == nil {
		return nil, nil
	}
	return vctx{code, loc}.strList(v)
}

// parseSearchParams validates a search body (already decoded with
// UseNumber). inMulti allows indexUid/federationOptions.
func parseSearchParams(m map[string]any, inMulti bool) (*searchParams, *apiError) {
	allowed := searchFields
	if inMulti {
		allowed = append(append([]string(nil), searchFields...), multiSearchExtraFields...)
	}
	if _, e := (vctx{code: "bad_request"}).object(m, allowed); e != nil {
		return nil, e
	}
	p := &searchParams{limit: defaultLimit, cropLength: defaultCropLength, cropMarker: defaultCropMarker, preTag: defaultPreTag, postTag: defaultPostTag, weight: 1}
	var e *apiError
	for _, k := range sortedKeys(m) {
		v := m[k]
		loc := "." + k
		switch k {
		case "q":
			if v != nil {
				if p.q, e = (vctx{"invalid_search_q", loc}).str(v); e != nil {
					return nil, e
				}
				p.qSet = true
			}
		case "offset":
			if v != nil {
				p.paginationFields = append(p.paginationFields, k)
				if p.offset, e = intParam("invalid_search_offset", loc, v); e != nil {
					return nil, e
				}
			}
		case "limit":
			if v != nil {
				p.paginationFields = append(p.paginationFields, k)
				if p.limit, e = intParam("invalid_search_limit", loc, v); e != nil {
					return nil, e
				}
			}
		case "page":
			if v != nil {
				p.paginationFields = append(p.paginationFields, k)
				n, e := intParam("invalid_search_page", loc, v)
				if e != nil {
					return nil, e
				}
				p.page = &n
			}
		case "hitsPerPage":
			if v != nil {
				p.paginationFields = append(p.paginationFields, k)
				n, e := intParam("invalid_search_hits_per_page", loc, v)
				if e != nil {
					return nil, e
				}
				p.hitsPerPage = &n
			}
		case "attributesToRetrieve":
			if p.attributesToRetrieve, e = strListParam("invalid_search_attributes_to_retrieve", loc, v); e != nil {
				return nil, e
			}
		case "retrieveVectors":
			if p.retrieveVectors, e = boolParam("invalid_search_retrieve_vectors", loc, v); e != nil {
				return nil, e
			}
		case "attributesToCrop":
			if p.attributesToCrop, e = strListParam("invalid_search_attributes_to_crop", loc, v); e != nil {
				return nil, e
			}
		case "cropLength":
			if p.cropLength, e = intParam("invalid_search_crop_length", loc, v); e != nil {
				return nil, e
			}
		case "cropMarker":
			if p.cropMarker, e = (vctx{"invalid_search_crop_marker", loc}).str(v); e != nil {
				return nil, e
			}
		case "attributesToHighlight":
			if p.attributesToHighlight, e = strListParam("invalid_search_attributes_to_highlight", loc, v); e != nil {
				return nil, e
			}
		case "highlightPreTag":
			if p.preTag, e = (vctx{"invalid_search_highlight_pre_tag", loc}).str(v); e != nil {
				return nil, e
			}
		case "highlightPostTag":
			if p.postTag, e = (vctx{"invalid_search_highlight_post_tag", loc}).str(v); e != nil {
				return nil, e
			}
		case "showMatchesPosition":
			if p.showMatchesPosition, e = boolParam("invalid_search_show_matches_position", loc, v); e != nil {
				return nil, e
			}
		case "showRankingScore":
			if p.showRankingScore, e = boolParam("invalid_search_show_ranking_score", loc, v); e != nil {
				return nil, e
			}
		case "showRankingScoreDetails":
			if p.showRankingScoreDetails, e = boolParam("invalid_search_show_ranking_score_details", loc, v); e != nil {
				return nil, e
			}
		case "showPerformanceDetails":
			if p.showPerformanceDetails, e = boolParam("invalid_search_show_performance_details", loc, v); e != nil {
				return nil, e
			}
		case "filter":
			p.filter = v
		case "sort":
			if p.sort, e = strListParam("invalid_search_sort", loc, v); e != nil {
				return nil, e
			}
		case "distinct":
			if v != nil {
				s, e := (vctx{"invalid_search_distinct", loc}).str(v)
				if e != nil {
					return nil, e
				}
				p.distinct = &s
			}
		case "facets":
			if v != nil {
				p.facetsAsked = true
				if p.facets, e = strListParam("invalid_search_facets", loc, v); e != nil {
					return nil, e
				}
			}
		case "matchingStrategy":
			if v != nil {
				if p.matchingStrategy, e = (vctx{"invalid_search_matching_strategy", loc}).enum(v, []string{"last", "all", "frequency"}); e != nil {
					return nil, e
				}
			}
		case "attributesToSearchOn":
			if p.attributesToSearchOn, e = strListParam("invalid_search_attributes_to_search_on", loc, v); e != nil {
				return nil, e
			}
		case "rankingScoreThreshold":
			if v != nil {
				f, ok := toFloat(v)
				if !ok {
					return nil, (vctx{"invalid_search_ranking_score_threshold", loc}).typeErr("a number", v)
				}
				if f < 0 || f > 1 {
					return nil, newError("invalid_search_ranking_score_threshold", "Invalid value at `.rankingScoreThreshold`: the value of `rankingScoreThreshold` is invalid, expected a float between `0.0` and `1.0`.")
				}
				p.rankingScoreThreshold = &f
			}
		case "vector":
			if v != nil {
				a, ok := v.([]any)
				if !ok {
					return nil, (vctx{"invalid_search_vector", loc}).typeErr("an array", v)
				}
				for i, x := range a {
					f, ok := toFloat(x)
					if !ok {
						return nil, (vctx{"invalid_search_vector", loc}).elem(i).typeErr("a number", x)
					}
					p.vector = append(p.vector, f32(f)) // Vec<f32>
				}
			}
		case "hybrid":
			if v != nil {
				hm, e := (vctx{"invalid_search_hybrid_query", loc}).object(v, []string{"embedder", "semanticRatio"})
				if e != nil {
					return nil, e
				}
				h := &hybridParams{semanticRatio: 0.5}
				if ev, ok := hm["embedder"]; ok {
					if h.embedder, e = (vctx{"invalid_search_embedder", loc + ".embedder"}).str(ev); e != nil {
						return nil, e
					}
				} else {
					return nil, newError("missing_search_hybrid_embedder", "Missing field `embedder` inside `.hybrid`")
				}
				if rv, ok := hm["semanticRatio"]; ok && rv != nil {
					f, ok := toFloat(rv)
					if !ok || f < 0 || f > 1 {
						return nil, newError("invalid_search_semantic_ratio", "Invalid value at `.hybrid.semanticRatio`: the value of `semanticRatio` is invalid, expected a float between `0.0` and `1.0`.")
					}
					h.semanticRatio = f
				}
				p.hybrid = h
			}
		case "inlineRule":
			if v != nil {
				return nil, newError("requires_enterprise_edition", "Meilisearch Enterprise Edition is required to use `inlineRule`.")
			}
		case "indexUid":
			if p.indexUID, e = (vctx{"invalid_index_uid", loc}).str(v); e != nil {
				return nil, e
			}
		case "federationOptions":
			if v != nil {
				fm, e := (vctx{"invalid_multi_search_federation_options", loc}).object(v, []string{"weight", "remote", "queryPosition"})
				if e != nil {
					return nil, e
				}
				if wv, ok := fm["weight"]; ok && wv != nil {
					f, ok := toFloat(wv)
					if !ok || f < 0 {
						return nil, newError("invalid_multi_search_weight", "Invalid value at `.federationOptions.weight`: the value of `weight` is invalid, expected a positive float (>= 0.0).")
					}
					p.weight, p.hasWeight = f, true
				}
			}
		}
	}
	if p.hybrid == nil && p.vector != nil {
		return nil, newError("invalid_search_hybrid_query", "Passing `vector` as a parameter requires the `hybrid` parameter with an `embedder`.")
	}
	return p, nil
}

// searchParamsFromQuery converts GET query parameters into a body.
func searchParamsFromQuery(vals url.Values) map[string]any {
	m := map[string]any{}
	lists := map[string]bool{"attributesToRetrieve": true, "attributesToCrop": true, "attributesToHighlight": true, "sort": true, "facets": true, "attributesToSearchOn": true, "locales": true}
	bools := map[string]bool{"retrieveVectors": true, "showMatchesPosition": true, "showRankingScore": true, "showRankingScoreDetails": true, "showPerformanceDetails": true}
	nums := map[string]bool{"offset": true, "limit": true, "page": true, "hitsPerPage": true, "cropLength": true, "rankingScoreThreshold": true}
	for k, vs := range vals {
		v := vs[len(vs)-1]
		switch {
		case lists[k]:
			var l []any
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					l = append(l, s)
				}
			}
			if l == nil {
				l = []any{}
			}
			m[k] = l
		case bools[k]:
			switch strings.ToLower(v) {
			case "true":
				m[k] = true
			case "false":
				m[k] = false
			default:
				m[k] = v
			}
		case nums[k]:
			if _, err := strconv.ParseFloat(v, 64); err == nil {
				m[k] = json.Number(v)
			} else {
				m[k] = v
			}
		case k == "vector":
			var l []any
			for _, s := range strings.Split(strings.Trim(v, "[]"), ",") {
				if s = strings.TrimSpace(s); s != "" {
					l = append(l, json.Number(s))
				}
			}
			m[k] = l
		case k == "filter":
			m[k] = queryFilter(v)
		case k == "hybridEmbedder":
			h, _ := m["hybrid"].(map[string]any)
			if h == nil {
				h = map[string]any{}
				m["hybrid"] = h
			}
			h["embedder"] = v
		case k == "hybridSemanticRatio":
			h, _ := m["hybrid"].(map[string]any)
			if h == nil {
				h = map[string]any{}
				m["hybrid"] = h
			}
			h["semanticRatio"] = json.Number(v)
		default:
			m[k] = v
		}
	}
	return m
}

// queryFilter reads the filter query parameter as Meilisearch's GET routes
// do: a value that parses as JSON is that JSON (so `["a = 1", "b = 2"]` is
// the array form), anything else is a filter string. JSON null stays the
// string "null": Meilisearch rejects it too, where nil here would mean no
// filter at all.
func queryFilter(v string) any {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil || out == nil {
		return v
	}
	if _, err := dec.Token(); err != io.EOF {
		return v // trailing data: not one JSON value
	}
	return out
}

// ---------------------------------------------------------------------
// execution

// searchExec is a search run on one index, before pagination.
type searchExec struct {
	ix        *index
	p         *searchParams
	rr        *rankResult
	hits      []*scored // after threshold and distinct
	facetDist *orderedObject
	facetStat *orderedObject
	fo        *formatOptions // formatting of the hits, see formatOptions
	// total overrides len(hits) as the number of candidates: a semantic
	// or hybrid search counts every filtered document
	total *int
	// semanticCount, when set, makes the response carry semanticHitCount
	// (semantic and hybrid searches); allSemantic counts every hit
	semanticCount *int
	allSemantic   bool
}

func sortError(format string, args ...any) *apiError {
	return newError("invalid_search_sort", format, args...)
}

// parseSort validates the request's sort against the sortable attributes.
func parseSort(st *settings, list []string) ([]sortSpec, *apiError) {
	var out []sortSpec
	sortable := append([]string(nil), st.SortableAttributes...)
	sort.Strings(sortable)
	available := func() string {
		if len(sortable) == 0 {
			return "This index does not have configured sortable attributes."
		}
		return "Available sortable attributes are: `" + strings.Join(sortable, ", ") + "`."
	}
	isSortable := func(f string) bool {
		for _, s := range sortable {
			if s == f || strings.HasPrefix(f, s+".") || matchPattern(s, f) {
				return true
			}
		}
		return false
	}
	for _, s := range list {
		s = strings.TrimSpace(s)
		var asc bool
		var field string
		switch {
		case strings.HasSuffix(s, ":asc"):
			asc, field = true, strings.TrimSuffix(s, ":asc")
		case strings.HasSuffix(s, ":desc"):
			asc, field = false, strings.TrimSuffix(s, ":desc")
		default:
			return nil, sortError("Invalid syntax for the sort parameter: expected expression ending by `:asc` or `:desc`, found `%s`.", s)
		}
		if strings.HasPrefix(field, "_geoPoint") {
			inner := strings.TrimPrefix(field, "_geoPoint")
			if !strings.HasPrefix(inner, "(") || !strings.HasSuffix(inner, ")") {
				return nil, sortError("Invalid syntax for the geo parameter: expected expression formated like `_geoPoint(latitude, longitude)` and ending by `:asc` or `:desc`, found `%s`.", s)
			}
			parts := strings.Split(inner[1:len(inner)-1], ",")
			if len(parts) != 2 {
				return nil, sortError("Invalid syntax for the geo parameter: expected expression formated like `_geoPoint(latitude, longitude)` and ending by `:asc` or `:desc`, found `%s`.", s)
			}
			lat, err1 := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
			lng, err2 := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
			if err1 != nil || err2 != nil {
				return nil, sortError("Invalid syntax for the geo parameter: expected expression formated like `_geoPoint(latitude, longitude)` and ending by `:asc` or `:desc`, found `%s`.", s)
			}
			if lat < -90 || lat > 90 {
				return nil, sortError("Bad latitude `%s`. Latitude must be contained between -90 and 90 degrees.", strings.TrimSpace(parts[0]))
			}
			if lng < -180 || lng > 180 {
				return nil, sortError("Bad longitude `%s`. Longitude must be contained between -180 and 180 degrees.", strings.TrimSpace(parts[1]))
			}
			if !isSortable("_geo") {
				return nil, sortError("The sort ranking rule must be specified in the ranking rules settings to use the sort parameter at search time.")
			}
			out = append(out, sortSpec{geo: true, asc: asc, point: [2]float64{lat, lng}, text: "_geoPoint(" + formatFacetNumber(lat) + ", " + formatFacetNumber(lng) + ")"})
			continue
		}
		if field == "_geo" || field == "_geoDistance" || field == "_geoRadius" || field == "_geoBoundingBox" {
			return nil, sortError("`%s` is a reserved keyword and thus can't be used as a sort expression. Use the _geoPoint(latitude, longitude) built-in rule to sort on _geo field coordinates.", field)
		}
		if !isSortable(field) {
			return nil, sortError("Attribute `%s` is not sortable. %s", field, available())
		}
		out = append(out, sortSpec{field: field, asc: asc})
	}
	if len(out) > 0 {
		hasSortRule := false
		for _, r := range st.RankingRules {
			if r == "sort" {
				hasSortRule = true
			}
		}
		if !hasSortRule {
			return nil, sortError("You must specify where `sort` is listed in the rankingRules setting to use the sort parameter at search time.")
		}
	}
	return out, nil
}

// compileFilter parses and checks a filter; nil means no filter.
func compileFilter(v any, st *settings, code string) (func(map[string]any) bool, *apiError) {
	if v == nil {
		return nil, nil
	}
	expr, err := parseFilter(v)
	if err != nil {
		return nil, newError(code, "%s", err.Error())
	}
	if isNilValue(expr) {
		return nil, nil
	}
	if err := checkFilterable(expr, st); err != nil {
		return nil, newError(code, "%s", err.Error())
	}
	return expr.matches, nil
}

func isNilValue(v any) bool {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return true
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func:
		return rv.IsNil()
	}
	return false
}

// searchableCheck validates attributesToSearchOn.
func searchableCheck(st *settings, list []string) *apiError {
	sa := st.SearchableAttributes
	if len(sa) == 0 || (len(sa) == 1 && sa[0] == "*") {
		return nil
	}
	for _, a := range list {
		if a == "*" {
			continue
		}
		ok := false
		for i, s := range sa {
			_ = i
			if s == a || strings.HasPrefix(a, s+".") || (strings.Contains(a, "*") && matchPattern(a, s)) {
				ok = true
			}
		}
		if !ok {
			return newError("invalid_search_attributes_to_search_on", "Attribute `%s` is not searchable. Available searchable attributes are: `%s`.", a, strings.Join(sa, ", "))
		}
	}
	return nil
}

// execute runs p on ix. The caller holds s.mu for reading.
func (s *Server) execute(ix *index, p *searchParams) (*searchExec, *apiError) {
	st := ix.settings
	filter, e := compileFilter(p.filter, st, "invalid_search_filter")
	if e != nil {
		return nil, e
	}
	sorts, e := parseSort(st, p.sort)
	if e != nil {
		return nil, e
	}
	if e := searchableCheck(st, p.attributesToSearchOn); e != nil {
		return nil, e
	}
	distinct := ""
	if st.DistinctAttribute != nil {
		distinct = *st.DistinctAttribute
	}
	if p.distinct != nil {
		if !isFilterableAttr(st, *p.distinct) {
			fl := filterableList(st)
			avail := "This index does not have configured filterable attributes."
			if len(fl) > 0 {
				avail = "Available filterable attributes patterns are: `" + strings.Join(fl, ", ") + "`."
			}
			return nil, newError("invalid_search_distinct", "Attribute `%s` is not filterable and thus, cannot be used as distinct attribute. %s", *p.distinct, avail)
		}
		distinct = *p.distinct
	}
	var facets []string
	if p.facetsAsked {
		for _, f := range p.facets {
			if f == "*" {
				continue
			}
			if !isFilterableAttr(st, f) {
				fl := filterableList(st)
				avail := "This index does not have configured filterable attributes."
				if len(fl) > 0 {
					avail = "Available filterable attributes patterns are: `" + strings.Join(fl, ", ") + "`."
				}
				return nil, newError("invalid_search_facets", "Invalid facet distribution: Attribute `%s` is not filterable. %s", f, avail)
			}
		}
	}
	ex := &searchExec{ix: ix, p: p}
	kind := p.kind()
	if p.hybrid != nil {
		src, ok := embedderSource(st, p.hybrid.embedder)
		if !ok {
			return nil, newError("invalid_search_embedder", "Cannot find embedder with name `%s`.", p.hybrid.embedder)
		}
		if dims := embedderDimensions(st, p.hybrid.embedder); src == "userProvided" && p.vector != nil && kind != kindKeyword && dims != len(p.vector) {
			return nil, vectorDimensionsError(dims, len(p.vector))
		}
	}

	all := ix.documents()
	docs := all
	if filter != nil {
		docs = make([]*document, 0, len(all))
		for _, d := range all {
			if filter(d.fields) {
				docs = append(docs, d)
			}
		}
	}
	rr := rankDocuments(rankInput{
		st: st, cache: cacheFor(ix), all: all, docs: docs,
		query: p.q, strategy: p.matchingStrategy, searchOn: p.attributesToSearchOn, sorts: sorts,
	})
	ex.rr = rr
	threshold := func(hits []*scored) []*scored {
		if p.rankingScoreThreshold == nil {
			return hits
		}
		kept := hits[:0:0]
		for _, h := range hits {
			if h.score >= *p.rankingScoreThreshold {
				kept = append(kept, h)
			}
		}
		return kept
	}
	withDistinct := func(hits []*scored) []*scored {
		if distinct == "" {
			return hits
		}
		return applyDistinct(hits, distinct)
	}
	// facetDocs are the candidates the facet distribution counts
	var facetDocs []*document
	var hits []*scored
	switch {
	case kind == kindKeyword || p.vector == nil:
		// meilitest embeds no text: without a vector, a semantic or hybrid
		// search is its keyword part, as Meilisearch falls back to when
		// embedding the query fails
		hits = threshold(rr.hits)
		for _, h := range hits {
			facetDocs = append(facetDocs, h.doc)
		}
		hits = withDistinct(hits)
		if kind != kindKeyword {
			ex.semanticCount = new(int)
		}
	case kind == kindSemantic:
		hits = withDistinct(threshold(semanticRank(docs, p.hybrid.embedder, p.vector)))
		facetDocs = docs
		ex.total = new(int)
		*ex.total = len(docs)
		ex.semanticCount = new(int)
		ex.allSemantic = true
	default: // hybrid
		n := p.requiredHits(st)
		keyword := withDistinct(threshold(rr.hits))
		ex.semanticCount = new(int)
		if keywordGoodEnough(keyword, n, p.hybrid.semanticRatio) {
			hits = keyword
			for _, h := range threshold(rr.hits) {
				facetDocs = append(facetDocs, h.doc)
			}
			break
		}
		vector := withDistinct(threshold(semanticRank(docs, p.hybrid.embedder, p.vector)))
		hits = mergeHybrid(vector[:min(n, len(vector))], keyword[:min(n, len(keyword))], p.hybrid.semanticRatio, distinct, n)
		facetDocs = docs
		ex.total = new(int)
		*ex.total = len(docs)
	}
	if p.facetsAsked {
		hd := append([]*document(nil), facetDocs...)
		sort.Slice(hd, func(i, j int) bool { return hd[i].seq < hd[j].seq })
		for _, f := range p.facets {
			if f == "*" {
				facets = append(facets, filterableNames(st, hd)...)
			} else {
				facets = append(facets, f)
			}
		}
		facets = dedupe(facets)
		ex.facetDist, ex.facetStat = facetDistribution(st, hd, facets)
	}
	ex.hits = hits
	return ex, nil
}

// requiredHits is offset+limit of the search (page*hitsPerPage), bounded
// by maxTotalHits as prepare_search bounds it: how many hits each part of
// a hybrid search ranks.
func (p *searchParams) requiredHits(st *settings) int {
	offset, limit := p.offset, p.limit
	if p.page != nil || p.hitsPerPage != nil {
		page, hpp := 1, defaultLimit
		if p.page != nil {
			page = *p.page
		}
		if p.hitsPerPage != nil {
			hpp = *p.hitsPerPage
		}
		offset, limit = 0, 0
		if page > 0 {
			offset, limit = (page-1)*hpp, hpp
		}
	}
	if m := st.Pagination.MaxTotalHits; m >= 0 {
		offset = min(offset, m)
		limit = min(limit, m-offset)
	}
	return offset + limit
}

func dedupe(l []string) []string {
	seen := map[string]bool{}
	out := l[:0:0]
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// distinctKeys returns the distinct values of a document.
func distinctKeys(fields map[string]any, attr string) []string {
	var out []string
	for _, v := range fieldValues(fields, attr) {
		switch x := v.(type) {
		case string:
			out = append(out, "s"+normalizeFacet(x))
		case bool:
			out = append(out, "s"+strconv.FormatBool(x))
		default:
			if f, ok := toFloat(v); ok {
				out = append(out, "n"+formatFacetNumber(f))
			}
		}
	}
	return out
}

// applyDistinct keeps the first hit of each distinct value; documents
// without the attribute are all kept.
func applyDistinct(hits []*scored, attr string) []*scored {
	seen := map[string]bool{}
	out := hits[:0:0]
	for _, h := range hits {
		keys := distinctKeys(h.doc.fields, attr)
		dup := false
		for _, k := range keys {
			if seen[k] {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		for _, k := range keys {
			seen[k] = true
		}
		out = append(out, h)
	}
	return out
}

// window returns the hits a page shows and the totals fields.
func (ex *searchExec) window() (from, to int, info *orderedObject) {
	p := ex.p
	maxTotal := ex.ix.settings.Pagination.MaxTotalHits
	n := len(ex.hits)
	if ex.total != nil {
		n = *ex.total
	}
	if maxTotal >= 0 && n > maxTotal {
		n = maxTotal
	}
	info = &orderedObject{}
	if p.page != nil || p.hitsPerPage != nil {
		page := 1
		if p.page != nil {
			page = *p.page
		}
		hpp := defaultLimit
		if p.hitsPerPage != nil {
			hpp = *p.hitsPerPage
		}
		if page > 0 {
			from = (page - 1) * hpp
		}
		to = from + hpp
		if page == 0 {
			to = from
		}
		totalPages := 0
		if hpp > 0 {
			totalPages = (n + hpp - 1) / hpp
		}
		info.set("hitsPerPage", hpp)
		info.set("page", page)
		info.set("totalPages", totalPages)
		info.set("totalHits", n)
	} else {
		from, to = p.offset, p.offset+p.limit
		info.set("limit", p.limit)
		info.set("offset", p.offset)
		info.set("estimatedTotalHits", n)
	}
	// the page slices the ranked hits, which a hybrid search cuts short
	// of its candidates count
	n = min(n, len(ex.hits))
	from = min(from, n)
	to = max(min(to, n), from)
	return from, to, info
}

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

// ---------------------------------------------------------------------
// handlers

func (s *Server) readSearchBody(r *http.Request) (map[string]any, *apiError) {
	if r.Method == http.MethodGet {
		return searchParamsFromQuery(r.URL.Query()), nil
	}
	var m map[string]any
	if err := decodeJSONBody(r, &m); err != nil {
		if ae, ok := err.(*apiError); ok {
			return nil, ae
		}
		return nil, newError("bad_request", "%s", err.Error())
	}
	if m == nil {
		return nil, newError("bad_request", "Invalid value type: expected an object, but found null: `null`")
	}
	return m, nil
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, e := s.readSearchBody(r)
	if e != nil {
		writeError(w, e)
		return
	}
	p, e := parseSearchParams(body, false)
	if e != nil {
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
	ex, e := s.execute(ix, p)
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, ex.response(start, wantsMetadata(r)))
}

func (s *Server) handleMultiSearch(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var body map[string]any
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	top, e := (vctx{code: "bad_request"}).object(body, []string{"queries", "federation"})
	if e != nil {
		writeError(w, e)
		return
	}
	rawQueries, ok := top["queries"].([]any)
	if !ok {
		if top["queries"] == nil {
			writeError(w, newError("missing_multi_search_queries", "Missing field `queries`"))
			return
		}
		writeError(w, (vctx{"invalid_multi_search_queries", ".queries"}).typeErr("an array", top["queries"]))
		return
	}
	federated := top["federation"] != nil
	params := make([]*searchParams, len(rawQueries))
	for i, rq := range rawQueries {
		m, ok := rq.(map[string]any)
		if !ok {
			writeError(w, (vctx{"bad_request", fmt.Sprintf(".queries[%d]", i)}).typeErr("an object", rq))
			return
		}
		p, e := parseSearchParams(m, true)
		if e != nil {
			writeError(w, insideQuery(i, e))
			return
		}
		if p.indexUID == "" {
			writeError(w, insideQuery(i, newError("missing_index_uid", "Missing field `indexUid`")))
			return
		}
		if federated && len(p.paginationFields) > 0 {
			writeError(w, insideQuery(i, newError("invalid_multi_search_query_pagination", "Using pagination options is not allowed in federated queries.\n - Hint: remove `%s` from query #%d or remove `federation` from the request\n - Hint: pass `federation.limit` and `federation.offset` for pagination in federated search", p.paginationFields[0], i)))
			return
		}
		if federated && p.facetsAsked {
			writeError(w, insideQuery(i, newError("invalid_multi_search_query_facets", "Using facet options is not allowed in federated queries.\n - Hint: remove `facets` from query #%d or remove `federation` from the request\n - Hint: pass `federation.facetsByIndex.%s: %s` for facets in federated search", i, p.indexUID, compactJSON(p.facets))))
			return
		}
		if !federated && p.hasWeight {
			writeError(w, insideQuery(i, newError("invalid_multi_search_federation_options", "Using `federationOptions` is not allowed in a non-federated search.\n - Hint: remove `federationOptions` from query #%d or add `federation` to the request.", i)))
			return
		}
		p.filter = withTokenFilter(r, p.indexUID, p.filter)
		params[i] = p
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	execs := make([]*searchExec, len(params))
	for i, p := range params {
		ix, err := s.readIndex(p.indexUID)
		if err != nil {
			writeError(w, insideQuery(i, err.(*apiError)))
			return
		}
		ex, e := s.execute(ix, p)
		if e != nil {
			writeError(w, insideQuery(i, e))
			return
		}
		execs[i] = ex
	}
	if !federated {
		results := make([]any, len(execs))
		for i, ex := range execs {
			res := ex.response(start, wantsMetadata(r))
			o := &orderedObject{}
			o.set("indexUid", ex.ix.uid)
			for k, key := range res.keys {
				o.set(key, res.values[k])
			}
			results[i] = o
		}
		writeJSON(w, http.StatusOK, map[string]any{"results": results})
		return
	}
	out, e := s.federate(top["federation"], execs, start, wantsMetadata(r))
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func insideQuery(i int, e *apiError) *apiError {
	c := *e
	c.Message = fmt.Sprintf("Inside `.queries[%d]`: %s", i, e.Message)
	return &c
}

// handleFacetSearch is POST /indexes/{uid}/facet-search. Its answer has
// no remoteErrors: Meilisearch writes that member only for a facet search
// over the network (useNetwork, sharding: Enterprise Edition features),
// never for a local one (perform_facet_search sets it to None); useNetwork
// is accepted and, as in search, runs the search locally.
func (s *Server) handleFacetSearch(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var body map[string]any
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	m, e := (vctx{code: "bad_request"}).object(body, []string{"facetName", "facetQuery", "q", "filter", "matchingStrategy", "attributesToSearchOn", "exhaustiveFacetCount", "vector", "hybrid", "locales", "rankingScoreThreshold", "media", "useNetwork"})
	if e != nil {
		writeError(w, e)
		return
	}
	nameV, ok := m["facetName"]
	if !ok || nameV == nil {
		writeError(w, newError("missing_facet_search_facet_name", "Missing field `facetName`"))
		return
	}
	facetName, e := (vctx{"invalid_facet_search_facet_name", ".facetName"}).str(nameV)
	if e != nil {
		writeError(w, e)
		return
	}
	facetQuery := ""
	if v, ok := m["facetQuery"]; ok && v != nil {
		if facetQuery, e = (vctx{"invalid_facet_search_facet_query", ".facetQuery"}).str(v); e != nil {
			writeError(w, e)
			return
		}
	}
	inner := map[string]any{}
	for _, k := range []string{"q", "filter", "matchingStrategy", "attributesToSearchOn", "vector", "hybrid", "rankingScoreThreshold"} {
		if v, ok := m[k]; ok {
			inner[k] = v
		}
	}
	p, e := parseSearchParams(inner, false)
	if e != nil {
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
	if !st.FacetSearch {
		writeError(w, newError("facet_search_disabled", "The facet search is disabled for this index"))
		return
	}
	if !facetSearchable(st, facetName) {
		fl := filterableList(st)
		avail := "This index does not have configured facet-searchable attributes."
		if len(fl) > 0 {
			avail = "Available facet-searchable attributes patterns are: `" + strings.Join(fl, ", ") + "`."
		}
		writeError(w, newError("invalid_facet_search_facet_name", "Attribute `%s` is not facet-searchable. %s To make it facet-searchable add it to the `filterableAttributes` index settings.", facetName, avail))
		return
	}
	ex, e := s.execute(ix, p)
	if e != nil {
		writeError(w, e)
		return
	}
	docs := make([]*document, len(ex.hits))
	for i, h := range ex.hits {
		docs[i] = h.doc
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].seq < docs[j].seq })
	out := &orderedObject{}
	out.set("facetHits", facetSearch(st, docs, facetName, facetQuery))
	if _, ok := m["facetQuery"]; ok && m["facetQuery"] != nil {
		out.set("facetQuery", facetQuery)
	} else {
		out.set("facetQuery", nil)
	}
	out.set("processingTimeMs", time.Since(start).Milliseconds())
	writeJSON(w, http.StatusOK, out)
}

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
