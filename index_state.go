package miroir

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/route"
	"golang.org/x/sync/singleflight"
)

// metaIndex is the reserved index holding one record per managed index on
// every node (DESIGN §2): its uid, its shard count S, its creation time.
const metaIndex = "miroir_meta"

// shardField is the attribute holding a document's shard.
const shardField = route.ShardField

// isInternalField reports whether f is one of the attributes miroir adds
// to every document (_miroir_shard, _miroir_v): never searched, never
// shown.
func isInternalField(f string) bool { return f == shardField || f == versionField }

// metaRecord is one document of miroir_meta.
type metaRecord struct {
	UID       string    `json:"uid"`
	Shards    int       `json:"shards"`
	CreatedAt time.Time `json:"createdAt"`
}

// indexState is what a Cluster caches about one index: the shard count
// recorded on the fleet, the primary key, the fields seen (for
// attributesToSearchOn), which nodes were verified to hold the index with
// the fleet's settings, and the settings used by merging.
//
// Read the mutable fields under mu (or through the accessors below).
type indexState struct {
	uid string

	mu         sync.Mutex
	shards     int                 // S recorded in miroir_meta
	primaryKey string              // "" until known
	fields     map[string]struct{} // top-level fields seen, without _miroir_shard
	verified   map[int]bool        // node idx -> verified (index present, settings equal)
	settings   *meilisearch.Settings
}

func newIndexState(uid string, shards int) *indexState {
	return &indexState{uid: uid, shards: shards, fields: map[string]struct{}{}, verified: map[int]bool{}}
}

// Fields returns the top-level document fields seen on writes and in
// fieldDistribution, without _miroir_shard, sorted.
func (st *indexState) Fields() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]string, 0, len(st.fields))
	for f := range st.fields {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// addFields records field names seen (ignores _miroir_shard).
func (st *indexState) addFields(names map[string]struct{}) {
	if len(names) == 0 {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for f := range names {
		if !isInternalField(f) {
			st.fields[f] = struct{}{}
		}
	}
}

// PrimaryKey returns the cached primary key ("" when unknown).
func (st *indexState) PrimaryKey() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.primaryKey
}

func (st *indexState) setPrimaryKey(pk string) {
	st.mu.Lock()
	st.primaryKey = pk
	st.mu.Unlock()
}

func (st *indexState) isVerified(ni int) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.verified[ni]
}

func (st *indexState) setVerified(ni int, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if ok {
		st.verified[ni] = true
	} else {
		delete(st.verified, ni)
	}
}

// state returns the cached state of index uid, loading it from the fleet
// on first use: the miroir_meta record (shard count; a mismatch with the
// Cluster's WithShards fails with miroir_shard_count_mismatch, now and on
// every later call) and the primary key. An index absent from the whole
// fleet fails with Meilisearch's index_not_found. An index that exists but
// has no miroir_meta record was not created through miroir: it is adopted
// (record written with this Cluster's S, _miroir_shard made filterable) if
// it holds no document on any node, else refused with
// miroir_index_not_managed.
func (c *Cluster) state(ctx context.Context, uid string) (*indexState, error) {
	ctx = withNodeKeys(ctx)
	if isReservedIndex(uid) {
		return nil, reservedIndexError(uid)
	}
	// The fleet's topology first: a fleet that moved is not read or
	// written through the configured node list (DESIGN §13).
	if err := c.awaitTopology(ctx); err != nil {
		return nil, err
	}
	// Checked here, once for every index-scoped call, so that a bad uid
	// never reaches a node's URL path.
	if err := validateIndexUID(uid, allowReserved); err != nil {
		return nil, err
	}
	st, err := c.states.lookup(uid)
	if err != nil {
		return nil, err
	}
	if st != nil {
		c.ensureMarks(ctx, uid)
		return st, nil
	}
	v, err, _ := c.states.loads.Do(uid, func() (any, error) {
		if st, _ := c.states.lookup(uid); st != nil {
			return st, nil
		}
		st, err := c.loadState(context.WithoutCancel(ctx), uid)
		if err != nil {
			return nil, err
		}
		c.states.remember(st)
		return st, nil
	})
	if err != nil {
		return nil, err
	}
	c.ensureMarks(ctx, uid) // the stale replicas, before the first read
	return v.(*indexState), nil
}

// stateCache is what a Cluster knows of the indexes it used: their state,
// and the indexes it refuses for their shard count (the refusal is the
// answer to every later call). loads runs one state load, or one
// auto-creation, per index at a time.
type stateCache struct {
	mu       sync.Mutex
	indexes  map[string]*indexState
	mismatch map[string]error
	loads    singleflight.Group
}

// lookup returns the cached state of uid (nil: none) and its refusal
// (nil: none).
func (sc *stateCache) lookup(uid string) (*indexState, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.indexes[uid], sc.mismatch[uid]
}

// remember caches the state of an index loaded from the fleet.
func (sc *stateCache) remember(st *indexState) {
	sc.mu.Lock()
	sc.indexes[st.uid] = st
	sc.mu.Unlock()
}

// install caches a freshly created index's state (a refusal of its uid
// is dropped).
func (sc *stateCache) install(st *indexState) {
	sc.mu.Lock()
	sc.indexes[st.uid] = st
	delete(sc.mismatch, st.uid)
	sc.mu.Unlock()
}

