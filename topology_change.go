package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ChangeTopology moves the fleet to nodes (DESIGN §13): nodes added to or
// removed from a group, a group added or removed, or the replication
// factor changed (the target's RF is this Cluster's WithReplicationFactor
// when it was given, else the recorded one). Only shards whose replica set
// changes move: dual write, backfill through repair, per-shard cutover,
// retire once every live instance saw the cutover. It returns when the
// change is complete or ctx ends; calling it again with the same target,
// from any instance, resumes. Another target while a change runs is
// refused with miroir_topology_change_in_progress; a bad target with
// miroir_invalid_topology before anything moves. While a change runs,
// index creation, deletion, swaps and settings updates are refused with
// miroir_topology_change_in_progress; document writes and every read go
// on.
func (c *Cluster) ChangeTopology(ctx context.Context, nodes []Node) (err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "changeTopology", "")
		defer func() { cs.end(err) }()
	}
	if err := c.checkOpen(); err != nil {
		return err
	}
	ctx = bookkeeping(ctx)
	if err := c.awaitTopology(ctx); err != nil {
		return err
	}
	rec, answered := c.readTopology(ctx)
	if rec == nil {
		if answered == 0 {
			return newError(http.StatusServiceUnavailable, CodeTopologyUnknown, "miroir: no node of the fleet answered the read of its topology record")
		}
		c.loadTopology(ctx)
		if rec, _ = c.readTopology(ctx); rec == nil {
			return newError(http.StatusServiceUnavailable, CodeTopologyUnknown, "miroir: the fleet's topology could not be recorded (a quorum is %s)", c.quorumText())
		}
	}
	c.followRecord(rec)
	target := layoutSpec{Nodes: publicNodes(nodes), RF: c.targetRF(rec, nodes)}
	if rec.Change != nil {
		if !rec.Change.sameTarget(target) {
			return newError(http.StatusConflict, CodeTopologyChangeInProgress,
				"miroir: a topology change to epoch %d (%d nodes, RF %d) is in progress (phase %s); call ChangeTopology with that target to resume it, or wait for it to end",
				rec.Change.Epoch, len(rec.Change.Target.Nodes), rec.Change.Target.RF, rec.Change.Phase)
		}
	} else {
		if sameLayout(rec.Layout, target) {
			return nil // already there
		}
		if err := c.validateChange(ctx, rec.Layout, target, nodes); err != nil {
			return err
		}
		rec.Change = &changeRecord{
			Epoch: rec.Epoch + 1, Target: target, Shards: c.opts.shards, Phase: PhasePrepare,
			Moving: movingShards(rec.Layout, target, c.opts.shards), Started: time.Now().UTC(),
		}
		if err := c.writeTopology(ctx, rec); err != nil {
			return err
		}
		c.opts.logger.Info("miroir: topology change recorded", "epoch", rec.Change.Epoch, "moving", len(rec.Change.Moving))
	}
	d := &changeDriver{c: c, rec: rec}
	// Resuming in the copy phase (a new change starts in prepare): the
	// copies made before were tracked by a driver that stopped (another
	// instance's, or an earlier call's of this one).
	d.untracked = rec.Change.Phase == PhaseCopy
	return d.run(ctx)
}

// targetRF is the RF of a target: this Cluster's WithReplicationFactor if
// given, else the running change's (same nodes: a resume), else the
// recorded one.
func (c *Cluster) targetRF(rec *topoRecord, nodes []Node) int {
	if c.opts.rfSet {
		return c.opts.rf
	}
	if rec.Change != nil && sameLayout(layoutSpec{Nodes: rec.Change.Target.Nodes, RF: 1}, layoutSpec{Nodes: publicNodes(nodes), RF: 1}) {
		return rec.Change.Target.RF
	}
	return rec.Layout.RF
}

// invalidTopology is the refusal of a bad target.
func invalidTopology(format string, args ...any) error {
	return newError(http.StatusBadRequest, CodeInvalidTopology, format, args...)
}

