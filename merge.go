package miroir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/merge"
)

// Merging node search answers into what one node holding every document
// would answer (DESIGN §5). The mechanics (scanning, k-way merge, facets,
// splicing) live in internal/merge; this file decides what to ask the
// nodes and how to put the answer together.

// searchQuery is a caller's search request taken apart: its members kept
// raw (passed through to nodes), and the parameters the scatter-gather
// acts on, decoded.
type searchQuery struct {
	members []rawMember

	q           string
	offset      int64
	limit       int64
	page        int64
	hitsPerPage int64
	pageMode    bool
	hasSort     bool
	distinct    string
	retrieve    []string // nil: everything
	searchOn    []string
	hasSearchOn bool
	showScore   bool
	showDetails bool
	filter      []byte // raw, nil when absent or null
	facets      bool
	semantic    bool
	hybrid      bool    // a hybrid member
	qSet        bool    // a q member (even empty)
	vector      bool    // a vector member
	ratio       float64 // hybrid semanticRatio
	weight      float64 // federationOptions.weight
	indexUID    string
}

// parseSearchQuery takes a search request body apart.
func parseSearchQuery(body []byte) (*searchQuery, error) {
	q := &searchQuery{limit: 20, hitsPerPage: 20, page: 1, ratio: 0.5, weight: 1}
	it := merge.NewObjectIter(body, 0)
	hasPage, hasHPP := false, false
	for {
		k, vs, ve, ok := it.Next()
		if !ok {
			break
		}
		v := body[vs:ve]
		key := string(k)
		q.members = append(q.members, rawMember{key, v})
		if string(v) == "null" {
			continue
		}
		var err error
		switch key {
		case "q":
			q.qSet = true
			err = json.Unmarshal(v, &q.q)
		case "offset":
			err = json.Unmarshal(v, &q.offset)
		case "limit":
			err = json.Unmarshal(v, &q.limit)
		case "page":
			hasPage = true
			err = json.Unmarshal(v, &q.page)
		case "hitsPerPage":
			hasHPP = true
			err = json.Unmarshal(v, &q.hitsPerPage)
		case "sort":
			var s []string
			err = json.Unmarshal(v, &s)
			q.hasSort = len(s) > 0
		case "distinct":
			err = json.Unmarshal(v, &q.distinct)
		case "attributesToRetrieve":
			err = json.Unmarshal(v, &q.retrieve)
			if q.retrieve == nil {
				q.retrieve = []string{}
			}
		case "attributesToSearchOn":
			q.hasSearchOn = true
			err = json.Unmarshal(v, &q.searchOn)
		case "showRankingScore":
			err = json.Unmarshal(v, &q.showScore)
		case "showRankingScoreDetails":
			err = json.Unmarshal(v, &q.showDetails)
		case "filter":
			q.filter = v
		case "facets":
			q.facets = true
		case "vector":
			q.semantic, q.vector = true, true
		case "hybrid":
			q.semantic, q.hybrid = true, true
			var h struct {
				SemanticRatio *float64 `json:"semanticRatio"`
			}
			err = json.Unmarshal(v, &h)
			if h.SemanticRatio != nil {
				q.ratio = *h.SemanticRatio
			}
		case "federationOptions":
			var f struct {
				Weight *float64 `json:"weight"`
			}
			err = json.Unmarshal(v, &f)
			if f.Weight != nil {
				q.weight = *f.Weight
			}
		case "indexUid":
			err = json.Unmarshal(v, &q.indexUID)
		}
		if err != nil {
			return nil, badParam("invalid_search_"+snake(key), "Invalid value at `.%s`: %v", key, err)
		}
	}
	if err := it.Err(); err != nil {
		return nil, badParam("bad_request", "Json deserialize error: %v", err)
	}
	// Each pagination parameter is an unsigned integer in Meilisearch,
	// refused with its own code.
	for _, p := range []struct {
		name string
		v    int64
	}{{"offset", q.offset}, {"limit", q.limit}, {"page", q.page}, {"hitsPerPage", q.hitsPerPage}} {
		if p.v < 0 {
			return nil, badParam("invalid_search_"+snake(p.name), "Invalid value type at `.%s`: expected a positive integer, but found a negative integer: `%d`", p.name, p.v)
		}
	}
	q.pageMode = hasPage || hasHPP
	return q, nil
}

// hybridKind reports whether one node runs q as a hybrid search
// (Meilisearch's search_kind): a query and 0 < semanticRatio < 1, a
// vector unless the query is blank. Such a search answers with its
// keyword part alone when that part is good enough (hybrid.rs).
func (q *searchQuery) hybridKind() bool {
	return q.hybrid && q.qSet && q.ratio > 0 && q.ratio < 1 && (q.vector || strings.TrimSpace(q.q) != "")
}

