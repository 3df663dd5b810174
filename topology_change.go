package miroir

import (
	"context"
	"net/http"
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
// miroir_invalid_topology before anything moves.
func (c *Cluster) ChangeTopology(ctx context.Context, nodes []Node) error {
	_ = ctx
	_ = nodes
	return newError(http.StatusNotImplemented, CodeUnsupported, "miroir: ChangeTopology is being built")
}
