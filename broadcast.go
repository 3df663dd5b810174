package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/meilisearch/meilisearch-go"
)

// Calls that need every node (DESIGN §4): index lifecycle, deletions by
// filter, editions, compaction, swaps, dumps, snapshots, keys and
// experimental features go to every node at once. Each needs every node
// healthy (a broadcast that missed a node would leave it out of step); its
// per-node errors become one error (broadcastError), its node tasks one
// cluster task.

// broadcastNodes sends the same request to every node in parallel and
// returns their node tasks (in node order), or an error naming the nodes
// that failed.
func (c *Cluster) broadcastNodes(ctx context.Context, op, method, path string, q url.Values, body any) ([]NodeTask, meilisearch.TaskType, error) {
	tp := c.topo()
	var raw []byte
	ct := ""
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, "", err
		}
		ct = "application/json"
	}
	nts := make([]NodeTask, len(tp.clients))
	types := make([]meilisearch.TaskType, len(tp.clients))
	errs := c.fanout(ctx, tp.members, func(ctx context.Context, n *node) error {
		resp, err := n.do(ctx, op, method, path, q, ct, raw)
		if err != nil {
			return err
		}
		var info meilisearch.TaskInfo
		if err := json.Unmarshal(resp.Body, &info); err != nil {
			return fmt.Errorf("miroir: node %s: decoding task: %w", n.ID, err)
		}
		nts[n.idx] = NodeTask{Node: n.ID, TaskUID: info.TaskUID, Status: meilisearch.TaskStatusEnqueued}
		types[n.idx] = info.Type
		return nil
	})
	if err := c.broadcastError(tp.members, errs); err != nil {
		return nil, "", err
	}
	return nts, types[0], nil
}

// requireAllHealthy fails, naming them, when some nodes are marked down.
func (c *Cluster) requireAllHealthy() error {
	var down []string
	for _, n := range c.members() {
		if !n.isHealthy() {
			down = append(down, n.ID)
		}
	}
	if len(down) == 0 {
		return nil
	}
	e := newError(http.StatusServiceUnavailable, CodeNodeUnreachable, "miroir: node(s) %s are down; the call needs every node (retry when they are back)", strings.Join(down, ", "))
	e.Type, e.Nodes = "system", down
	return e
}

// broadcastError turns the per-node errors of a call that needs every node
// into one error, or nil when all succeeded. When every node answered the
// same Meilisearch error (index_not_found, invalid_...), that error is
// returned as the node gave it, as one Meilisearch would; otherwise the
// error names the failing nodes and carries their errors.
func (c *Cluster) broadcastError(targets []*node, errs []error) error {
	var failed []string
	var all []error
	var first error
	sameAPI := true
	for i, err := range errs {
		if err == nil {
			sameAPI = false
			continue
		}
		failed = append(failed, targets[i].ID)
		all = append(all, fmt.Errorf("node %s: %w", targets[i].ID, err))
		if first == nil {
			first = err
		}
		if isTransportError(err) || apiCode(err) != apiCode(first) {
			sameAPI = false
		}
	}
	if len(failed) == 0 {
		return nil
	}
	if sameAPI && apiCode(first) != "" {
		return first
	}
	code, status := CodeNodeUnreachable, http.StatusServiceUnavailable
	for _, err := range errs {
		if err != nil && !isTransportError(err) {
			code, status = CodeBroadcastFailed, http.StatusBadGateway
		}
	}
	e := newError(status, code, "miroir: the call needs every node and failed on %s; it may have been applied on the others, retrying it converges", strings.Join(failed, ", "))
	e.Type = "system"
	e.Nodes = failed
	e.Err = errors.Join(all...)
	return e
}