// validateChange refuses a target that cannot be reached safely, before
// anything moves: an invalid node list, a node changing group or URL,
// and a shard whose only in-sync copies are on nodes that do not answer
// (its documents could not be copied: with a removed node, they would be
// lost).
func (c *Cluster) validateChange(ctx context.Context, cur, target layoutSpec, given []Node) error {
	if err := validateLayout(given, c.opts.shards, target.RF); err != nil {
		return invalidTopology("%s", err.Error())
	}
	old := map[string]Node{}
	for _, n := range cur.Nodes {
		old[n.ID] = n
	}
	for _, n := range target.Nodes {
		if o, ok := old[n.ID]; ok && (o.Group != n.Group || o.URL != n.URL) {
			return invalidTopology("miroir: node %q cannot move from group %d (%s) to group %d (%s): node IDs place shards, so add a node with a new ID and remove this one", n.ID, o.Group, o.URL, n.Group, n.URL)
		}
	}
	// Every node of both layouts answers /health now, or is judged.
	c.ensureRegistered(&topoRecord{Layout: cur, Change: &changeRecord{Target: target}})
	reg := c.registry()
	up := map[string]bool{}
	var probe []*node
	for _, n := range reg {
		if _, inOld := old[n.ID]; inOld || slices.ContainsFunc(target.Nodes, func(t Node) bool { return t.ID == n.ID }) {
			probe = append(probe, n)
		}
	}
	errs := c.fanout(ctx, probe, func(ctx context.Context, n *node) error {
		_, err := n.do(ctx, "health", http.MethodGet, "/health", nil, "", nil)
		return err
	})
	for i, n := range probe {
		up[n.ID] = errs[i] == nil
	}
	for _, n := range target.Nodes {
		if _, inOld := old[n.ID]; !inOld && !up[n.ID] {
			return invalidTopology("miroir: new node %q (%s) does not answer: it could not receive its shards", n.ID, n.URL)
		}
	}
	uids, err := c.managedIndexes(ctx)
	if err != nil {
		return err
	}
	// Shards move by this Cluster's S: an index recorded with another S
	// would be placed otherwise and cannot move with the others.
	for id, raw := range c.lanes.records.newest(c.lanes.records.fetch(ctx, "")) {
		var rec metaRecord
		if recordKind(raw) != "" || json.Unmarshal(raw, &rec) != nil || !slices.Contains(uids, id) {
			continue
		}
		if rec.Shards != c.opts.shards {
			return invalidTopology("miroir: index %q was created with %d shards and this Cluster uses %d: a topology change moves every index by one shard count (WithShards), so a fleet holding indexes of several shard counts cannot change topology", id, rec.Shards, c.opts.shards)
		}
	}
	descs := make([]Node, len(reg))
	for i, n := range reg {
		descs[i] = n.Node
	}
	t := composeTopology(descs, reg, c.opts.shards, cur, nil)
	for _, uid := range uids {
		marks, err := c.readMarks(ctx, uid)
		if err != nil {
			return fmt.Errorf("miroir: reading stale marks of %q: %w", uid, err)
		}
		stale := map[[2]string]bool{}
		for _, m := range marks {
			stale[[2]string{strconv.Itoa(m.Shard), m.Node}] = true
		}
		for s := range c.opts.shards {
			ok := false
			var holders []string
			for _, ni := range t.writeTargets(s) {
				id := reg[ni].ID
				holders = append(holders, id)
				if up[id] && !stale[[2]string{strconv.Itoa(s), id}] {
					ok = true
				}
			}
			if !ok {
				return invalidTopology("miroir: shard %d of index %q has no in-sync copy on a node that answers (held by %s): its documents could not be copied; bring those nodes back first", s, uid, strings.Join(holders, ", "))
			}
		}
	}
	return nil
}

