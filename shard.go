package miroir

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/url"
	"slices"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// ShardOf returns the shard of a document whose canonical primary key is pk:
// xxh64(pk, seed 0) mod shards (DESIGN §2). pk must already be canonical
// (an integer id is its decimal text), so that 42 and "42" land together.
// A shard count below 1 has a single shard, 0: no call panics.
func ShardOf(pk string, shards int) int {
	if shards < 1 {
		return 0
	}
	return int(xxhash.Sum64String(pk) % uint64(shards))
}

// Node is one Meilisearch node of the fleet.
type Node struct {
	// ID names the node for rendezvous hashing; it must be unique and never
	// reused, because changing it moves the node's shards elsewhere.
	ID string
	// URL is the node's base URL (http or https).
	URL string
	// Group is the node's replica group, numbered 0..RG-1 without gaps;
	// every group holds a full copy of every shard.
	Group int
	// APIKey is the key used toward this node; empty means the cluster-wide
	// key (WithAPIKey).
	APIKey string
}

// rendezvousScore is score(s, n) = xxh64(le32(s) ‖ id) from DESIGN §2.
func rendezvousScore(shard int, id string) uint64 {
	d := xxhash.New()
	var le [4]byte
	binary.LittleEndian.PutUint32(le[:], uint32(shard))
	_, _ = d.Write(le[:])
	_, _ = d.WriteString(id)
	return d.Sum64()
}

// rendezvousOrder returns the indexes of ids (those listed in cand) sorted
// by descending score for shard, ties by smaller ID. It is the single
// definition of the ordering, shared by the topology and the snapshot.
func rendezvousOrder(shard int, ids []string, cand []int) []int {
	type scored struct {
		idx   int
		score uint64
	}
	sc := make([]scored, len(cand))
	for i, c := range cand {
		sc[i] = scored{c, rendezvousScore(shard, ids[c])}
	}
	slices.SortFunc(sc, func(a, b scored) int {
		if a.score != b.score {
			return cmp.Compare(b.score, a.score)
		}
		return cmp.Compare(ids[a.idx], ids[b.idx])
	})
	out := make([]int, len(sc))
	for i, s := range sc {
		out[i] = s.idx
	}
	return out
}

// topology is the validated, precomputed shard assignment the request
// path reads: the current layout, and during a topology change the
// composite of the current and the target layouts (placement.go). Every
// lookup indexes flat slices, so it allocates nothing. A Cluster publishes
// a new topology atomically; one call reads one topology throughout.
type topology struct {
	// nodes describes the node registry (index = node index): every node
	// this Cluster knows, including nodes that left the fleet; clients
	// holds their clients (nil for a topology built by newTopology).
	nodes   []Node
	clients []*node
	// members are the nodes of the current and target layouts, in
	// registry order: the nodes broadcasts and fleet records reach.
	members []*node
	shards  int
	// rf is the largest replica count of a (shard, group); rg the number
	// of groups of either layout.
	rf int
	rg int
	// byGroup lists member node indexes per group, ascending.
	byGroup [][]int
	// repl holds the read replicas of shard s in group g at
	// repl[roff[s*rg+g]:roff[s*rg+g+1]], best rendezvous score first.
	repl []int
	roff []int32
	// wt holds the write targets of shard s at wt[woff[s]:woff[s+1]]:
	// every replica in every group, and during a change the replicas of
	// both layouts until the old ones retire.
	wt   []int
	woff []int32
	// alt holds, for a shard cut over but not retired, its old replicas
	// at alt[aoff[s]:aoff[s+1]]: they still receive every write, so a
	// read falls back to them while this instance has not re-read the
	// marks that the backfill cleared on the new ones.
	alt  []int
	aoff []int32
	// nodeShards lists, per node index, the shards whose documents it may
	// hold (ascending): during a change, those of both layouts.
	nodeShards [][]int

	// epoch is the recorded epoch this topology follows (0: not read);
	// change the recorded change in progress (nil when none).
	epoch  int64
	layout layoutSpec
	change *changeRecord
	// writers counts the writes routed while this topology was in force
	// and not finished yet (pinWrites): an instance says it follows a
	// newer one only once they are done.
	writers atomic.Int64
}

