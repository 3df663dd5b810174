package miroir

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/merge"
)

// Facet search (POST /indexes/{uid}/facet-search): every node of a
// covering set answers for its shards, counts are summed per value, then
// ordered and truncated by the facet's settings.

// FacetSearch searches facet values across the fleet: counts are summed
// per value, then ordered and truncated by the index's faceting settings.
func (i *Index) FacetSearch(ctx context.Context, request *meilisearch.FacetSearchRequest) (*json.RawMessage, error) {
	return i.c.facetSearch(ctx, i.uid, request)
}

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
func (c *Cluster) facetSearchBody(ctx context.Context, uid string, body []byte) (_ []byte, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "facetSearch", uid)
		defer func() { cs.end(err) }()
	}
	st, rs, err := c.searchTarget(ctx, uid)
	if err != nil {
		return nil, err
	}
	fq, err := parseFacetQuery(body, rs.searchAll)
	if err != nil {
		return nil, err
	}
	base := []byte{'{'}
	for _, m := range fq.members {
		base = appendMember(base, m.key, m.value)
	}
	if rs.searchAll && hasDigit(fq.q) {
		if on := c.searchFields(ctx, st, uid); len(on) > 0 {
			v, _ := json.Marshal(on)
			base = appendMember(base, "attributesToSearchOn", v)
		}
	}
	path := "/indexes/" + uid + "/facet-search"
	results, err := scatter(ctx, c, uid, false, func(ctx context.Context, cn coverNode) ([]byte, error) {
		b := slices.Clip(base)
		if f := combineFilter(fq.filter, cn.shardFilter()); f != nil {
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
	out, took, err := merge.MergeFacetSearch(out, bodies, fq.facetName, rs.facetOrder())
	if err != nil {
		return nil, err
	}
	out = append(out, `,"facetQuery":`...)
	out = append(out, fq.facetQuery...)
	out = append(out, `,"processingTimeMs":`...)
	out = strconv.AppendInt(out, took, 10)
	return append(out, '}'), nil
}

// facetQuery is a facet search request taken apart: the members passed
// on to the nodes (the filter and, when the node would search the shard
// field, attributesToSearchOn left out) and what the merge needs.
type facetQuery struct {
	members    []rawMember
	filter     []byte
	facetName  string
	q          string
	facetQuery []byte // raw, echoed in the answer
}

// parseFacetQuery takes a facet search body apart; searchAll: the index
// searches every attribute (["*"]).
func parseFacetQuery(body []byte, searchAll bool) (*facetQuery, error) {
	fq := &facetQuery{facetQuery: []byte("null")}
	it := merge.NewObjectIter(body, 0)
	for {
		k, vs, ve, ok := it.Next()
		if !ok {
			break
		}
		v := body[vs:ve]
		switch string(k) {
		case "filter":
			fq.filter = v
			continue
		case "facetName":
			_ = json.Unmarshal(v, &fq.facetName)
		case "facetQuery":
			fq.facetQuery = v
		case "q":
			_ = json.Unmarshal(v, &fq.q)
		case "attributesToSearchOn":
			if searchAll && hasDigit(fq.q) {
				continue
			}
		}
		fq.members = append(fq.members, rawMember{string(k), v})
	}
	if err := it.Err(); err != nil {
		return nil, badParam("bad_request", "Json deserialize error: %v", err)
	}
	if isInternalField(fq.facetName) {
		return nil, badParam("invalid_facet_search_facet_name", "Attribute `%s` is not facet-searchable.", fq.facetName)
	}
	return fq, nil
}
