package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/merge"
)

// Similar documents (POST /indexes/{uid}/similar): the document lives on
// one shard only, so miroir reads its embedding there and runs a semantic
// search with it over a covering set.

// SearchSimilarDocuments finds documents similar to one document across
// every shard.
func (i *Index) SearchSimilarDocuments(ctx context.Context, param *meilisearch.SimilarDocumentQuery, resp *meilisearch.SimilarDocumentResult) error {
	return i.c.similar(ctx, i.uid, param, resp)
}

// similarBody finds documents similar to one document. The document lives
// on one shard only, so miroir reads its embedding there and runs a
// semantic search with it (semanticRatio 1) over a covering set, leaving
// the document itself out: the scores are the same similarities
// Meilisearch's /similar computes.
func (c *Cluster) similarBody(ctx context.Context, uid string, body []byte) (_ []byte, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "similar", uid)
		defer func() { cs.end(err) }()
	}
	req, err := parseSimilarRequest(body)
	if err != nil {
		return nil, err
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if _, err := c.state(ctx, uid); err != nil {
		return nil, err
	}
	vec, err := c.documentVector(ctx, uid, req.id, req.embedder)
	if err != nil {
		return nil, err
	}
	q, err := parseSearchQuery(similarSearch(body, vec, req))
	if err != nil {
		return nil, err
	}
	ms, err := c.searchOne(ctx, uid, q, true)
	if err != nil {
		return nil, err
	}
	return appendSimilar(nil, ms, req), nil
}

// similarRequest is a /similar request's own parameters.
type similarRequest struct {
	id            string // the document id, unquoted
	embedder      string
	offset, limit int64
}

// parseSimilarRequest reads a /similar body's id, embedder, offset and
// limit (default 20).
func parseSimilarRequest(body []byte) (*similarRequest, error) {
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
	return &similarRequest{id: id, embedder: req.Embedder, offset: req.Offset, limit: limit}, nil
}

// similarSearch is the search a /similar request runs: the caller's
// options, the document's vector, and one more hit (the document itself
// ranks first when the filter keeps it).
func similarSearch(body, vec []byte, req *similarRequest) []byte {
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
	hy, _ := json.Marshal(map[string]any{"embedder": req.embedder, "semanticRatio": 1.0})
	sb = appendMember(sb, "hybrid", hy)
	sb = appendMember(sb, "offset", []byte("0"))
	sb = appendMember(sb, "limit", strconv.AppendInt(nil, req.offset+req.limit+1, 10))
	return append(sb, '}')
}

// appendSimilar renders the /similar answer from the search's merged
// hits, the document itself left out.
func appendSimilar(out []byte, ms *mergedSearch, req *similarRequest) []byte {
	pk := ms.plan.pk
	var kept []merge.Ref
	total := ms.total
	for _, ref := range ms.page {
		v := merge.Lookup(ms.hit(ref).Raw, pk)
		if s, ok := merge.Unquote(v); ok {
			v = []byte(s)
		}
		if pk != "" && string(v) == req.id {
			total--
			continue
		}
		kept = append(kept, ref)
	}
	from := min(int(req.offset), len(kept))
	to := min(from+int(req.limit), len(kept))
	out = append(out, `{"hits":[`...)
	for i, ref := range kept[from:to] {
		if i > 0 {
			out = append(out, ',')
		}
		out = merge.AppendHit(out, ms.hit(ref).Raw, &ms.plan.strip, nil)
	}
	out = append(out, `],"id":`...)
	out = merge.AppendString(out, req.id)
	out = fmt.Appendf(out, `,"processingTimeMs":%d,"limit":%d,"offset":%d,"estimatedTotalHits":%d`, ms.took, req.limit, req.offset, max(total, 0))
	for _, m := range ms.extra {
		if string(m.Key) == "performanceDetails" {
			out = append(out, `,"performanceDetails":`...)
			out = append(out, m.Value...)
		}
	}
	return append(out, '}')
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
	tp := c.topo()
	shard := ShardOf(id, tp.shards)
	query := url.Values{"retrieveVectors": {"true"}, "fields": {"_vectors"}}
	path := "/indexes/" + uid + "/documents/" + url.PathEscape(id)
	var lastErr error
	cov := c.cover(uid, []int{shard}, c.nextSeq(), nil, true)
	tried := map[int]bool{}
	candidates := make([]*node, 0, len(tp.clients))
	for _, cn := range cov.nodes {
		candidates = append(candidates, cn.n)
	}
	for g := 0; g < tp.groups(); g++ {
		for _, ni := range tp.replicas(shard, g) {
			candidates = append(candidates, tp.clients[ni])
		}
	}
	for _, n := range candidates {
		if tried[n.idx] || !c.readable(uid, shard, n.idx) {
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
