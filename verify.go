package miroir

import (
	"context"
	"fmt"
	"slices"
)

// Anti-entropy (DESIGN §12 rule 5): Verify compares every replica of
// every shard, in-sync ones too, by (id, _miroir_v), with the walk Repair
// uses (repair_pass.go) but without acting.

// VerifyReport is what Cluster.Verify found in one index.
type VerifyReport struct {
	// Index is the index verified.
	Index string
	// Shards lists every shard, in order.
	Shards []ShardVerify
}

// ShardVerify is one shard's replicas compared with the shard's truth:
// per document, the highest _miroir_v among the in-sync replicas holding
// it (a document no in-sync replica holds is not part of the truth).
type ShardVerify struct {
	Shard int
	// Replicas lists every replica of the shard (every group), in-sync
	// ones first.
	Replicas []ReplicaVerify
	// Error says why the shard could not be compared ("" when it was).
	Error string
}

// ReplicaVerify is one replica compared with its shard's truth.
type ReplicaVerify struct {
	// Node is the replica's node ID.
	Node string
	// Stale: the replica has stale marks.
	Stale bool
	// Reached: the node is healthy and was compared; the counts below are
	// zero otherwise.
	Reached bool
	// Documents is how many documents of the shard the replica holds.
	Documents int
	// Missing: documents of the truth the replica lacks. Extra: documents
	// it holds that no in-sync replica holds. Older: documents it holds
	// in a version older than the truth's. Newer: documents a stale
	// replica holds in a version newer than every in-sync replica's.
	Missing, Extra, Older, Newer int
}

// Differs reports whether the replica holds anything else than the truth.
func (r ReplicaVerify) Differs() bool { return r.Missing+r.Extra+r.Older+r.Newer > 0 }

// Consistent reports whether every reachable replica of every shard holds
// exactly the truth and none is stale or unreachable.
func (r *VerifyReport) Consistent() bool {
	for _, s := range r.Shards {
		if s.Error != "" {
			return false
		}
		for _, rv := range s.Replicas {
			if !rv.Reached || rv.Stale || rv.Differs() {
				return false
			}
		}
	}
	return true
}

// Verify compares every replica of every shard of index uid by (id,
// _miroir_v), listing only ids and versions, and reports per shard which
// replicas differ from the truth and by how many documents. It changes
// nothing (Repair converges). Writes running meanwhile may show as
// transient differences. A shard that could not be compared carries its
// Error; the error returned is for the index as a whole.
func (c *Cluster) Verify(ctx context.Context, uid string) (*VerifyReport, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	st, err := c.state(ctx, uid)
	if err != nil {
		return nil, err
	}
	ctx = withNodeKeys(ctx)
	marks, err := c.readMarks(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("miroir: verify of index %q: reading stale marks: %w", uid, err)
	}
	_, missed := markSets(c, st.shards, marks)
	pk := st.PrimaryKey()
	if pk == "" {
		for _, n := range c.nodesByPreference() {
			if info, err := n.getIndex(ctx, uid); err == nil && info != nil && info.PrimaryKey != nil {
				pk = *info.PrimaryKey
				break
			}
		}
	}
	rep := &VerifyReport{Index: uid}
	var maxSeen int64
	for s := range st.shards {
		sv, seen := c.verifyShard(ctx, uid, pk, s, missed)
		maxSeen = max(maxSeen, seen)
		rep.Shards = append(rep.Shards, sv)
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	c.tasks.observe(maxSeen)
	return rep, nil
}

// verifyShard compares shard s's replicas; it returns the highest version
// seen.
func (c *Cluster) verifyShard(ctx context.Context, uid, pk string, s int, missed map[replicaKey]map[int64]bool) (ShardVerify, int64) {
	tp := c.topo()
	stale := func(k replicaKey) bool { return missed[k] != nil }
	sv := ShardVerify{Shard: s}
	order := slices.Clone(tp.writeTargets(s))
	slices.SortStableFunc(order, func(a, b int) int {
		return boolInt(stale(replicaKey{s, a})) - boolInt(stale(replicaKey{s, b}))
	})
	p := &shardPass{c: c, uid: uid, pk: pk, shard: s, vStart: 1 << 62, converge: true}
	var at []int // p.reps[i] is sv.Replicas[at[i]]
	for _, ni := range order {
		n := tp.clients[ni]
		rv := ReplicaVerify{Node: n.ID, Stale: stale(replicaKey{s, ni}), Reached: n.isHealthy()}
		if rv.Reached {
			p.reps = append(p.reps, n)
			p.stale = append(p.stale, rv.Stale)
			p.missed = append(p.missed, missed[replicaKey{s, ni}])
			at = append(at, len(sv.Replicas))
		}
		sv.Replicas = append(sv.Replicas, rv)
	}
	if pk == "" || len(p.reps) == 0 {
		return sv, 0 // no document anywhere, or nothing to compare
	}
	if err := p.round(ctx); err != nil {
		sv.Error = err.Error()
		for i := range at {
			sv.Replicas[at[i]].Reached = false
		}
		return sv, p.maxSeen
	}
	for i, t := range p.tally {
		rv := &sv.Replicas[at[i]]
		rv.Documents, rv.Missing, rv.Extra, rv.Older, rv.Newer = t.Documents, t.Missing, t.Extra, t.Older, t.Newer
	}
	return sv, p.maxSeen
}
