package miroir

import (
	"context"
	"time"
)

// Observers returns one Observer calling each of obs in order (nil
// entries are skipped), so that a Cluster feeds several adapters (a
// Prometheus collector and an OpenTelemetry tracer) through WithObserver.
// It implements every optional extension (CallObserver,
// NodeRequestObserver, SettingsObserver, and the hedge and replica events)
// and forwards each to the members that implement it; a CallObserver
// member's context is handed to the next one, so each finds its own values
// in CallFinished.
func Observers(obs ...Observer) Observer {
	m := multiObserver{}
	for _, o := range obs {
		if o != nil {
			m.obs = append(m.obs, o)
		}
	}
	return m
}

type multiObserver struct{ obs []Observer }

// multiObserver forwards every optional extension, so that combining
// observers never hides an event from one of them.
var (
	_ HedgeObserver    = multiObserver{}
	_ ReplicaObserver  = multiObserver{}
	_ SettingsObserver = multiObserver{}
	_ CallObserver     = multiObserver{}
)

// DegradedWrite implements Observer.
func (m multiObserver) DegradedWrite(index string, pairs []GroupShard) {
	for _, o := range m.obs {
		o.DegradedWrite(index, pairs)
	}
}

// UnavailableShards implements Observer.
func (m multiObserver) UnavailableShards(index string, shards []int) {
	for _, o := range m.obs {
		o.UnavailableShards(index, shards)
	}
}

// NodeStateChanged implements Observer.
func (m multiObserver) NodeStateChanged(nodeID string, healthy bool) {
	for _, o := range m.obs {
		o.NodeStateChanged(nodeID, healthy)
	}
}

// NodeRequest implements Observer.
func (m multiObserver) NodeRequest(nodeID, op string, d time.Duration, err error) {
	for _, o := range m.obs {
		o.NodeRequest(nodeID, op, d, err)
	}
}

// CallStarted implements CallObserver.
func (m multiObserver) CallStarted(ctx context.Context, call CallInfo) context.Context {
	for _, o := range m.obs {
		if co, ok := o.(CallObserver); ok {
			ctx = co.CallStarted(ctx, call)
		}
	}
	return ctx
}

// CallFinished implements CallObserver (in reverse order, as deferred
// calls unwind: the last started is the first finished).
func (m multiObserver) CallFinished(ctx context.Context, call CallInfo, res CallResult) {
	for i := len(m.obs) - 1; i >= 0; i-- {
		if co, ok := m.obs[i].(CallObserver); ok {
			co.CallFinished(ctx, call, res)
		}
	}
}

// NodeRequestStarted implements NodeRequestObserver.
func (m multiObserver) NodeRequestStarted(ctx context.Context, req NodeRequestInfo) context.Context {
	for _, o := range m.obs {
		if no, ok := o.(NodeRequestObserver); ok {
			ctx = no.NodeRequestStarted(ctx, req)
		}
	}
	return ctx
}

// NodeRequestFinished implements NodeRequestObserver.
func (m multiObserver) NodeRequestFinished(ctx context.Context, req NodeRequestInfo, status int, d time.Duration, err error) {
	for i := len(m.obs) - 1; i >= 0; i-- {
		if no, ok := m.obs[i].(NodeRequestObserver); ok {
			no.NodeRequestFinished(ctx, req, status, d, err)
		}
	}
}

// SettingsRolledBack implements SettingsObserver.
func (m multiObserver) SettingsRolledBack(index string) {
	for _, o := range m.obs {
		if so, ok := o.(SettingsObserver); ok {
			so.SettingsRolledBack(index)
		}
	}
}

// HedgeSent forwards the hedge event (HedgeObserver).
func (m multiObserver) HedgeSent(index, slowNodeID, hedgeNodeID string) {
	for _, o := range m.obs {
		if h, ok := o.(HedgeObserver); ok {
			h.HedgeSent(index, slowNodeID, hedgeNodeID)
		}
	}
}

// HedgeWon forwards the hedge event (HedgeObserver).
func (m multiObserver) HedgeWon(index, hedgeNodeID string) {
	for _, o := range m.obs {
		if h, ok := o.(HedgeObserver); ok {
			h.HedgeWon(index, hedgeNodeID)
		}
	}
}

// ReplicaStale forwards the replica event (ReplicaObserver).
func (m multiObserver) ReplicaStale(index string, shard int, nodeID string) {
	for _, o := range m.obs {
		if r, ok := o.(ReplicaObserver); ok {
			r.ReplicaStale(index, shard, nodeID)
		}
	}
}

// ReplicaInSync forwards the replica event (ReplicaObserver).
func (m multiObserver) ReplicaInSync(index string, shard int, nodeID string) {
	for _, o := range m.obs {
		if r, ok := o.(ReplicaObserver); ok {
			r.ReplicaInSync(index, shard, nodeID)
		}
	}
}

// RepairCopied forwards the replica event (ReplicaObserver).
func (m multiObserver) RepairCopied(index string, shard int, nodeID string, copied, deleted int) {
	for _, o := range m.obs {
		if r, ok := o.(ReplicaObserver); ok {
			r.RepairCopied(index, shard, nodeID, copied, deleted)
		}
	}
}
