package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir"
)

// status prints the topology (its epoch, and the change in progress),
// each node's health and shards, and the stale replicas of every index
// (marks are fleet state: reading an index loads them).
func status(ctx context.Context, c *miroir.Cluster, w io.Writer) error {
	if err := readRecord(ctx, c); err != nil {
		return err
	}
	var uids []string
	for offset := int64(0); ; {
		page, err := c.ListIndexes(ctx, &meilisearch.IndexesQuery{Offset: offset, Limit: 100})
		if err != nil {
			return err
		}
		for _, ix := range page.Results {
			uids = append(uids, ix.UID)
		}
		offset += int64(len(page.Results))
		if len(page.Results) == 0 || offset >= page.Total {
			break
		}
	}
	docs := map[string]int64{}
	for _, uid := range uids {
		// A read of the index loads its stale marks from the fleet into
		// this instance's view (Topology below).
		var page meilisearch.DocumentsResult
		if err := c.Index(uid).GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 1}, &page); err != nil {
			fmt.Fprintf(w, "index %s: %v\n", uid, err)
			continue
		}
		st, err := c.Index(uid).GetStats(ctx, nil)
		if err != nil {
			fmt.Fprintf(w, "index %s: %v\n", uid, err)
			continue
		}
		docs[uid] = st.NumberOfDocuments
	}
	t := c.Topology()
	fmt.Fprintf(w, "fleet: %d shards, %d group(s), RF %d, %d nodes\n", t.Shards, t.Groups, t.ReplicationFactor, len(t.Nodes))
	writeEpoch(w, t)
	for _, n := range t.Nodes {
		health := "healthy"
		if !n.Healthy {
			health = "DOWN"
		}
		fmt.Fprintf(w, "  %-12s group %d  %-7s  %d shards  %s\n", n.ID, n.Group, health, len(n.Shards), n.URL)
	}
	fmt.Fprintf(w, "indexes: %d\n", len(uids))
	for _, uid := range uids {
		fmt.Fprintf(w, "  %-20s %d documents\n", uid, docs[uid])
	}
	writeChange(w, t, time.Now())
	if len(t.Stale) == 0 {
		fmt.Fprintln(w, "stale replicas: none")
		return nil
	}
	fmt.Fprintf(w, "stale replicas: %d (they serve no reads until repaired: miroir repair INDEX)\n", len(t.Stale))
	for _, s := range t.Stale {
		fmt.Fprintf(w, "  index %s shard %d on %s\n", s.Index, s.Shard, s.Node)
	}
	return nil
}

// verify prints, per shard, the replicas that differ from the shard's
// truth; ok reports whether none does.
func verify(ctx context.Context, c *miroir.Cluster, uid string, w io.Writer) (bool, error) {
	start := time.Now()
	r, err := c.Verify(ctx, uid)
	if err != nil {
		return false, err
	}
	bad := 0
	for _, s := range r.Shards {
		if s.Error != "" {
			bad++
			fmt.Fprintf(w, "shard %d: not compared: %s\n", s.Shard, s.Error)
			continue
		}
		for _, rep := range s.Replicas {
			if !rep.Reached || rep.Stale || rep.Differs() {
				bad++
				fmt.Fprintf(w, "shard %d on %s: %s\n", s.Shard, rep.Node, describeReplica(rep))
			}
		}
	}
	if r.Consistent() {
		fmt.Fprintf(w, "index %s: every replica of its %d shards holds the same documents (%s)\n", uid, len(r.Shards), elapsed(start))
		return true, nil
	}
	fmt.Fprintf(w, "index %s: %d replica(s) differ, are stale or were not reached (%s); run: miroir repair %s\n", uid, bad, elapsed(start), uid)
	return false, nil
}

func describeReplica(r miroir.ReplicaVerify) string {
	var parts []string
	if !r.Reached {
		return "not reached"
	}
	if r.Stale {
		parts = append(parts, "stale")
	}
	for _, f := range []struct {
		n    int
		name string
	}{{r.Missing, "missing"}, {r.Extra, "extra"}, {r.Older, "older"}, {r.Newer, "newer"}} {
		if f.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", f.n, f.name))
		}
	}
	return fmt.Sprintf("%s (%d documents)", strings.Join(parts, ", "), r.Documents)
}

