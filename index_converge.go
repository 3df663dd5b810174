package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Making nodes hold an index as the fleet does (DESIGN §2, §3): converge
// creates the index where it is missing (with a peer's settings), makes
// _miroir_shard filterable and writes the miroir_meta record; before a
// node receives writes for an index it is verified (and repaired) once.

// converge makes every node of targets hold index st.uid (created where
// missing, with the fleet's settings copied from a node that has it, or
// with just _miroir_shard filterable), _miroir_shard filterable, and the
// miroir_meta record. It returns the node tasks it enqueued. wait makes it
// wait until those node tasks succeeded.
func (c *Cluster) converge(ctx context.Context, st *indexState, targets []*node, wait bool) ([]NodeTask, error) {
	ctx = withNodeKeys(ctx)
	cv := &convergence{c: c, st: st, targets: targets, pk: st.PrimaryKey()}
	if err := cv.probe(ctx); err != nil {
		return nil, err
	}
	out := make([][]NodeTask, len(targets))
	peerSettings := cv.peerSettings(ctx)
	now := time.Now().UTC()
	errs := c.fanout(ctx, targets, func(ctx context.Context, n *node) error {
		i := slices.Index(targets, n)
		var err error
		out[i], err = cv.completeNode(ctx, n, cv.probes[i], peerSettings, now)
		return err
	})
	var nts []NodeTask
	for _, o := range out {
		nts = append(nts, o...)
	}
	if err := c.broadcastError(targets, errs); err != nil {
		return nts, err
	}
	if wait && len(nts) > 0 {
		if err := c.waitNodeTasks(ctx, nts); err != nil {
			return nts, err
		}
	}
	return nts, nil
}

// convergence is one converge call: the index, its target nodes and
// what each of them holds.
type convergence struct {
	c       *Cluster
	st      *indexState
	targets []*node
	pk      string       // the primary key a created index gets ("": none)
	probes  []indexProbe // by position in targets
}

// indexProbe is what one node holds of an index: the index (nil:
// missing) and its miroir_meta record (nil: missing).
type indexProbe struct {
	info *indexInfo
	rec  *metaRecord
}

// probe reads every target's index and record; a record with another
// shard count fails the convergence.
func (cv *convergence) probe(ctx context.Context) error {
	uid := cv.st.uid
	cv.probes = make([]indexProbe, len(cv.targets))
	errs := cv.c.fanout(ctx, cv.targets, func(ctx context.Context, n *node) error {
		i := slices.Index(cv.targets, n)
		info, err := n.getIndex(ctx, uid)
		if err != nil {
			return err
		}
		rec, err := n.readMeta(ctx, uid)
		if err != nil {
			return err
		}
		cv.probes[i] = indexProbe{info, rec}
		return nil
	})
	if err := cv.c.broadcastError(cv.targets, errs); err != nil {
		return err
	}
	for _, p := range cv.probes {
		if p.rec != nil && p.rec.Shards != cv.st.shards {
			return cv.c.shardMismatch(uid, p.rec.Shards)
		}
	}
	return nil
}

// peerSettings returns the settings of a managed node that holds the
// index (not a target missing it), for the targets that lack the index;
// nil when no target lacks it or no peer answered.
func (cv *convergence) peerSettings(ctx context.Context) []byte {
	if !slices.ContainsFunc(cv.probes, func(p indexProbe) bool { return p.info == nil }) {
		return nil
	}
	uid := cv.st.uid
	for _, n := range cv.c.nodesByPreference() {
		if i := slices.Index(cv.targets, n); i >= 0 && cv.probes[i].info == nil {
			continue
		}
		if rec, err := n.readMeta(ctx, uid); err != nil || rec == nil {
			continue
		}
		resp, err := n.do(ctx, "getSettings", http.MethodGet, "/indexes/"+uid+"/settings", nil, "", nil)
		if err == nil {
			return resp.Body
		}
	}
	return nil
}

// completeNode gives node n (which holds p) what it lacks: the index with
// peerSettings (or _miroir_shard filterable alone), _miroir_shard
// filterable, the miroir_meta record created at now. It returns the node
// tasks it enqueued.
func (cv *convergence) completeNode(ctx context.Context, n *node, p indexProbe, peerSettings []byte, now time.Time) ([]NodeTask, error) {
	uid := cv.st.uid
	var out []NodeTask
	add := func(t meilisearch.TaskInfo, aux bool) {
		out = append(out, NodeTask{Node: n.ID, TaskUID: t.TaskUID, Aux: aux, Status: meilisearch.TaskStatusEnqueued})
	}
	var t meilisearch.TaskInfo
	if p.info == nil {
		body := map[string]any{"uid": uid}
		if cv.pk != "" {
			body["primaryKey"] = cv.pk
		}
		if err := n.doJSON(ctx, "createIndex", http.MethodPost, "/indexes", nil, body, &t); err != nil {
			return out, err
		}
		add(t, false)
		if peerSettings != nil {
			resp, err := n.do(ctx, "updateSettings", http.MethodPatch, "/indexes/"+uid+"/settings", nil, "application/json", peerSettings)
			if err != nil {
				return out, err
			}
			if err := json.Unmarshal(resp.Body, &t); err != nil {
				return out, err
			}
			add(t, true)
		} else if err := n.doJSON(ctx, "updateSettings", http.MethodPatch, "/indexes/"+uid+"/settings", nil,
			map[string]json.RawMessage{"filterableAttributes": internalFilterable, "sortableAttributes": internalSortable}, &t); err != nil {
			return out, err
		} else {
			add(t, true)
		}
	} else if nt, err := n.ensureShardFilterable(ctx, uid); err != nil {
		return out, err
	} else if nt != nil {
		out = append(out, *nt)
	}
	if p.rec == nil {
		rec := []metaRecord{{UID: uid, Shards: cv.st.shards, CreatedAt: now}}
		q := map[string][]string{"primaryKey": {"uid"}}
		if err := n.doJSON(ctx, "writeMeta", http.MethodPost, "/indexes/"+metaIndex+"/documents", q, rec, &t); err != nil {
			return out, err
		}
		add(t, true)
	}
	return out, nil
}

