package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/merge"
)

// Facet search, similar documents and document listing: the other
// scatter-gather reads.

// ---------------------------------------------------------------------
// facet search

// facetSearch is Index.FacetSearch.
func (c *Cluster) facetSearch(ctx context.Context, uid string, req *meilisearch.FacetSearchRequest) (*json.RawMessage, error) {
	if req == nil {
		return nil, meilisearch.ErrNoFacetSearchRequest
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	out, err := c.facetSearchBody(ctx, uid, body)
	if err != nil {
		return nil, err
	}
	raw := json.RawMessage(out)
	return &raw, nil
}

// facetSearchBody runs a facet search given as JSON: every node of a
// covering set answers for its shards, counts are summed per value, then
// ordered and truncated by the facet's settings.
func (c *Cluster) facetSearchBody(ctx context.Context, uid string, body []byte) ([]byte, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	st, err := c.state(ctx, uid)
	if err != nil {
		return nil, err
	}
	rs, err := c.mergeSettingsFor(ctx, uid)
	if err != nil {
		return nil, err
	}
	var members []rawMember
	var filter []byte
	var facetName, q string
	facetQuery := []byte("null")
	it := merge.NewObjectIter(body, 0)
	for {
		k, vs, ve, ok := it.Next()
		if !ok {
			break
		}
		v := body[vs:ve]
		switch string(k) {
		case "filter":
			filter = v
			continue
		case "facetName":
			_ = json.Unmarshal(v, &facetName)
		case "facetQuery":
			facetQuery = v
		case "q":
			_ = json.Unmarshal(v, &q)
		case "attributesToSearchOn":
			if rs.searchAll && hasDigit(q) {
				continue
			}
		}
		members = append(members, rawMember{string(k), v})
	}
	if err := it.Err(); err != nil {
		return nil, badParam("bad_request", "Json deserialize error: %v", err)
	}
	if facetName == shardField {
		return nil, badParam("invalid_facet_search_facet_name", "Attribute `%s` is not facet-searchable.", shardField)
	}
	base := []byte{'{'}
	for _, m := range members {
		base = appendMember(base, m.key, m.value)
	}
	if rs.searchAll && hasDigit(q) {
		if on := c.searchFields(ctx, st, uid); len(on) > 0 {
			v, _ := json.Marshal(on)
			base = appendMember(base, "attributesToSearchOn", v)
		}
	}
	path := "/indexes/" + uid + "/facet-search"
	results, err := scatter(ctx, c, uid, false, func(ctx context.Context, cn coverNode) ([]byte, error) {
		b := slices.Clip(base)
		if f := combineFilter(filter, cn.shardFilter()); f != nil {
			b = appendMember(b, "filter", f)
		}
		b = append(b, '}')
		resp, err := cn.n.do(ctx, "facetSearch", http.MethodPost, path, nil, "application/json", b)
		if err != nil {
			return nil, err
		}
		return resp.Body, nil
	})
	if err != nil {
		return nil, err
	}
	bodies := make([][]byte, len(results))
	for i, r := range results {
		bodies[i] = r.val
	}
	out := []byte(`{"facetHits":`)
	out, took, err := merge.MergeFacetSearch(out, bodies, facetName, rs.facetOrder())
	if err != nil {
		return nil, err
	}
	out = append(out, `,"facetQuery":`...)
	out = append(out, facetQuery...)
	out = append(out, `,"processingTimeMs":`...)
	out = strconv.AppendInt(out, took, 10)
	return append(out, '}'), nil
}

// ---------------------------------------------------------------------
// similar documents

// similarBody finds documents similar to one document. The document lives
// on one shard only, so miroir reads its embedding there and runs a
// semantic search with it (semanticRatio 1) over a covering set, leaving
// the document itself out: the scores are the same similarities
// Meilisearch's /similar computes.
func (c *Cluster) similarBody(ctx context.Context, uid string, body []byte) ([]byte, error) {
	var req struct {
		ID       json.RawMessage `json:"id"`
		Embedder string          `json:"embedder"`
		Offset   int64           `json:"offset"`
		Limit    *int64          `json:"limit"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badParam("bad_request", "Json deserialize error: %v", err)
	}
	id := string(req.ID)
	if s, ok := merge.Unquote(req.ID); ok {
		id = s
	}
	if len(req.ID) == 0 || string(req.ID) == "null" {
		return nil, badParam("invalid_similar_id", "Missing field `id`")
	}
	if req.Embedder == "" {
		return nil, badParam("invalid_similar_embedder", "Missing field `embedder`")
	}
	limit := int64(20)
	if req.Limit != nil {
		limit = *req.Limit
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if _, err := c.state(ctx, uid); err != nil {
		return nil, err
	}
	vec, err := c.documentVector(ctx, uid, id, req.Embedder)
	if err != nil {
		return nil, err
	}
	// the search: caller's options, the vector, and one more hit (the
	// document itself ranks first when the filter keeps it)
	sb := []byte{'{'}
	it := merge.NewObjectIter(body, 0)
	for {
		k, vs, ve, ok := it.Next()
		if !ok {
			break
		}
		switch string(k) {
		case "filter", "attributesToRetrieve", "showRankingScore", "showRankingScoreDetails", "showPerformanceDetails", "rankingScoreThreshold", "retrieveVectors":
			sb = appendMember(sb, string(k), body[vs:ve])
		}
	}
	sb = appendMember(sb, "q", []byte(`""`))
	sb = appendMember(sb, "vector", vec)
	hy, _ := json.Marshal(map[string]any{"embedder": req.Embedder, "semanticRatio": 1.0})
	sb = appendMember(sb, "hybrid", hy)
	sb = appendMember(sb, "offset", []byte("0"))
	sb = appendMember(sb, "limit", strconv.AppendInt(nil, req.Offset+limit+1, 10))
	sb = append(sb, '}')
	q, err := parseSearchQuery(sb)
	if err != nil {
		return nil, err
	}
	ms, err := c.searchOne(ctx, uid, q, true)
	if err != nil {
		return nil, err
	}
	pk := ms.plan.pk
	var kept []merge.Ref
	total := ms.total
	for _, ref := range ms.page {
		v := merge.Lookup(ms.hit(ref).Raw, pk)
		if s, ok := merge.Unquote(v); ok {
			v = []byte(s)
		}
		if pk != "" && string(v) == id {
			total--
			continue
		}
		kept = append(kept, ref)
	}
	from := min(int(req.Offset), len(kept))
	to := min(from+int(limit), len(kept))
	out := []byte(`{"hits":[`)
	for i, ref := range kept[from:to] {
		if i > 0 {
			out = append(out, ',')
		}
		out = merge.AppendHit(out, ms.hit(ref).Raw, &ms.plan.strip, nil)
	}
	out = append(out, `],"id":`...)
	out = merge.AppendString(out, id)
	out = fmt.Appendf(out, `,"processingTimeMs":%d,"limit":%d,"offset":%d,"estimatedTotalHits":%d`, ms.took, limit, req.Offset, max(total, 0))
	for _, m := range ms.extra {
		if string(m.Key) == "performanceDetails" {
			out = append(out, `,"performanceDetails":`...)
			out = append(out, m.Value...)
		}
	}
	return append(out, '}'), nil
}

// similar is Index.SearchSimilarDocuments.
func (c *Cluster) similar(ctx context.Context, uid string, param *meilisearch.SimilarDocumentQuery, resp *meilisearch.SimilarDocumentResult) error {
	if param == nil {
		return badParam("invalid_similar_id", "Missing field `id`")
	}
	body, err := json.Marshal(param)
	if err != nil {
		return err
	}
	out, err := c.similarBody(ctx, uid, body)
	if err != nil {
		return err
	}
	if resp == nil {
		return nil
	}
	return json.Unmarshal(out, resp)
}

// documentVector reads document id's first embedding for embedder from a
// healthy replica of its shard.
func (c *Cluster) documentVector(ctx context.Context, uid, id, embedder string) ([]byte, error) {
	shard := ShardOf(id, c.topo.shards)
	query := url.Values{"retrieveVectors": {"true"}, "fields": {"_vectors"}}
	path := "/indexes/" + uid + "/documents/" + url.PathEscape(id)
	var lastErr error
	cov := c.cover([]int{shard}, c.nextSeq(), nil)
	tried := map[int]bool{}
	candidates := make([]*node, 0, len(c.nodes))
	for _, cn := range cov.nodes {
		candidates = append(candidates, cn.n)
	}
	for g := 0; g < c.topo.groups(); g++ {
		for _, ni := range c.topo.replicas(shard, g) {
			candidates = append(candidates, c.nodes[ni])
		}
	}
	for _, n := range candidates {
		if tried[n.idx] || !n.isHealthy() {
			continue
		}
		tried[n.idx] = true
		resp, err := n.do(ctx, "getDocument", http.MethodGet, path, query, "", nil)
		if err != nil {
			if retryableNodeError(err) {
				lastErr = err
				continue
			}
			if apiCode(err) == "document_not_found" {
				return nil, badParam("not_found_similar_id", "Invalid value at `.id`: Document `%s` not found.", id)
			}
			return nil, err
		}
		v := merge.Lookup(resp.Body, "_vectors")
		if v != nil {
			v = merge.Lookup(v, embedder)
		}
		if v != nil && v[0] == '{' {
			v = merge.Lookup(v, "embeddings")
		}
		// a vector, or an array of vectors: take the first
		for v != nil && len(v) > 1 && v[0] == '[' {
			ai := merge.NewArrayIter(v, 0)
			s, e, ok := ai.Next()
			if !ok || v[s] != '[' {
				break
			}
			v = v[s:e]
		}
		if v == nil || v[0] != '[' {
			return nil, badParam("invalid_similar_id", "Document `%s` has no embedding for embedder `%s`.", id, embedder)
		}
		return v, nil
	}
	if lastErr == nil {
		lastErr = c.unavailableShards(ctx, uid, []int{shard})
	}
	return nil, lastErr
}

// ---------------------------------------------------------------------
// document listing

// documentsQuery is a documents listing request.
type documentsQuery struct {
	members []rawMember
	offset  int64
	limit   int64
	filter  []byte
	fields  []string
	sort    []merge.SortSpec
}

// documentsBody lists documents (POST /indexes/{uid}/documents/fetch).
//
// Order: without sort, documents come node by node in a fixed node order
// (a deterministic covering set: group 0's preferred replicas first), each
// node's documents in its own internal order, restricted to the shards the
// node answers for. The covering set does not rotate between calls, so
// with a stable topology and no writes, walking the pages of a listing
// returns every document exactly once, with or without filter. With sort,
// documents are merged by the sort fields (Meilisearch's value order), ties
// in the same node order.
func (c *Cluster) documentsBody(ctx context.Context, uid string, body []byte) ([]byte, error) {
	dq := &documentsQuery{limit: 20}
	it := merge.NewObjectIter(body, 0)
	for {
		k, vs, ve, ok := it.Next()
		if !ok {
			break
		}
		v := body[vs:ve]
		var err error
		switch string(k) {
		case "offset", "limit":
			// Not members: documentsBody sets each node's own.
			n, err := documentsPaging(string(k), v)
			if err != nil {
				return nil, err
			}
			if string(k) == "offset" {
				dq.offset = n
			} else {
				dq.limit = n
			}
			continue
		case "filter":
			dq.filter = v
			continue
		case "fields":
			err = json.Unmarshal(v, &dq.fields)
		case "sort":
			var s []string
			err = json.Unmarshal(v, &s)
			dq.sort = merge.ParseSort(s)
		}
		if err != nil {
			return nil, badParam("invalid_document_"+snake(string(k)), "Invalid value at `.%s`: %v", k, err)
		}
		dq.members = append(dq.members, rawMember{string(k), v})
	}
	if err := it.Err(); err != nil {
		return nil, badParam("bad_request", "Json deserialize error: %v", err)
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if _, err := c.state(ctx, uid); err != nil {
		return nil, err
	}
	strip := &merge.Strip{Keys: []string{shardField}}
	fields := dq.fields
	if fields != nil && !slices.Contains(fields, "*") {
		for _, sp := range dq.sort {
			if !retrieves(fields, sp.Path) {
				fields = append(slices.Clone(fields), sp.Path)
				top, _, _ := splitTop(sp.Path)
				if !slices.ContainsFunc(dq.fields, func(a string) bool { return a == top || len(a) > len(top) && a[:len(top)+1] == top+"." }) {
					strip.Keys = append(strip.Keys, top)
				}
			}
		}
	}
	base := []byte{'{'}
	for _, m := range dq.members {
		if m.key == "fields" && fields != nil {
			v, _ := json.Marshal(fields)
			base = appendMember(base, "fields", v)
			continue
		}
		base = appendMember(base, m.key, m.value)
	}
	reqBody := func(cn coverNode, offset, limit int64) []byte {
		b := slices.Clip(base)
		b = appendMember(b, "offset", strconv.AppendInt(nil, offset, 10))
		b = appendMember(b, "limit", strconv.AppendInt(nil, limit, 10))
		if f := combineFilter(dq.filter, cn.shardFilter()); f != nil {
			b = appendMember(b, "filter", f)
		}
		return append(b, '}')
	}
	path := "/indexes/" + uid + "/documents/fetch"
	type page struct {
		results [][]byte
		total   int64
	}
	fetch := func(ctx context.Context, cn coverNode, offset, limit int64) (page, error) {
		resp, err := cn.n.do(ctx, "getDocuments", http.MethodPost, path, nil, "application/json", reqBody(cn, offset, limit))
		if err != nil {
			return page{}, err
		}
		var p page
		oi := merge.NewObjectIter(resp.Body, 0)
		for {
			k, vs, ve, ok := oi.Next()
			if !ok {
				break
			}
			switch string(k) {
			case "total":
				p.total, _ = merge.ParseInt(resp.Body[vs:ve])
			case "results":
				ai := merge.NewArrayIter(resp.Body, vs)
				for {
					s, e, ok := ai.Next()
					if !ok {
						break
					}
					p.results = append(p.results, resp.Body[s:e])
				}
				if err := ai.Err(); err != nil {
					return page{}, err
				}
			}
		}
		return p, oi.Err()
	}
	var firstLimit int64
	if len(dq.sort) > 0 {
		firstLimit = dq.offset + dq.limit
	}
	results, err := scatter(ctx, c, uid, true, func(ctx context.Context, cn coverNode) (page, error) {
		return fetch(ctx, cn, 0, firstLimit)
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(results, func(a, b gathered[page]) int { return a.cn.n.idx - b.cn.n.idx })
	var total int64
	for _, r := range results {
		total += r.val.total
	}
	var docs [][]byte
	if len(dq.sort) > 0 {
		// k-way merge by the sort fields, ties in node order
		pos := make([]int, len(results))
		for int64(len(docs)) < dq.offset+dq.limit {
			best := -1
			for i, r := range results {
				if pos[i] >= len(r.val.results) {
					continue
				}
				if best < 0 || merge.CompareDocs(r.val.results[pos[i]], results[best].val.results[pos[best]], dq.sort) < 0 {
					best = i
				}
			}
			if best < 0 {
				break
			}
			docs = append(docs, results[best].val.results[pos[best]])
			pos[best]++
		}
		docs = docs[min(int(dq.offset), len(docs)):]
	} else {
		// node after node: fetch the part of each node the window covers
		start := int64(0)
		type part struct {
			i             int
			offset, limit int64
		}
		var parts []part
		for i, r := range results {
			lo := max(dq.offset-start, 0)
			hi := min(dq.offset+dq.limit-start, r.val.total)
			if hi > lo {
				parts = append(parts, part{i, lo, hi - lo})
			}
			start += r.val.total
		}
		pages := make([]page, len(parts))
		errs := make([]error, len(parts))
		done := make(chan struct{}, len(parts))
		for pi, p := range parts {
			go func() {
				pages[pi], errs[pi] = fetch(ctx, results[p.i].cn, p.offset, p.limit)
				done <- struct{}{}
			}()
		}
		for range parts {
			<-done
		}
		for pi := range parts {
			if errs[pi] != nil {
				return nil, errs[pi]
			}
			docs = append(docs, pages[pi].results...)
		}
	}
	out := []byte(`{"results":[`)
	for i, d := range docs {
		if i > 0 {
			out = append(out, ',')
		}
		out = merge.AppendHit(out, d, strip, nil)
	}
	out = fmt.Appendf(out, `],"offset":%d,"limit":%d,"total":%d}`, dq.offset, dq.limit, total)
	return out, nil
}

func splitTop(path string) (string, string, bool) {
	for i := 0; i < len(path); i++ {
		if path[i] == '.' {
			return path[:i], path[i+1:], true
		}
	}
	return path, "", false
}

// getDocuments is Index.GetDocuments.
func (c *Cluster) getDocuments(ctx context.Context, uid string, param *meilisearch.DocumentsQuery, resp *meilisearch.DocumentsResult) error {
	if param == nil {
		param = &meilisearch.DocumentsQuery{}
	}
	body, err := json.Marshal(param)
	if err != nil {
		return err
	}
	out, err := c.documentsBody(ctx, uid, body)
	if err != nil {
		return err
	}
	if resp == nil {
		return nil
	}
	return json.Unmarshal(out, resp)
}
