package miroir

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/miroirsearch/miroir/internal/route"
)

// Stale replicas (DESIGN §12, issue 12).
//
// A replica of (index, shard) that missed a write another replica of the
// shard got is stale until repair brings it back. Each missed write leaves
// one mark per replica on the fleet (marks_store.go): every instance
// sharing the fleet reads them, so no instance reads a stale replica once
// it has seen the marks. This file holds the contract the rest of the
// package uses (readMarks, clearMarks, isStale) and this instance's view
// of the marks.

// versionField is the attribute holding a document's version: the cluster
// task uid of the write that wrote it (version.go).
const versionField = route.VersionField

// ReplicaObserver is an optional extension of Observer: an Observer that
// also implements it is told when a replica changes between in sync and
// stale in this instance's view, and what repair copied.
type ReplicaObserver interface {
	// ReplicaStale: a stale mark was stored (or first seen) for the
	// replica of (index, shard) on nodeID.
	ReplicaStale(index string, shard int, nodeID string)
	// ReplicaInSync: the replica's marks were cleared.
	ReplicaInSync(index string, shard int, nodeID string)
	// RepairCopied: repair copied and deleted documents on the replica.
	RepairCopied(index string, shard int, nodeID string, copied, deleted int)
}

// staleMark: one missed write of one replica.
type staleMark struct {
	Index   string
	Shard   int
	Node    string // node ID
	Version int64  // the write's _miroir_v / cluster task uid
	At      time.Time
}

// replicaKey names one replica of an index: a shard on a node (by index).
type replicaKey struct{ shard, ni int }

// indexMarks is this instance's view of one index's marks.
type indexMarks struct {
	loaded bool
	// fleet: the versions of the marks the last read found.
	fleet map[replicaKey]map[int64]struct{}
	// pending: marks this instance stored that no read has shown yet. A
	// node processes a record write some time after its 202, so a read
	// right after may not show it; the mark stays here until a read shows
	// it, this instance clears it, or a node known to have processed its
	// write answers a read without it (another instance cleared it).
	pending map[replicaKey]map[int64]*markPut
}

// markPut is one storage of marks: the node tasks of its record writes
// (node index -> node task uid), polled to tell "not processed yet" from
// "cleared since".
type markPut struct {
	tasks map[int]int64
	done  map[int]bool // node tasks seen succeeded
}

func newIndexMarks() *indexMarks {
	return &indexMarks{fleet: map[replicaKey]map[int64]struct{}{}, pending: map[replicaKey]map[int64]*markPut{}}
}

func (im *indexMarks) stale(k replicaKey) bool {
	return len(im.fleet[k]) > 0 || len(im.pending[k]) > 0
}

// markView is this instance's view of the fleet's marks, per index.
type markView struct {
	mu  sync.Mutex
	idx map[string]*indexMarks
}

// get returns the marks of uid, created empty (not loaded) when absent.
// Call with mu held.
func (v *markView) get(uid string) *indexMarks {
	if v.idx == nil {
		v.idx = map[string]*indexMarks{}
	}
	im := v.idx[uid]
	if im == nil {
		im = newIndexMarks()
		v.idx[uid] = im
	}
	return im
}

// isStale reports whether node ni's replica of (uid, shard) is stale in
// this instance's current view.
func (c *Cluster) isStale(uid string, shard, ni int) bool {
	c.marks.mu.Lock()
	defer c.marks.mu.Unlock()
	im := c.marks.idx[uid]
	return im != nil && im.stale(replicaKey{shard, ni})
}

// staleReplicas lists the stale replicas of uid in this instance's view
// (sorted by shard, then node index).
func (c *Cluster) staleReplicas(uid string) []replicaKey {
	c.marks.mu.Lock()
	defer c.marks.mu.Unlock()
	im := c.marks.idx[uid]
	if im == nil {
		return nil
	}
	var out []replicaKey
	for k := range im.fleet {
		if im.stale(k) {
			out = append(out, k)
		}
	}
	for k := range im.pending {
		if len(im.fleet[k]) == 0 && im.stale(k) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b replicaKey) int {
		if a.shard != b.shard {
			return a.shard - b.shard
		}
		return a.ni - b.ni
	})
	return out
}