// repair prints what the repair did; ok reports whether every replica
// ended in sync.
func repair(ctx context.Context, c *miroir.Cluster, uid string, w io.Writer) (bool, error) {
	start := time.Now()
	r, err := c.Repair(ctx, uid)
	if err != nil {
		return false, err
	}
	ok := true
	for _, rep := range r.Replicas {
		state := "in sync"
		if !rep.InSync {
			ok = false
			state = "NOT in sync: " + rep.Error
		}
		fmt.Fprintf(w, "shard %d on %s: copied %d, deleted %d; %s\n", rep.Shard, rep.Node, rep.Copied, rep.Deleted, state)
	}
	fmt.Fprintf(w, "index %s: %d documents copied, %d deleted, %d (id, version) pairs listed (%s)\n", uid, r.Copied, r.Deleted, r.Listed, elapsed(start))
	return ok, nil
}

// writeEpoch says which recorded topology the command follows.
func writeEpoch(w io.Writer, t miroir.Topology) {
	switch {
	case t.Epoch == 0:
		fmt.Fprintln(w, "topology: not recorded on the fleet yet (the first write records it)")
	case t.Configured:
		fmt.Fprintf(w, "topology: epoch %d, as the nodes given\n", t.Epoch)
	default:
		fmt.Fprintf(w, "topology: epoch %d, the fleet's record (it differs from the nodes given, which only served to find the fleet)\n", t.Epoch)
	}
}

// writeChange prints the topology change in progress, if any: its target
// against the current nodes, its phase and progress.
func writeChange(w io.Writer, t miroir.Topology, now time.Time) {
	ch := t.Change
	if ch == nil {
		fmt.Fprintln(w, "topology change: none in progress")
		return
	}
	fmt.Fprintf(w, "topology change in progress: epoch %d -> %d, phase %s, started %s (%s ago)\n",
		ch.FromEpoch, ch.Epoch, ch.Phase, ch.Started.UTC().Format(time.RFC3339), roundDuration(now.Sub(ch.Started)))
	// The fleet's nodes are those of both layouts while the change runs:
	// the target's, and those leaving.
	fmt.Fprintf(w, "  target: %d nodes, RF %d\n", len(ch.Nodes), ch.ReplicationFactor)
	for _, n := range ch.Nodes {
		fmt.Fprintf(w, "    %-12s group %d  %s\n", n.ID, n.Group, n.URL)
	}
	for _, d := range diffNodes(t.Nodes, ch.Nodes) {
		if strings.HasPrefix(d, "- ") {
			fmt.Fprintf(w, "  leaving: %s\n", d[2:])
		}
	}
	fmt.Fprintf(w, "  progress: %d of %d moving shards done, %d documents (%s) copied", ch.ShardsDone, ch.ShardsMoving, ch.DocumentsCopied, megabytes(ch.BytesCopied))
	if ch.DocumentsRemaining >= 0 {
		fmt.Fprintf(w, ", %d remaining", ch.DocumentsRemaining)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  creating, deleting or reconfiguring an index is refused until it completes;")
	fmt.Fprintln(w, "  resume it: miroir [flags] nodes -target > target.nodes; miroir [flags] change-topology -nodes target.nodes -rf", ch.ReplicationFactor)
}

// readRecord returns once c read the fleet's topology record (or found
// none): index-scoped calls wait for it, the index list does not. On a
// fleet without indexes the read is of an index that does not exist
// (index_not_found is the expected answer).
func readRecord(ctx context.Context, c *miroir.Cluster) error {
	page, err := c.ListIndexes(ctx, &meilisearch.IndexesQuery{Limit: 1})
	if err != nil {
		return err
	}
	uid := "topology-probe"
	if len(page.Results) > 0 {
		uid = page.Results[0].UID
	}
	var page1 meilisearch.DocumentsResult
	if err := c.Index(uid).GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 1}, &page1); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}
