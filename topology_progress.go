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
	// those cut over to their new replicas.
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
// progress of a topology change driven by this instance, at every phase
// and after every index backfilled (Phase is PhaseDone at the end).
type TopologyObserver interface {
	TopologyProgress(p TopologyChange)
}

// changeProgress is the change in progress as Topology shows it: the
// recorded change, with the backfill figures of the instance driving it
// when that is this one.
func (c *Cluster) changeProgress(t *topology) *TopologyChange {
	ch := t.change
	if ch == nil {
		return nil
	}
	p := TopologyChange{
		FromEpoch: t.epoch, Epoch: ch.Epoch, ReplicationFactor: ch.Target.RF, Phase: ch.Phase,
		ShardsMoving: len(ch.Moving), DocumentsCopied: ch.Copied, BytesCopied: ch.Bytes,
		DocumentsRemaining: -1, Started: ch.Started,
	}
	p.ShardsDone = ch.shardsDone()
	for _, n := range ch.Target.Nodes {
		p.Nodes = append(p.Nodes, NodeStatus{ID: n.ID, URL: n.URL, Group: n.Group, Healthy: true})
	}
	if d := c.driving.Load(); d != nil && d.Epoch == ch.Epoch {
		p.ShardsDone = max(p.ShardsDone, d.ShardsDone)
		p.DocumentsCopied = max(p.DocumentsCopied, d.DocumentsCopied)
		p.BytesCopied = max(p.BytesCopied, d.BytesCopied)
		p.DocumentsRemaining = d.DocumentsRemaining
	}
	return &p
}

// shardsDone counts the moving shards cut over to their new replicas.
func (ch *changeRecord) shardsDone() int {
	if parsePhase(ch.Phase) >= phaseCutover {
		return len(ch.Moving)
	}
	return len(ch.Cut)
}
