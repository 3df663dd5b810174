package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// The recorded topology (DESIGN §13). The fleet keeps one record of kind
// "topology" in miroir_meta: the epoch, the current layout and, during a
// change, the target and the phase of every moving shard. The first
// Cluster on a fleet without one records its configuration (epoch 1);
// afterwards the record is the truth, and a Cluster configured with
// another node list follows it. Every instance re-reads it each refresh
// interval (WithFleetRefresh).

const (
	topologyKind     = "topology"
	topologyRecordID = "miroir-topology"
	// topologyUnknownAfter intervals without reading the record make an
	// instance that knows the fleet has one refuse writes.
	topologyUnknownAfter = 4
	// topologyUnknownFloor is the shortest such wait, so that a busy
	// refresh loop is not mistaken for an unreachable fleet.
	topologyUnknownFloor = 2 * time.Second
)

// topoRecord is the fleet's topology record.
type topoRecord struct {
	UID    string        `json:"uid"`
	Kind   string        `json:"kind"`
	Rev    int64         `json:"rev"`
	Epoch  int64         `json:"epoch"`
	Layout layoutSpec    `json:"layout"`
	Change *changeRecord `json:"change,omitempty"`
}

// changeRecord is a change in progress.
type changeRecord struct {
	Epoch  int64      `json:"epoch"`
	Target layoutSpec `json:"target"`
	// Shards is the shard count the moving set was computed for.
	Shards int `json:"shards"`
	// Phase is the change's phase (PhasePrepare .. PhaseRetire); in
	// PhaseCopy, the shards in Cut have already cut over.
	Phase   string    `json:"phase"`
	Moving  []int     `json:"moving"`
	Cut     []int     `json:"cut,omitempty"`
	Started time.Time `json:"started"`
	// Copied and Bytes are the backfill's totals so far.
	Copied int64 `json:"copied"`
	Bytes  int64 `json:"bytes"`
}

// phaseOf is shard s's phase.
func (ch *changeRecord) phaseOf(s int) shardPhase {
	p := parsePhase(ch.Phase)
	if p == phaseCopy && slices.Contains(ch.Cut, s) {
		return phaseCutover
	}
	return p
}

// sameTarget reports whether a target equals this change's (node IDs,
// URLs, groups and RF; order and keys do not matter).
func (ch *changeRecord) sameTarget(t layoutSpec) bool {
	return sameLayout(ch.Target, t)
}

