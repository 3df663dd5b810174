package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/miroirsearch/miroir/internal/merge"
)

// Federated multi-search: the queries' hits merged by weighted ranking
// score (score × federationOptions.weight; ties by query position, then
// the query's own order), each document once, paged with the federation's
// offset/limit or page/hitsPerPage; facets per index or merged.

// federation is the federation object of a federated multi-search.
type federation struct {
	Offset        *int64              `json:"offset"`
	Limit         *int64              `json:"limit"`
	Page          *int64              `json:"page"`
	HitsPerPage   *int64              `json:"hitsPerPage"`
	FacetsByIndex map[string][]string `json:"facetsByIndex"`
	MergeFacets   *struct {
		MaxValuesPerFacet *int `json:"maxValuesPerFacet"`
	} `json:"mergeFacets"`
}

type fedHit struct {
	qi   int
	ref  merge.Ref
	w    float64
	rank int
}

// federatedSearch runs a federated multi-search: every query searched
// for the federation's window from its start, the hits merged and paged,
// facets beside them.
func (c *Cluster) federatedSearch(ctx context.Context, body, rawFed []byte) ([]byte, error) {
	var fed federation
	if err := json.Unmarshal(rawFed, &fed); err != nil {
		return nil, badParam("invalid_multi_search_federation", "Invalid value at `.federation`: %v", err)
	}
	qs, err := parseQueries(body)
	if err != nil {
		return nil, err
	}
	pg := fed.paging()
	from, to := pg.window()
	if err := federateQueries(qs, to); err != nil {
		return nil, err
	}
	// hits and facets in parallel
	var facets []byte
	jobs := []func() error{func() error { return c.runQueries(ctx, qs, true) }}
	if fed.FacetsByIndex != nil {
		jobs = append(jobs, func() (err error) {
			facets, err = c.federatedFacets(ctx, qs, &fed)
			return err
		})
	}
	if err := firstError(parallel(len(jobs), 0, func(i int) error { return jobs[i]() })); err != nil {
		return nil, err
	}
	merged := federatedMerge(qs, int(to))
	n := int64(len(merged))
	from, to = min(from, n), max(min(to, n), min(from, n))
	return appendFederated(nil, qs, merged[from:to], pg, facets), nil
}

// fedPaging is a federation's pagination, defaults filled in.
type fedPaging struct {
	offset, limit int64
	page, hpp     int64
	pageMode      bool // page or hitsPerPage given
}

func (fed *federation) paging() fedPaging {
	pg := fedPaging{offset: 0, limit: 20, page: 1, hpp: 20, pageMode: fed.Page != nil || fed.HitsPerPage != nil}
	if fed.Offset != nil {
		pg.offset = *fed.Offset
	}
	if fed.Limit != nil {
		pg.limit = *fed.Limit
	}
	if fed.Page != nil {
		pg.page = *fed.Page
	}
	if fed.HitsPerPage != nil {
		pg.hpp = *fed.HitsPerPage
	}
	return pg
}

// window returns where the page starts and ends in the merged hits.
func (pg fedPaging) window() (from, to int64) {
	if !pg.pageMode {
		return pg.offset, pg.offset + pg.limit
	}
	from = max(pg.page-1, 0) * pg.hpp
	if pg.page == 0 {
		return from, from
	}
	return from, from + pg.hpp
}

// federateQueries refuses the queries' own pagination and facets, as
// Meilisearch does, and makes every query ask for the hits up to to.
func federateQueries(qs []*multiQuery, to int64) error {
	for i, mq := range qs {
		for _, m := range mq.q.members {
			if string(m.value) == "null" {
				continue
			}
			switch m.key {
			case "offset", "limit", "page", "hitsPerPage":
				return insideQuery(i, badParam("invalid_multi_search_query_pagination", "Using pagination options is not allowed in federated queries.\n - Hint: remove `%s` from query #%d or remove `federation` from the request\n - Hint: pass `federation.limit` and `federation.offset` for pagination in federated search", m.key, i))
			case "facets":
				return insideQuery(i, badParam("invalid_multi_search_query_facets", "Using facet options is not allowed in federated queries.\n - Hint: remove `facets` from query #%d or remove `federation` from the request\n - Hint: pass `federation.facetsByIndex.%s: %s` for facets in federated search", i, mq.uid, m.value))
			}
		}
		mq.q.offset, mq.q.limit, mq.q.pageMode = 0, to, false
	}
	return nil
}