// readMarks reads the index's marks from the fleet now (union over
// reachable nodes), refreshing this instance's cache.
func (c *Cluster) readMarks(ctx context.Context, uid string) ([]staleMark, error) {
	got, err := c.refreshMarks(ctx, uid)
	if err != nil {
		return nil, err
	}
	return got[uid], nil
}

// refreshMarks reads the marks of index uid ("" : of every index) from
// every reachable node and installs them in the view; it returns the
// marks read, by index. It fails when no node answered.
func (c *Cluster) refreshMarks(ctx context.Context, uid string) (map[string][]staleMark, error) {
	ctx = bookkeepingCtx(ctx)
	// Pending marks absent from the read are dropped only when a node
	// known to hold them (its write processed, checked before the read)
	// answered without them.
	c.pollPendingMarks(ctx, uid)
	per, err := c.markStore.read(ctx, uid)
	if err != nil {
		return nil, err
	}
	byIndex := map[string][]staleMark{}
	answered := make([]bool, c.slots())
	seen := map[string]map[replicaKey]map[int64]struct{}{}
	for _, nm := range per {
		if !nm.answered {
			continue
		}
		answered[nm.ni] = true
		for _, m := range nm.marks {
			ni := c.nodeIdx(m.Node)
			if ni < 0 {
				continue // a node no longer in this topology
			}
			k := replicaKey{m.Shard, ni}
			s := seen[m.Index]
			if s == nil {
				s = map[replicaKey]map[int64]struct{}{}
				seen[m.Index] = s
			}
			if s[k] == nil {
				s[k] = map[int64]struct{}{}
			}
			if _, dup := s[k][m.Version]; !dup {
				s[k][m.Version] = struct{}{}
				byIndex[m.Index] = append(byIndex[m.Index], m)
			}
			c.tasks.observe(m.Version)
		}
	}
	var events []replicaEvent
	c.marks.mu.Lock()
	var uids []string
	if uid != "" {
		uids = []string{uid}
	} else {
		for u := range c.marks.idx {
			uids = append(uids, u)
		}
		for u := range seen {
			if c.marks.idx[u] == nil {
				uids = append(uids, u)
			}
		}
	}
	for _, u := range uids {
		im := c.marks.get(u)
		before := im.snapshotStale()
		im.loaded = true
		im.fleet = seen[u]
		if im.fleet == nil {
			im.fleet = map[replicaKey]map[int64]struct{}{}
		}
		for k, vs := range im.pending {
			for v, p := range vs {
				if _, ok := im.fleet[k][v]; ok {
					delete(vs, v) // the fleet shows it now
					continue
				}
				for ni := range p.done {
					if answered[ni] {
						delete(vs, v) // a node that held it no longer does
						break
					}
				}
			}
			if len(vs) == 0 {
				delete(im.pending, k)
			}
		}
		events = append(events, im.diff(u, before)...)
	}
	c.marks.mu.Unlock()
	c.emitReplicaEvents(events)
	return byIndex, nil
}

