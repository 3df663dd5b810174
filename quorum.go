package miroir

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
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
// returns the node indexes holding shard in group (RF of them), acked
// whether a node acknowledged its request. It is a pure function of its
// inputs.
func evalQuorum(rg, rf int, shards []int, replicas func(shard, group int) []int, acked func(node int) bool) quorumResult {
	var res quorumResult
	need := quorumSize(rf)
	sorted := slices.Clone(shards)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	missed := make([]bool, rg)
	for _, s := range sorted {
		ok := false
		for g := range rg {
			n := 0
			for _, ni := range replicas(s, g) {
				if acked(ni) {
					n++
				}
			}
			missed[g] = n < need
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

// broadcastError turns the per-node errors of a call that needs every node
// into one error, or nil when all succeeded. When every node answered the
// same Meilisearch error (index_not_found, invalid_...), that error is
// returned as the node gave it, as one Meilisearch would; otherwise the
// error names the failing nodes and carries their errors.
func (c *Cluster) broadcastError(targets []*node, errs []error) error {
	var failed []string
	var all []error
	var first error
	sameAPI := true
	for i, err := range errs {
		if err == nil {
			sameAPI = false
			continue
		}
		failed = append(failed, targets[i].ID)
		all = append(all, fmt.Errorf("node %s: %w", targets[i].ID, err))
		if first == nil {
			first = err
		}
		if isTransportError(err) || apiCode(err) != apiCode(first) {
			sameAPI = false
		}
	}
	if len(failed) == 0 {
		return nil
	}
	if sameAPI && apiCode(first) != "" {
		return first
	}
	code, status := CodeNodeUnreachable, http.StatusServiceUnavailable
	for _, err := range errs {
		if err != nil && !isTransportError(err) {
			code, status = CodeBroadcastFailed, http.StatusBadGateway
		}
	}
	e := newError(status, code, "miroir: the call needs every node and failed on %s; it may have been applied on the others, retrying it converges", strings.Join(failed, ", "))
	e.Type = "system"
	e.Nodes = failed
	e.Err = errors.Join(all...)
	return e
}
