package proxy

import (
	"net/http"
	"slices"
)

// Proxy routes: /_miroir/*, miroir's own inspection endpoints (admin key).

// topology serves the fleet's Topology: nodes (never their keys), groups,
// health, and the shards each node holds.
func (h *handler) topology(r *http.Request) (reply, error) {
	return reply{body: h.b.Topology()}, nil
}

// ShardView is one shard in /_miroir/shards.
type ShardView struct {
	Shard int `json:"shard"`
	// Replicas lists the shard's nodes per replica group, rendezvous order.
	Replicas [][]string `json:"replicas"`
	// Healthy lists the replicas currently marked healthy.
	Healthy []string `json:"healthy"`
	// Stale maps an index to its replicas of the shard that missed writes
	// (they serve no reads of that index until repaired).
	Stale map[string][]string `json:"stale,omitempty"`
	// Available: some healthy replica serves the shard, for every index
	// (one that is not stale for it).
	Available bool `json:"available"`
}

// shards serves the shard -> replicas map with each shard's availability.
func (h *handler) shards(r *http.Request) (reply, error) {
	t := h.b.Shards()
	out := struct {
		Shards            int         `json:"shards"`
		Groups            int         `json:"groups"`
		ReplicationFactor int         `json:"replicationFactor"`
		Map               []ShardView `json:"map"`
	}{Shards: t.Shards, Groups: t.Groups, ReplicationFactor: t.ReplicationFactor, Map: make([]ShardView, t.Shards)}
	for s := range t.Shards {
		v := ShardView{Shard: s, Replicas: make([][]string, t.Groups), Healthy: []string{}}
		for g := range t.Groups {
			v.Replicas[g] = t.Replicas[s][g]
			for _, id := range v.Replicas[g] {
				if t.Healthy[id] {
					v.Healthy = append(v.Healthy, id)
				}
			}
		}
		v.Available = len(v.Healthy) > 0
		v.Stale = t.Stale[s]
		for _, stale := range v.Stale {
			v.Available = v.Available && slices.ContainsFunc(v.Healthy, func(id string) bool { return !slices.Contains(stale, id) })
		}
		out.Map[s] = v
	}
	return reply{body: out}, nil
}

// ready answers 200 when every shard has a healthy replica (from the
// current health marks, without probing), else 503 listing the shards.
func (h *handler) ready(r *http.Request) (reply, error) {
	if err := h.b.Ready(); err != nil {
		return reply{}, err
	}
	return reply{body: map[string]any{"status": "ready"}}, nil
}
