package miroir

import (
	"slices"
)

// Per-group write quorum (DESIGN §3).
//
// For a shard and a replica group, the quorum is floor(RF/2)+1 acknowledged
// node requests among that group's RF replicas (an acknowledgement is the
// node's 202 with a task uid). A shard is written when at least one group
// met its quorum. A group that missed quorum for a written shard makes the
// (group, shard) pair degraded; a shard that met quorum in no group fails
// the write with miroir_no_quorum.

// quorumSize is floor(rf/2)+1.
func quorumSize(rf int) int { return rf/2 + 1 }

// quorumResult is the outcome of one write's acknowledgements.
type quorumResult struct {
	Written  []int        // shards that met quorum in some group, ascending
	Degraded []GroupShard // (group, shard) pairs that missed quorum for a written shard
	Failed   []int        // shards that met quorum in no group, ascending
}

// OK reports whether every shard was written.
func (q quorumResult) OK() bool { return len(q.Failed) == 0 }

// evalQuorum applies the quorum rule to the shards of one write. replicas
// returns the node indexes holding shard in group (RF of them; during a
// topology change, the replicas reads use, and none in a group that does
// not hold the shard yet or any more: such a group takes no part), acked
// whether a node acknowledged its request. It is a pure function of its
// inputs.
func evalQuorum(rg int, shards []int, replicas func(shard, group int) []int, acked func(node int) bool) quorumResult {
	var res quorumResult
	sorted := slices.Clone(shards)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	missed := make([]bool, rg)
	for _, s := range sorted {
		ok := false
		for g := range rg {
			reps := replicas(s, g)
			if len(reps) == 0 {
				missed[g] = false
				continue
			}
			n := 0
			for _, ni := range reps {
				if acked(ni) {
					n++
				}
			}
			missed[g] = n < quorumSize(len(reps))
			if !missed[g] {
				ok = true
			}
		}
		if !ok {
			res.Failed = append(res.Failed, s)
			continue
		}
		res.Written = append(res.Written, s)
		for g := range rg {
			if missed[g] {
				res.Degraded = append(res.Degraded, GroupShard{Group: g, Shard: s})
			}
		}
	}
	return res
}
