package miroir

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/meilisearch/meilisearch-go"
)

// Index is one index of the fleet, the meilisearch.IndexManager face of a
// Cluster. It is cheap (a name and the Cluster). Its methods live with
// what they do: lifecycle in index_lifecycle.go, documents in
// documents*.go, search in search*.go, settings in settings.go, tasks in
// tasks_api.go, stats in stats.go.
type Index struct {
	c   *Cluster
	uid string
}

// The drop-in promise (DESIGN §4): an Index is a meilisearch.IndexManager.
var _ meilisearch.IndexManager = (*Index)(nil)

// Index returns the index uid as a meilisearch.IndexManager (a *Index).
// It does not contact the fleet.
func (c *Cluster) Index(uid string) meilisearch.IndexManager { return c.index(uid) }

// index returns the Index uid; GetIndex and ListIndexes put it in their
// results' IndexManager.
func (c *Cluster) index(uid string) *Index { return &Index{c: c, uid: uid} }

// UID returns the index uid.
func (i *Index) UID() string { return i.uid }

// GetIndexReader returns the index as a meilisearch.IndexReader.
func (i *Index) GetIndexReader() meilisearch.IndexReader { return i }

// GetTaskReader returns the index as a meilisearch.TaskReader.
func (i *Index) GetTaskReader() meilisearch.TaskReader { return i }

// GetDocumentManager returns the index as a meilisearch.DocumentManager.
func (i *Index) GetDocumentManager() meilisearch.DocumentManager { return i }

// GetDocumentReader returns the index as a meilisearch.DocumentReader.
func (i *Index) GetDocumentReader() meilisearch.DocumentReader { return i }

// GetSettingsManager returns the index as a meilisearch.SettingsManager.
func (i *Index) GetSettingsManager() meilisearch.SettingsManager { return i }

// GetSettingsReader returns the index as a meilisearch.SettingsReader.
func (i *Index) GetSettingsReader() meilisearch.SettingsReader { return i }

// GetSearch returns the index as a meilisearch.SearchReader.
func (i *Index) GetSearch() meilisearch.SearchReader { return i }

// ---- reads (one healthy node, with fallback: oneNode); the lifecycle
// calls are in index_lifecycle.go ----

// checkShards refuses an index recorded with another shard count, without
// loading (or adopting) it.
func (c *Cluster) checkShards(ctx context.Context, uid string) error {
	if err := validateIndexUID(uid, allowReserved); err != nil {
		return err
	}
	if st, err := c.states.lookup(uid); err != nil || st != nil {
		return err
	}
	return c.oneNode(ctx, func(n *node) error {
		rec, err := n.readMeta(ctx, uid)
		if err != nil {
			return err
		}
		if rec != nil && rec.Shards != c.opts.shards {
			err := c.shardMismatch(uid, rec.Shards)
			c.states.refuse(uid, err)
			return err
		}
		return nil
	})
}

// GetIndex reads the index from one healthy node.
func (c *Cluster) GetIndex(ctx context.Context, indexID string) (*meilisearch.IndexResult, error) {
	raw, err := c.getRawIndex(ctx, indexID)
	if err != nil {
		return nil, err
	}
	var res meilisearch.IndexResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, err
	}
	res.IndexManager = c.index(res.UID)
	if res.PrimaryKey != "" {
		if st, _ := c.states.lookup(indexID); st != nil && st.PrimaryKey() == "" {
			st.setPrimaryKey(res.PrimaryKey)
		}
	}
	return &res, nil
}

func (c *Cluster) getRawIndex(ctx context.Context, uid string) (_ []byte, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "getIndex", uid)
		defer func() { cs.end(err) }()
	}
	if isReservedIndex(uid) {
		return nil, indexNotFound(uid)
	}
	if err := c.checkShards(ctx, uid); err != nil {
		return nil, err
	}
	var body []byte
	err = c.oneNode(ctx, func(n *node) error {
		resp, err := n.do(ctx, "getIndex", http.MethodGet, "/indexes/"+url.PathEscape(uid), nil, "", nil)
		if err != nil {
			return err
		}
		body = resp.Body
		return nil
	})
	return body, err
}