// keywordPart is q asking for the keyword part of its hybrid search only:
// semanticRatio 0 makes a node search by keywords alone.
func (q *searchQuery) keywordPart() *searchQuery {
	k := *q
	k.semantic, k.ratio = false, 0
	k.members = make([]rawMember, len(q.members))
	for i, m := range q.members {
		if m.key == "hybrid" {
			var h map[string]json.RawMessage
			if json.Unmarshal(m.value, &h) == nil && h != nil {
				h["semanticRatio"] = json.RawMessage("0.0")
				if v, err := json.Marshal(h); err == nil {
					m.value = v
				}
			}
		}
		k.members[i] = m
	}
	return &k
}

// goodEnoughScore is hybrid.rs's GOOD_ENOUGH_SCORE.
const goodEnoughScore = 0.45

// keywordGoodEnough is hybrid.rs's results_good_enough over the merged
// keyword hits: the n first hits exist and each scores at least
// goodEnoughScore once weighted by 1-ratio.
func (ms *mergedSearch) keywordGoodEnough(n int, ratio float64) bool {
	if len(ms.ranked) < n {
		return false
	}
	for _, ref := range ms.ranked[:n] {
		if ms.hit(ref).Score*(1-ratio) < goodEnoughScore {
			return false
		}
	}
	return true
}

// window returns how many merged hits the caller's page needs, and where
// the page starts in them.
func (q *searchQuery) window() (from, to int) {
	if q.pageMode {
		if q.page == 0 {
			return 0, 0
		}
		from = int((q.page - 1) * q.hitsPerPage)
		return from, from + int(q.hitsPerPage)
	}
	return int(q.offset), int(q.offset + q.limit)
}

// mergeSettings is what merging needs from an index's settings.
type mergeSettings struct {
	customRules       bool
	distinct          string
	searchAll         bool // searchableAttributes ["*"]
	maxValuesPerFacet int
	sortFacetBy       map[string]string
	maxTotalHits      int
}

func mergeSettingsFrom(s *meilisearch.Settings) mergeSettings {
	rs := mergeSettings{searchAll: true, maxValuesPerFacet: 100, maxTotalHits: 1000}
	if s == nil {
		return rs
	}
	for _, r := range s.RankingRules {
		if strings.HasSuffix(r, ":asc") || strings.HasSuffix(r, ":desc") {
			rs.customRules = true
		}
	}
	if s.DistinctAttribute != nil {
		rs.distinct = *s.DistinctAttribute
	}
	if len(s.SearchableAttributes) > 0 && !(len(s.SearchableAttributes) == 1 && s.SearchableAttributes[0] == "*") {
		rs.searchAll = false
	}
	if s.Faceting != nil {
		rs.maxValuesPerFacet = int(s.Faceting.MaxValuesPerFacet)
		if len(s.Faceting.SortFacetValuesBy) > 0 {
			rs.sortFacetBy = map[string]string{}
			for k, v := range s.Faceting.SortFacetValuesBy {
				rs.sortFacetBy[k] = string(v)
			}
		}
	}
	if s.Pagination != nil {
		rs.maxTotalHits = int(s.Pagination.MaxTotalHits)
	}
	return rs
}

func (rs *mergeSettings) facetOrder() merge.FacetOrder {
	fo := merge.FacetOrder{MaxValuesPerFacet: rs.maxValuesPerFacet}
	if rs.sortFacetBy != nil {
		m := rs.sortFacetBy
		fo.SortBy = func(attr string) string {
			if v, ok := m[attr]; ok {
				return v
			}
			if v, ok := m["*"]; ok {
				return v
			}
			return "alpha"
		}
	}
	return fo
}

// searchPlan is one query's scatter-gather: the node request and the
// merge rules.
type searchPlan struct {
	q          *searchQuery
	from, to   int // the caller's page within the merged order
	nodeWindow int // hits asked from each node
	byDetails  bool
	distinct   string
	strip      merge.Strip
	settings   mergeSettings
	base       []byte // node body members, without pagination and filter
	// pk, when set, is retrieved for federated de-duplication.
	pk string
}

// overridden are the members the node request sets itself.
var overridden = map[string]bool{
	"offset": true, "limit": true, "page": true, "hitsPerPage": true,
	"showRankingScore": true, "showRankingScoreDetails": true,
	"filter": true, "indexUid": true, "federationOptions": true,
}