// ensureShardFilterable adds _miroir_shard to the filterable attributes of
// uid on n when it is missing; it returns the node task, or nil when
// nothing was needed.
func (n *node) ensureShardFilterable(ctx context.Context, uid string) (*NodeTask, error) {
	var attrs []any
	if err := n.doJSON(ctx, "getSettings", http.MethodGet, "/indexes/"+uid+"/settings/filterable-attributes", nil, nil, &attrs); err != nil {
		return nil, err
	}
	if hasShardFilterable(attrs) {
		return nil, nil
	}
	attrs = append(attrs, shardField, versionField)
	var t meilisearch.TaskInfo
	if err := n.doJSON(ctx, "updateSettings", http.MethodPut, "/indexes/"+uid+"/settings/filterable-attributes", nil, attrs, &t); err != nil {
		return nil, err
	}
	return &NodeTask{Node: n.ID, TaskUID: t.TaskUID, Aux: true, Status: meilisearch.TaskStatusEnqueued}, nil
}

// hasShardFilterable reports whether filterable attributes (strings or
// attribute-pattern objects) make _miroir_shard filterable.
func hasShardFilterable(attrs []any) bool {
	for _, a := range attrs {
		switch v := a.(type) {
		case string:
			if v == shardField || v == "*" {
				return true
			}
		case map[string]any:
			if pats, ok := v["attributePatterns"].([]any); ok {
				for _, p := range pats {
					if p == shardField || p == "*" {
						return true
					}
				}
			}
		}
	}
	return false
}

// waitNodeTasks polls node tasks until all are finished; a failed one is
// an error naming its node (index_already_exists is fine: a concurrent
// creator won).
func (c *Cluster) waitNodeTasks(ctx context.Context, nts []NodeTask) error {
	ctx = withNodeKeys(ctx)
	deadline := time.Now().Add(max(c.opts.nodeTimeout, 5*time.Second))
	for _, nt := range nts {
		n := c.nodeByID(nt.Node)
		for {
			var t meilisearch.Task
			err := n.doJSON(ctx, "getTask", http.MethodGet, "/tasks/"+strconv.FormatInt(nt.TaskUID, 10), nil, nil, &t)
			if err != nil {
				return err
			}
			if t.Status == meilisearch.TaskStatusFailed && t.Error.Code != "index_already_exists" {
				return fmt.Errorf("miroir: node %s: task %d (%s) failed: %s (%s)", n.ID, nt.TaskUID, t.Type, t.Error.Message, t.Error.Code)
			}
			if isFinal(t.Status) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("miroir: node %s: task %d still %s after %v", n.ID, nt.TaskUID, t.Status, c.opts.nodeTimeout)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

// verifiedTargets returns, among node indexes idxs, those that may receive
// writes for st: healthy (or, without background health checks, answering
// the verification) and verified (index present with _miroir_shard
// filterable and the fleet's settings). Unverified healthy nodes are
// verified now (repaired when they lack the index: created with the
// fleet's settings and waited for, so that a write never lets Meilisearch
// auto-create the index with default settings). A node that fails
// verification is left out, as if it were down.
func (c *Cluster) verifiedTargets(ctx context.Context, st *indexState, idxs []int) []bool {
	tp := c.topo()
	ctx = withNodeKeys(ctx)
	ok := make([]bool, len(tp.clients))
	var todo []*node
	for _, ni := range idxs {
		n := tp.clients[ni]
		if !n.isHealthy() && c.opts.healthInterval > 0 {
			continue // the health loop brings it back, then it is verified
		}
		if st.isVerified(ni) && n.isHealthy() {
			ok[ni] = true
			continue
		}
		if !slices.Contains(todo, n) {
			todo = append(todo, n)
		}
	}
	if len(todo) == 0 {
		return ok
	}
	c.fanout(ctx, todo, func(ctx context.Context, n *node) error {
		err := c.verifyNode(ctx, st, n)
		if err != nil {
			c.opts.logger.Warn("miroir: node failed verification, writes skip it", "node", n.ID, "index", st.uid, "err", err)
			return err
		}
		st.setVerified(n.idx, true)
		ok[n.idx] = true
		return nil
	})
	return ok
}

// verifyNode checks (and repairs) one node for st.
func (c *Cluster) verifyNode(ctx context.Context, st *indexState, n *node) error {
	if _, err := c.converge(ctx, st, []*node{n}, true); err != nil {
		return err
	}
	return c.verifyNodeSettings(ctx, st, n)
}