// GetRawIndex reads the index from one healthy node, as a map.
func (c *Cluster) GetRawIndex(ctx context.Context, uid string) (map[string]any, error) {
	raw, err := c.getRawIndex(ctx, uid)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	return out, json.Unmarshal(raw, &out)
}

// FetchInfo reads the index from one healthy node.
func (i *Index) FetchInfo(ctx context.Context) (*meilisearch.IndexResult, error) {
	return i.c.GetIndex(ctx, i.uid)
}

// FetchPrimaryKey returns the index's primary key.
func (i *Index) FetchPrimaryKey(ctx context.Context) (*string, error) {
	res, err := i.FetchInfo(ctx)
	if err != nil {
		return nil, err
	}
	return &res.PrimaryKey, nil
}

// rawIndexList is GET /indexes with miroir's reserved indexes removed.
type rawIndexList struct {
	Results []json.RawMessage `json:"results"`
	Offset  int64             `json:"offset"`
	Limit   int64             `json:"limit"`
	Total   int64             `json:"total"`
}

// listIndexes reads the index list from one healthy node, without the
// reserved indexes (miroir_meta, lane locks, miroir_tasks), with the
// caller's offset and limit (default 20). The reserved ones may sit
// anywhere in the node's order and count in its total, so the whole list
// is read and paged here.
func (c *Cluster) listIndexes(ctx context.Context, param *meilisearch.IndexesQuery) (_ *rawIndexList, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "listIndexes", "")
		defer func() { cs.end(err) }()
	}
	offset, limit := int64(0), int64(20)
	if param != nil {
		offset = param.Offset
		if param.Limit != 0 {
			limit = param.Limit
		}
	}
	var out *rawIndexList
	err = c.oneNode(ctx, func(n *node) error {
		q := url.Values{"offset": {"0"}, "limit": {strconv.Itoa(1 << 30)}}
		var page struct {
			Results []json.RawMessage `json:"results"`
			Total   int64             `json:"total"`
		}
		if err := n.doJSON(ctx, "listIndexes", http.MethodGet, "/indexes", q, nil, &page); err != nil {
			return err
		}
		kept := page.Results[:0]
		for _, r := range page.Results {
			var u struct {
				UID string `json:"uid"`
			}
			_ = json.Unmarshal(r, &u)
			if !isReservedIndex(u.UID) {
				kept = append(kept, r)
			}
		}
		res := &rawIndexList{Offset: offset, Limit: limit, Total: int64(len(kept)), Results: []json.RawMessage{}}
		if offset < int64(len(kept)) {
			res.Results = kept[offset:min(int64(len(kept)), offset+limit)]
		}
		out = res
		return nil
	})
	return out, err
}

// ListIndexes lists the indexes from one healthy node (miroir's
// reserved indexes hidden).
func (c *Cluster) ListIndexes(ctx context.Context, param *meilisearch.IndexesQuery) (*meilisearch.IndexesResults, error) {
	raw, err := c.listIndexes(ctx, param)
	if err != nil {
		return nil, err
	}
	res := &meilisearch.IndexesResults{Offset: raw.Offset, Limit: raw.Limit, Total: raw.Total, Results: []*meilisearch.IndexResult{}}
	for _, r := range raw.Results {
		var ir meilisearch.IndexResult
		if err := json.Unmarshal(r, &ir); err != nil {
			return nil, err
		}
		ir.IndexManager = c.index(ir.UID)
		res.Results = append(res.Results, &ir)
	}
	return res, nil
}

// GetRawIndexes is ListIndexes as a map.
func (c *Cluster) GetRawIndexes(ctx context.Context, param *meilisearch.IndexesQuery) (map[string]any, error) {
	raw, err := c.listIndexes(ctx, param)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	return out, json.Unmarshal(b, &out)
}

// indexUIDs lists every index uid of the fleet (one node's view).
func (c *Cluster) indexUIDs(ctx context.Context) ([]string, error) {
	raw, err := c.listIndexes(ctx, &meilisearch.IndexesQuery{Limit: 1 << 30})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range raw.Results {
		var u struct {
			UID string `json:"uid"`
		}
		_ = json.Unmarshal(r, &u)
		out = append(out, u.UID)
	}
	slices.Sort(out)
	return out, nil
}
