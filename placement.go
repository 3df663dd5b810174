package miroir

import (
	"context"
	"slices"
	"time"
)

// Placement during a topology change (DESIGN §13): the topology the request
// path reads is composed from the current layout and, while a change runs,
// the target layout and the phase of every shard. Only shards whose
// replica set differs between the two layouts move; the others read and
// write the same nodes in every phase.

// layoutSpec is one layout: its nodes (ID, URL, group) and RF.
type layoutSpec struct {
	Nodes []Node `json:"nodes"`
	RF    int    `json:"rf"`
}

// shardPhase is where one shard stands in a change.
type shardPhase uint8

const (
	// phasePrepare: reads and writes on the current layout only (new
	// nodes receive the indexes meanwhile).
	phasePrepare shardPhase = iota
	// phaseCopy: writes to both layouts' replicas, reads and quorum on the
	// current ones; the new replicas are being filled.
	phaseCopy
	// phaseCutover: reads and quorum on the target replicas; writes still
	// reach the old ones for instances that have not seen the cutover.
	phaseCutover
	// phaseRetire: reads and writes on the target replicas only; the old
	// ones are emptied once every instance saw this phase.
	phaseRetire
)

// phaseNames are the exported names of the phases (Phase* constants).
var phaseNames = [...]string{PhasePrepare, PhaseCopy, PhaseCutover, PhaseRetire}

func (p shardPhase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return PhaseDone
}

// parsePhase reads a phase name; PhaseDone and unknown names are
// phaseRetire+1.
func parsePhase(s string) shardPhase {
	for i, n := range phaseNames {
		if n == s {
			return shardPhase(i)
		}
	}
	return phaseRetire + 1
}

// composeTopology builds the topology over the node registry (reg
// describes it, clients are its clients or nil) for the layout cur and,
// during a change (ch not nil), the target ch.Target with each shard in
// ch's phase for it. Both layouts must have been validated.
func composeTopology(reg []Node, clients []*node, shards int, cur layoutSpec, ch *changeRecord) *topology {
	idxOf := make(map[string]int, len(reg))
	ids := make([]string, len(reg))
	for i, n := range reg {
		idxOf[n.ID], ids[i] = i, n.ID
	}
	rg := 0
	member := make([]bool, len(reg))
	layouts := []layoutSpec{cur}
	if ch != nil {
		layouts = append(layouts, ch.Target)
	}
	groupsOf := make([][][]int, len(layouts)) // layout -> group -> node idx
	for l, ly := range layouts {
		for _, n := range ly.Nodes {
			rg = max(rg, n.Group+1)
		}
		groupsOf[l] = make([][]int, 0)
		for _, n := range ly.Nodes {
			ni := idxOf[n.ID]
			member[ni] = true
			for len(groupsOf[l]) <= n.Group {
				groupsOf[l] = append(groupsOf[l], nil)
			}
			groupsOf[l][n.Group] = append(groupsOf[l][n.Group], ni)
		}
	}
	t := &topology{
		nodes:      slices.Clone(reg),
		clients:    clients,
		shards:     shards,
		rg:         rg,
		byGroup:    make([][]int, rg),
		roff:       make([]int32, 0, shards*rg+1),
		woff:       make([]int32, 0, shards+1),
		nodeShards: make([][]int, len(reg)),
		layout:     cur,
		change:     ch,
	}
	for ni, n := range reg {
		if member[ni] {
			t.byGroup[n.Group] = append(t.byGroup[n.Group], ni)
			if clients != nil {
				t.members = append(t.members, clients[ni])
			}
		}
	}
	// reps returns layout l's replicas of shard s in group g.
	reps := func(l, s, g int) []int {
		if g >= len(groupsOf[l]) || len(groupsOf[l][g]) == 0 {
			return nil
		}
		order := rendezvousOrder(s, ids, groupsOf[l][g])
		return order[:min(layouts[l].RF, len(order))]
	}
	holds := make([]bool, len(reg))
	for s := range shards {
		ph := phaseRetire + 1 // no change: the current layout alone
		if ch != nil {
			ph = ch.phaseOf(s)
		}
		clear(holds)
		t.roff = append(t.roff, int32(len(t.repl)))
		var writes []int
		for g := range rg {
			old := reps(0, s, g)
			read, write := old, old
			if ch != nil {
				next := reps(1, s, g)
				switch ph {
				case phasePrepare:
				case phaseCopy:
					write = union(old, next)
				case phaseCutover:
					read, write = next, union(old, next)
				default:
					read, write = next, next
				}
				for _, ni := range next {
					holds[ni] = true
				}
			}
			for _, ni := range old {
				holds[ni] = true
			}
			t.repl = append(t.repl, read...)
			t.rf = max(t.rf, len(read))
			writes = append(writes, write...)
			if g+1 < rg {
				t.roff = append(t.roff, int32(len(t.repl)))
			}
		}
		t.woff = append(t.woff, int32(len(t.wt)))
		t.wt = append(t.wt, writes...)
		if ch != nil {
			t.aoff = append(t.aoff, int32(len(t.alt)))
			if ph == phaseCutover {
				for g := range rg {
					for _, ni := range reps(0, s, g) {
						if !slices.Contains(t.repl[t.roff[len(t.roff)-rg]:], ni) && !slices.Contains(t.alt[t.aoff[len(t.aoff)-1]:], ni) {
							t.alt = append(t.alt, ni)
						}
					}
				}
			}
		}
		for ni, h := range holds {
			if h {
				t.nodeShards[ni] = append(t.nodeShards[ni], s)
			}
		}
	}
	t.roff = append(t.roff, int32(len(t.repl)))
	t.woff = append(t.woff, int32(len(t.wt)))
	if ch != nil {
		t.aoff = append(t.aoff, int32(len(t.alt)))
	}
	t.rf = max(t.rf, 1)
	return t
}