// newTopology validates the fleet description and precomputes the
// rendezvous assignment of every shard in every group.
func newTopology(nodes []Node, shards, rf int) (*topology, error) {
	if err := validateLayout(nodes, shards, rf); err != nil {
		return nil, err
	}
	return composeTopology(nodes, nil, shards, layoutSpec{Nodes: nodes, RF: rf}, nil), nil
}

// validateLayout checks a node list: IDs unique and not empty, absolute
// http(s) URLs, groups numbered 0..RG-1 without gaps, each holding at
// least rf nodes.
func validateLayout(nodes []Node, shards, rf int) error {
	if shards < 1 {
		return fmt.Errorf("miroir: shard count must be at least 1, got %d", shards)
	}
	if rf < 1 {
		return fmt.Errorf("miroir: replication factor must be at least 1, got %d", rf)
	}
	if len(nodes) == 0 {
		return fmt.Errorf("miroir: no nodes given")
	}
	seen := make(map[string]int, len(nodes))
	maxGroup := -1
	for i, n := range nodes {
		if n.ID == "" {
			return fmt.Errorf("miroir: node %d (%s) has an empty ID", i, n.URL)
		}
		if j, dup := seen[n.ID]; dup {
			return fmt.Errorf("miroir: duplicate node ID %q (nodes %d and %d)", n.ID, j, i)
		}
		seen[n.ID] = i
		if err := checkNodeURL(n.URL); err != nil {
			return fmt.Errorf("miroir: node %q: %w", n.ID, err)
		}
		if n.Group < 0 {
			return fmt.Errorf("miroir: node %q has negative group %d", n.ID, n.Group)
		}
		maxGroup = max(maxGroup, n.Group)
	}
	count := make([]int, maxGroup+1)
	for _, n := range nodes {
		count[n.Group]++
	}
	for g, k := range count {
		if k == 0 {
			return fmt.Errorf("miroir: replica groups must be numbered 0..%d without gaps, group %d has no nodes", maxGroup, g)
		}
		if k < rf {
			return fmt.Errorf("miroir: group %d has %d node(s), fewer than the replication factor %d", g, k, rf)
		}
	}
	return nil
}

// checkNodeURL accepts only absolute http(s) URLs with a host, so a typo
// fails at New rather than on the first request.
func checkNodeURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL %q must be absolute http or https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("URL %q has no host", raw)
	}
	return nil
}

// groups returns the number of replica groups (RG).
func (t *topology) groups() int { return t.rg }

// copies is how many nodes hold each document in the read layout (RG×RF).
func (t *topology) copies() int { return t.rg * t.rf }

// replicas returns the node indexes serving reads of shard in group, best
// rendezvous score first; empty when the group holds no replica of shard
// yet (a group being added). Shared: callers must not modify it.
func (t *topology) replicas(shard, group int) []int {
	i := shard*t.rg + group
	a, b := t.roff[i], t.roff[i+1]
	return t.repl[a:b:b]
}

// writeTargets returns the node indexes every write of shard goes to
// (group 0's replicas first). Shared; do not modify.
func (t *topology) writeTargets(shard int) []int {
	a, b := t.woff[shard], t.woff[shard+1]
	return t.wt[a:b:b]
}

// fallback returns the old replicas of a shard in cutover (see alt).
func (t *topology) fallback(shard int) []int {
	if t.aoff == nil {
		return nil
	}
	a, b := t.aoff[shard], t.aoff[shard+1]
	return t.alt[a:b:b]
}

// shardsOf returns the shards whose documents node index ni may hold,
// ascending. Shared.
func (t *topology) shardsOf(ni int) []int { return t.nodeShards[ni] }

// NodeStatus describes one node in a Topology snapshot. It never carries
// the node's API key, so a snapshot is safe to log or serve.
type NodeStatus struct {
	ID      string `json:"id"`
	URL     string `json:"url"`
	Group   int    `json:"group"`
	Healthy bool   `json:"healthy"`
	// Shards are the shards this node holds, ascending.
	Shards []int `json:"shards"`
}

