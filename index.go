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
// Cluster. It is cheap (a name and the Cluster); documents, tasks and
// lifecycle calls are here, search in search.go, settings in settings.go.
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

// ---- lifecycle (broadcast) ----

// CreateIndex creates the index on every node (DESIGN §4), records its
// shard count in miroir_meta and makes _miroir_shard filterable. It
// converges: nodes that already have the index are completed, not failed,
// so a half-failed creation can simply be retried. On a fleet where the
// index is complete everywhere the task fails with index_already_exists,
// as on one Meilisearch. Every node must be reachable.
func (c *Cluster) CreateIndex(ctx context.Context, config *meilisearch.IndexConfig) (*meilisearch.TaskInfo, error) {
	ctx = withNodeKeys(ctx) // index lifecycle is bookkeeping too: it rewrites miroir_meta
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if config == nil {
		config = &meilisearch.IndexConfig{}
	}
	uid := config.Uid
	if err := validateIndexUID(uid, refuseReserved); err != nil {
		return nil, err
	}
	cfg := *config
	placeholder := &ClusterTask{IndexUID: uid, Type: meilisearch.TaskTypeIndexCreation, Details: meilisearch.Details{PrimaryKey: cfg.PrimaryKey}}
	return c.sequenced(ctx, []string{uid}, false, placeholder, func(ctx context.Context) (*meilisearch.TaskInfo, error) {
		return c.createIndex(ctx, &cfg)
	})
}

// createIndex is CreateIndex's turn (sequence.go).
func (c *Cluster) createIndex(ctx context.Context, config *meilisearch.IndexConfig) (*meilisearch.TaskInfo, error) {
	uid := config.Uid
	if err := c.requireAllHealthy(); err != nil {
		return nil, err
	}
	// Probe: complete everywhere, or unmanaged everywhere, is "already
	// exists"; anything else converges.
	type probe struct {
		has, rec bool
	}
	probes := make([]probe, len(c.nodes))
	errs := c.fanout(ctx, c.nodes, func(ctx context.Context, n *node) error {
		info, err := n.getIndex(ctx, uid)
		if err != nil {
			return err
		}
		rec, err := n.readMeta(ctx, uid)
		if err != nil {
			return err
		}
		if rec != nil && rec.Shards != c.opts.shards {
			return c.shardMismatch(uid, rec.Shards)
		}
		probes[n.idx] = probe{info != nil, rec != nil}
		return nil
	})
	if err := c.broadcastError(c.nodes, errs); err != nil {
		return nil, err
	}
	allHas, allRec, anyRec := true, true, false
	for _, p := range probes {
		allHas = allHas && p.has
		allRec = allRec && p.rec
		anyRec = anyRec || p.rec
	}
	t := &ClusterTask{IndexUID: uid, Type: meilisearch.TaskTypeIndexCreation, Details: meilisearch.Details{PrimaryKey: config.PrimaryKey}}
	if allHas && (allRec || !anyRec) {
		now := nowUTC()
		t.Status, t.StartedAt, t.FinishedAt = meilisearch.TaskStatusFailed, now, now
		t.Error = &meilisearch.APIErrorDetails{Message: "Index `" + uid + "` already exists.", Code: "index_already_exists", Type: "invalid_request", Link: "https://docs.meilisearch.com/errors#index_already_exists"}
		return c.tasks.register(ctx, t)
	}
	st := newIndexState(uid, c.opts.shards)
	st.primaryKey = config.PrimaryKey
	nts, err := c.converge(ctx, st, c.nodes, false)
	if err != nil {
		return nil, err
	}
	for _, n := range c.nodes {
		st.verified[n.idx] = true
	}
	c.cacheState(st)
	t.Nodes = nts
	if len(nts) == 0 {
		t.Status = meilisearch.TaskStatusSucceeded
		t.StartedAt = nowUTC()
		t.FinishedAt = t.StartedAt
	}
	return c.tasks.register(ctx, t)
}

// DeleteIndex deletes the index, and its miroir_meta record, on every node.
// Nodes that already lack it are skipped, so a retry converges; on a fleet
// where no node has it the task fails with index_not_found.
func (c *Cluster) DeleteIndex(ctx context.Context, uid string) (*meilisearch.TaskInfo, error) {
	ctx = withNodeKeys(ctx) // index lifecycle is bookkeeping too: it rewrites miroir_meta
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if err := validateIndexUID(uid, refuseReserved); err != nil {
		return nil, err
	}
	placeholder := &ClusterTask{IndexUID: uid, Type: meilisearch.TaskTypeIndexDeletion}
	return c.sequenced(ctx, []string{uid}, true, placeholder, func(ctx context.Context) (*meilisearch.TaskInfo, error) {
		return c.deleteIndex(ctx, uid)
	})
}

