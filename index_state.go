package miroir

import (
	"context"
	"sync"

	"github.com/meilisearch/meilisearch-go"
)

// indexState is what a Cluster caches about one index: the shard count
// recorded on the fleet, the primary key, the fields seen (for
// attributesToSearchOn), which nodes were verified to hold the index with
// the fleet's settings, and the settings used by merging.
type indexState struct {
	uid string

	mu         sync.Mutex
	shards     int                 // S recorded in miroir_meta
	primaryKey string              // "" until known
	fields     map[string]struct{} // top-level fields seen, without _miroir_shard
	verified   map[int]bool        // node idx -> verified (index present, settings equal)
	settings   *meilisearch.Settings
}

// state returns the cached state of index uid, loading it from the fleet
// on first use. TODO(core): read miroir_meta, check the shard count.
func (c *Cluster) state(ctx context.Context, uid string) (*indexState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.indexes[uid]
	if !ok {
		st = &indexState{uid: uid, shards: c.opts.shards, fields: map[string]struct{}{}, verified: map[int]bool{}}
		c.indexes[uid] = st
	}
	return st, nil
}

// forgetVerified drops node n from every index's verified set, so it is
// re-verified before it receives writes again.
func (c *Cluster) forgetVerified(n *node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.indexes {
		st.mu.Lock()
		delete(st.verified, n.idx)
		st.mu.Unlock()
	}
}