func sameLayout(a, b layoutSpec) bool {
	if a.RF != b.RF || len(a.Nodes) != len(b.Nodes) {
		return false
	}
	key := func(n Node) string { return n.ID + "\x00" + n.URL + "\x00" + fmt.Sprint(n.Group) }
	x := make([]string, len(a.Nodes))
	y := make([]string, len(b.Nodes))
	for i := range a.Nodes {
		x[i], y[i] = key(a.Nodes[i]), key(b.Nodes[i])
	}
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// publicNodes strips API keys, so a layout can be recorded or shown.
func publicNodes(nodes []Node) []Node {
	out := make([]Node, len(nodes))
	for i, n := range nodes {
		out[i] = Node{ID: n.ID, URL: strings.TrimRight(n.URL, "/"), Group: n.Group}
	}
	return out
}

// topoFollow is this instance's state of following the record.
type topoFollow struct {
	ready    chan struct{} // closed after the first attempt to read
	rev      atomic.Int64  // rev of the record followed (0: none)
	lastRead atomic.Int64  // Unix ns of the last read some node answered
	known    atomic.Bool   // a record was read once: the fleet has one
}

// awaitTopology waits for the first attempt to read the fleet's record,
// so that no call uses the configured node list when the fleet moved.
func (c *Cluster) awaitTopology(ctx context.Context) error {
	select {
	case <-c.follow.ready:
		return nil
	default:
	}
	select {
	case <-c.follow.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed:
		return fmt.Errorf("%w", ErrClosed)
	}
}

// topologyKnown refuses writes once the record could not be read for
// several refresh intervals (DESIGN §13): a write to a placement that
// moved would miss the shard's new replicas.
func (c *Cluster) topologyKnown() error {
	if !c.follow.known.Load() || c.opts.fleetRefresh <= 0 {
		return nil
	}
	limit := max(topologyUnknownAfter*c.opts.fleetRefresh, topologyUnknownFloor)
	last := time.Unix(0, c.follow.lastRead.Load())
	if since := time.Since(last); since > limit {
		return newError(http.StatusServiceUnavailable, CodeTopologyUnknown,
			"miroir: the fleet's topology record could not be read for %s (no node of the fleet answered); writes are refused until it is, rather than sent to a placement that may have moved", since.Round(time.Millisecond))
	}
	return nil
}

// readTopology reads the record from every member and returns the newest
// copy (nil when no node holds one) and how many nodes answered.
func (c *Cluster) readTopology(ctx context.Context) (*topoRecord, int) {
	reads := c.lanes.records.get(ctx, topologyRecordID)
	var best *topoRecord
	for _, r := range reads {
		for _, d := range r.Docs {
			var rec topoRecord
			if json.Unmarshal(d, &rec) != nil || rec.Kind != topologyKind || len(rec.Layout.Nodes) == 0 {
				continue
			}
			if best == nil || rec.Rev > best.Rev {
				best = &rec
			}
		}
	}
	return best, answered(reads)
}

// writeTopology records rec with a new revision on every node of its
// layouts and waits until every node that took the write processed it (a
// quorum must have); this instance follows it then, so that whatever it
// does next under that record is seen by instances reading any of them.
func (c *Cluster) writeTopology(ctx context.Context, rec *topoRecord) error {
	rec.UID, rec.Kind = topologyRecordID, topologyKind
	rec.Rev = c.lanes.revs.next()
	c.ensureRegistered(rec)
	ids := map[string]bool{}
	for _, n := range rec.Layout.Nodes {
		ids[n.ID] = true
	}
	if rec.Change != nil {
		for _, n := range rec.Change.Target.Nodes {
			ids[n.ID] = true
		}
	}
	var to []*node
	for _, n := range c.registry() {
		if ids[n.ID] || slices.Contains(c.members(), n) {
			to = append(to, n)
		}
	}
	ok := c.waitQuorum(ctx, c.lanes.records.putTo(ctx, to, []*topoRecord{rec}))
	if !c.fleetQuorum(func(n *node) bool { return ok[n.ID] }) {
		return newError(http.StatusServiceUnavailable, CodeNoQuorum,
			"miroir: the topology record reached too few nodes (a quorum is %s)", c.quorumText())
	}
	c.followRecord(rec)
	return nil
}

// waitQuorum waits for the node tasks of acks until a quorum of the
// fleet processed them (or every one ended, or ctx did) and returns the
// nodes that did: a node behind a long queue (an import) does not hold
// the writer up; it processes the record in its turn.
func (c *Cluster) waitQuorum(ctx context.Context, acks []fleetAck) map[string]bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		id string
		ok bool
	}
	res := make(chan result, len(acks))
	n := 0
	for _, a := range acks {
		if a.Err != nil || a.Node == nil {
			continue
		}
		n++
		go func() {
			res <- result{a.Node.ID, waitNodeTask(ctx, a.Node, a.Task) == nil}
		}()
	}
	ok := map[string]bool{}
	for range n {
		r := <-res
		if r.ok {
			ok[r.id] = true
			if c.fleetQuorum(func(n *node) bool { return ok[n.ID] }) {
				return ok
			}
		}
	}
	return ok
}

// loadTopology reads the record and follows it; on a fleet without one
// (new, or created before topologies were recorded) it records this
// Cluster's configuration as epoch 1, once more than half of the
// configured nodes answered that they hold none.
func (c *Cluster) loadTopology(ctx context.Context) {
	ctx = bookkeeping(ctx)
	rec, n := c.readTopology(ctx)
	if n > 0 {
		c.follow.lastRead.Store(time.Now().UnixNano())
	}
	if rec != nil {
		c.follow.known.Store(true)
		c.lanes.revs.observe(rec.Rev)
		c.followRecord(rec)
		return
	}
	if 2*n <= len(c.confNodes) || c.follow.rev.Load() != 0 || c.othersRegistered(ctx) {
		return
	}
	first := &topoRecord{Epoch: 1, Layout: layoutSpec{Nodes: publicNodes(c.confNodes), RF: c.opts.rf}}
	if err := c.writeTopology(ctx, first); err == nil {
		c.follow.known.Store(true)
	}
}