// deleteIndex is DeleteIndex's turn (sequence.go).
func (c *Cluster) deleteIndex(ctx context.Context, uid string) (*meilisearch.TaskInfo, error) {
	if err := c.requireAllHealthy(); err != nil {
		return nil, err
	}
	// A Cluster with another shard count refuses the index, deletion
	// included (DESIGN §2): it is most likely pointed at the wrong fleet.
	if err := c.checkShards(ctx, uid); err != nil {
		return nil, err
	}
	has := make([]bool, len(c.nodes))
	errs := c.fanout(ctx, c.nodes, func(ctx context.Context, n *node) error {
		info, err := n.getIndex(ctx, uid)
		has[n.idx] = info != nil
		if apiCode(err) == "invalid_index_uid" {
			return nil // let the node say it below, as Meilisearch would
		}
		return err
	})
	if err := c.broadcastError(c.nodes, errs); err != nil {
		return nil, err
	}
	targets := make([]*node, 0, len(c.nodes))
	for _, n := range c.nodes {
		if has[n.idx] {
			targets = append(targets, n)
		}
	}
	if len(targets) == 0 {
		targets = c.nodes[:1] // one node answers index_not_found, like Meilisearch
	}
	out := make([][]NodeTask, len(c.nodes))
	errs = c.fanout(ctx, targets, func(ctx context.Context, n *node) error {
		var info meilisearch.TaskInfo
		if err := n.doJSON(ctx, "deleteIndex", http.MethodDelete, "/indexes/"+uid, nil, nil, &info); err != nil {
			return err
		}
		out[n.idx] = append(out[n.idx], NodeTask{Node: n.ID, TaskUID: info.TaskUID, Status: meilisearch.TaskStatusEnqueued})
		if rec, err := n.readMeta(ctx, uid); err == nil && rec != nil {
			if err := n.doJSON(ctx, "deleteMeta", http.MethodDelete, "/indexes/"+metaIndex+"/documents/"+uid, nil, nil, &info); err != nil {
				return err
			}
			out[n.idx] = append(out[n.idx], NodeTask{Node: n.ID, TaskUID: info.TaskUID, Aux: true, Status: meilisearch.TaskStatusEnqueued})
		}
		return nil
	})
	c.forgetIndex(uid)
	if err := c.broadcastError(targets, errs); err != nil {
		return nil, err
	}
	t := &ClusterTask{IndexUID: uid, Type: meilisearch.TaskTypeIndexDeletion, Copies: c.topo.copies()}
	for _, o := range out {
		t.Nodes = append(t.Nodes, o...)
	}
	return c.tasks.register(ctx, t)
}

// SwapIndexes swaps (or, with Rename, renames) indexes on every node, and
// moves their miroir_meta records along. Both indexes of a swap must be
// managed with this Cluster's shard count.
func (c *Cluster) SwapIndexes(ctx context.Context, param []*meilisearch.SwapIndexesParams) (*meilisearch.TaskInfo, error) {
	ctx = withNodeKeys(ctx) // index lifecycle is bookkeeping too: it rewrites miroir_meta
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	var involved []string
	for _, p := range param {
		if p == nil {
			continue
		}
		for _, uid := range p.Indexes {
			if err := validateIndexUID(uid, refuseReserved); err != nil {
				return nil, err
			}
			if !slices.Contains(involved, uid) {
				involved = append(involved, uid)
			}
		}
	}
	placeholder := &ClusterTask{Type: meilisearch.TaskTypeIndexSwap}
	for _, p := range param {
		if p != nil {
			placeholder.Details.Swaps = append(placeholder.Details.Swaps, *p)
		}
	}
	return c.sequenced(ctx, involved, true, placeholder, func(ctx context.Context) (*meilisearch.TaskInfo, error) {
		return c.swapIndexes(ctx, param, involved)
	})
}

// swapIndexes is SwapIndexes's turn (sequence.go).
func (c *Cluster) swapIndexes(ctx context.Context, param []*meilisearch.SwapIndexesParams, involved []string) (*meilisearch.TaskInfo, error) {
	if err := c.requireAllHealthy(); err != nil {
		return nil, err
	}
	var renames [][2]string
	for _, p := range param {
		if p == nil {
			continue
		}
		for k, uid := range p.Indexes {
			if k == 1 && p.Rename {
				continue // the new name of a rename does not exist yet
			}
			if _, err := c.state(ctx, uid); err != nil && apiCode(err) != "index_not_found" {
				return nil, err
			}
		}
		if p.Rename && len(p.Indexes) == 2 {
			renames = append(renames, [2]string{p.Indexes[0], p.Indexes[1]})
		}
	}
	nts, typ, err := c.broadcastNodes(ctx, "swapIndexes", http.MethodPost, "/swap-indexes", nil, param)
	for _, uid := range involved {
		c.forgetIndex(uid)
	}
	if err != nil {
		return nil, err
	}
	t := &ClusterTask{Type: typ, Nodes: nts}
	if t.Type == "" {
		t.Type = meilisearch.TaskTypeIndexSwap
	}
	for _, p := range param {
		if p != nil {
			t.Details.Swaps = append(t.Details.Swaps, *p)
		}
	}
	for _, r := range renames {
		aux, err := c.moveMeta(ctx, r[0], r[1])
		if err != nil {
			return nil, err
		}
		t.Nodes = append(t.Nodes, aux...)
	}
	return c.tasks.register(ctx, t)
}

