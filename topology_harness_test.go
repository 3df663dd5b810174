package miroir

// The topology-change harness (issue 14): a fleet of meilitest nodes some
// of which are spares a change may add, application instances over it,
// waiting for them to follow an epoch, and an observer of a change's
// progress. The oracle, writers and searcher are in
// topology_oracle_test.go; the end-state checks of the nodes in
// topology_nodes_test.go.

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miroirsearch/miroir/meilitest"
)

// topoRefresh is how often the harness's instances re-read the fleet's
// record: small, so that followers catch up quickly and a change's phases
// do not wait long for every instance to have seen them.
const topoRefresh = 50 * time.Millisecond

// topoFleet is a set of started meilitest nodes: those of the fleet's first
// topology and spares a change may add. Node IDs are "t0", "t1", ... in
// start order; they decide placement, so expectations derive from the
// Topology snapshots rather than from fixed shard numbers.
type topoFleet struct {
	shards  int
	rf      int // the first topology's replication factor
	initial []Node
	srv     map[string]*meilitest.Server // every node by ID, spares included
	urls    map[string]string
	order   []string // every node ID in start order
}

// startTopoFleet starts one node per entry of groups (the first topology,
// node i in group groups[i]) and spare more nodes, with instant node tasks.
func startTopoFleet(t testing.TB, groups []int, spare, shards, rf int) *topoFleet {
	t.Helper()
	f := &topoFleet{shards: shards, rf: rf, srv: map[string]*meilitest.Server{}, urls: map[string]string{}}
	for i := range len(groups) + spare {
		id := fmt.Sprintf("t%d", i)
		s := meilitest.RunT(t, meilitest.WithTaskDuration(0))
		f.srv[id], f.urls[id] = s, s.URL()
		f.order = append(f.order, id)
		if i < len(groups) {
			f.initial = append(f.initial, Node{ID: id, URL: s.URL(), Group: groups[i]})
		}
	}
	return f
}

// node returns node id described for group g.
func (f *topoFleet) node(id string, g int) Node {
	return Node{ID: id, URL: f.urls[id], Group: g}
}

// plus returns the first topology with the nodes add appended.
func (f *topoFleet) plus(add ...Node) []Node {
	return append(slices.Clone(f.initial), add...)
}

// without returns the first topology without the nodes of ids.
func (f *topoFleet) without(ids ...string) []Node {
	var out []Node
	for _, n := range f.initial {
		if !slices.Contains(ids, n.ID) {
			out = append(out, n)
		}
	}
	return out
}

// topoOptions are the options every harness instance starts with: no
// retries, a short fleet refresh, an unthrottled backfill (the scenarios
// must finish in bounded time), no periodic background repair (only the
// change moves documents), and health probes every 250ms (several
// instances probing every node every 20ms would take a busy machine's
// CPU from the change itself under -race).
func (f *topoFleet) topoOptions() []Option {
	return append(quick.options(), WithShards(f.shards), WithFleetRefresh(topoRefresh),
		WithRepairRate(0), WithRepair(0), WithHealthCheck(250*time.Millisecond, 2*time.Second, 2, 1))
}

// instance starts an application instance over nodes with the harness
// options followed by extra; it closes when the test ends.
func (f *topoFleet) instance(t testing.TB, nodes []Node, extra ...Option) *Cluster {
	t.Helper()
	c, err := New(nodes, append(f.topoOptions(), extra...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// waitTopoSettled waits until c follows epoch with no change in progress.
func waitTopoSettled(t testing.TB, name string, c *Cluster, epoch int64) Topology {
	t.Helper()
	var last Topology
	eventuallyFor(t, 30*time.Second, fmt.Sprintf("%s at epoch %d with no change", name, epoch), func() bool {
		last = c.Topology()
		return last.Epoch == epoch && last.Change == nil
	}, func() string { return fmt.Sprintf("epoch %d, change %+v", last.Epoch, last.Change) })
	return last
}

// eventuallyFor polls cond until it holds or d passes; state describes
// what was last seen when it gives up.
func eventuallyFor(t testing.TB, d time.Duration, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, state())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// topoSeed is the seed of a scenario's random choices: MIROIR_TOPO_SEED
// when set (to replay a failure), else a fresh one; it is logged.
func topoSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MIROIR_TOPO_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MIROIR_TOPO_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with MIROIR_TOPO_SEED=%d)", seed, seed)
	return seed
}

// ---- Observing a change ----

// topoRecorder is a TopologyObserver: it keeps every progress report, and
// may act when a phase is first reported (cancel the driving call).
type topoRecorder struct {
	NopObserver
	mu      sync.Mutex
	reports []TopologyChange
	onPhase map[string]func()
}

// TopologyProgress implements TopologyObserver.
func (r *topoRecorder) TopologyProgress(p TopologyChange) {
	r.mu.Lock()
	r.reports = append(r.reports, p)
	fn := r.onPhase[p.Phase]
	delete(r.onPhase, p.Phase)
	r.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// when arms fn to run once, the first time phase is reported.
func (r *topoRecorder) when(phase string, fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.onPhase == nil {
		r.onPhase = map[string]func(){}
	}
	r.onPhase[phase] = fn
}

// phases returns the distinct phases reported for epoch, in first-seen order.
func (r *topoRecorder) phases(epoch int64) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.reports {
		if p.Epoch == epoch && !slices.Contains(out, p.Phase) {
			out = append(out, p.Phase)
		}
	}
	return out
}

// last returns the last report for epoch, and whether there was one.
func (r *topoRecorder) last(epoch int64) (TopologyChange, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.reports) - 1; i >= 0; i-- {
		if r.reports[i].Epoch == epoch {
			return r.reports[i], true
		}
	}
	return TopologyChange{}, false
}

// checkMonotonic fails unless the reports for epoch only move forward:
// phases in order, shards done and documents and bytes copied never
// decreasing.
func (r *topoRecorder) checkMonotonic(t testing.TB, epoch int64) {
	t.Helper()
	order := []string{PhasePrepare, PhaseCopy, PhaseCutover, PhaseRetire, PhaseDone}
	r.mu.Lock()
	defer r.mu.Unlock()
	var prev *TopologyChange
	for i := range r.reports {
		p := &r.reports[i]
		if p.Epoch != epoch {
			continue
		}
		if slices.Index(order, p.Phase) < 0 {
			t.Errorf("progress report with unknown phase %q", p.Phase)
		}
		if prev != nil && (slices.Index(order, p.Phase) < slices.Index(order, prev.Phase) ||
			p.ShardsDone < prev.ShardsDone || p.DocumentsCopied < prev.DocumentsCopied || p.BytesCopied < prev.BytesCopied) {
			t.Errorf("progress went backwards: %+v after %+v", *p, *prev)
		}
		prev = p
	}
}
