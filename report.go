package miroir

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"
)

// GroupShard names one shard inside one replica group.
type GroupShard struct {
	Group int `json:"group"`
	Shard int `json:"shard"`
}

// sortPairs sorts pairs by group, then shard.
func sortPairs(p []GroupShard) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && (p[j].Group < p[j-1].Group || (p[j].Group == p[j-1].Group && p[j].Shard < p[j-1].Shard)); j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// dedupPairs returns the distinct pairs of p, sorted (nil for none).
func dedupPairs(p []GroupShard) []GroupShard {
	if len(p) == 0 {
		return nil
	}
	seen := map[GroupShard]bool{}
	var out []GroupShard
	for _, x := range p {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sortPairs(out)
	return out
}

// Fallback records a shard read from a group other than the preferred
// one, or from another replica than a stale one.
type Fallback struct {
	Shard     int    `json:"shard"`
	Preferred int    `json:"preferredGroup"`
	Group     int    `json:"group"`
	Node      string `json:"node"`
	// Stale: a stale replica of the shard (one that missed a write) was
	// passed over (DESIGN §12).
	Stale bool `json:"stale,omitempty"`
}

// Report collects what one call did across the fleet. Attach it with
// WithReport; the call fills it in (the same pattern as net/http/httptrace).
// It is safe for concurrent use; read it after the call returns.
type Report struct {
	mu sync.Mutex
	// NodesContacted lists node IDs the call sent requests to, sorted.
	NodesContacted []string
	// Degraded lists (group, shard) pairs of a write whose group missed quorum.
	Degraded []GroupShard
	// UnavailableShards lists shards a read could not reach at all.
	UnavailableShards []int
	// Fallbacks lists shards served by another group than the preferred
	// one, or by another replica than a stale one.
	Fallbacks []Fallback
	// TaskUID is the cluster task of a write, when there is one.
	TaskUID int64
	// Hedges counts hedged node requests the call sent (one per node a
	// slow read was sent to again).
	Hedges int
	// HedgesWon counts hedged node requests whose answer was used.
	HedgesWon int
}

type reportKey struct{}

// WithReport returns a context whose calls record their work in r.
func WithReport(ctx context.Context, r *Report) context.Context {
	return context.WithValue(ctx, reportKey{}, r)
}

func reportFrom(ctx context.Context) *Report {
	r, _ := ctx.Value(reportKey{}).(*Report)
	return r
}

// IsDegraded reports whether the call succeeded with reduced redundancy or
// coverage.
func (r *Report) IsDegraded() bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.Degraded) > 0 || len(r.UnavailableShards) > 0
}

func (r *Report) contacted(nodeID string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i, found := slices.BinarySearch(r.NodesContacted, nodeID)
	if !found {
		r.NodesContacted = slices.Insert(r.NodesContacted, i, nodeID)
	}
}

func (r *Report) degraded(pairs []GroupShard) {
	if r == nil || len(pairs) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Degraded = append(r.Degraded, pairs...)
	sort.Slice(r.Degraded, func(i, j int) bool {
		a, b := r.Degraded[i], r.Degraded[j]
		return a.Group < b.Group || (a.Group == b.Group && a.Shard < b.Shard)
	})
}

func (r *Report) unavailable(shards []int) {
	if r == nil || len(shards) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.UnavailableShards = append(r.UnavailableShards, shards...)
	sort.Ints(r.UnavailableShards)
}

func (r *Report) fallback(f Fallback) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Fallbacks = append(r.Fallbacks, f)
}

func (r *Report) hedgeSent() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.Hedges++
	r.mu.Unlock()
}

func (r *Report) hedgeWon() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.HedgesWon++
	r.mu.Unlock()
}

func (r *Report) task(uid int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.TaskUID = uid
	r.mu.Unlock()
}

// Observer receives fleet events, for metrics and alerts. Methods are
// called synchronously from the request path and must be fast and safe for
// concurrent use. Embed NopObserver to implement only some of them.
type Observer interface {
	// DegradedWrite: a write succeeded but these groups missed quorum.
	DegradedWrite(index string, pairs []GroupShard)
	// UnavailableShards: a read could not reach these shards.
	UnavailableShards(index string, shards []int)
	// NodeStateChanged: a node was marked healthy or unhealthy.
	NodeStateChanged(nodeID string, healthy bool)
	// NodeRequest: one request to a node finished (err nil on success).
	NodeRequest(nodeID, op string, d time.Duration, err error)
}

// NopObserver implements Observer with no-ops.
type NopObserver struct{}

// DegradedWrite implements Observer.
func (NopObserver) DegradedWrite(string, []GroupShard) {}

// UnavailableShards implements Observer.
func (NopObserver) UnavailableShards(string, []int) {}

// NodeStateChanged implements Observer.
func (NopObserver) NodeStateChanged(string, bool) {}

// NodeRequest implements Observer.
func (NopObserver) NodeRequest(string, string, time.Duration, error) {}