// pollPendingMarks checks, on the nodes that acknowledged them, whether
// the record writes of uid's pending marks ("": every index's) have been
// processed.
func (c *Cluster) pollPendingMarks(ctx context.Context, uid string) {
	tp := c.topo()
	type probe struct {
		p  *markPut
		ni int
		tk int64
	}
	var probes []probe
	c.marks.mu.Lock()
	for u, im := range c.marks.idx {
		if uid != "" && u != uid {
			continue
		}
		puts := map[*markPut]bool{}
		for _, vs := range im.pending {
			for _, p := range vs {
				puts[p] = true
			}
		}
		for p := range puts {
			for ni, tk := range p.tasks {
				if !p.done[ni] {
					probes = append(probes, probe{p, ni, tk})
				}
			}
		}
	}
	c.marks.mu.Unlock()
	if len(probes) == 0 {
		return
	}
	ok := make([]bool, len(probes))
	parallel(len(probes), 8, func(i int) error {
		nt := NodeTask{Node: tp.clients[probes[i].ni].ID, TaskUID: probes[i].tk}
		pollNodeTask(ctx, tp.clients[probes[i].ni], &nt)
		ok[i] = nt.Status == "succeeded"
		return nil
	})
	c.marks.mu.Lock()
	for i, pr := range probes {
		if ok[i] {
			pr.p.done[pr.ni] = true
		}
	}
	c.marks.mu.Unlock()
}

// clearMarks deletes the marks of (uid, shard, node) with Version <= upTo
// on every reachable node, updating the cache (emits ReplicaInSync when
// none is left).
func (c *Cluster) clearMarks(ctx context.Context, uid string, shard int, nodeID string, upTo int64) error {
	ni := c.nodeIdx(nodeID)
	if ni < 0 {
		return fmt.Errorf("miroir: clearing marks: unknown node %q", nodeID)
	}
	if err := c.markStore.clear(bookkeepingCtx(ctx), uid, shard, nodeID, upTo); err != nil {
		return err
	}
	k := replicaKey{shard, ni}
	c.marks.mu.Lock()
	im := c.marks.get(uid)
	before := im.stale(k)
	for v := range im.fleet[k] {
		if v <= upTo {
			delete(im.fleet[k], v)
		}
	}
	for v := range im.pending[k] {
		if v <= upTo {
			delete(im.pending[k], v)
		}
	}
	if len(im.fleet[k]) == 0 {
		delete(im.fleet, k)
	}
	if len(im.pending[k]) == 0 {
		delete(im.pending, k)
	}
	after := im.stale(k)
	c.marks.mu.Unlock()
	if before && !after {
		c.emitReplicaEvents([]replicaEvent{{uid, shard, ni, false}})
	}
	return nil
}

// addPendingMarks records marks this instance stored (put: their record
// writes) in the view, so that the replicas are stale here at once.
func (c *Cluster) addPendingMarks(marks []staleMark, put *markPut) {
	var events []replicaEvent
	c.marks.mu.Lock()
	for _, m := range marks {
		ni := c.nodeIdx(m.Node)
		if ni < 0 {
			continue
		}
		im := c.marks.get(m.Index)
		k := replicaKey{m.Shard, ni}
		if !im.stale(k) {
			events = append(events, replicaEvent{m.Index, m.Shard, ni, true})
		}
		if im.pending[k] == nil {
			im.pending[k] = map[int64]*markPut{}
		}
		im.pending[k][m.Version] = put
	}
	c.marks.mu.Unlock()
	c.emitReplicaEvents(events)
}

// ensureMarks loads the marks of uid on its first use by this instance.
// A failure leaves them unloaded (the next use tries again).
func (c *Cluster) ensureMarks(ctx context.Context, uid string) {
	c.marks.mu.Lock()
	im := c.marks.idx[uid]
	loaded := im != nil && im.loaded
	c.marks.mu.Unlock()
	if loaded {
		return
	}
	_, _, _ = c.states.loads.Do("marks\x00"+uid, func() (any, error) {
		_, err := c.refreshMarks(context.WithoutCancel(ctx), uid)
		if err != nil {
			c.opts.logger.Warn("miroir: reading stale marks", "index", uid, "err", err)
		}
		return nil, err
	})
}

// setMarksLoaded records that uid has no marks (a fresh index).
func (c *Cluster) setMarksLoaded(uid string) {
	c.marks.mu.Lock()
	c.marks.get(uid).loaded = true
	c.marks.mu.Unlock()
}

