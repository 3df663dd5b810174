package miroir

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/merge"
)

// Multi-search: every query is its own scatter-gather (they run in
// parallel), answered one result per query; a federated multi-search
// merges them into one list (search_federated.go).

// MultiSearch runs several searches, plain or federated, on the fleet.
func (c *Cluster) MultiSearch(ctx context.Context, req *meilisearch.MultiSearchRequest) (_ *meilisearch.MultiSearchResponse, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "multiSearch", "")
		defer func() { cs.end(err) }()
	}
	if req == nil {
		return nil, fmt.Errorf("miroir: MultiSearch: nil request")
	}
	r := *req
	r.Queries = make([]*meilisearch.SearchRequest, len(req.Queries))
	for i, q := range req.Queries {
		cp := *q
		if cp.Hybrid != nil && cp.Hybrid.Embedder == "" {
			h := *cp.Hybrid
			h.Embedder = "default"
			cp.Hybrid = &h
		}
		r.Queries[i] = &cp
	}
	body, err := json.Marshal(&r)
	if err != nil {
		return nil, err
	}
	if req.Federation == nil {
		mss, err := c.multiSearchPlain(ctx, body)
		if err != nil {
			return nil, err
		}
		out := &meilisearch.MultiSearchResponse{Results: make([]meilisearch.SearchResponse, len(mss))}
		for i, ms := range mss {
			resp, err := ms.ms.response()
			if err != nil {
				return nil, err
			}
			resp.IndexUID = ms.uid
			out.Results[i] = *resp
		}
		return out, nil
	}
	raw, err := c.multiSearchBody(ctx, body)
	if err != nil {
		return nil, err
	}
	out := &meilisearch.MultiSearchResponse{}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, err
	}
	return out, nil
}

// multiSearchBody runs a multi-search given as JSON (the REST API's body).
func (c *Cluster) multiSearchBody(ctx context.Context, body []byte) (_ []byte, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "multiSearch", "")
		defer func() { cs.end(err) }()
	}
	var top struct {
		Federation json.RawMessage `json:"federation"`
	}
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, badParam("bad_request", "Json deserialize error: %v", err)
	}
	if len(top.Federation) == 0 || string(top.Federation) == "null" {
		mss, err := c.multiSearchPlain(ctx, body)
		if err != nil {
			return nil, err
		}
		b := []byte(`{"results":[`)
		for i, ms := range mss {
			if i > 0 {
				b = append(b, ',')
			}
			b = ms.ms.appendJSON(b, ms.uid)
		}
		return append(b, ']', '}'), nil
	}
	return c.federatedSearch(ctx, body, top.Federation)
}

// multiQuery is one query of a multi-search.
type multiQuery struct {
	uid string
	q   *searchQuery
	ms  *mergedSearch
}

// parseQueries reads the queries of a multi-search body.
func parseQueries(body []byte) ([]*multiQuery, error) {
	it := merge.NewObjectIter(body, 0)
	var qs []*multiQuery
	found := false
	for {
		k, vs, _, ok := it.Next()
		if !ok {
			break
		}
		if string(k) != "queries" || body[vs] == 'n' {
			continue
		}
		found = true
		ai := merge.NewArrayIter(body, vs)
		for {
			s, e, ok := ai.Next()
			if !ok {
				break
			}
			q, err := parseSearchQuery(body[s:e])
			if err != nil {
				return nil, insideQuery(len(qs), err)
			}
			if q.indexUID == "" {
				return nil, insideQuery(len(qs), badParam("missing_index_uid", "Missing field `indexUid`"))
			}
			qs = append(qs, &multiQuery{uid: q.indexUID, q: q})
		}
		if err := ai.Err(); err != nil {
			return nil, badParam("invalid_multi_search_queries", "Invalid value type at `.queries`: %v", err)
		}
	}
	if err := it.Err(); err != nil {
		return nil, badParam("bad_request", "Json deserialize error: %v", err)
	}
	if !found {
		return nil, badParam("missing_multi_search_queries", "Missing field `queries`")
	}
	return qs, nil
}

// insideQuery prefixes an error with the query it comes from, as
// Meilisearch does.
func insideQuery(i int, err error) error {
	if e, ok := err.(*Error); ok {
		cp := *e
		cp.Message = fmt.Sprintf("Inside `.queries[%d]`: %s", i, e.Message)
		return &cp
	}
	return fmt.Errorf("inside `.queries[%d]`: %w", i, err)
}

// runQueries runs every query's scatter-gather in parallel.
func (c *Cluster) runQueries(ctx context.Context, qs []*multiQuery, federated bool) error {
	errs := parallel(len(qs), 0, func(i int) (err error) {
		qs[i].ms, err = c.searchOne(ctx, qs[i].uid, qs[i].q, federated)
		return err
	})
	for i, err := range errs {
		if err != nil {
			return insideQuery(i, err)
		}
	}
	return nil
}

func (c *Cluster) multiSearchPlain(ctx context.Context, body []byte) ([]*multiQuery, error) {
	qs, err := parseQueries(body)
	if err != nil {
		return nil, err
	}
	for i, mq := range qs {
		for _, m := range mq.q.members {
			if m.key == "federationOptions" && string(m.value) != "null" {
				return nil, insideQuery(i, badParam("invalid_multi_search_federation_options", "Using `federationOptions` is not allowed in a non-federated search.\n - Hint: remove `federationOptions` from query #%d or add `federation` to the request.", i))
			}
		}
	}
	if err := c.runQueries(ctx, qs, false); err != nil {
		return nil, err
	}
	return qs, nil
}
