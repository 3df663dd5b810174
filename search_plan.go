package miroir

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/merge"
)

// Planning one query's scatter-gather (DESIGN §5): what each node is asked
// (a wider window, the ranking details the merge compares, the attributes
// the merge needs, the shard restriction) and the rules the merge follows,
// from the query and the index's settings.

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
	p.strip.Keys = append(p.strip.Keys, shardField, versionField)
	p.strip.Nested = append(p.strip.Nested, shardField, versionField)
	p.strip.Matches = append(p.strip.Matches, shardField, versionField)
	if !q.showScore {
		p.strip.Keys = append(p.strip.Keys, "_rankingScore")
	}
	if !q.showDetails && p.byDetails {
		p.strip.Keys = append(p.strip.Keys, "_rankingScoreDetails")
	}
	retrieve, added := p.retrieveForMerge()
	p.base = p.nodeBase(retrieve, added, fields)
	return p
}

// retrieveForMerge widens the caller's attributesToRetrieve with what the
// merge reads (the distinct attribute, the primary key of a federated
// search), stripping them again from the hits; added says whether it
// changed.
func (p *searchPlan) retrieveForMerge() (retrieve []string, added bool) {
	q := p.q
	retrieve = q.retrieve
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
	addAttr(p.pk)
	return retrieve, added
}

// nodeBase is the members of every node request but pagination and
// filter: the caller's, attributesToRetrieve widened (when added),
// attributesToSearchOn without the shard field, and the ranking scores
// the merge compares.
func (p *searchPlan) nodeBase(retrieve []string, added bool, fields func() []string) []byte {
	q, rs := p.q, p.settings
	b := []byte{'{'}
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
			on := slices.DeleteFunc(slices.Clone(q.searchOn), isInternalField)
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
	return b
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

// mergeSettingsFor returns what merging needs from uid's settings.
func (c *Cluster) mergeSettingsFor(ctx context.Context, uid string) (mergeSettings, error) {
	ctx = withNodeKeys(ctx)
	s, err := c.indexSettings(ctx, uid)
	if err != nil {
		return mergeSettings{}, err
	}
	return mergeSettingsFrom(s), nil
}

// searchTarget is what a search or facet search on uid starts with: the Cluster
// open, the index's state and the settings the merge follows.
func (c *Cluster) searchTarget(ctx context.Context, uid string) (*indexState, mergeSettings, error) {
	if err := c.checkOpen(); err != nil {
		return nil, mergeSettings{}, err
	}
	st, err := c.state(ctx, uid)
	if err != nil {
		return nil, mergeSettings{}, err
	}
	rs, err := c.mergeSettingsFor(ctx, uid)
	if err != nil {
		return nil, mergeSettings{}, err
	}
	return st, rs, nil
}