// broadcastSequenced runs a broadcast write on index uid (a deletion by
// filter, of everything, an edition, a compaction) in the index's call
// order; newTask builds its cluster task.
func (i *Index) broadcastSequenced(ctx context.Context, op, method, path string, q url.Values, body any, newTask func() *ClusterTask) (*meilisearch.TaskInfo, error) {
	c := i.c
	if err := validateIndexUID(i.uid, allowReserved); err != nil {
		return nil, err
	}
	uid := i.uid
	return c.sequenced(ctx, []string{uid}, false, newTask(), func(ctx context.Context) (*meilisearch.TaskInfo, error) {
		st, info, err := c.stateOrFailedTask(ctx, newTask())
		if st == nil {
			return info, err
		}
		return c.broadcastIndexTask(ctx, st, op, method, "/indexes/"+uid+path, q, body, newTask())
	})
}

// broadcastIndexTask sends one request to every node for an existing
// index (verifying nodes first) and registers a cluster task over the node
// tasks. Every node must be healthy: a broadcast that misses a node would
// leave it out of step.
func (c *Cluster) broadcastIndexTask(ctx context.Context, st *indexState, op, method, path string, q url.Values, body any, t *ClusterTask) (*meilisearch.TaskInfo, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if err := c.refuseDuringChange(op); err != nil {
		return nil, err
	}
	if err := c.requireAllHealthy(); err != nil {
		return nil, err
	}
	if st != nil {
		live := c.verifiedTargets(ctx, st, c.memberIdx())
		var bad []string
		for ni, ok := range live {
			if !ok {
				bad = append(bad, c.node(ni).ID)
			}
		}
		if len(bad) > 0 {
			e := newError(http.StatusServiceUnavailable, CodeNodeUnreachable, "miroir: node(s) %s could not be verified for index `%s`; the call needs every node", strings.Join(bad, ", "), st.uid)
			e.Type, e.Nodes = "system", bad
			return nil, e
		}
	}
	if taggedOps[op] {
		uid, err := c.tasks.preallocate(ctx)
		if err != nil {
			return nil, err
		}
		t.UID, q = uid, tagQuery(q, uid)
	}
	nts, typ, err := c.broadcastNodes(ctx, op, method, path, q, body)
	if err != nil {
		return nil, err
	}
	t.Nodes = nts
	if typ != "" {
		t.Type = typ // the nodes' own name for the task type
	}
	return c.tasks.register(ctx, t)
}

// globalBroadcast runs a fleet-wide task (dump, snapshot) on every node.
func (c *Cluster) globalBroadcast(ctx context.Context, op, path string, typ meilisearch.TaskType) (_ *meilisearch.TaskInfo, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, op, "")
		defer func() { cs.end(err) }()
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if err := c.requireAllHealthy(); err != nil {
		return nil, err
	}
	nts, ntyp, err := c.broadcastNodes(ctx, op, http.MethodPost, path, nil, nil)
	if err != nil {
		return nil, err
	}
	if ntyp != "" {
		typ = ntyp
	}
	return c.tasks.register(ctx, &ClusterTask{Type: typ, Nodes: nts})
}

// keyBroadcast sends a key call to every node and returns the first
// answer. A node answering that it already has (or already lacks) the key
// counts as done when another node succeeded, so a retry after a partial
// failure converges.
func (c *Cluster) keyBroadcast(ctx context.Context, op, method, path string, body any, benign string) (_ []byte, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, op, "")
		defer func() { cs.end(err) }()
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	tp := c.topo()
	if err := c.requireAllHealthy(); err != nil {
		return nil, err
	}
	var raw []byte
	ct := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		raw, ct = b, "application/json"
	}
	answers := make([][]byte, len(tp.clients))
	errs := c.fanout(ctx, tp.members, func(ctx context.Context, n *node) error {
		resp, err := n.do(ctx, op, method, path, nil, ct, raw)
		if err != nil {
			return err
		}
		answers[n.idx] = resp.Body
		return nil
	})
	ok := false
	for _, err := range errs {
		ok = ok || err == nil
	}
	if ok {
		for i, err := range errs {
			if err != nil && apiCode(err) == benign {
				errs[i] = nil
			}
		}
	}
	if err := c.broadcastError(tp.members, errs); err != nil {
		return nil, err
	}
	for _, a := range answers {
		if a != nil {
			return a, nil
		}
	}
	return nil, nil
}
