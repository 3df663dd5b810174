package meilitest

import (
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Search and multi-search (federate.go holds the federation, search_params
// the parameters, search_render the rendering, vectors.go the semantic and
// hybrid parts, cmd_facet_search.go and cmd_similar.go the other routes).

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
