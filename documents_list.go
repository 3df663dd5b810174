package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/merge"
)

// Document listing (GET/POST /indexes/{uid}/documents): a scatter-gather
// over a deterministic covering set, so that the pages of one listing
// walk every document once.

// GetDocuments lists documents across the fleet; see documentsBody for
// the order, which is stable across the pages of one listing.
func (i *Index) GetDocuments(ctx context.Context, param *meilisearch.DocumentsQuery, resp *meilisearch.DocumentsResult) error {
	return i.c.getDocuments(ctx, i.uid, param, resp)
}

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
func (c *Cluster) documentsBody(ctx context.Context, uid string, body []byte) (_ []byte, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "getDocuments", uid)
		defer func() { cs.end(err) }()
	}
	dq, err := parseDocumentsQuery(body)
	if err != nil {
		return nil, err
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if _, err := c.state(ctx, uid); err != nil {
		return nil, err
	}
	l := newDocListing(uid, dq)
	var firstLimit int64
	if len(dq.sort) > 0 {
		firstLimit = dq.offset + dq.limit
	}
	results, err := scatter(ctx, c, uid, true, func(ctx context.Context, cn coverNode) (docPage, error) {
		return l.fetch(ctx, cn, 0, firstLimit)
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(results, func(a, b gathered[docPage]) int { return a.cn.n.idx - b.cn.n.idx })
	var total int64
	for _, r := range results {
		total += r.val.total
	}
	var docs [][]byte
	if len(dq.sort) > 0 {
		docs = mergeSortedPages(results, dq)
	} else if docs, err = l.window(ctx, results); err != nil {
		return nil, err
	}
	out := []byte(`{"results":[`)
	for i, d := range docs {
		if i > 0 {
			out = append(out, ',')
		}
		out = merge.AppendHit(out, d, l.strip, nil)
	}
	out = fmt.Appendf(out, `],"offset":%d,"limit":%d,"total":%d}`, dq.offset, dq.limit, total)
	return out, nil
}

// parseDocumentsQuery takes a documents listing request apart.
func parseDocumentsQuery(body []byte) (*documentsQuery, error) {
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
	return dq, nil
}

// docListing is the node request of one listing: the caller's members
// (fields widened to the sort fields, which the merge reads) and what
// to strip from the documents the nodes return.
type docListing struct {
	dq    *documentsQuery
	path  string
	base  []byte // node body members, without pagination and filter
	strip *merge.Strip
}

func newDocListing(uid string, dq *documentsQuery) *docListing {
	l := &docListing{dq: dq, path: "/indexes/" + uid + "/documents/fetch", strip: &merge.Strip{Keys: []string{shardField, versionField}}}
	fields := dq.fields
	if fields != nil && !slices.Contains(fields, "*") {
		for _, sp := range dq.sort {
			if !retrieves(fields, sp.Path) {
				fields = append(slices.Clone(fields), sp.Path)
				top, _, _ := splitTop(sp.Path)
				if !slices.ContainsFunc(dq.fields, func(a string) bool { return a == top || len(a) > len(top) && a[:len(top)+1] == top+"." }) {
					l.strip.Keys = append(l.strip.Keys, top)
				}
			}
		}
	}
	l.base = []byte{'{'}
	for _, m := range dq.members {
		if m.key == "fields" && fields != nil {
			v, _ := json.Marshal(fields)
			l.base = appendMember(l.base, "fields", v)
			continue
		}
		l.base = appendMember(l.base, m.key, m.value)
	}
	return l
}

// docPage is one node's page of a listing.
type docPage struct {
	results [][]byte
	total   int64
}

// fetch asks node cn for its documents offset..offset+limit.
func (l *docListing) fetch(ctx context.Context, cn coverNode, offset, limit int64) (docPage, error) {
	b := slices.Clip(l.base)
	b = appendMember(b, "offset", strconv.AppendInt(nil, offset, 10))
	b = appendMember(b, "limit", strconv.AppendInt(nil, limit, 10))
	if f := combineFilter(l.dq.filter, cn.shardFilter()); f != nil {
		b = appendMember(b, "filter", f)
	}
	b = append(b, '}')
	resp, err := cn.n.do(ctx, "getDocuments", http.MethodPost, l.path, nil, "application/json", b)
	if err != nil {
		return docPage{}, err
	}
	var p docPage
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
				return docPage{}, err
			}
		}
	}
	return p, oi.Err()
}

// mergeSortedPages is the caller's window of a sorted listing: a k-way
// merge of the nodes' first pages (each holds offset+limit documents) by
// the sort fields, ties in node order.
func mergeSortedPages(results []gathered[docPage], dq *documentsQuery) [][]byte {
	var docs [][]byte
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
	return docs[min(int(dq.offset), len(docs)):]
}

// window is the caller's window of an unsorted listing, node after node:
// each node's totals (results, in node order) say which part of it the
// window covers, and those parts are fetched in parallel.
func (l *docListing) window(ctx context.Context, results []gathered[docPage]) ([][]byte, error) {
	dq := l.dq
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
	pages := make([]docPage, len(parts))
	errs := parallel(len(parts), 0, func(pi int) (err error) {
		p := parts[pi]
		pages[pi], err = l.fetch(ctx, results[p.i].cn, p.offset, p.limit)
		return err
	})
	var docs [][]byte
	for pi := range parts {
		if errs[pi] != nil {
			return nil, errs[pi]
		}
		docs = append(docs, pages[pi].results...)
	}
	return docs, nil
}

// splitTop splits a dotted attribute path at its first dot.
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
