package meilitest

import (
	"math"
	"sort"
	"strconv"
	"time"
)

// The federation part of POST /multi-search: parameters, pagination,
// facets by index or merged, metadata. The merge itself is federation.go's.

// federate merges the hits of several queries by weighted ranking score.
func (s *Server) federate(raw any, execs []*searchExec, start time.Time, metadata bool) (*orderedObject, *apiError) {
	fm, e := (vctx{"invalid_multi_search_federation", ".federation"}).object(raw, []string{"offset", "limit", "page", "hitsPerPage", "facetsByIndex", "mergeFacets", "distinct", "showPerformanceDetails"})
	if e != nil {
		return nil, e
	}
	offset, limit := 0, defaultLimit
	var page, hpp *int
	showPerf := false
	for _, k := range sortedKeys(fm) {
		v := fm[k]
		if v == nil {
			continue
		}
		switch k {
		case "showPerformanceDetails":
			if showPerf, e = boolParam("invalid_search_show_performance_details", ".federation.showPerformanceDetails", v); e != nil {
				return nil, e
			}
		case "offset":
			if offset, e = intParam("invalid_multi_search_federation_offset", ".federation.offset", v); e != nil {
				return nil, e
			}
		case "limit":
			if limit, e = intParam("invalid_multi_search_federation_limit", ".federation.limit", v); e != nil {
				return nil, e
			}
		case "page":
			n, e := intParam("invalid_multi_search_federation_page", ".federation.page", v)
			if e != nil {
				return nil, e
			}
			page = &n
		case "hitsPerPage":
			n, e := intParam("invalid_multi_search_federation_hits_per_page", ".federation.hitsPerPage", v)
			if e != nil {
				return nil, e
			}
			hpp = &n
		}
	}
	// skip/take of the merged list; every query and every index
	// contributes at most skip+take hits (required_hit_count)
	skip, take := offset, limit
	pg, hp := 1, defaultLimit
	if page != nil || hpp != nil {
		if page != nil {
			pg = *page
		}
		if hpp != nil {
			hp = *hpp
		}
		skip, take = (pg-1)*hp, hp
		if pg == 0 {
			skip, take = 0, 0
		}
	}
	merged, n := federatedMerge(execs, skip+take)
	out := &orderedObject{}
	info := &orderedObject{}
	if page != nil || hpp != nil {
		tp := 0
		if hp > 0 {
			tp = (n + hp - 1) / hp
		}
		info.set("hitsPerPage", hp)
		info.set("page", pg)
		info.set("totalPages", tp)
		info.set("totalHits", n)
	} else {
		info.set("limit", limit)
		info.set("offset", offset)
		info.set("estimatedTotalHits", n)
	}
	from := min(skip, len(merged))
	to := max(min(skip+take, len(merged)), from)
	hits := make([]any, 0, to-from)
	for _, fh := range merged[from:to] {
		hit := fh.ex.renderHit(fh.h, fh.ex.formatOptions())
		hit["_federation"] = map[string]any{"indexUid": fh.ex.ix.uid, "queriesPosition": fh.pos, "weightedRankingScore": fh.global}
		hits = append(hits, hit)
	}
	out.set("hits", hits)
	out.set("processingTimeMs", time.Since(start).Milliseconds())
	for i, k := range info.keys {
		out.set(k, info.values[i])
	}
	// facets by index
	if fbi, ok := fm["facetsByIndex"].(map[string]any); ok {
		byIndex := &orderedObject{}
		mergedDist := map[string]map[string]int{}
		mergedStats := map[string][2]float64{}
		for _, uid := range sortedKeys(fbi) {
			list, e := strListParam("invalid_multi_search_facets", ".federation.facetsByIndex."+uid, fbi[uid])
			if e != nil {
				return nil, e
			}
			var ix *index
			var docs []*document
			seenDoc := map[*document]bool{}
			for _, ex := range execs {
				if ex.ix.uid != uid {
					continue
				}
				ix = ex.ix
				for _, h := range ex.hits {
					if !seenDoc[h.doc] {
						seenDoc[h.doc] = true
						docs = append(docs, h.doc)
					}
				}
			}
			if ix == nil {
				found, err := s.readIndex(uid)
				if err != nil {
					return nil, err.(*apiError)
				}
				ix = found
			}
			for _, f := range list {
				if f != "*" && !isFilterableAttr(ix.settings, f) {
					return nil, newError("invalid_multi_search_facets", "Inside `.federation.facetsByIndex.%s`: Invalid facet distribution: Attribute `%s` is not filterable.", uid, f)
				}
			}
			sort.Slice(docs, func(i, j int) bool { return docs[i].seq < docs[j].seq })
			var names []string
			for _, f := range list {
				if f == "*" {
					names = append(names, filterableNames(ix.settings, docs)...)
				} else {
					names = append(names, f)
				}
			}
			dist, stats := facetDistribution(ix.settings, docs, dedupe(names))
			o := &orderedObject{}
			o.set("distribution", dist)
			o.set("stats", stats)
			byIndex.set(uid, o)
			for i, attr := range dist.keys {
				vals := dist.values[i].(*orderedObject)
				if mergedDist[attr] == nil {
					mergedDist[attr] = map[string]int{}
				}
				for j, v := range vals.keys {
					mergedDist[attr][v] += vals.values[j].(int)
				}
			}
			for i, attr := range stats.keys {
				mm := stats.values[i].(map[string]float64)
				cur, ok := mergedStats[attr]
				if !ok {
					cur = [2]float64{mm["min"], mm["max"]}
				}
				cur[0] = math.Min(cur[0], mm["min"])
				cur[1] = math.Max(cur[1], mm["max"])
				mergedStats[attr] = cur
			}
		}
		if mf, ok := fm["mergeFacets"].(map[string]any); ok || fm["mergeFacets"] != nil {
			maxVals := 100
			if v, ok := mf["maxValuesPerFacet"]; ok {
				if n, e := intParam("invalid_multi_search_merge_facets", ".federation.mergeFacets.maxValuesPerFacet", v); e == nil {
					maxVals = n
				}
			}
			dist := map[string]any{}
			for attr, vals := range mergedDist {
				keys := sortedKeys(vals)
				if len(keys) > maxVals {
					keys = keys[:maxVals]
				}
				m := map[string]int{}
				for _, k := range keys {
					m[k] = vals[k]
				}
				dist[attr] = m
			}
			stats := map[string]any{}
			for attr, mm := range mergedStats {
				stats[attr] = map[string]float64{"min": mm[0], "max": mm[1]}
			}
			out.set("facetDistribution", dist)
			out.set("facetStats", stats)
		} else {
			out.set("facetsByIndex", byIndex)
		}
	}
	if metadata {
		var md []any
		for _, ex := range execs {
			md = append(md, ex.metadata())
		}
		out.set("metadata", md)
	}
	if showPerf {
		// Meilisearch's progress steps of a federated search, with how
		// long they took as Rust prints a Duration with {:.2?}
		out.set("performanceDetails", map[string]string{"federating results": rustDuration(time.Since(start))})
	}
	return out, nil
}

// rustDuration prints d as Rust's `{:.2?}` prints a Duration.
func rustDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	case d >= time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
	case d >= time.Microsecond:
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 2, 64) + "µs"
	}
	return strconv.FormatInt(int64(d), 10) + ".00ns"
}
