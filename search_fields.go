package miroir

import (
	"context"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"time"
	"weak"
)

// The index's document fields, for attributesToSearchOn: a query with a
// digit sent to nodes whose searchable attributes are ["*"] would match
// the numeric _miroir_shard, so miroir lists the fields to search instead.

// fieldCache holds the union of the nodes' fieldDistribution for one
// index, refreshed when stale or when the write path saw a field it lacks.
type fieldCache struct {
	mu      sync.Mutex
	fields  map[string]struct{}
	at      time.Time
	tried   time.Time
	refresh sync.Mutex
}

var fieldCaches sync.Map // weak.Pointer[indexState] -> *fieldCache

const (
	fieldCacheTTL   = 30 * time.Second
	fieldCacheRetry = 250 * time.Millisecond
)

func fieldCacheFor(st *indexState) *fieldCache {
	k := weak.Make(st)
	if v, ok := fieldCaches.Load(k); ok {
		return v.(*fieldCache)
	}
	v, loaded := fieldCaches.LoadOrStore(k, &fieldCache{})
	if !loaded {
		runtime.AddCleanup(st, func(k weak.Pointer[indexState]) { fieldCaches.Delete(k) }, k)
	}
	return v.(*fieldCache)
}

// searchFields lists the index's document fields without the shard field:
// those the write path saw, and those the nodes' stats report. A query
// sent with this list as attributesToSearchOn searches exactly what it
// would search without the shard field.
func (c *Cluster) searchFields(ctx context.Context, st *indexState, uid string) []string {
	ctx = withNodeKeys(ctx)
	fc := fieldCacheFor(st)
	seen := st.Fields()
	fc.mu.Lock()
	stale := fc.fields == nil || time.Since(fc.at) > fieldCacheTTL
	if !stale {
		for _, f := range seen {
			if _, ok := fc.fields[f]; !ok {
				stale = time.Since(fc.tried) > fieldCacheRetry
				break
			}
		}
	}
	fc.mu.Unlock()
	if stale && fc.refresh.TryLock() {
		fields := c.statsFields(ctx, uid)
		fc.mu.Lock()
		fc.tried = time.Now()
		if fields != nil {
			fc.fields, fc.at = fields, time.Now()
		}
		fc.mu.Unlock()
		fc.refresh.Unlock()
	}
	fc.mu.Lock()
	out := make([]string, 0, len(fc.fields)+len(seen))
	for f := range fc.fields {
		out = append(out, f)
	}
	fc.mu.Unlock()
	for _, f := range seen {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	out = slices.DeleteFunc(out, isInternalField)
	slices.Sort(out)
	return out
}

// statsFields reads fieldDistribution from the nodes of a covering set
// (nil when none answered): together they hold every document, so their
// fields are the index's, and replica selection keeps a node known to be
// slow out of the search that waits for this. When shards are unavailable
// or a node fails, every healthy node is asked instead.
func (c *Cluster) statsFields(ctx context.Context, uid string) map[string]struct{} {
	cov := c.cover(uid, nil, c.nextSeq(), nil, true)
	if len(cov.unavailable) == 0 && len(cov.nodes) > 0 {
		targets := make([]*node, len(cov.nodes))
		for i, cn := range cov.nodes {
			targets[i] = cn.n
		}
		if out, complete := c.nodesFields(ctx, uid, targets); complete {
			return out
		}
	}
	out, _ := c.nodesFields(ctx, uid, c.healthyNodes())
	return out
}

// nodesFields is the union of targets' fieldDistribution (nil when none
// answered), and whether every target answered.
func (c *Cluster) nodesFields(ctx context.Context, uid string, targets []*node) (map[string]struct{}, bool) {
	dists := make([]map[string]int64, len(targets))
	errs := c.fanout(ctx, targets, func(ctx context.Context, n *node) error {
		var s struct {
			FieldDistribution map[string]int64 `json:"fieldDistribution"`
		}
		err := n.doJSON(ctx, "indexStats", http.MethodGet, "/indexes/"+uid+"/stats", nil, nil, &s)
		dists[slices.Index(targets, n)] = s.FieldDistribution
		return err
	})
	var out map[string]struct{}
	complete := true
	for i, err := range errs {
		if err != nil {
			complete = false
			continue
		}
		if out == nil {
			out = map[string]struct{}{}
		}
		for f := range dists[i] {
			out[f] = struct{}{}
		}
	}
	return out, complete
}