// moveMeta re-keys the miroir_meta record of from under to on every node
// (after a rename), as helper node tasks.
func (c *Cluster) moveMeta(ctx context.Context, from, to string) ([]NodeTask, error) {
	out := make([][]NodeTask, len(c.nodes))
	errs := c.fanout(ctx, c.nodes, func(ctx context.Context, n *node) error {
		rec, err := n.readMeta(ctx, from)
		if err != nil || rec == nil {
			return err
		}
		rec.UID = to
		var info meilisearch.TaskInfo
		q := url.Values{"primaryKey": {"uid"}}
		if err := n.doJSON(ctx, "writeMeta", http.MethodPost, "/indexes/"+metaIndex+"/documents", q, []metaRecord{*rec}, &info); err != nil {
			return err
		}
		out[n.idx] = append(out[n.idx], NodeTask{Node: n.ID, TaskUID: info.TaskUID, Aux: true, Status: meilisearch.TaskStatusEnqueued})
		if err := n.doJSON(ctx, "deleteMeta", http.MethodDelete, "/indexes/"+metaIndex+"/documents/"+from, nil, nil, &info); err != nil {
			return err
		}
		out[n.idx] = append(out[n.idx], NodeTask{Node: n.ID, TaskUID: info.TaskUID, Aux: true, Status: meilisearch.TaskStatusEnqueued})
		return nil
	})
	var nts []NodeTask
	for _, o := range out {
		nts = append(nts, o...)
	}
	return nts, c.broadcastError(c.nodes, errs)
}

// UpdateIndex changes the primary key (only while the index has no
// documents, as in Meilisearch) or renames the index (params.UID), on every
// node. A rename moves the miroir_meta record along, and this Index then
// names the new uid, as meilisearch-go's does.
func (i *Index) UpdateIndex(ctx context.Context, params *meilisearch.UpdateIndexRequestParams) (*meilisearch.TaskInfo, error) {
	ctx = withNodeKeys(ctx) // index lifecycle is bookkeeping too: it rewrites miroir_meta
	c := i.c
	if params == nil {
		params = &meilisearch.UpdateIndexRequestParams{}
	}
	if params.UID != "" {
		if err := validateIndexUID(params.UID, refuseReserved); err != nil {
			return nil, err
		}
	}
	uid, p := i.uid, *params
	newTask := func() *ClusterTask {
		t := &ClusterTask{IndexUID: uid, Type: meilisearch.TaskTypeIndexUpdate, Details: meilisearch.Details{PrimaryKey: p.PrimaryKey}}
		if p.UID != "" {
			d := map[string]json.RawMessage{"primaryKey": rawNull, "oldIndexUid": rawJSON(uid), "newIndexUid": rawJSON(p.UID)}
			if p.PrimaryKey != "" {
				d["primaryKey"] = rawJSON(p.PrimaryKey)
			}
			t.RawDetails = rawJSON(d)
		}
		return t
	}
	uids := []string{uid}
	if p.UID != "" && p.UID != uid {
		uids = append(uids, p.UID)
	}
	info, err := c.sequenced(ctx, uids, true, newTask(), func(ctx context.Context) (*meilisearch.TaskInfo, error) {
		return c.updateIndex(ctx, uid, &p, newTask())
	})
	if err == nil && p.UID != "" {
		i.uid = p.UID // as meilisearch-go's index, once the call is accepted
	}
	return info, err
}

// updateIndex is UpdateIndex's turn (sequence.go).
func (c *Cluster) updateIndex(ctx context.Context, uid string, params *meilisearch.UpdateIndexRequestParams, t *ClusterTask) (*meilisearch.TaskInfo, error) {
	st, info, err := c.stateOrFailedTask(ctx, t)
	if st == nil {
		return info, err
	}
	info, err = c.broadcastIndexTask(ctx, st, "updateIndex", http.MethodPatch, "/indexes/"+uid, nil, params, t)
	if err != nil {
		return nil, err
	}
	if params.PrimaryKey != "" {
		st.setPrimaryKey(params.PrimaryKey)
	}
	if params.UID != "" && params.UID != uid {
		aux, err := c.moveMeta(ctx, uid, params.UID)
		c.forgetIndex(uid)
		c.forgetIndex(params.UID)
		if err != nil {
			return nil, err
		}
		c.tasks.updateLocal(info.TaskUID, func(t *ClusterTask) { t.Nodes = append(t.Nodes, aux...) })
	}
	return info, nil
}