// union returns a followed by the elements of b not in a.
func union(a, b []int) []int {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// movingShards lists the shards whose replica set differs between two
// layouts over shards shards (in any group).
func movingShards(cur, next layoutSpec, shards int) []int {
	var reg []Node
	seen := map[string]bool{}
	for _, ly := range []layoutSpec{cur, next} {
		for _, n := range ly.Nodes {
			if !seen[n.ID] {
				seen[n.ID] = true
				reg = append(reg, n)
			}
		}
	}
	a := composeTopology(reg, nil, shards, cur, nil)
	b := composeTopology(reg, nil, shards, next, nil)
	var out []int
	for s := range shards {
		x, y := slices.Clone(a.writeTargets(s)), slices.Clone(b.writeTargets(s))
		slices.Sort(x)
		slices.Sort(y)
		if !slices.Equal(x, y) {
			out = append(out, s)
		}
	}
	return out
}

// memberIdx lists the members' node indexes.
func (c *Cluster) memberIdx() []int { return c.topo().memberIdx() }

// isExcluded reads a node-indexed exclusion list that may have been sized
// before the registry grew (a node added since is not excluded).
func isExcluded(excluded []bool, ni int) bool { return ni < len(excluded) && excluded[ni] }

// exclude sets excluded[ni], growing the list when the registry grew
// since it was sized.
func exclude(excluded []bool, ni int) []bool {
	if ni >= len(excluded) {
		excluded = append(excluded, make([]bool, ni+1-len(excluded))...)
	}
	excluded[ni] = true
	return excluded
}

// pinWrites marks a document write under way on the topology in force and
// returns its release; it refuses the write when the fleet's topology is
// unknown (topologyKnown). The heartbeat that says this instance follows a
// newer topology waits for the writes pinned on older ones, so a change
// never moves on while a write routed by a previous phase is in flight.
func (c *Cluster) pinWrites() (func(), error) {
	if err := c.topologyKnown(); err != nil {
		return nil, err
	}
	for {
		t := c.topo()
		t.writers.Add(1)
		if c.topo() == t {
			return func() { t.writers.Add(-1) }, nil
		}
		t.writers.Add(-1) // replaced meanwhile: pin the new one
	}
}

// drainOld waits until no write is pinned on a topology older than the
// one in force (or ctx ends) and reports whether they all finished.
func (c *Cluster) drainOld(ctx context.Context) bool {
	c.topoMu.Lock()
	old := slices.Clone(c.oldTopos)
	c.topoMu.Unlock()
	for _, t := range old {
		for t.writers.Load() > 0 {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(time.Millisecond):
			}
		}
	}
	c.topoMu.Lock()
	c.oldTopos = slices.DeleteFunc(c.oldTopos, func(t *topology) bool { return slices.Contains(old, t) })
	c.topoMu.Unlock()
	return true
}

// layoutReplicas returns the node indexes (into reg) of shard s's replicas
// in layout ly, every group.
func layoutReplicas(ly layoutSpec, reg []Node, s int) []int {
	ids := make([]string, len(reg))
	pos := make(map[string]int, len(reg))
	for i, n := range reg {
		ids[i], pos[n.ID] = n.ID, i
	}
	groups := map[int][]int{}
	for _, n := range ly.Nodes {
		if i, ok := pos[n.ID]; ok {
			groups[n.Group] = append(groups[n.Group], i)
		}
	}
	var out []int
	for _, members := range groups {
		order := rendezvousOrder(s, ids, members)
		out = append(out, order[:min(ly.RF, len(order))]...)
	}
	slices.Sort(out)
	return out
}

// joining lists the nodes that become replicas of shard s in the running
// change's target; leaving those that stop being one.
func (t *topology) joining(s int) []int {
	if t.change == nil {
		return nil
	}
	old := layoutReplicas(t.layout, t.nodes, s)
	return slices.DeleteFunc(layoutReplicas(t.change.Target, t.nodes, s), func(ni int) bool { return slices.Contains(old, ni) })
}

func (t *topology) leaving(s int) []int {
	if t.change == nil {
		return nil
	}
	next := layoutReplicas(t.change.Target, t.nodes, s)
	return slices.DeleteFunc(layoutReplicas(t.layout, t.nodes, s), func(ni int) bool { return slices.Contains(next, ni) })
}
