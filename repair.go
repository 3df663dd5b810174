package miroir

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Repair (DESIGN §12 rule 4, issue 12): stale replicas take the state of
// an in-sync replica of their shard, in-sync replicas that differ converge
// (last write wins, present wins over absent), and the marks a pass saw at
// its start are cleared once a round finds nothing left to do. The pass
// itself is repair_pass.go; the background loop repair_loop.go.

// repairRounds bounds the rounds of one shard pass: a round checks what it
// fixed (shardPass.recheck), so one round is enough unless writes race
// the pass.
const repairRounds = 4

// RepairReport is what Cluster.Repair did to one index.
type RepairReport struct {
	// Index is the index repaired.
	Index string
	// Replicas lists, by shard then node, every replica that was stale
	// when the repair began, that the repair changed, or that it could
	// not bring in sync.
	Replicas []ReplicaRepair
	// Copied and Deleted total the documents copied to and deleted from
	// replicas.
	Copied, Deleted int
	// BytesCopied is the size of the documents copied, as the nodes
	// returned them.
	BytesCopied int64
	// Listed is how many (id, version) pairs the repair listed from the
	// replicas (lookups by id not counted): its reading cost.
	Listed int
}

// ReplicaRepair is what a repair did to one replica of one shard.
type ReplicaRepair struct {
	Shard int
	// Node is the replica's node ID.
	Node string
	// WasStale: the replica had stale marks when the repair began.
	WasStale bool
	// Copied documents were missing or older (or, on a stale replica,
	// of another version than the truth); Deleted ones were held by the
	// stale replica alone.
	Copied, Deleted int
	// BytesCopied is the size of the documents copied to the replica.
	BytesCopied int64
	// InSync: the replica ends in sync (its marks, if any, cleared).
	InSync bool
	// Error says why the replica is not in sync ("" when it is).
	Error string
}

// Repair brings every stale replica of index uid that it can reach back
// in sync, and converges in-sync replicas that differ, shard by shard:
// only (id, _miroir_v) pairs are listed to find differences, only
// differing documents are sent, copies carry their version (a repaired
// replica holds exactly what its source holds) and a stale replica loses
// the documents no in-sync replica holds, unless written after the repair
// began. It clears only the stale marks that existed when it began. It
// runs at full speed (the background repair is throttled, WithRepairRate)
// and every step is idempotent, so several instances may repair at once.
//
// The report lists what was done per shard and replica. The error is
// non-nil when some reachable replica could not be brought in sync (no
// in-sync healthy replica of its shard, a node failing, writes racing
// the repair for every round); the report is returned with it.
func (c *Cluster) Repair(ctx context.Context, uid string) (*RepairReport, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	st, err := c.state(ctx, uid)
	if err != nil {
		return nil, err
	}
	return c.repairIndex(ctx, st, true, nil)
}

