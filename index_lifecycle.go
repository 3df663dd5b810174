package miroir

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"

	"github.com/meilisearch/meilisearch-go"
)

// Index lifecycle (DESIGN §4): creation, deletion, swap, rename and
// primary key change, compaction. Each runs on every node in the index's
// call order (sequence.go) and keeps the miroir_meta records in step; each
// converges, so a retry after a partial failure completes it.

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
	tp := c.topo()
	uid := config.Uid
	if err := c.refuseDuringChange("index creation"); err != nil {
		return nil, err
	}
	if err := c.requireAllHealthy(); err != nil {
		return nil, err
	}
	// Probe: complete everywhere, or unmanaged everywhere, is "already
	// exists"; anything else converges.
	type probe struct {
		has, rec bool
	}
	probes := make([]probe, len(tp.clients))
	errs := c.fanout(ctx, tp.members, func(ctx context.Context, n *node) error {
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
	if err := c.broadcastError(tp.members, errs); err != nil {
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
	nts, err := c.converge(ctx, st, tp.members, false)
	if err != nil {
		return nil, err
	}
	for _, n := range tp.members {
		st.verified[n.idx] = true
	}
	c.states.install(st)
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
	if err := c.refuseDuringChange("index deletion"); err != nil {
		return nil, err
	}
	tp := c.topo()
	if err := c.requireAllHealthy(); err != nil {
		return nil, err
	}
	// A Cluster with another shard count refuses the index, deletion
	// included (DESIGN §2): it is most likely pointed at the wrong fleet.
	if err := c.checkShards(ctx, uid); err != nil {
		return nil, err
	}
	ms := tp.members
	has := make([]bool, len(tp.clients))
	errs := c.fanout(ctx, ms, func(ctx context.Context, n *node) error {
		info, err := n.getIndex(ctx, uid)
		has[n.idx] = info != nil
		if apiCode(err) == "invalid_index_uid" {
			return nil // let the node say it below, as Meilisearch would
		}
		return err
	})
	if err := c.broadcastError(ms, errs); err != nil {
		return nil, err
	}
	targets := make([]*node, 0, len(ms))
	for _, n := range ms {
		if has[n.idx] {
			targets = append(targets, n)
		}
	}
	if len(targets) == 0 {
		targets = ms[:1] // one node answers index_not_found, like Meilisearch
	}
	out := make([][]NodeTask, len(tp.clients))
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
		n.dropIndexMarks(ctx, uid)
		return nil
	})
	c.states.forget(uid)
	c.forgetMarks(uid)
	if err := c.broadcastError(targets, errs); err != nil {
		return nil, err
	}
	t := &ClusterTask{IndexUID: uid, Type: meilisearch.TaskTypeIndexDeletion, Copies: tp.copies()}
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
	if err := c.refuseDuringChange("index swap"); err != nil {
		return nil, err
	}
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
		c.states.forget(uid)
		c.forgetMarks(uid)
	}
	if err == nil {
		// After forgetting: the view keeps the marks stored here.
		var pairs [][2]string
		for _, p := range param {
			if p != nil && len(p.Indexes) == 2 {
				pairs = append(pairs, [2]string{p.Indexes[0], p.Indexes[1]})
			}
		}
		c.copyMarksOnSwap(ctx, pairs)
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
	tp := c.topo()
	out := make([][]NodeTask, len(tp.clients))
	errs := c.fanout(ctx, tp.members, func(ctx context.Context, n *node) error {
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
	return nts, c.broadcastError(tp.members, errs)
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
		c.states.forget(uid)
		c.states.forget(params.UID)
		c.forgetMarks(uid)
		c.forgetMarks(params.UID)
		c.copyMarksOnSwap(ctx, [][2]string{{uid, params.UID}})
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
