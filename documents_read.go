package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/route"
)

// Document reads routed by id.

// readReplicas lists the replicas of uid's shard to read from: round-robin
// preferred group and replica, then the other groups; healthy nodes first.
// Stale replicas (and nodes back from unhealthy whose marks this instance
// has not re-read) are left out: they serve no reads (DESIGN §12).
func (c *Cluster) readReplicas(uid string, shard int) []*node {
	t := c.topo()
	rg, rf := t.rg, t.rf
	seq := c.seq.Add(1)
	g0 := int(seq % uint64(rg))
	r0 := int((seq / uint64(rg)) % uint64(rf))
	var healthy, down []*node
	for gi := range rg {
		g := (g0 + gi) % rg
		reps := t.replicas(shard, g)
		for ri := range reps {
			n := t.clients[reps[(r0+ri)%len(reps)]]
			if c.isStale(uid, shard, n.idx) || n.marksUnread.Load() {
				continue
			}
			if n.isHealthy() {
				healthy = append(healthy, n)
			} else {
				down = append(down, n)
			}
		}
	}
	if c.adaptiveReads() {
		c.orderByLoad(healthy)
	}
	if len(healthy) == 0 {
		// Just cut over, new replicas still stale here: the old ones
		// receive every write until retire (DESIGN §13).
		for _, ni := range t.fallback(shard) {
			if n := t.clients[ni]; n.isHealthy() && !c.isStale(uid, shard, ni) && !n.marksUnread.Load() {
				healthy = append(healthy, n)
			}
		}
	}
	return append(healthy, down...)
}

// GetDocument reads one document from a replica of its shard (round-robin,
// healthy first), falling back to the other replicas when one fails or
// lacks it (a replica that missed a degraded write). _miroir_shard is
// removed before the document is decoded into documentPtr.
func (i *Index) GetDocument(ctx context.Context, identifier string, request *meilisearch.DocumentQuery, documentPtr any) (err error) {
	if i.c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = i.c.beginCall(ctx, "getDocument", i.uid)
		defer func() { cs.end(err) }()
	}
	c := i.c
	if err := c.checkOpen(); err != nil {
		return err
	}
	st, err := c.state(ctx, i.uid)
	if err != nil {
		return err
	}
	q := url.Values{}
	if request != nil {
		if len(request.Fields) > 0 {
			q.Set("fields", strings.Join(request.Fields, ","))
		}
		if request.RetrieveVectors {
			q.Set("retrieveVectors", "true")
		}
	}
	var notFound, lastErr error
	path := "/indexes/" + i.uid + "/documents/" + url.PathEscape(identifier)
	shard := ShardOf(identifier, st.shards)
	replicas := c.readReplicas(i.uid, shard)
	if len(replicas) == 0 {
		return c.unavailableShards(ctx, i.uid, []int{shard})
	}
	get := func(ctx context.Context, n *node) (*nodeResponse, error) {
		return n.do(ctx, "getDocument", http.MethodGet, path, q, "", nil)
	}
	for k, n := range replicas {
		var resp *nodeResponse
		var err error
		if k == 0 && n.isHealthy() {
			// The first replica's read is hedged (hedge.go).
			resp, err = hedgeOne(ctx, c, i.uid, shard, n, get)
		} else {
			resp, err = get(ctx, n)
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			if isNotFound(err) {
				notFound = cmpErr(notFound, err)
			} else {
				lastErr = cmpErr(lastErr, err)
			}
			continue
		}
		if stale := c.hasStaleReplica(i.uid, shard); k > 0 || stale {
			reportFrom(ctx).fallback(Fallback{Shard: shard, Preferred: replicas[0].Group, Group: n.Group, Node: n.ID, Stale: stale})
		}
		body := route.StripField(route.StripField(resp.Body, shardField), versionField)
		if documentPtr == nil {
			return nil
		}
		if err := json.Unmarshal(body, documentPtr); err != nil {
			return fmt.Errorf("miroir: decoding document %q: %w", identifier, err)
		}
		return nil
	}
	if notFound != nil {
		return notFound
	}
	return lastErr
}
