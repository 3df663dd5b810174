package miroir

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/merge"
)

// Rendering a merged answer: as Meilisearch's JSON (the REST API, without
// decoding the hits) or as meilisearch-go's SearchResponse (the library).

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
