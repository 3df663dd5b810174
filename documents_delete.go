package miroir

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"

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
	if err := validateIndexUID(i.uid, allowReserved); err != nil {
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
	unpin, err := c.pinWrites()
	if err != nil {
		return nil, err
	}
	defer unpin()
	tp := c.topo()
	live := c.verifiedTargets(ctx, st, tp.memberIdx())
	perNode := make([][]string, len(tp.clients))
	var shards []int
	seen := make([]bool, tp.shards)
	for _, id := range ids {
		s := ShardOf(id, st.shards)
		if !seen[s] {
			seen[s] = true
			shards = append(shards, s)
		}
		for _, ni := range tp.writeTargets(s) {
			if live[ni] {
				perNode[ni] = append(perNode[ni], id)
			}
		}
	}
	bodies := make([]any, len(tp.clients))
	docs := make([]int, len(tp.clients))
	for ni, l := range perNode {
		if len(l) > 0 {
			b, _ := json.Marshal(l)
			bodies[ni], docs[ni] = bytes.NewReader(b), len(l)
		}
	}
	if len(ids) > 0 {
		uid, err := c.writeVersionFor(ctx) // names the deletion in its node tasks and stale marks
		if err != nil {
			return nil, err
		}
		t.UID = uid
		res, err := c.sendBatch(ctx, st, uid, "deleteDocuments", http.MethodPost, "/indexes/"+st.uid+"/documents/delete-batch", tagQuery(p.query(""), uid), "application/json", bodies, docs, shards)
		if err != nil {
			return nil, err
		}
		t.Nodes, t.Degraded = res.nodes, dedupPairs(res.degraded)
	}
	return c.registerRouted(ctx, t)
}

// DeleteDocumentsByFilter deletes the documents matching filter on every
// node (broadcast).
func (i *Index) DeleteDocumentsByFilter(ctx context.Context, filter any, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	p := fromDocOptions(opts)
	orig, _ := json.Marshal(filter)
	return i.broadcastSequenced(ctx, "deleteDocumentsByFilter", http.MethodPost, "/documents/delete", p.query(""), map[string]any{"filter": filter}, func() *ClusterTask {
		return &ClusterTask{IndexUID: i.uid, Type: meilisearch.TaskTypeDocumentDeletion, Copies: i.c.topo().copies(),
			Details: meilisearch.Details{OriginalFilter: string(orig)}, CustomMetadata: p.metadata}
	})
}

// DeleteAllDocuments deletes every document of the index on every node.
func (i *Index) DeleteAllDocuments(ctx context.Context, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	p := fromDocOptions(opts)
	return i.broadcastSequenced(ctx, "deleteAllDocuments", http.MethodDelete, "/documents", p.query(""), nil, func() *ClusterTask {
		return &ClusterTask{IndexUID: i.uid, Type: meilisearch.TaskTypeDocumentDeletion, Copies: i.c.topo().copies(), CustomMetadata: p.metadata,
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
		return &ClusterTask{IndexUID: i.uid, Type: taskTypeDocumentEdition, Copies: i.c.topo().copies(), CustomMetadata: req.TaskCustomMetadata, RawDetails: raw}
	})
}