// StaleReplica names a replica that missed writes: the shard of an
// index on a node.
type StaleReplica struct {
	Index string `json:"index"`
	Shard int    `json:"shard"`
	Node  string `json:"node"`
}

// Topology is a point-in-time snapshot of the fleet's layout and health,
// returned by Cluster.Topology for inspection and served by the handler.
type Topology struct {
	Shards            int          `json:"shards"`
	ReplicationFactor int          `json:"replicationFactor"`
	Groups            int          `json:"groups"`
	Nodes             []NodeStatus `json:"nodes"`
	// Stale lists the replicas that missed writes and serve no reads
	// until repaired, as this instance sees them (DESIGN §12).
	Stale []StaleReplica `json:"stale"`
	// Epoch is the fleet's recorded topology epoch this instance follows
	// (0 before it read the record, DESIGN §13).
	Epoch int64 `json:"epoch"`
	// Configured is false when the fleet's record differs from the node
	// list this Cluster was given, which then only served to find the
	// fleet.
	Configured bool `json:"configured"`
	// Change is the topology change in progress, nil when none.
	Change *TopologyChange `json:"change,omitempty"`

	// assign holds the read replicas' IDs of shard s in group g at
	// assign[s*Groups+g]; nil for a hand-built value, in which case
	// Replicas recomputes it.
	assign [][]string
}

// snapshot copies the topology into its exported form; healthy reports
// the current health of a node index (nil means all healthy). Nodes that
// left the fleet are not listed.
func (t *topology) snapshot(healthy func(nodeIdx int) bool) Topology {
	out := Topology{
		Shards:            t.shards,
		ReplicationFactor: t.rf,
		Groups:            t.rg,
		Epoch:             t.epoch,
		assign:            make([][]string, t.shards*t.rg),
	}
	for _, i := range t.memberIdx() {
		n := t.nodes[i]
		out.Nodes = append(out.Nodes, NodeStatus{
			ID:      n.ID,
			URL:     n.URL,
			Group:   n.Group,
			Healthy: healthy == nil || healthy(i),
			Shards:  slices.Clone(t.nodeShards[i]),
		})
	}
	for s := range t.shards {
		for g := range t.rg {
			ids := []string{}
			for _, ni := range t.replicas(s, g) {
				ids = append(ids, t.nodes[ni].ID)
			}
			out.assign[s*t.rg+g] = ids
		}
	}
	return out
}

// memberIdx lists the node indexes of the members (every node of a
// topology built by newTopology).
func (t *topology) memberIdx() []int {
	if t.clients == nil {
		return allNodeIdx(len(t.nodes))
	}
	out := make([]int, len(t.members))
	for i, n := range t.members {
		out[i] = n.idx
	}
	return out
}

// Replicas returns the IDs of the nodes holding shard in group, in
// rendezvous order (the first is the shard's preferred replica). It returns
// nil when shard or group is out of range.
func (t Topology) Replicas(shard, group int) []string {
	if shard < 0 || shard >= t.Shards || group < 0 || group >= t.Groups || t.ReplicationFactor < 1 {
		return nil
	}
	rf := t.ReplicationFactor
	if t.assign != nil {
		return slices.Clone(t.assign[shard*t.Groups+group])
	}
	// Hand-built snapshot: recompute from the node list.
	ids := make([]string, len(t.Nodes))
	var cand []int
	for i, n := range t.Nodes {
		ids[i] = n.ID
		if n.Group == group {
			cand = append(cand, i)
		}
	}
	order := rendezvousOrder(shard, ids, cand)
	out := make([]string, 0, rf)
	for _, i := range order[:min(rf, len(order))] {
		out = append(out, ids[i])
	}
	return out
}

// ShardMap returns, for every shard, the IDs of all its replicas: group 0's
// in rendezvous order, then group 1's, and so on (the shard's write targets).
func (t Topology) ShardMap() map[int][]string {
	m := make(map[int][]string, t.Shards)
	for s := range t.Shards {
		var ids []string
		for g := range t.Groups {
			ids = append(ids, t.Replicas(s, g)...)
		}
		m[s] = ids
	}
	return m
}