// forgetMarks drops this instance's view of uid's marks (the index was
// deleted or renamed).
func (c *Cluster) forgetMarks(uid string) {
	c.marks.mu.Lock()
	delete(c.marks.idx, uid)
	c.marks.mu.Unlock()
}

// replicaEvent is a change of a replica between in sync and stale.
type replicaEvent struct {
	index string
	shard int
	ni    int
	stale bool
}

// snapshotStale returns the stale replicas of im. Call with the view's
// mu held.
func (im *indexMarks) snapshotStale() map[replicaKey]bool {
	out := map[replicaKey]bool{}
	for k := range im.fleet {
		if im.stale(k) {
			out[k] = true
		}
	}
	for k := range im.pending {
		if im.stale(k) {
			out[k] = true
		}
	}
	return out
}

// diff lists the changes from before to im's current stale set.
func (im *indexMarks) diff(uid string, before map[replicaKey]bool) []replicaEvent {
	now := im.snapshotStale()
	var out []replicaEvent
	for k := range now {
		if !before[k] {
			out = append(out, replicaEvent{uid, k.shard, k.ni, true})
		}
	}
	for k := range before {
		if !now[k] {
			out = append(out, replicaEvent{uid, k.shard, k.ni, false})
		}
	}
	return out
}

func (c *Cluster) emitReplicaEvents(evs []replicaEvent) {
	tp := c.topo()
	for _, e := range evs {
		c.opts.logger.Info("miroir: replica state", "index", e.index, "shard", e.shard, "node", tp.clients[e.ni].ID, "stale", e.stale)
		if c.replicaObs == nil {
			continue
		}
		if e.stale {
			c.replicaObs.ReplicaStale(e.index, e.shard, tp.clients[e.ni].ID)
		} else {
			c.replicaObs.ReplicaInSync(e.index, e.shard, tp.clients[e.ni].ID)
		}
	}
}

// nodeIdx returns the index of the node with id, or -1.
func (c *Cluster) nodeIdx(id string) int {
	if n := c.nodeByID(id); n != nil {
		return n.idx
	}
	return -1
}

// bookkeepingCtx strips the caller's values from ctx (token, Report,
// reservation) but keeps its cancellation: miroir's own records are
// written with the node keys.
func bookkeepingCtx(ctx context.Context) context.Context {
	return withNodeKeys(markCtx{ctx})
}

type markCtx struct{ context.Context }

func (markCtx) Value(any) any { return nil }

// readable reports whether node ni may serve reads of (uid, shard): it is
// healthy, this instance has re-read the marks since it came back, and
// its replica is in sync.
func (c *Cluster) readable(uid string, shard, ni int) bool {
	n := c.node(ni)
	return n.isHealthy() && !n.marksUnread.Load() && !c.isStale(uid, shard, ni)
}

// hasStaleReplica reports whether some replica of (uid, shard) is stale
// in this instance's view.
func (c *Cluster) hasStaleReplica(uid string, shard int) bool {
	for _, ni := range c.topo().writeTargets(shard) {
		if c.isStale(uid, shard, ni) {
			return true
		}
	}
	return false
}

// staleList lists the stale replicas of every index in this instance's
// view (for Topology), sorted by index, shard, node.
func (c *Cluster) staleList() []StaleReplica {
	out := []StaleReplica{}
	for _, uid := range c.indexesWithMarks() {
		for _, k := range c.staleReplicas(uid) {
			out = append(out, StaleReplica{Index: uid, Shard: k.shard, Node: c.node(k.ni).ID})
		}
	}
	return out
}

// indexesWithMarks lists the indexes with a stale replica in this
// instance's view, sorted.
func (c *Cluster) indexesWithMarks() []string {
	c.marks.mu.Lock()
	defer c.marks.mu.Unlock()
	var out []string
	for uid, im := range c.marks.idx {
		if len(im.fleet) > 0 || len(im.pending) > 0 {
			out = append(out, uid)
		}
	}
	slices.Sort(out)
	return out
}