// Delete deletes the index uid (the argument, as in meilisearch-go) on
// every node; it reports whether the deletion was accepted.
func (i *Index) Delete(ctx context.Context, uid string) (bool, error) {
	if _, err := i.c.DeleteIndex(ctx, uid); err != nil {
		return false, err
	}
	return true, nil
}

// Compact compacts the index's storage on every node (broadcast).
func (i *Index) Compact(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.broadcastSequenced(ctx, "compact", http.MethodPost, "/compact", nil, nil, func() *ClusterTask {
		return &ClusterTask{IndexUID: i.uid, Type: "indexCompaction"}
	})
}

// ---- reads (one healthy node, with fallback: oneNode) ----

// checkShards refuses an index recorded with another shard count, without
// loading (or adopting) it.
func (c *Cluster) checkShards(ctx context.Context, uid string) error {
	if err := validateIndexUID(uid, allowReserved); err != nil {
		return err
	}
	c.mu.Lock()
	_, ok := c.indexes[uid]
	err := c.mismatch[uid]
	c.mu.Unlock()
	if err != nil || ok {
		return err
	}
	return c.oneNode(ctx, func(n *node) error {
		rec, err := n.readMeta(ctx, uid)
		if err != nil {
			return err
		}
		if rec != nil && rec.Shards != c.opts.shards {
			err := c.shardMismatch(uid, rec.Shards)
			c.mu.Lock()
			c.mismatch[uid] = err
			c.mu.Unlock()
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
		c.mu.Lock()
		st := c.indexes[indexID]
		c.mu.Unlock()
		if st != nil && st.PrimaryKey() == "" {
			st.setPrimaryKey(res.PrimaryKey)
		}
	}
	return &res, nil
}

func (c *Cluster) getRawIndex(ctx context.Context, uid string) ([]byte, error) {
	if uid == metaIndex {
		return nil, indexNotFound(uid)
	}
	if err := c.checkShards(ctx, uid); err != nil {
		return nil, err
	}
	var body []byte
	err := c.oneNode(ctx, func(n *node) error {
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

// rawIndexList is GET /indexes with miroir_meta removed.
type rawIndexList struct {
	Results []json.RawMessage `json:"results"`
	Offset  int64             `json:"offset"`
	Limit   int64             `json:"limit"`
	Total   int64             `json:"total"`
}

// listIndexes reads the index list from one healthy node, without
// miroir_meta, with the caller's offset and limit (default 20).
func (c *Cluster) listIndexes(ctx context.Context, param *meilisearch.IndexesQuery) (*rawIndexList, error) {
	offset, limit := int64(0), int64(20)
	if param != nil {
		offset = param.Offset
		if param.Limit != 0 {
			limit = param.Limit
		}
	}
	var out *rawIndexList
	err := c.oneNode(ctx, func(n *node) error {
		// Fetch one more than needed: miroir_meta may sit in the window.
		q := url.Values{"offset": {"0"}, "limit": {strconv.FormatInt(offset+limit+1, 10)}}
		var page struct {
			Results []json.RawMessage `json:"results"`
			Total   int64             `json:"total"`
		}
		if err := n.doJSON(ctx, "listIndexes", http.MethodGet, "/indexes", q, nil, &page); err != nil {
			return err
		}
		hasMeta := false
		kept := page.Results[:0]
		for _, r := range page.Results {
			var u struct {
				UID string `json:"uid"`
			}
			_ = json.Unmarshal(r, &u)
			if u.UID == metaIndex {
				hasMeta = true
				continue
			}
			kept = append(kept, r)
		}
		if !hasMeta && int64(len(page.Results)) < page.Total {
			// miroir_meta may lie beyond the window: ask for it.
			if info, err := n.getIndex(ctx, metaIndex); err == nil && info != nil {
				hasMeta = true
			}
		}
		total := page.Total
		if hasMeta {
			total--
		}
		res := &rawIndexList{Offset: offset, Limit: limit, Total: total, Results: []json.RawMessage{}}
		if offset < int64(len(kept)) {
			res.Results = kept[offset:min(int64(len(kept)), offset+limit)]
		}
		out = res
		return nil
	})
	return out, err
}

// ListIndexes lists the indexes from one healthy node (miroir_meta
// hidden).
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