// refuse records err as the answer to every later call on uid.
func (sc *stateCache) refuse(uid string, err error) {
	sc.mu.Lock()
	sc.mismatch[uid] = err
	sc.mu.Unlock()
}

// forget drops the state and refusal of uid (after a deletion or rename).
func (sc *stateCache) forget(uid string) {
	sc.mu.Lock()
	delete(sc.indexes, uid)
	delete(sc.mismatch, uid)
	sc.mu.Unlock()
}

// forgetNode drops node ni from every index's verified set, so it is
// re-verified before it receives writes again (it went down: it may come
// back without the index).
func (sc *stateCache) forgetNode(ni int) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, st := range sc.indexes {
		st.mu.Lock()
		delete(st.verified, ni)
		st.mu.Unlock()
	}
}

func (c *Cluster) shardMismatch(uid string, recorded int) error {
	e := newError(http.StatusConflict, CodeShardCountMismatch,
		"miroir: index `%s` was created with %d shards but this Cluster is configured with %d (WithShards); it refuses to touch the index rather than misroute its documents", uid, recorded, c.opts.shards)
	e.Err = ErrShardCountMismatch
	return e
}

// readMeta reads the miroir_meta record of uid from node n: (nil, nil)
// when the node has none.
func (n *node) readMeta(ctx context.Context, uid string) (*metaRecord, error) {
	var rec metaRecord
	err := n.doJSON(ctx, "getMeta", http.MethodGet, "/indexes/"+metaIndex+"/documents/"+uid, nil, nil, &rec)
	switch code := apiCode(err); {
	case err == nil:
		return &rec, nil
	case code == "document_not_found" || code == "index_not_found":
		return nil, nil
	default:
		return nil, err
	}
}

// indexInfo is GET /indexes/{uid} as nodes answer it.
type indexInfo struct {
	UID        string    `json:"uid"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	PrimaryKey *string   `json:"primaryKey"`
}

// getIndex reads index uid on node n: (nil, nil) when absent.
func (n *node) getIndex(ctx context.Context, uid string) (*indexInfo, error) {
	var info indexInfo
	err := n.doJSON(ctx, "getIndex", http.MethodGet, "/indexes/"+uid, nil, nil, &info)
	if apiCode(err) == "index_not_found" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &info, nil
}

// loadState reads uid's record and primary key from the fleet.
func (c *Cluster) loadState(ctx context.Context, uid string) (*indexState, error) {
	var rec *metaRecord
	var lastErr error
	answered := 0
	for _, n := range c.nodesByPreference() {
		r, err := n.readMeta(ctx, uid)
		if err != nil {
			lastErr = err
			continue
		}
		answered++
		if r != nil {
			rec = r
			break
		}
	}
	if answered == 0 {
		return nil, fmt.Errorf("miroir: no node answered while loading index %q: %w", uid, lastErr)
	}
	if rec != nil {
		if rec.Shards != c.opts.shards {
			err := c.shardMismatch(uid, rec.Shards)
			c.states.refuse(uid, err)
			return nil, err
		}
		st := newIndexState(uid, rec.Shards)
		for _, n := range c.nodesByPreference() {
			info, err := n.getIndex(ctx, uid)
			if err == nil && info != nil {
				if info.PrimaryKey != nil {
					st.primaryKey = *info.PrimaryKey
					break
				}
			}
		}
		return st, nil
	}
	// No record: absent, or created behind miroir's back.
	var present []*node
	var notFound error
	reached := 0
	for _, n := range c.members() {
		var info indexInfo
		err := n.doJSON(ctx, "getIndex", http.MethodGet, "/indexes/"+uid, nil, nil, &info)
		switch {
		case err == nil:
			reached++
			present = append(present, n)
		case apiCode(err) == "index_not_found":
			reached++
			notFound = err
		default:
			lastErr = err
		}
	}
	if len(present) == 0 {
		if notFound != nil {
			return nil, notFound
		}
		return nil, lastErr
	}
	return c.adopt(ctx, uid, present)
}

// adopt takes over an index that exists without a miroir_meta record, if
// it has no documents anywhere.
func (c *Cluster) adopt(ctx context.Context, uid string, present []*node) (*indexState, error) {
	tp := c.topo()
	for _, n := range tp.members {
		var stats struct {
			NumberOfDocuments int64 `json:"numberOfDocuments"`
		}
		err := n.doJSON(ctx, "indexStats", http.MethodGet, "/indexes/"+uid+"/stats", nil, nil, &stats)
		if apiCode(err) == "index_not_found" {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("miroir: cannot check whether unmanaged index %q is empty on node %s: %w", uid, n.ID, err)
		}
		if stats.NumberOfDocuments > 0 {
			return nil, newError(http.StatusConflict, CodeIndexNotManaged,
				"miroir: index `%s` exists on node %s with %d documents but was not created through miroir (no %s record): its documents are not sharded; re-create it through miroir and re-import the documents", uid, n.ID, stats.NumberOfDocuments, metaIndex)
		}
	}
	st := newIndexState(uid, c.opts.shards)
	if _, err := c.converge(ctx, st, tp.members, true); err != nil {
		return nil, err
	}
	c.opts.logger.Info("miroir: adopted empty index created outside miroir", "index", uid, "shards", st.shards)
	_ = present
	return st, nil
}
