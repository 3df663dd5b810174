package miroir

import "github.com/miroirsearch/miroir/internal/merge"

// Merging the nodes' answers to one query into what one node holding every
// document would answer (DESIGN §5): the k-way merge by score or ranking
// details, distinct, refills of a node that ran short, totals and facets.
// The mechanics (scanning, merge, facets) live in internal/merge.

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
	if err := ms.gatherTotals(); err != nil {
		return nil, err
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

// gatherTotals fills what the answer says beside its hits from every
// node's: the total (capped by maxTotalHits), the processing time, the
// query vector, whether semantic search ran, the extra members, and the
// merged facets when asked for.
func (ms *mergedSearch) gatherTotals() error {
	p := ms.plan
	var dists, stats [][]byte
	for _, r := range ms.resps {
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
	if len(ms.resps) > 0 {
		ms.extra = ms.resps[0].Extra
	}
	if !p.q.facets {
		return nil
	}
	var err error
	if ms.facets, err = merge.MergeFacetDistributions(nil, dists, stats, p.settings.facetOrder(), shardField, versionField); err != nil {
		return err
	}
	ms.stats, err = merge.MergeFacetStats(nil, stats, shardField, versionField)
	return err
}

// hit returns the hit r refers to.
func (ms *mergedSearch) hit(r merge.Ref) *merge.Hit { return &ms.lists[r.List].Hits[r.Index] }

// totalPages is the page count of a page-mode answer.
func (ms *mergedSearch) totalPages() int64 {
	hpp := ms.plan.q.hitsPerPage
	if hpp <= 0 {
		return 0
	}
	return (ms.total + hpp - 1) / hpp
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