// managedIndexes lists the indexes recorded in miroir_meta.
func (c *Cluster) managedIndexes(ctx context.Context) ([]string, error) {
	reads := c.lanes.records.fetch(ctx, "")
	if answered(reads) == 0 {
		return nil, newError(http.StatusServiceUnavailable, CodeTopologyUnknown, "miroir: no node answered the read of the fleet's index records")
	}
	var out []string
	for id, raw := range c.lanes.records.newest(reads) {
		if recordKind(raw) == "" && !isReservedIndex(id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// changeDriver runs one change from its recorded phase to the end.
type changeDriver struct {
	c        *Cluster
	rec      *topoRecord
	progress TopologyChange

	// copies are the backfill's copies (index, shard, node, id) ->
	// version, checked once more before the shard cuts over (reconcile).
	mu     sync.Mutex
	copies map[copyKey]int64
	// untracked: the change was already copying when this driver took it
	// over, so copies it does not know of may sit on the new replicas
	// (recheckUntracked).
	untracked bool
}

type copyKey struct {
	uid   string
	shard int
	node  string
	id    string
}

// track returns the repair hook recording the copies into index uid.
func (d *changeDriver) track(uid string) copyHook {
	return func(shard int, dst *node, id string, v int64) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.copies == nil {
			d.copies = map[copyKey]int64{}
		}
		d.copies[copyKey{uid, shard, dst.ID, id}] = v
	}
}

// reconcile checks, once the nodes processed what they had queued, that
// the backfill's copies onto shard s's new replicas still match their
// source: a copy lands after its source was read, so a deletion applied
// to the new replica before the copy and to the source after the repair
// looked would leave the document back on the new replica alone (and an
// update, an older copy). Copies of documents the source lost are
// deleted; a copy older than the source marks the replica stale again,
// for the next backfill round. It reports whether s may cut over.
func (d *changeDriver) reconcile(ctx context.Context, uids []string, s int) (bool, error) {
	c := d.c
	t := c.topo()
	ok := true
	for _, uid := range uids {
		st, err := c.state(ctx, uid)
		if err != nil {
			return false, err
		}
		var src *node
		for _, ni := range layoutReplicas(t.layout, t.nodes, s) {
			if n := t.clients[ni]; n.isHealthy() && !c.isStale(uid, s, ni) {
				src = n
				break
			}
		}
		for _, ni := range t.joining(s) {
			dst := t.clients[ni]
			d.mu.Lock()
			ids := map[string]int64{}
			for k, v := range d.copies {
				if k.uid == uid && k.shard == s && k.node == dst.ID {
					ids[k.id] = v
				}
			}
			d.mu.Unlock()
			if len(ids) == 0 {
				continue
			}
			if src == nil {
				return false, nil // no source to compare with now: later
			}
			if err := drainNodes(ctx, []*node{src, dst}); err != nil {
				return false, err
			}
			list := slices.Collect(maps.Keys(ids))
			vs, err := lookupVersions(ctx, src, uid, st.PrimaryKey(), list)
			if err != nil {
				return false, err
			}
			vn, err := lookupVersions(ctx, dst, uid, st.PrimaryKey(), list)
			if err != nil {
				return false, err
			}
			var del []string
			older := false
			for id, cv := range ids {
				v, held := vn[id]
				if !held || v != cv {
					continue // not the copy any more: a later write owns it
				}
				if sv, there := vs[id]; !there {
					del = append(del, id)
				} else if sv > v {
					older = true
				}
			}
			if len(del) > 0 {
				if err := deleteIDs(ctx, dst, uid, del); err != nil {
					return false, err
				}
			}
			if older {
				ok = false
				if err := c.storeMarksAwaited(ctx, []staleMark{{Index: uid, Shard: s, Node: dst.ID, Version: c.startVersion(), At: time.Now().UTC()}}); err != nil {
					return false, err
				}
			}
		}
	}
	return ok, nil
}

func (d *changeDriver) run(ctx context.Context) error {
	c := d.c
	d.progress = *c.changeProgress(c.topo())
	for {
		ch := d.rec.Change
		d.report()
		var err error
		switch parsePhase(ch.Phase) {
		case phasePrepare:
			err = d.prepare(ctx)
		case phaseCopy:
			err = d.copy(ctx)
		case phaseCutover:
			err = d.advance(ctx, PhaseRetire)
		case phaseRetire:
			err = d.retire(ctx)
			if err == nil {
				d.progress.Phase, d.progress.ShardsDone = PhaseDone, len(ch.Moving)
				d.report()
				c.driving.Store(nil)
				c.opts.logger.Info("miroir: topology change complete", "epoch", d.rec.Epoch)
				return nil
			}
		default:
			return fmt.Errorf("miroir: topology change in an unknown phase %q", ch.Phase)
		}
		if err != nil {
			return err
		}
	}
}

// advance waits until every live instance follows the record, then
// records the change in phase.
func (d *changeDriver) advance(ctx context.Context, phase string) error {
	if err := d.c.waitFollowed(ctx, d.rec.Rev); err != nil {
		return err
	}
	return d.write(ctx, func(ch *changeRecord) { ch.Phase = phase })
}

// write records an update of the change, after checking that the fleet's
// record is still this change (another driver may have finished it).
func (d *changeDriver) write(ctx context.Context, update func(ch *changeRecord)) error {
	c := d.c
	cur, _ := c.readTopology(ctx)
	if cur != nil && cur.Rev > d.rec.Rev {
		if cur.Change == nil || cur.Change.Epoch != d.rec.Change.Epoch {
			if cur.Epoch >= d.rec.Change.Epoch {
				d.rec = cur
				return errChangeFinished
			}
			return newError(http.StatusConflict, CodeTopologyChangeInProgress, "miroir: the fleet's topology changed under this change")
		}
		d.rec = cur // another instance drives it too: go on from its state
	}
	next := *d.rec
	ch := *d.rec.Change
	ch.Cut = slices.Clone(ch.Cut)
	update(&ch)
	next.Change = &ch
	if err := c.writeTopology(ctx, &next); err != nil {
		return err
	}
	d.rec = &next
	return nil
}

// errChangeFinished: another instance completed the change.
var errChangeFinished = errors.New("miroir: the topology change was completed by another instance")

// prepare makes every new node hold every index with its exact settings
// and the fleet's records, marks the moving shards' new replicas stale,
// and starts the dual writes.
func (d *changeDriver) prepare(ctx context.Context) error {
	c := d.c
	if err := c.waitFollowed(ctx, d.rec.Rev); err != nil {
		return err
	}
	t := c.topo()
	ch := d.rec.Change
	old := map[string]bool{}
	for _, n := range d.rec.Layout.Nodes {
		old[n.ID] = true
	}
	var fresh []*node
	for _, n := range t.members {
		if !old[n.ID] {
			fresh = append(fresh, n)
		}
	}
	uids, err := c.managedIndexes(ctx)
	if err != nil {
		return err
	}
	if len(fresh) > 0 {
		if err := c.wipe(ctx, fresh, uids); err != nil {
			return err
		}
		if err := c.copyRecords(ctx, fresh); err != nil {
			return err
		}
		for _, uid := range uids {
			st, err := c.state(ctx, uid)
			if err != nil {
				return fmt.Errorf("miroir: topology change: index %q: %w", uid, err)
			}
			if _, err := c.converge(ctx, st, fresh, true); err != nil {
				return fmt.Errorf("miroir: topology change: giving index %q to the new nodes: %w", uid, err)
			}
		}
	}
	// The new replicas start stale (DESIGN §13): repair fills them, and
	// the marks make every instance leave them out of reads meanwhile.
	if marks := joiningMarks(t, uids, ch.Moving, c.startVersion()); len(marks) > 0 {
		if err := c.storeMarksAwaited(ctx, marks); err != nil {
			return err
		}
	}
	return d.write(ctx, func(ch *changeRecord) { ch.Phase = PhaseCopy })
}

// storeMarksAwaited stores marks on the fleet and waits until a quorum of
// nodes processed them: the repair and the cutover check read them next,
// and a cutover on marks not visible yet would read empty replicas.
func (c *Cluster) storeMarksAwaited(ctx context.Context, marks []staleMark) error {
	acks := c.markStore.put(ctx, marks)
	var fa []fleetAck
	for i, tk := range acks {
		if tk >= 0 {
			fa = append(fa, fleetAck{Node: c.node(i), Task: tk})
		}
	}
	ok := map[string]bool{}
	for _, a := range c.lanes.records.wait(ctx, fa) {
		if a.Err == nil {
			ok[a.Node.ID] = true
		}
	}
	if !c.fleetQuorum(func(n *node) bool { return ok[n.ID] }) {
		return newError(http.StatusServiceUnavailable, CodeNoQuorum, "miroir: topology change: the new replicas' stale marks reached too few nodes (a quorum is %s)", c.quorumText())
	}
	return nil
}

// copyRecords gives nodes every record of miroir_meta (index records,
// marks, lanes, instances, the topology), as the other nodes hold them.
func (c *Cluster) copyRecords(ctx context.Context, nodes []*node) error {
	reads := c.lanes.records.fetch(ctx, "")
	all := c.lanes.records.newest(reads)
	if len(all) == 0 {
		return nil
	}
	recs := make([]json.RawMessage, 0, len(all))
	for _, r := range all {
		recs = append(recs, r)
	}
	body, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	q := map[string][]string{"primaryKey": {"uid"}}
	errs := c.fanout(ctx, nodes, func(ctx context.Context, n *node) error {
		if _, err := c.lanes.records.ensure(ctx, n, true); err != nil {
			return err
		}
		resp, err := n.do(ctx, "writeRecords", http.MethodPost, "/indexes/"+metaIndex+"/documents", q, "application/json", body)
		if err != nil {
			return err
		}
		tk, err := taskUIDOf(n, resp.Body)
		if err != nil {
			return err
		}
		return waitNodeTask(ctx, n, tk)
	})
	return c.broadcastError(nodes, errs)
}

// copy backfills the new replicas through repair, shard by shard as
// their marks clear, and cuts each shard over once its new replicas are
// in sync; with every moving shard cut over, the change is in cutover.
func (d *changeDriver) copy(ctx context.Context) error {
	c := d.c
	if err := c.waitFollowed(ctx, d.rec.Rev); err != nil {
		return err
	}
	uids, err := c.managedIndexes(ctx)
	if err != nil {
		return err
	}
	if d.untracked {
		if err := d.recheckUntracked(ctx, uids); err != nil {
			return err
		}
		d.untracked = false
	}
	d.estimate(ctx, uids)
	for round := 0; ; round++ {
		for _, uid := range uids {
			st, err := c.state(ctx, uid)
			if err != nil {
				return fmt.Errorf("miroir: topology change: index %q: %w", uid, err)
			}
			rep, err := c.repairIndexWith(ctx, st, false, nil, d.track(uid))
			if rep != nil {
				d.progress.DocumentsCopied += int64(rep.Copied)
				d.progress.BytesCopied += rep.BytesCopied
				if d.progress.DocumentsRemaining > 0 {
					d.progress.DocumentsRemaining = max(d.progress.DocumentsRemaining-int64(rep.Copied), 0)
				}
				d.report()
			}
			if err != nil && ctx.Err() != nil {
				return err
			}
		}
		// Shards whose new replicas carry no mark in any index cut over.
		t := c.topo()
		pending := map[int]bool{}
		for _, uid := range uids {
			marks, err := c.readMarks(ctx, uid)
			if err != nil {
				return err
			}
			for _, m := range marks {
				if ni := c.nodeIdx(m.Node); ni >= 0 && slices.Contains(t.joining(m.Shard), ni) {
					pending[m.Shard] = true
				}
			}
		}
		ch := d.rec.Change
		var cut []int
		for _, s := range ch.Moving {
			if !pending[s] && !slices.Contains(ch.Cut, s) {
				ok, err := d.reconcile(ctx, uids, s)
				if err != nil {
					return err
				}
				if ok {
					cut = append(cut, s)
				}
			}
		}
		done := len(ch.Cut)+len(cut) == len(ch.Moving)
		if len(cut) > 0 || done {
			err := d.write(ctx, func(ch *changeRecord) {
				ch.Cut = append(ch.Cut, cut...)
				slices.Sort(ch.Cut)
				ch.Copied, ch.Bytes = d.progress.DocumentsCopied, d.progress.BytesCopied
				if done {
					ch.Phase, ch.Cut = PhaseCutover, nil
				}
			})
			if err != nil {
				return err
			}
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(time.Duration(round+1)*50*time.Millisecond, time.Second)):
		}
	}
}

// recheckUntracked marks the new replicas of the shards not cut over yet
// stale again, so that the backfill compares every document they hold
// with its source before they cut over. The copies of a driver that
// stopped were not reconciled (a copy that landed after a racing deletion
// or update would be served, or become the only copy, after the cutover)
// and their marks may be cleared already. Two versions per replica: the
// change's start, so that a document written during the change counts as
// suspect and is copied again (a partial update may have landed on a base
// the replica lacked), and now, so that a document the source no longer
// holds is deleted (the repair keeps one written after the last write a
// replica missed).
func (d *changeDriver) recheckUntracked(ctx context.Context, uids []string) error {
	c, ch := d.c, d.rec.Change
	t := c.topo()
	from, now := ch.Started.UnixMilli()*1000, c.startVersion()
	// Shards cut over were reconciled before they were recorded so.
	shards := slices.DeleteFunc(slices.Clone(ch.Moving), func(s int) bool { return slices.Contains(ch.Cut, s) })
	marks := joiningMarks(t, uids, shards, min(from, now), now)
	if len(marks) == 0 {
		return nil
	}
	c.opts.logger.Info("miroir: topology change resumed while copying; the new replicas are checked again", "epoch", ch.Epoch, "replicas", len(marks)/2)
	return c.storeMarksAwaited(ctx, marks)
}

// joiningMarks are the stale marks, one per version, of the new replicas
// of shards in every index of uids.
func joiningMarks(t *topology, uids []string, shards []int, versions ...int64) []staleMark {
	at := time.Now().UTC()
	var marks []staleMark
	for _, uid := range uids {
		for _, s := range shards {
			for _, ni := range t.joining(s) {
				for _, v := range versions {
					marks = append(marks, staleMark{Index: uid, Shard: s, Node: t.nodes[ni].ID, Version: v, At: at})
				}
			}
		}
	}
	return marks
}

// estimate sets what remains to copy: the documents of the moving shards
// on one of their current replicas (counted with a filtered search).
func (d *changeDriver) estimate(ctx context.Context, uids []string) {
	c := d.c
	t := c.topo()
	var total int64
	for _, uid := range uids {
		perNode := map[int][]int{}
		for _, s := range d.rec.Change.Moving {
			if slices.Contains(d.rec.Change.Cut, s) {
				continue
			}
			if reps := layoutReplicas(t.layout, t.nodes, s); len(reps) > 0 && len(t.joining(s)) > 0 {
				perNode[reps[0]] = append(perNode[reps[0]], s)
			}
		}
		for ni, shards := range perNode {
			n, err := t.clients[ni].countShards(ctx, uid, shards)
			if err != nil {
				d.progress.DocumentsRemaining = -1
				return
			}
			total += n * int64(len(t.joining(shards[0])))
		}
	}
	d.progress.DocumentsRemaining = total
}

// countShards counts the documents of shards held by n for index uid (a
// filtered documents fetch with limit 0 answers the exact total).
func (n *node) countShards(ctx context.Context, uid string, shards []int) (int64, error) {
	ans, err := fetchDocs(ctx, n, uid, fetchBody{Filter: shardFilter(shards), Limit: 0})
	if err != nil {
		return 0, err
	}
	return int64(ans.Total), nil
}

// retire stops writes to the replicas that leave their shards, waits
// until every live instance follows that, empties them, and records the
// target as the fleet's topology.
func (d *changeDriver) retire(ctx context.Context) error {
	c := d.c
	if err := c.waitFollowed(ctx, d.rec.Rev); err != nil {
		return err
	}
	uids, err := c.managedIndexes(ctx)
	if err != nil {
		return err
	}
	t := c.topo()
	perNode := map[int][]int{}
	for _, s := range d.rec.Change.Moving {
		for _, ni := range t.leaving(s) {
			perNode[ni] = append(perNode[ni], s)
		}
	}
	var nodes []*node
	for ni := range perNode {
		nodes = append(nodes, t.clients[ni])
	}
	slices.SortFunc(nodes, func(a, b *node) int { return a.idx - b.idx })
	stays := map[string]bool{}
	for _, n := range d.rec.Change.Target.Nodes {
		stays[n.ID] = true
	}
	errs := c.fanout(ctx, nodes, func(ctx context.Context, n *node) error {
		for _, uid := range uids {
			if err := n.deleteShards(ctx, uid, perNode[n.idx]); err != nil {
				if !stays[n.ID] && isTransportError(err) {
					// A node leaving the fleet that does not answer keeps
					// its copies; nothing reads it any more.
					c.opts.logger.Warn("miroir: topology change: a removed node could not be emptied", "node", n.ID, "index", uid, "err", err)
					return nil
				}
				return fmt.Errorf("miroir: topology change: emptying the shards node %s left, index %q: %w", n.ID, uid, err)
			}
		}
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	d.progress.ShardsDone = len(d.rec.Change.Moving)
	// Marks of replicas that are no replica any more mean nothing.
	for _, uid := range uids {
		marks, err := c.readMarks(ctx, uid)
		if err != nil {
			continue
		}
		for _, m := range marks {
			if ni := c.nodeIdx(m.Node); ni >= 0 && slices.Contains(t.leaving(m.Shard), ni) {
				_ = c.clearMarks(ctx, uid, m.Shard, m.Node, m.Version)
			}
		}
	}
	final := topoRecord{Epoch: d.rec.Change.Epoch, Layout: d.rec.Change.Target}
	cur, _ := c.readTopology(ctx)
	if cur != nil && cur.Rev > d.rec.Rev && cur.Change == nil && cur.Epoch >= final.Epoch {
		c.followRecord(cur)
		return nil // another instance finished it
	}
	return c.writeTopology(ctx, &final)
}

// deleteShards deletes the documents of shards from index uid on n and
// waits for the node to process it.
func (n *node) deleteShards(ctx context.Context, uid string, shards []int) error {
	var info struct {
		TaskUID int64 `json:"taskUid"`
	}
	err := n.doJSON(ctx, "deleteShards", http.MethodPost, "/indexes/"+uid+"/documents/delete", nil, map[string]any{"filter": shardFilter(shards)}, &info)
	if apiCode(err) == "index_not_found" {
		return nil
	}
	if err != nil {
		return err
	}
	return waitNodeTask(ctx, n, info.TaskUID, "index_not_found")
}

// shardFilter is the filter selecting the documents of shards.
func shardFilter(shards []int) string {
	var b strings.Builder
	b.WriteString(shardField + " IN [")
	for i, s := range shards {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(s))
	}
	b.WriteByte(']')
	return b.String()
}

// report publishes the driver's progress: Topology() and the Observer.
func (d *changeDriver) report() {
	ch := d.rec.Change
	p := d.progress
	if ch != nil {
		p.Epoch, p.FromEpoch, p.ReplicationFactor = ch.Epoch, d.rec.Epoch, ch.Target.RF
		p.ShardsMoving = len(ch.Moving)
		if p.Phase != PhaseDone {
			p.Phase = ch.Phase
		}
		p.ShardsDone = ch.shardsDone()
		if p.Phase == PhaseDone {
			p.ShardsDone = len(ch.Moving)
		}
	}
	d.progress = p
	cp := p
	d.c.driving.Store(&cp)
	if o, ok := d.c.opts.observer.(TopologyObserver); ok {
		o.TopologyProgress(cp)
	}
}

// refuseDuringChange refuses calls that change what an index is (its
// creation, deletion, settings, uid, primary key) while a topology change
// runs: the change gives the new nodes every index as it was when the
// change began, and a change to an index meanwhile could miss them.
func (c *Cluster) refuseDuringChange(what string) error {
	ch := c.topo().change
	if ch == nil {
		return nil
	}
	return newError(http.StatusConflict, CodeTopologyChangeInProgress,
		"miroir: %s is refused while the fleet's topology changes (epoch %d, phase %s); document writes and reads go on; retry once the change is complete",
		what, ch.Epoch, ch.Phase)
}

// wipe deletes from nodes joining the fleet what they may hold from an
// earlier life (a node removed, then added again): the fleet's records
// (old heartbeats would count as live instances) and the managed indexes
// (old settings and documents). Nothing of the fleet is on them yet: the
// change writes documents to them only from the copy phase on.
func (c *Cluster) wipe(ctx context.Context, nodes []*node, uids []string) error {
	errs := c.fanout(ctx, nodes, func(ctx context.Context, n *node) error {
		for _, uid := range append([]string{metaIndex}, uids...) {
			var info struct {
				TaskUID int64 `json:"taskUid"`
			}
			err := n.doJSON(ctx, "wipeIndex", http.MethodDelete, "/indexes/"+uid, nil, nil, &info)
			if apiCode(err) == "index_not_found" {
				continue
			}
			if err != nil {
				return err
			}
			if err := waitNodeTask(ctx, n, info.TaskUID, "index_not_found"); err != nil {
				return err
			}
		}
		c.lanes.records.forget(n)
		c.states.forgetNode(n.idx)
		return nil
	})
	return c.broadcastError(nodes, errs)
}
