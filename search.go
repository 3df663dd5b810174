package miroir

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/merge"
)

// The read path (DESIGN §5): every search is a scatter-gather over a
// covering set (covering.go) merged into what one node holding every
// document would answer. A query is parsed (search_query.go), planned
// (search_plan.go), scattered (here), merged (search_merge.go) and
// rendered (search_render.go).

// searchBody runs one search given as a JSON body (the REST API's) on
// index uid and returns the merged answer as JSON.
func (c *Cluster) searchBody(ctx context.Context, uid string, body []byte) ([]byte, error) {
	q, err := parseSearchQuery(body)
	if err != nil {
		return nil, err
	}
	ms, err := c.searchOne(ctx, uid, q, false)
	if err != nil {
		return nil, err
	}
	return ms.appendJSON(nil, ""), nil
}

// encodeSearchRequest turns meilisearch-go's request into its JSON body the
// way meilisearch-go does (q set from query, indexUid cleared, default
// embedder).
func encodeSearchRequest(query string, req *meilisearch.SearchRequest, keepIndex bool) ([]byte, error) {
	if req == nil {
		return nil, meilisearch.ErrNoSearchRequest
	}
	r := *req
	if query != "" {
		r.Query = query
	}
	if !keepIndex {
		r.IndexUID = ""
	}
	if r.Hybrid != nil && r.Hybrid.Embedder == "" {
		h := *r.Hybrid
		h.Embedder = "default"
		r.Hybrid = &h
	}
	return json.Marshal(&r)
}

// search is Index.Search.
func (c *Cluster) search(ctx context.Context, uid, query string, req *meilisearch.SearchRequest) (*meilisearch.SearchResponse, error) {
	body, err := encodeSearchRequest(query, req, false)
	if err != nil {
		return nil, err
	}
	q, err := parseSearchQuery(body)
	if err != nil {
		return nil, err
	}
	ms, err := c.searchOne(ctx, uid, q, false)
	if err != nil {
		return nil, err
	}
	return ms.response()
}

// Search searches the index across the fleet: one node per shard (a
// covering set) answers, and the answers are merged into what one node
// holding every document would return (DESIGN §5).
func (i *Index) Search(ctx context.Context, query string, request *meilisearch.SearchRequest) (*meilisearch.SearchResponse, error) {
	return i.c.search(ctx, i.uid, query, request)
}

// SearchRaw is Search returning the merged answer as JSON.
func (i *Index) SearchRaw(ctx context.Context, query string, request *meilisearch.SearchRequest) (*json.RawMessage, error) {
	return i.c.searchRaw(ctx, i.uid, query, request)
}

// searchRaw is Index.SearchRaw.
func (c *Cluster) searchRaw(ctx context.Context, uid, query string, req *meilisearch.SearchRequest) (*json.RawMessage, error) {
	body, err := encodeSearchRequest(query, req, false)
	if err != nil {
		return nil, err
	}
	out, err := c.searchBody(ctx, uid, body)
	if err != nil {
		return nil, err
	}
	raw := json.RawMessage(out)
	return &raw, nil
}

// searchOne runs one query's scatter-gather. federated retrieves the
// primary key, which federated de-duplication needs.
func (c *Cluster) searchOne(ctx context.Context, uid string, q *searchQuery, federated bool) (_ *mergedSearch, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "search", uid)
		defer func() { cs.end(err) }()
	}
	st, rs, err := c.searchTarget(ctx, uid)
	if err != nil {
		return nil, err
	}
	pk := ""
	if federated {
		pk = st.PrimaryKey()
	}
	fields := func() []string { return c.searchFields(ctx, st, uid) }
	if q.hybridKind() {
		// One node answers a hybrid search with its keyword part alone when
		// that part is good enough; whether it is depends on every node's
		// keyword hits, so the cluster asks for them first.
		kp := newSearchPlan(q.keywordPart(), rs, fields, 1, pk)
		ms, err := c.runSearchPlan(ctx, uid, kp)
		if err != nil {
			return nil, err
		}
		if ms.keywordGoodEnough(kp.to, q.ratio) {
			ms.hasSemantic, ms.semantic = true, 0
			return ms, nil
		}
	}
	return c.runSearchPlan(ctx, uid, newSearchPlan(q, rs, fields, c.opts.overFetch, pk))
}

// runSearchPlan scatters plan's node requests and merges the answers.
func (c *Cluster) runSearchPlan(ctx context.Context, uid string, plan *searchPlan) (*mergedSearch, error) {
	q := plan.q
	path := "/indexes/" + uid + "/search"
	results, err := scatter(ctx, c, uid, false, func(ctx context.Context, cn coverNode) (*merge.Response, error) {
		resp, err := cn.n.do(ctx, "search", http.MethodPost, path, nil, "application/json", plan.body(0, plan.nodeWindow, q.pageMode, cn.shardFilter()))
		if err != nil {
			return nil, err
		}
		return merge.ParseResponse(resp.Body)
	})
	if err != nil {
		return nil, err
	}
	resps := make([]*merge.Response, len(results))
	for i, r := range results {
		resps[i] = r.val
	}
	return plan.mergeAnswers(resps, func(i, offset, limit int) (*merge.Response, error) {
		cn := results[i].cn
		resp, err := cn.n.do(ctx, "search", http.MethodPost, path, nil, "application/json", plan.body(offset, limit, false, cn.shardFilter()))
		if err != nil {
			return nil, err
		}
		return merge.ParseResponse(resp.Body)
	})
}

// ---------------------------------------------------------------------
// index fields, for attributesToSearchOn