// appendFederated renders a federated answer as Meilisearch does: the
// page's hits with their _federation member, the totals of every query,
// the pagination fields, semanticHitCount, then facets (members to splice
// in, or nil).
func appendFederated(b []byte, qs []*multiQuery, page []fedHit, pg fedPaging, facets []byte) []byte {
	var total, took int64
	semantic := false
	for _, mq := range qs {
		total += mq.ms.total
		took = max(took, mq.ms.took)
		semantic = semantic || mq.q.semantic
	}
	b = append(b, `{"hits":[`...)
	semanticCount := 0
	for i, fh := range page {
		if i > 0 {
			b = append(b, ',')
		}
		mq := qs[fh.qi]
		h := mq.ms.hit(fh.ref)
		if mq.q.semantic && merge.IsSemantic(h) {
			semanticCount++
		}
		ext := []byte(`"_federation":{"indexUid":`)
		ext = merge.AppendString(ext, mq.uid)
		ext = append(ext, `,"queriesPosition":`...)
		ext = strconv.AppendInt(ext, int64(fh.qi), 10)
		ext = append(ext, `,"weightedRankingScore":`...)
		w, _ := json.Marshal(fh.w)
		ext = append(ext, w...)
		ext = append(ext, '}')
		b = merge.AppendHit(b, h.Raw, &mq.ms.plan.strip, ext)
	}
	b = append(b, `],"processingTimeMs":`...)
	b = strconv.AppendInt(b, took, 10)
	if pg.pageMode {
		tp := int64(0)
		if pg.hpp > 0 {
			tp = (total + pg.hpp - 1) / pg.hpp
		}
		b = fmt.Appendf(b, `,"hitsPerPage":%d,"page":%d,"totalPages":%d,"totalHits":%d`, pg.hpp, pg.page, tp, total)
	} else {
		b = fmt.Appendf(b, `,"limit":%d,"offset":%d,"estimatedTotalHits":%d`, pg.limit, pg.offset, total)
	}
	if semantic {
		b = fmt.Appendf(b, `,"semanticHitCount":%d`, semanticCount)
	}
	if facets != nil {
		b = append(b, ',')
		b = append(b, facets...)
	}
	return append(b, '}')
}

// federatedMerge merges the queries' hits like Meilisearch: a k-way merge
// of the queries' own orders by weighted score (ties to the earlier
// query), each document kept once (index uid and primary key), until n
// hits.
func federatedMerge(qs []*multiQuery, n int) []fedHit {
	pos := make([]int, len(qs))
	seen := map[string]bool{}
	var out []fedHit
	for len(out) < n {
		best := -1
		var bw float64
		for qi, mq := range qs {
			if pos[qi] >= len(mq.ms.page) {
				continue
			}
			w := mq.ms.hit(mq.ms.page[pos[qi]]).Score * mq.q.weight
			if best < 0 || w > bw {
				best, bw = qi, w
			}
		}
		if best < 0 {
			break
		}
		mq := qs[best]
		fh := fedHit{qi: best, ref: mq.ms.page[pos[best]], w: bw, rank: pos[best]}
		pos[best]++
		if pk := mq.ms.plan.pk; pk != "" {
			v := merge.Lookup(mq.ms.hit(fh.ref).Raw, pk)
			if s, ok := merge.Unquote(v); ok {
				v = []byte(s)
			}
			key := mq.uid + "\x00" + string(v)
			if seen[key] {
				continue
			}
			seen[key] = true
		}
		out = append(out, fh)
	}
	return out
}