// hasDigit reports whether q holds a digit: only such a query can match
// the numeric shard field.
func hasDigit(q string) bool {
	for _, r := range q {
		if unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// retrieves reports whether attribute path is part of the retrieved list.
func retrieves(list []string, path string) bool {
	for _, a := range list {
		if a == "*" || a == path || strings.HasPrefix(path, a+".") {
			return true
		}
	}
	return false
}

// newSearchPlan derives the node request from the caller's query, the
// index's settings and fields (for attributesToSearchOn).
func newSearchPlan(q *searchQuery, rs mergeSettings, fields func() []string, overFetch float64, pk string) *searchPlan {
	p := &searchPlan{q: q, settings: rs, pk: pk}
	p.from, p.to = q.window()
	if rs.maxTotalHits >= 0 {
		// one node never ranks past maxTotalHits: neither does the merge
		p.to = min(p.to, rs.maxTotalHits)
		p.from = min(p.from, p.to)
	}
	p.nodeWindow = p.to
	if q.semantic && overFetch > 1 {
		p.nodeWindow = int(math.Ceil(float64(p.to) * overFetch))
	}
	p.byDetails = q.hasSort || rs.customRules || q.semantic
	p.distinct = q.distinct
	if p.distinct == "" {
		p.distinct = rs.distinct
	}
	p.strip.Keys = append(p.strip.Keys, shardField)
	p.strip.Nested = append(p.strip.Nested, shardField)
	p.strip.Matches = append(p.strip.Matches, shardField)
	if !q.showScore {
		p.strip.Keys = append(p.strip.Keys, "_rankingScore")
	}
	if !q.showDetails && p.byDetails {
		p.strip.Keys = append(p.strip.Keys, "_rankingScoreDetails")
	}
	retrieve := q.retrieve
	added := false
	addAttr := func(path string) {
		if path == "" || retrieve == nil || retrieves(retrieve, path) {
			return
		}
		retrieve = append(slices.Clone(retrieve), path)
		added = true
		top, _, _ := strings.Cut(path, ".")
		if !slices.ContainsFunc(q.retrieve, func(a string) bool { return a == top || strings.HasPrefix(a, top+".") }) {
			p.strip.Keys = append(p.strip.Keys, top)
			p.strip.Nested = append(p.strip.Nested, top)
		}
	}
	addAttr(p.distinct)
	addAttr(pk)

	var b []byte
	b = append(b, '{')
	for _, m := range q.members {
		if overridden[m.key] || (added && m.key == "attributesToRetrieve") || (m.key == "attributesToSearchOn" && rs.searchAll) {
			continue
		}
		b = appendMember(b, m.key, m.value)
	}
	if added {
		v, _ := json.Marshal(retrieve)
		b = appendMember(b, "attributesToRetrieve", v)
	}
	if rs.searchAll {
		switch {
		case q.hasSearchOn:
			on := slices.DeleteFunc(slices.Clone(q.searchOn), func(a string) bool { return a == shardField })
			if len(on) == 1 && on[0] == "*" && hasDigit(q.q) {
				on = fields()
			}
			v, _ := json.Marshal(on)
			b = appendMember(b, "attributesToSearchOn", v)
		case hasDigit(q.q):
			if on := fields(); len(on) > 0 {
				v, _ := json.Marshal(on)
				b = appendMember(b, "attributesToSearchOn", v)
			}
		}
	}
	b = appendMember(b, "showRankingScore", []byte("true"))
	if p.byDetails || q.showDetails {
		b = appendMember(b, "showRankingScoreDetails", []byte("true"))
	}
	p.base = b
	return p
}

// body is the request for one node: page mode asks page 1 of
// hitsPerPage = limit (so the node reports exhaustive totalHits), else
// offset/limit; a negative limit leaves pagination out.
func (p *searchPlan) body(offset, limit int, pageMode bool, shardFilter string) []byte {
	b := make([]byte, 0, len(p.base)+len(shardFilter)+len(p.q.filter)+64)
	b = append(b, p.base...)
	if limit < 0 {
		// no pagination members (queries of a federated multi-search)
	} else if pageMode {
		b = appendMember(b, "page", []byte("1"))
		b = appendMember(b, "hitsPerPage", strconv.AppendInt(nil, int64(limit), 10))
	} else {
		b = appendMember(b, "offset", strconv.AppendInt(nil, int64(offset), 10))
		b = appendMember(b, "limit", strconv.AppendInt(nil, int64(limit), 10))
	}
	if f := combineFilter(p.q.filter, shardFilter); f != nil {
		b = appendMember(b, "filter", f)
	}
	return append(b, '}')
}

// combineFilter ANDs the shard restriction with the caller's filter: a
// string filter becomes `(filter) AND restriction`, an array filter gets
// the restriction as one more element.
func combineFilter(user []byte, shard string) []byte {
	user = bytes.TrimSpace(user)
	if len(user) == 0 || string(user) == "null" || string(user) == `""` {
		if shard == "" {
			return nil
		}
		return merge.AppendString(nil, shard)
	}
	if shard == "" {
		return user
	}
	switch user[0] {
	case '"':
		s, ok := merge.Unquote(user)
		if !ok {
			return user
		}
		if strings.TrimSpace(s) == "" {
			return merge.AppendString(nil, shard)
		}
		return merge.AppendString(nil, "("+s+") AND "+shard)
	case '[':
		inner := bytes.TrimSpace(user[1 : len(user)-1])
		out := make([]byte, 0, len(user)+len(shard)+4)
		out = append(out, '[')
		if len(inner) > 0 {
			out = append(out, inner...)
			out = append(out, ',')
		}
		out = merge.AppendString(out, shard)
		return append(out, ']')
	}
	return user
}

// mergedSearch is the merged answer of one query.
type mergedSearch struct {
	plan   *searchPlan
	resps  []*merge.Response
	lists  []*merge.List
	page   []merge.Ref
	total  int64
	took   int64
	facets []byte
	stats  []byte
	// semantic counts the page's hits that came from semantic search;
	// hasSemantic: the nodes answered with semanticHitCount (a keyword
	// only search, semanticRatio 0, does not)
	semantic    int
	hasSemantic bool
	ranked      []merge.Ref // every merged hit, the page's first at plan.from
	extra       []merge.Member
	qvector     []byte
}

// mergeAnswers merges the nodes' answers; refill fetches more hits of a
// node (offset, limit) when distinct emptied its list early.
func (p *searchPlan) mergeAnswers(resps []*merge.Response, refill func(i, offset, limit int) (*merge.Response, error)) (*mergedSearch, error) {
	ms := &mergedSearch{plan: p, resps: resps}
	m := &merge.Merger{Distinct: p.distinct}
	switch {
	case p.q.semantic:
		m.Compare = merge.HybridCompare(p.q.ratio)
	case p.byDetails:
		m.Compare = merge.CompareByDetails
	}
	asked := make([]int, len(resps))
	for i, r := range resps {
		l := &merge.List{Hits: r.Hits, More: p.nodeWindow > 0 && len(r.Hits) >= p.nodeWindow}
		asked[i] = len(r.Hits)
		m.Lists = append(m.Lists, l)
	}
	for rounds := 0; ; rounds++ {
		i := m.Run(p.to)
		if i < 0 {
			break
		}
		chunk := max(p.nodeWindow, 20)
		r, err := refill(i, asked[i], chunk)
		if err != nil {
			return nil, err
		}
		asked[i] += len(r.Hits)
		l := m.Lists[i]
		l.Hits = append(l.Hits, r.Hits...)
		l.More = len(r.Hits) >= chunk
	}
	ms.lists = m.Lists
	ms.ranked = m.Out
	from := min(p.from, len(m.Out))
	ms.page = m.Out[from:]
	// totals, facets, time
	var dists, stats [][]byte
	for _, r := range resps {
		if p.q.pageMode && r.HasTotalHits {
			ms.total += r.TotalHits
		} else {
			ms.total += r.EstimatedTotalHits
		}
		ms.took = max(ms.took, r.ProcessingTimeMs)
		if r.FacetDistribution != nil {
			dists = append(dists, r.FacetDistribution)
		}
		if r.FacetStats != nil {
			stats = append(stats, r.FacetStats)
		}
		if ms.qvector == nil {
			ms.qvector = r.QueryVector
		}
		ms.hasSemantic = ms.hasSemantic || r.HasSemantic
	}
	if mt := p.settings.maxTotalHits; mt >= 0 && ms.total > int64(mt) {
		ms.total = int64(mt)
	}
	if len(resps) > 0 {
		ms.extra = resps[0].Extra
	}
	var err error
	if p.q.facets {
		if ms.facets, err = merge.MergeFacetDistributions(nil, dists, stats, p.settings.facetOrder(), shardField); err != nil {
			return nil, err
		}
		if ms.stats, err = merge.MergeFacetStats(nil, stats, shardField); err != nil {
			return nil, err
		}
	}
	if p.q.semantic {
		for _, ref := range ms.page {
			if merge.IsSemantic(ms.hit(ref)) {
				ms.semantic++
			}
		}
	}
	return ms, nil
}

func (ms *mergedSearch) hit(r merge.Ref) *merge.Hit { return &ms.lists[r.List].Hits[r.Index] }

func (ms *mergedSearch) totalPages() int64 {
	hpp := ms.plan.q.hitsPerPage
	if hpp <= 0 {
		return 0
	}
	return (ms.total + hpp - 1) / hpp
}

// appendJSON renders the merged answer as Meilisearch does: hits, query,
// processingTimeMs, pagination fields, facets. indexUID is added first
// when set (multi-search results).
func (ms *mergedSearch) appendJSON(b []byte, indexUID string) []byte {
	q := ms.plan.q
	b = append(b, '{')
	if indexUID != "" {
		b = append(b, `"indexUid":`...)
		b = merge.AppendString(b, indexUID)
		b = append(b, ',')
	}
	b = append(b, `"hits":[`...)
	for i, ref := range ms.page {
		if i > 0 {
			b = append(b, ',')
		}
		b = merge.AppendHit(b, ms.hit(ref).Raw, &ms.plan.strip, nil)
	}
	b = append(b, `],"query":`...)
	b = merge.AppendString(b, q.q)
	if ms.qvector != nil {
		b = append(b, `,"queryVector":`...)
		b = append(b, ms.qvector...)
	}
	b = append(b, `,"processingTimeMs":`...)
	b = strconv.AppendInt(b, ms.took, 10)
	if q.pageMode {
		b = append(b, `,"hitsPerPage":`...)
		b = strconv.AppendInt(b, q.hitsPerPage, 10)
		b = append(b, `,"page":`...)
		b = strconv.AppendInt(b, q.page, 10)
		b = append(b, `,"totalPages":`...)
		b = strconv.AppendInt(b, ms.totalPages(), 10)
		b = append(b, `,"totalHits":`...)
		b = strconv.AppendInt(b, ms.total, 10)
	} else {
		b = append(b, `,"limit":`...)
		b = strconv.AppendInt(b, q.limit, 10)
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, q.offset, 10)
		b = append(b, `,"estimatedTotalHits":`...)
		b = strconv.AppendInt(b, ms.total, 10)
	}
	if q.facets {
		b = append(b, `,"facetDistribution":`...)
		b = append(b, ms.facets...)
		b = append(b, `,"facetStats":`...)
		b = append(b, ms.stats...)
	}
	if ms.hasSemantic {
		b = append(b, `,"semanticHitCount":`...)
		b = strconv.AppendInt(b, int64(ms.semantic), 10)
	}
	for _, m := range ms.extra {
		b = append(b, ',', '"')
		b = append(b, m.Key...)
		b = append(b, '"', ':')
		b = append(b, m.Value...)
	}
	return append(b, '}')
}

// response builds meilisearch-go's SearchResponse directly from the raw
// hits, without encoding and decoding the merged answer.
func (ms *mergedSearch) response() (*meilisearch.SearchResponse, error) {
	q := ms.plan.q
	out := &meilisearch.SearchResponse{
		Hits:             make(meilisearch.Hits, len(ms.page)),
		ProcessingTimeMs: ms.took,
		Query:            q.q,
	}
	for i, ref := range ms.page {
		raw := ms.hit(ref).Raw
		h := make(meilisearch.Hit, 16)
		merge.EachMember(raw, &ms.plan.strip, func(k string, v []byte) { h[k] = json.RawMessage(v) })
		out.Hits[i] = h
	}
	if q.pageMode {
		out.HitsPerPage, out.Page, out.TotalPages, out.TotalHits = q.hitsPerPage, q.page, ms.totalPages(), ms.total
	} else {
		out.Limit, out.Offset, out.EstimatedTotalHits = q.limit, q.offset, ms.total
	}
	if q.facets {
		out.FacetDistribution = json.RawMessage(ms.facets)
		out.FacetStats = json.RawMessage(ms.stats)
	}
	if ms.qvector != nil {
		var v []float32
		if err := json.Unmarshal(ms.qvector, &v); err == nil {
			out.QueryVector = &v
		}
	}
	for _, m := range ms.extra {
		var err error
		switch string(m.Key) {
		case "performanceDetails":
			err = json.Unmarshal(m.Value, &out.PerformanceDetails)
		case "metadata":
			err = json.Unmarshal(m.Value, &out.Metadata)
		}
		if err != nil {
			return nil, fmt.Errorf("miroir: decoding %s: %w", m.Key, err)
		}
	}
	return out, nil
}
