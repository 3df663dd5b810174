package miroir

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/route"
)

// Deletions (routed by id) and broadcast document operations.

// DeleteDocument deletes one document by id, on its shard's replicas.
func (i *Index) DeleteDocument(ctx context.Context, identifier string, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return i.deleteIDs(ctx, []string{identifier}, opts)
}

// DeleteDocuments deletes documents by id, each routed to its shard's
// replicas.
func (i *Index) DeleteDocuments(ctx context.Context, identifiers []string, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return i.deleteIDs(ctx, identifiers, opts)
}

func (i *Index) deleteIDs(ctx context.Context, ids []string, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	c := i.c
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if err := checkUID(i.uid); err != nil {
		return nil, err
	}
	for k, id := range ids {
		if !route.ValidID(id) {
			return nil, newError(http.StatusBadRequest, route.CodeInvalidDocumentID,
				"Document identifier at index %d: `%q` is invalid. A document identifier can be of type integer or string, only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not be more than 511 bytes.", k, id)
		}
	}
	p := fromDocOptions(opts)
	uid := i.uid
	newTask := func() *ClusterTask {
		return &ClusterTask{IndexUID: uid, Type: meilisearch.TaskTypeDocumentDeletion, Documents: int64(len(ids)),
			Details: meilisearch.Details{ProvidedIds: int64(len(ids))}, CustomMetadata: p.metadata}
	}
	return c.sequenced(ctx, []string{uid}, false, newTask(), func(ctx context.Context) (*meilisearch.TaskInfo, error) {
		st, info, err := c.stateOrFailedTask(ctx, newTask())
		if st == nil {
			return info, err
		}
		return c.deleteIDsNow(ctx, st, ids, p, newTask())
	})
}

// deleteIDsNow routes each id to its shard's replicas.
func (c *Cluster) deleteIDsNow(ctx context.Context, st *indexState, ids []string, p docParams, t *ClusterTask) (*meilisearch.TaskInfo, error) {
	live := c.verifiedTargets(ctx, st, allNodeIdx(len(c.nodes)))
	perNode := make([][]string, len(c.nodes))
	var shards []int
	seen := make([]bool, c.topo.shards)
	for _, id := range ids {
		s := ShardOf(id, st.shards)
		if !seen[s] {
			seen[s] = true
			shards = append(shards, s)
		}
		for _, ni := range c.topo.writeTargets(s) {
			if live[ni] {
				perNode[ni] = append(perNode[ni], id)
			}
		}
	}
	bodies := make([]any, len(c.nodes))
	docs := make([]int, len(c.nodes))
	for ni, l := range perNode {
		if len(l) > 0 {
			b, _ := json.Marshal(l)
			bodies[ni], docs[ni] = bytes.NewReader(b), len(l)
		}
	}
	if len(ids) > 0 {
		uid, err := c.tasks.preallocate(ctx)
		if err != nil {
			return nil, err
		}
		t.UID = uid
		res, err := c.sendBatch(ctx, st, "deleteDocuments", http.MethodPost, "/indexes/"+st.uid+"/documents/delete-batch", tagQuery(p.query(""), uid), "application/json", bodies, docs, shards)
		if err != nil {
			return nil, err
		}
		t.Nodes, t.Degraded = res.nodes, dedupPairs(res.degraded)
	}
	if len(t.Nodes) == 0 {
		t.Status = meilisearch.TaskStatusSucceeded
		t.StartedAt = nowUTC()
		t.FinishedAt = t.StartedAt
	}
	if len(t.Degraded) > 0 {
		reportFrom(ctx).degraded(t.Degraded)
		if c.opts.observer != nil {
			c.opts.observer.DegradedWrite(st.uid, t.Degraded)
		}
	}
	return c.tasks.register(ctx, t)
}

// stateOrFailedTask returns the state of t's index; when the index does
// not exist it registers t as failed with index_not_found instead (a node
// accepts a write on a missing index and fails its task) and returns that
// task with a nil state.
func (c *Cluster) stateOrFailedTask(ctx context.Context, t *ClusterTask) (*indexState, *meilisearch.TaskInfo, error) {
	st, err := c.state(ctx, t.IndexUID)
	if err == nil {
		return st, nil, nil
	}
	if apiCode(err) != "index_not_found" {
		return nil, nil, err
	}
	info, err := c.tasks.registerFailed(ctx, t, err)
	return nil, info, err
}