// federatedFacets computes facetsByIndex (or, with mergeFacets, the merged
// facetDistribution and facetStats): per index, every node of a covering
// set runs the index's queries restricted to its shards as a federated
// multi-search of its own with limit 0, so that it counts each of its
// documents once over the union of the queries' candidates; the nodes'
// counts are then summed. It returns the members to splice in.
func (c *Cluster) federatedFacets(ctx context.Context, qs []*multiQuery, fed *federation) ([]byte, error) {
	uids := make([]string, 0, len(fed.FacetsByIndex))
	for uid := range fed.FacetsByIndex {
		uids = append(uids, uid)
	}
	sort.Strings(uids)
	type perIndex struct {
		dist, stats []byte
	}
	res := make([]perIndex, len(uids))
	errs := parallel(len(uids), 0, func(ui int) (err error) {
		uid := uids[ui]
		res[ui].dist, res[ui].stats, err = c.indexFacets(ctx, uid, fed.FacetsByIndex[uid], qs)
		return err
	})
	if err := firstError(errs); err != nil {
		return nil, err
	}
	if fed.MergeFacets != nil {
		maxVals := 100
		if fed.MergeFacets.MaxValuesPerFacet != nil {
			maxVals = *fed.MergeFacets.MaxValuesPerFacet
		}
		var dists, stats [][]byte
		for _, r := range res {
			dists = append(dists, r.dist)
			stats = append(stats, r.stats)
		}
		d, err := merge.MergeFacetDistributions(nil, dists, stats, merge.FacetOrder{MaxValuesPerFacet: maxVals}, shardField, versionField)
		if err != nil {
			return nil, err
		}
		s, err := merge.MergeFacetStats(nil, stats, shardField, versionField)
		if err != nil {
			return nil, err
		}
		b := append([]byte(`"facetDistribution":`), d...)
		b = append(b, `,"facetStats":`...)
		return append(b, s...), nil
	}
	b := []byte(`"facetsByIndex":{`)
	for i, uid := range uids {
		if i > 0 {
			b = append(b, ',')
		}
		b = merge.AppendString(b, uid)
		b = append(b, `:{"distribution":`...)
		b = append(b, res[i].dist...)
		b = append(b, `,"stats":`...)
		b = append(b, res[i].stats...)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// indexFacets is one index's facetsByIndex entry, summed over a covering
// set.
func (c *Cluster) indexFacets(ctx context.Context, uid string, attrs []string, qs []*multiQuery) (dist, stats []byte, err error) {
	if _, err := c.state(ctx, uid); err != nil {
		return nil, nil, err
	}
	rs, err := c.mergeSettingsFor(ctx, uid)
	if err != nil {
		return nil, nil, err
	}
	var plans []*searchPlan
	for _, mq := range qs {
		if mq.uid != uid {
			continue
		}
		cp := *mq.q
		cp.offset, cp.limit, cp.pageMode, cp.facets = 0, 0, false, false
		plans = append(plans, newSearchPlan(&cp, rs, func() []string { return nil }, 1, ""))
	}
	fb, _ := json.Marshal(map[string][]string{uid: attrs})
	type answer struct{ dist, stats []byte }
	results, err := scatter(ctx, c, uid, false, func(ctx context.Context, cn coverNode) (answer, error) {
		b := []byte(`{"federation":{"limit":0,"facetsByIndex":`)
		b = append(b, fb...)
		b = append(b, `},"queries":[`...)
		for i, p := range plans {
			if i > 0 {
				b = append(b, ',')
			}
			qb := p.body(0, -1, false, cn.shardFilter())
			b = append(b, `{"indexUid":`...)
			b = merge.AppendString(b, uid)
			if len(qb) > 2 {
				b = append(b, ',')
			}
			b = append(b, qb[1:]...)
		}
		b = append(b, ']', '}')
		resp, err := cn.n.do(ctx, "multiSearch", http.MethodPost, "/multi-search", nil, "application/json", b)
		if err != nil {
			return answer{}, err
		}
		fbi := merge.Lookup(resp.Body, "facetsByIndex")
		if fbi == nil {
			return answer{}, nil
		}
		entry := merge.Lookup(fbi, uid)
		if entry == nil {
			return answer{}, nil
		}
		return answer{merge.Lookup(entry, "distribution"), merge.Lookup(entry, "stats")}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	var dists, sts [][]byte
	for _, r := range results {
		dists = append(dists, r.val.dist)
		sts = append(sts, r.val.stats)
	}
	if dist, err = merge.MergeFacetDistributions(nil, dists, sts, rs.facetOrder(), shardField, versionField); err != nil {
		return nil, nil, err
	}
	if stats, err = merge.MergeFacetStats(nil, sts, shardField, versionField); err != nil {
		return nil, nil, err
	}
	return dist, stats, nil
}
