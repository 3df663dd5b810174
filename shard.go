package miroir

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/url"
	"slices"

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

// topology is the validated, precomputed shard assignment. Every lookup on
// the request path indexes flat slices, so it allocates nothing.
type topology struct {
	nodes  []Node
	shards int
	rf     int
	rg     int
	// byGroup lists node indexes per group, in input order.
	byGroup [][]int
	// repl holds, for shard s and group g, the RF replicas at
	// repl[(s*rg+g)*rf:][:rf]; a shard's write targets are then the
	// contiguous run repl[s*rg*rf:][:rg*rf].
	repl []int
	// nodeShards lists, per node index, the shards it holds (ascending).
	nodeShards [][]int
}

// newTopology validates the fleet description and precomputes the
// rendezvous assignment of every shard in every group.
func newTopology(nodes []Node, shards, rf int) (*topology, error) {
	if shards < 1 {
		return nil, fmt.Errorf("miroir: shard count must be at least 1, got %d", shards)
	}
	if rf < 1 {
		return nil, fmt.Errorf("miroir: replication factor must be at least 1, got %d", rf)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("miroir: no nodes given")
	}
	seen := make(map[string]int, len(nodes))
	maxGroup := -1
	for i, n := range nodes {
		if n.ID == "" {
			return nil, fmt.Errorf("miroir: node %d (%s) has an empty ID", i, n.URL)
		}
		if j, dup := seen[n.ID]; dup {
			return nil, fmt.Errorf("miroir: duplicate node ID %q (nodes %d and %d)", n.ID, j, i)
		}
		seen[n.ID] = i
		if err := checkNodeURL(n.URL); err != nil {
			return nil, fmt.Errorf("miroir: node %q: %w", n.ID, err)
		}
		if n.Group < 0 {
			return nil, fmt.Errorf("miroir: node %q has negative group %d", n.ID, n.Group)
		}
		maxGroup = max(maxGroup, n.Group)
	}
	rg := maxGroup + 1
	byGroup := make([][]int, rg)
	for i, n := range nodes {
		byGroup[n.Group] = append(byGroup[n.Group], i)
	}
	for g, members := range byGroup {
		if len(members) == 0 {
			return nil, fmt.Errorf("miroir: replica groups must be numbered 0..%d without gaps, group %d has no nodes", rg-1, g)
		}
		if len(members) < rf {
			return nil, fmt.Errorf("miroir: group %d has %d node(s), fewer than the replication factor %d", g, len(members), rf)
		}
	}

	t := &topology{
		nodes:      slices.Clone(nodes),
		shards:     shards,
		rf:         rf,
		rg:         rg,
		byGroup:    byGroup,
		repl:       make([]int, shards*rg*rf),
		nodeShards: make([][]int, len(nodes)),
	}
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	for s := range shards {
		for g := range rg {
			order := rendezvousOrder(s, ids, byGroup[g])
			copy(t.repl[(s*rg+g)*rf:], order[:rf])
			for _, ni := range order[:rf] {
				t.nodeShards[ni] = append(t.nodeShards[ni], s)
			}
		}
	}
	return t, nil
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

// copies is how many nodes hold each document (RG×RF).
func (t *topology) copies() int { return t.rg * t.rf }

// replicas returns the node indexes holding shard in group, best
// rendezvous score first. The slice is shared: callers must not modify it.
func (t *topology) replicas(shard, group int) []int {
	i := (shard*t.rg + group) * t.rf
	return t.repl[i : i+t.rf : i+t.rf]
}

// writeTargets returns the node indexes of every replica of shard in every
// group (group 0's replicas first). Shared; do not modify.
func (t *topology) writeTargets(shard int) []int {
	n := t.rg * t.rf
	i := shard * n
	return t.repl[i : i+n : i+n]
}

// shardsOf returns the shards held by node index ni, ascending. Shared.
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

	// assign holds the replica IDs at assign[(s*Groups+g)*RF:][:RF]; nil
	// for a hand-built value, in which case Replicas recomputes it.
	assign []string
}

// snapshot copies the topology into its exported form; healthy reports
// the current health of a node index (nil means all healthy).
func (t *topology) snapshot(healthy func(nodeIdx int) bool) Topology {
	out := Topology{
		Shards:            t.shards,
		ReplicationFactor: t.rf,
		Groups:            t.rg,
		Nodes:             make([]NodeStatus, len(t.nodes)),
		assign:            make([]string, len(t.repl)),
	}
	for i, n := range t.nodes {
		out.Nodes[i] = NodeStatus{
			ID:      n.ID,
			URL:     n.URL,
			Group:   n.Group,
			Healthy: healthy == nil || healthy(i),
			Shards:  slices.Clone(t.nodeShards[i]),
		}
	}
	for i, ni := range t.repl {
		out.assign[i] = t.nodes[ni].ID
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
		i := (shard*t.Groups + group) * rf
		return slices.Clone(t.assign[i : i+rf])
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