// repairIndex repairs index st: every shard, in-sync replicas converged
// too (everyShard: Repair), or only the stale replicas of the shards with
// stale marks (the background loop), paced by pace (nil: full speed).
func (c *Cluster) repairIndex(ctx context.Context, st *indexState, everyShard bool, pace *pacer) (*RepairReport, error) {
	ctx = withNodeKeys(ctx)
	uid := st.uid
	rep := &RepairReport{Index: uid}
	c.refreshUnfinished(ctx, uid)
	marks, err := c.readMarks(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("miroir: repair of index %q: reading stale marks: %w", uid, err)
	}
	upTo, missed := markSets(c, st.shards, marks)
	if err := drainNodes(ctx, c.healthyNodes()); err != nil {
		return nil, fmt.Errorf("miroir: repair of index %q: %w", uid, err)
	}
	var shards []int
	if everyShard {
		for s := range st.shards {
			shards = append(shards, s)
		}
	} else {
		for k := range upTo {
			shards = append(shards, k.shard)
		}
		slices.Sort(shards)
		shards = slices.Compact(shards)
	}
	if len(shards) == 0 {
		return rep, nil
	}
	// Versions at or above vStart were written after this point: a stale
	// replica's copy that new is a write racing the repair, never deleted.
	vStart := c.startVersion()
	r := &indexRepair{c: c, st: st, upTo: upTo, missed: missed, vStart: vStart, pace: pace, rep: rep, converge: everyShard}
	if err := r.prepare(ctx); err != nil {
		return nil, fmt.Errorf("miroir: repair of index %q: %w", uid, err)
	}
	var errs []error
	for _, s := range shards {
		if err := r.shard(ctx, s); err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	c.tasks.observe(r.maxSeen)
	if len(errs) > 0 {
		e := newError(http.StatusServiceUnavailable, CodeRepairIncomplete,
			"miroir: repair of index `%s` left replicas out of sync: %s", uid, errText(errors.Join(errs...)))
		e.Err = errors.Join(errs...)
		return rep, e
	}
	return rep, nil
}

// CodeRepairIncomplete is the error code of a Repair that left some
// reachable replica out of sync.
const CodeRepairIncomplete = "miroir_repair_incomplete"

// indexRepair is one repair of one index.
type indexRepair struct {
	c       *Cluster
	st      *indexState
	pk      string
	upTo    map[replicaKey]int64          // stale replica -> highest mark version seen at the start
	missed  map[replicaKey]map[int64]bool // stale replica -> its marks' versions
	vStart  int64
	pace    *pacer
	vectors bool
	maxSeen int64
	rep     *RepairReport
	// converge: in-sync replicas that differ converge too (Repair, not
	// the background loop).
	converge bool
}

// prepare finds the primary key and whether copies need vectors, and
// makes the reachable stale replicas hold the index (a node that came
// back empty lacks it).
func (r *indexRepair) prepare(ctx context.Context) error {
	c := r.c
	r.pk = r.st.PrimaryKey()
	var staleNodes []*node
	seen := map[int]bool{}
	for k := range r.upTo {
		if n := c.node(k.ni); n.isHealthy() && !seen[k.ni] {
			seen[k.ni] = true
			staleNodes = append(staleNodes, n)
		}
	}
	if len(staleNodes) > 0 {
		if _, err := c.converge(ctx, r.st, staleNodes, true); err != nil {
			return fmt.Errorf("making the stale replicas hold the index: %w", err)
		}
	}
	for _, n := range c.nodesByPreference() {
		if !n.isHealthy() {
			continue
		}
		info, err := n.getIndex(ctx, r.st.uid)
		if err != nil || info == nil {
			continue
		}
		if r.pk == "" && info.PrimaryKey != nil {
			r.pk = *info.PrimaryKey
		}
		emb, err := hasEmbedders(ctx, n, r.st.uid)
		if err != nil {
			return fmt.Errorf("reading embedders on node %s: %w", n.ID, err)
		}
		r.vectors = emb
		return nil
	}
	return fmt.Errorf("no healthy node holds the index")
}

// shard repairs one shard: rounds until every reachable replica matches
// the truth, clearing a stale replica's marks after its first clean round.
func (r *indexRepair) shard(ctx context.Context, s int) error {
	c := r.c
	tp := c.topo()
	var reps []*node
	var stale []bool
	var lines []*ReplicaRepair
	targets := tp.writeTargets(s)
	// In-sync replicas first: a document is judged on the first replica
	// holding it, and the truth is read from in-sync ones.
	order := slices.Clone(targets)
	slices.SortStableFunc(order, func(a, b int) int {
		return boolInt(r.isStale(s, a)) - boolInt(r.isStale(s, b))
	})
	for _, ni := range order {
		n := tp.clients[ni]
		line := &ReplicaRepair{Shard: s, Node: n.ID, WasStale: r.isStale(s, ni)}
		if !n.isHealthy() {
			if line.WasStale {
				line.Error = "node unreachable"
				// Repaired when it comes back (the next pass).
				r.rep.Replicas = append(r.rep.Replicas, *line)
			}
			continue
		}
		reps, stale, lines = append(reps, n), append(stale, line.WasStale), append(lines, line)
	}
	p := &shardPass{c: c, uid: r.st.uid, pk: r.pk, shard: s, reps: reps, stale: stale,
		vStart: r.vStart, act: true, converge: r.converge, vectors: r.vectors, pace: r.pace}
	for _, n := range reps {
		p.missed = append(p.missed, r.missed[replicaKey{s, n.idx}])
	}
	defer r.report(s, lines)
	if p.inSyncCount() == 0 && len(reps) < len(targets) {
		// Every replica missed some write: merged by their marks
		// (shardPass.judge) only when every one of them can be read.
		for i, l := range lines {
			if stale[i] {
				l.Error = errNoSource.Error()
			}
		}
		if len(lines) == 0 {
			return nil
		}
		return fmt.Errorf("shard %d: %w", s, errNoSource)
	}
	if r.pk == "" {
		// No node has a primary key: no document anywhere, every replica
		// already holds the (empty) truth.
		_, err := r.settle(ctx, s, p, lines, make([]bool, len(reps)))
		return err
	}
	differs := make([]bool, len(reps))
	for round := 0; round < repairRounds; round++ {
		if err := p.round(ctx); err != nil {
			for _, l := range lines {
				l.Error = err.Error()
			}
			return fmt.Errorf("shard %d: %w", s, err)
		}
		r.maxSeen = max(r.maxSeen, p.maxSeen)
		unsettled := false
		for i, t := range p.tally {
			lines[i].Copied += t.Copied
			lines[i].BytesCopied += t.Bytes
			lines[i].Deleted += t.Deleted
			r.rep.Listed += t.Documents
			differs[i] = !t.settled()
			unsettled = unsettled || differs[i]
		}
		late, err := r.settle(ctx, s, p, lines, differs)
		if err != nil {
			return err
		}
		if !unsettled && !late {
			return nil
		}
	}
	var still []string
	for i, l := range lines {
		if !l.InSync {
			l.Error = fmt.Sprintf("still differs after %d rounds (writes or new marks racing the repair)", repairRounds)
			still = append(still, reps[i].ID)
		}
	}
	return fmt.Errorf("shard %d: replicas %v still differ after %d rounds", s, still, repairRounds)
}

// settle clears the marks of the stale replicas a round found holding
// every write they missed (once), and records which replicas are in sync.
// Before clearing, the marks are read again: a mark at or below the
// version being cleared that the pass did not see (a node task failure
// found late, another instance's slower clock) would be dropped
// unrepaired, so the replica takes it into account and goes round again
// (late).
func (r *indexRepair) settle(ctx context.Context, s int, p *shardPass, lines []*ReplicaRepair, differs []bool) (late bool, err error) {
	var fresh map[replicaKey]map[int64]bool
	for i, l := range lines {
		if differs[i] || l.InSync {
			continue
		}
		if p.stale[i] {
			k := replicaKey{s, p.reps[i].idx}
			if fresh == nil {
				marks, err := r.c.readMarks(ctx, r.st.uid)
				if err != nil {
					l.Error = "reading its marks: " + err.Error()
					return false, fmt.Errorf("shard %d: reading the marks: %w", s, err)
				}
				_, fresh = markSets(r.c, r.st.shards, marks)
			}
			unseen := false
			for v := range fresh[k] {
				if v <= r.upTo[k] && !r.missed[k][v] {
					r.missed[k][v], unseen = true, true // p.missed[i] is the same map
				}
			}
			if unseen {
				late = true
				continue
			}
			if err := r.c.clearMarks(ctx, r.st.uid, s, l.Node, r.upTo[k]); err != nil {
				l.Error = "clearing its marks: " + err.Error()
				return false, fmt.Errorf("shard %d: clearing the marks of node %s: %w", s, l.Node, err)
			}
		}
		l.InSync, l.Error = true, ""
	}
	return late, nil
}

// report adds the shard's lines to the report and tells the Observer.
func (r *indexRepair) report(s int, lines []*ReplicaRepair) {
	done := 0
	for _, l := range lines {
		done += l.Copied + l.Deleted
		r.rep.Copied += l.Copied
		r.rep.BytesCopied += l.BytesCopied
		r.rep.Deleted += l.Deleted
		if l.Copied+l.Deleted > 0 && r.c.replicaObs != nil {
			r.c.replicaObs.RepairCopied(r.st.uid, s, l.Node, l.Copied, l.Deleted)
		}
		if l.WasStale || l.Copied+l.Deleted > 0 || !l.InSync {
			r.rep.Replicas = append(r.rep.Replicas, *l)
		}
	}
	if done > 0 {
		r.c.opts.logger.Info("miroir: repaired shard", "index", r.st.uid, "shard", s, "documents", done)
	}
}

func (r *indexRepair) isStale(s, ni int) bool {
	_, ok := r.upTo[replicaKey{s, ni}]
	return ok
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// repairTimeout bounds one background pass over one index.
const repairTimeout = 10 * time.Minute

// markSets turns marks into, per stale replica, the highest version seen
// (what a repair may clear) and the set of versions it missed.
func markSets(c *Cluster, shards int, marks []staleMark) (map[replicaKey]int64, map[replicaKey]map[int64]bool) {
	upTo := map[replicaKey]int64{}
	missed := map[replicaKey]map[int64]bool{}
	for _, m := range marks {
		ni := c.nodeIdx(m.Node)
		if ni < 0 || m.Shard < 0 || m.Shard >= shards {
			continue
		}
		k := replicaKey{m.Shard, ni}
		upTo[k] = max(upTo[k], m.Version)
		if missed[k] == nil {
			missed[k] = map[int64]bool{}
		}
		missed[k][m.Version] = true
	}
	return upTo, missed
}

// refreshUnfinishedMax bounds the cluster tasks one repair refreshes.
const refreshUnfinishedMax = 1000

// refreshUnfinished refreshes this instance's unfinished cluster tasks of
// index uid ("": of every index; at most refreshUnfinishedMax, newest
// first), so that node
// tasks that failed after their 202 are marks before a pass judges the
// replicas: repair trusts the marks to tell a missed write from a deleted
// document.
func (c *Cluster) refreshUnfinished(ctx context.Context, uid string) {
	var pending []int64
	_ = c.tasks.store.List(ctx, func(t *ClusterTask) bool {
		if (uid == "" || t.IndexUID == uid) && !t.Local && (t.Status == meilisearch.TaskStatusEnqueued || t.Status == meilisearch.TaskStatusProcessing) {
			pending = append(pending, t.UID)
		}
		return len(pending) < refreshUnfinishedMax
	})
	for _, u := range pending {
		if _, err := c.tasks.get(ctx, u); err != nil && ctx.Err() != nil {
			return
		}
	}
}

// startVersion is a version above every one this instance allocated so
// far and above every one allocated by the clock's current millisecond
// (versions are milliseconds × 1000 plus a lane below 1000): a copy at or
// above it was written after this point, as far as clocks agree.
func (c *Cluster) startVersion() int64 {
	m := c.lanes
	m.mu.Lock()
	last := m.last
	m.mu.Unlock()
	return max((m.now().UnixMilli()+1)*1000, last+1)
}