// broadcastSequenced runs a broadcast write on index uid (a deletion by
// filter, of everything, an edition, a compaction) in the index's call
// order; newTask builds its cluster task.
func (i *Index) broadcastSequenced(ctx context.Context, op, method, path string, q url.Values, body any, newTask func() *ClusterTask) (*meilisearch.TaskInfo, error) {
	c := i.c
	if err := checkUID(i.uid); err != nil {
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
	if err := c.requireAllHealthy(); err != nil {
		return nil, err
	}
	if st != nil {
		live := c.verifiedTargets(ctx, st, allNodeIdx(len(c.nodes)))
		var bad []string
		for ni, ok := range live {
			if !ok {
				bad = append(bad, c.nodes[ni].ID)
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

// broadcastNodes sends the same request to every node in parallel and
// returns their node tasks (in node order), or an error naming the nodes
// that failed.
func (c *Cluster) broadcastNodes(ctx context.Context, op, method, path string, q url.Values, body any) ([]NodeTask, meilisearch.TaskType, error) {
	var raw []byte
	ct := ""
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, "", err
		}
		ct = "application/json"
	}
	nts := make([]NodeTask, len(c.nodes))
	types := make([]meilisearch.TaskType, len(c.nodes))
	errs := c.fanout(ctx, c.nodes, func(ctx context.Context, n *node) error {
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
	if err := c.broadcastError(c.nodes, errs); err != nil {
		return nil, "", err
	}
	return nts, types[0], nil
}

// requireAllHealthy fails, naming them, when some nodes are marked down.
func (c *Cluster) requireAllHealthy() error {
	var down []string
	for _, n := range c.nodes {
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

// DeleteDocumentsByFilter deletes the documents matching filter on every
// node (broadcast).
func (i *Index) DeleteDocumentsByFilter(ctx context.Context, filter any, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	p := fromDocOptions(opts)
	orig, _ := json.Marshal(filter)
	return i.broadcastSequenced(ctx, "deleteDocumentsByFilter", http.MethodPost, "/documents/delete", p.query(""), map[string]any{"filter": filter}, func() *ClusterTask {
		return &ClusterTask{IndexUID: i.uid, Type: meilisearch.TaskTypeDocumentDeletion, Copies: i.c.copies(),
			Details: meilisearch.Details{OriginalFilter: string(orig)}, CustomMetadata: p.metadata}
	})
}

// DeleteAllDocuments deletes every document of the index on every node.
func (i *Index) DeleteAllDocuments(ctx context.Context, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	p := fromDocOptions(opts)
	return i.broadcastSequenced(ctx, "deleteAllDocuments", http.MethodDelete, "/documents", p.query(""), nil, func() *ClusterTask {
		return &ClusterTask{IndexUID: i.uid, Type: meilisearch.TaskTypeDocumentDeletion, Copies: i.c.copies(), CustomMetadata: p.metadata,
			RawDetails: rawJSON(map[string]json.RawMessage{"providedIds": rawInt(0), "deletedDocuments": rawNull, "originalFilter": rawNull})}
	})
}

// UpdateDocumentsByFunction runs an edition function on every node
// (broadcast). The function must not change the primary key or
// _miroir_shard: a document whose id changed would sit on the wrong shard.
func (i *Index) UpdateDocumentsByFunction(ctx context.Context, req *meilisearch.UpdateDocumentByFunctionRequest) (*meilisearch.TaskInfo, error) {
	if req == nil {
		req = &meilisearch.UpdateDocumentByFunctionRequest{}
	}
	q := url.Values{}
	if req.TaskCustomMetadata != "" {
		q.Set("customMetadata", req.TaskCustomMetadata)
	}
	d := map[string]json.RawMessage{"editedDocuments": rawNull, "deletedDocuments": rawNull,
		"function": rawJSON(req.Function), "context": rawJSON(req.Context), "originalFilter": rawNull}
	if req.Filter != "" {
		// Meilisearch shows the filter as JSON text
		d["originalFilter"] = rawJSON(string(rawJSON(req.Filter)))
	}
	raw := rawJSON(d)
	return i.broadcastSequenced(ctx, "updateDocumentsByFunction", http.MethodPost, "/documents/edit", q, req, func() *ClusterTask {
		return &ClusterTask{IndexUID: i.uid, Type: taskTypeDocumentEdition, Copies: i.c.copies(), CustomMetadata: req.TaskCustomMetadata, RawDetails: raw}
	})
}

// copies is how many nodes hold each document (RG×RF).
func (c *Cluster) copies() int { return c.topo.rg * c.topo.rf }
