package miroir

import "time"

// Topology change as callers see it (DESIGN §13): the progress of a change
// in Topology() and for observers.

// Phases of a topology change, in order. A shard moves through copy,
// cutover and retire; the change as a whole reports the phase its slowest
// shard is in.
const (
	// PhasePrepare: the target is recorded; instances stop creating indexes
	// and changing settings while new nodes receive every index.
	PhasePrepare = "prepare"
	// PhaseCopy: writes go to the old and the new replicas of moving
	// shards; the new ones are filled from the old ones (backfill).
	PhaseCopy = "copy"
	// PhaseCutover: a shard's reads and quorum moved to its new replicas;
	// its old replicas still receive writes for instances that lag.
	PhaseCutover = "cutover"
	// PhaseRetire: writes stopped going to replicas that left a shard;
	// they are emptied once every live instance saw it.
	PhaseRetire = "retire"
	// PhaseDone: the target is the fleet's topology.
	PhaseDone = "done"
)

// TopologyChange is the progress of a topology change.
type TopologyChange struct {
	// FromEpoch is the epoch being left, Epoch the target's.
	FromEpoch int64 `json:"fromEpoch"`
	Epoch     int64 `json:"epoch"`
	// Nodes and ReplicationFactor describe the target (no API keys).
	Nodes             []NodeStatus `json:"nodes"`
	ReplicationFactor int          `json:"replicationFactor"`
	// Phase is the change's phase (PhasePrepare ... PhaseDone).
	Phase string `json:"phase"`
	// ShardsMoving counts the shards whose replica set changes; ShardsDone
	// those already retired from their old replicas.
	ShardsMoving int `json:"shardsMoving"`
	ShardsDone   int `json:"shardsDone"`
	// DocumentsCopied and BytesCopied count what the backfill sent, as
	// this instance saw it (the instance driving the change sees it all).
	DocumentsCopied int64 `json:"documentsCopied"`
	BytesCopied     int64 `json:"bytesCopied"`
	// DocumentsRemaining estimates what is left to copy: documents on the
	// moving shards' sources not yet copied (-1 when unknown).
	DocumentsRemaining int64 `json:"documentsRemaining"`
	// Started is when the target was recorded.
	Started time.Time `json:"started"`
}

// TopologyObserver is an optional Observer extension: it receives the
// progress of a topology change driven by this instance (after every
// phase and every backfilled batch) and the topology this instance
// follows whenever its epoch changes.
type TopologyObserver interface {
	TopologyProgress(p TopologyChange)
}