// othersRegistered reports whether another instance keeps a heartbeat on
// the fleet: then a record exists (every instance that heartbeats follows
// one), only not on the nodes read yet, and recording this Cluster's list
// would overwrite it.
func (c *Cluster) othersRegistered(ctx context.Context) bool {
	reads := c.lanes.records.fetch(ctx, instanceKind)
	for _, raw := range c.lanes.records.newest(reads) {
		var r instanceRecord
		if json.Unmarshal(raw, &r) == nil && r.Kind == instanceKind && r.Instance != c.lanes.instance && r.Seen > 0 {
			return true
		}
	}
	return false
}

// followRecord makes rec this instance's topology when it is newer than
// the one followed: nodes it names that this Cluster was not given join
// the registry (reached with the cluster-wide key).
func (c *Cluster) followRecord(rec *topoRecord) {
	c.topoMu.Lock()
	defer c.topoMu.Unlock()
	if rec.Rev <= c.follow.rev.Load() {
		return
	}
	c.ensureRegisteredLocked(rec)
	reg := c.registry()
	descs := make([]Node, len(reg))
	for i, n := range reg {
		descs[i] = n.Node
	}
	t := composeTopology(descs, reg, c.opts.shards, rec.Layout, rec.Change)
	t.epoch = rec.Epoch
	prev := c.topo()
	c.view.Store(t)
	if rec.Change != nil && (prev.change == nil || len(rec.Change.Cut) != len(prev.change.Cut) || rec.Change.Phase != prev.change.Phase) {
		// Shards cut over: the backfill cleared their new replicas' marks;
		// read them again now rather than at the next interval.
		select {
		case c.marksKick <- struct{}{}:
		default:
		}
	}
	c.oldTopos = append(c.oldTopos, prev)
	c.follow.rev.Store(rec.Rev)
	c.configured.Store(sameLayout(layoutSpec{Nodes: publicNodes(c.confNodes), RF: c.opts.rf}, layoutSpec{Nodes: rec.Layout.Nodes, RF: rec.Layout.RF}) && rec.Change == nil)
	if prev.epoch != t.epoch || (prev.change == nil) != (rec.Change == nil) || (rec.Change != nil && prev.change != nil && prev.change.Phase != rec.Change.Phase) {
		c.opts.logger.Info("miroir: following the fleet's topology", "epoch", rec.Epoch, "nodes", len(rec.Layout.Nodes), "rf", rec.Layout.RF, "change", changePhase(rec.Change), "configured", c.configured.Load())
	}
}

func changePhase(ch *changeRecord) string {
	if ch == nil {
		return PhaseDone
	}
	return ch.Phase
}

// ensureRegistered adds rec's nodes to the registry.
func (c *Cluster) ensureRegistered(rec *topoRecord) {
	c.topoMu.Lock()
	c.ensureRegisteredLocked(rec)
	c.topoMu.Unlock()
}

func (c *Cluster) ensureRegisteredLocked(rec *topoRecord) {
	c.regMu.Lock()
	defer c.regMu.Unlock()
	have := map[string]bool{}
	for _, n := range c.reg {
		have[n.ID] = true
	}
	add := func(ns []Node) {
		for _, n := range ns {
			if !have[n.ID] {
				have[n.ID] = true
				c.reg = append(c.reg, c.newNode(len(c.reg), n))
			}
		}
	}
	add(rec.Layout.Nodes)
	if rec.Change != nil {
		add(rec.Change.Target.Nodes)
	}
}

// registry returns the node registry (append-only; index = node index).
func (c *Cluster) registry() []*node {
	c.regMu.Lock()
	defer c.regMu.Unlock()
	return slices.Clip(c.reg)
}

// topologyLoop reads the record at once, then every refresh interval, and
// keeps this instance's heartbeat (topology_instances.go).
func (c *Cluster) topologyLoop() {
	defer c.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.closed
		cancel()
	}()
	// Registered before any call runs, and the record read again after
	// registering: a change recorded meanwhile is either seen now or
	// waits for this instance's heartbeat (DESIGN §13).
	first, fcancel := context.WithTimeout(ctx, c.opts.nodeTimeout)
	c.loadTopology(first)
	if c.heartbeat(first, true) {
		c.loadTopology(first)
	}
	fcancel()
	close(c.follow.ready)
	if c.opts.fleetRefresh <= 0 {
		return
	}
	t := time.NewTicker(c.opts.fleetRefresh)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
			rctx, rcancel := context.WithTimeout(ctx, c.opts.nodeTimeout)
			c.loadTopology(rctx)
			c.heartbeat(rctx, false)
			rcancel()
		}
	}
}
