package miroir

// The issue-14 scenarios: a fleet changes its topology while two instances
// write and a third searches throughout, every answer checked against the
// oracle of acknowledged writes; afterwards Verify finds nothing, every
// node holds only its own shards' documents, the instances and a newcomer
// configured with the old list follow the new epoch.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// topoCase is one scenario: the first topology, the spares a change may
// add, and the change.
type topoCase struct {
	name   string
	groups []int // the first topology: node i ("t<i>") in group groups[i]
	spare  int
	rf     int // the first topology's replication factor
	shards int
	target func(f *topoFleet) []Node
	// driverRF, when set, makes a fourth instance built with
	// WithReplicationFactor(driverRF) drive the change (an RF change keeps
	// the node list); else instance A drives. wantRF is the target's RF.
	driverRF int
	wantRF   int
}

// topoUID is the index every scenario works on.
const topoUID = "items"

// topoRun is a scenario in progress: instances A and B write, C searches.
type topoRun struct {
	f        *topoFleet
	seed     uint64
	a, b, c  *Cluster
	recA     *topoRecorder
	recB     *topoRecorder
	o        *topoOracle
	p        *topoProblems
	before   Topology
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	writers  []*topoWriter
	searcher *topoSearcher
	ops      atomic.Int64 // writes made by both writers
}

// startTopoRun starts the fleet, instance A (the first: it records the
// topology at epoch 1), the index with 200 documents, instances B and C,
// and the writers and the searcher.
func startTopoRun(t *testing.T, tc topoCase) *topoRun {
	t.Helper()
	r := &topoRun{seed: topoSeed(t), o: newTopoOracle(), p: &topoProblems{}, stop: make(chan struct{}),
		recA: &topoRecorder{}, recB: &topoRecorder{}}
	r.f = startTopoFleet(t, tc.groups, tc.spare, tc.shards, tc.rf)
	r.o.shards = tc.shards
	r.a = r.f.instance(t, r.f.initial, WithReplicationFactor(tc.rf), WithObserver(r.recA))
	acWaitOK(t, r.a)(r.a.CreateIndex(testCtx(t), &meilisearch.IndexConfig{Uid: topoUID, PrimaryKey: "id"}))
	// Settings other than the defaults, which new nodes must receive.
	acWaitOK(t, r.a)(r.a.Index(topoUID).UpdateSettings(testCtx(t), &meilisearch.Settings{
		SortableAttributes: []string{"title"}, StopWords: []string{"the"},
		Synonyms: map[string][]string{"doc": {"document"}}}))
	var pre []string
	var docs []map[string]any
	for i := range 200 {
		id := fmt.Sprintf("p%d", i)
		pre = append(pre, id)
		docs = append(docs, topoDocument(id, 0))
	}
	r.o.begin(pre)
	acWaitOK(t, r.a)(r.a.Index(topoUID).AddDocuments(testCtx(t), docs, nil))
	r.o.end(pre, true, true, 0)
	r.before = waitTopoSettled(t, "A", r.a, 1)
	if !r.before.Configured {
		t.Fatalf("A recorded the empty fleet's topology but says it follows another: %+v", r.before)
	}
	r.b = r.f.instance(t, r.f.initial, WithReplicationFactor(tc.rf), WithObserver(r.recB))
	r.c = r.f.instance(t, r.f.initial, WithReplicationFactor(tc.rf))
	waitTopoSettled(t, "B", r.b, 1)
	waitTopoSettled(t, "C", r.c, 1)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { r.halt(); cancel() })
	r.writers = []*topoWriter{
		newTopoWriter("a", r.a, topoUID, r.o, r.p, r.seed, 120),
		newTopoWriter("b", r.b, topoUID, r.o, r.p, r.seed, 120),
	}
	r.searcher = &topoSearcher{c: r.c, uid: topoUID, o: r.o, p: r.p,
		diag: func(shards []int) string { return r.f.shardCounts(r.c, topoUID, shards) }}
	for _, w := range r.writers {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for {
				w.step(ctx)
				r.ops.Add(1)
				select {
				case <-r.stop:
					return
				case <-ctx.Done():
					return
				default:
				}
			}
		}()
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.searcher.run(ctx, r.stop)
	}()
	return r
}

// halt stops the writers and the searcher and waits for them.
func (r *topoRun) halt() {
	r.stopOnce.Do(func() { close(r.stop) })
	r.wg.Wait()
}

// awaitWrites waits until the writers made n more writes (progress, not
// time: the change must see writes whatever the machine's speed).
func (r *topoRun) awaitWrites(t *testing.T, n int64) {
	t.Helper()
	want := r.ops.Load() + n
	eventuallyFor(t, 60*time.Second, fmt.Sprintf("%d more writes", n), func() bool { return r.ops.Load() >= want },
		func() string { return fmt.Sprintf("%d of %d", r.ops.Load(), want) })
}

// finish stops the workers, reports what they found, and checks the end
// state of a change to target (RF wantRF, epoch 2) whose driver's
// observer is rec.
func (r *topoRun) finish(t *testing.T, target []Node, wantRF int, rec *topoRecorder) {
	t.Helper()
	r.halt()
	w0, w1 := r.writers[0], r.writers[1]
	t.Logf("writes: a %d, b %d; reads: %d", w0.ops, w1.ops, r.searcher.reads)
	r.p.report(t)
	const epoch = 2
	tp := waitTopoSettled(t, "A", r.a, epoch)
	waitTopoSettled(t, "B", r.b, epoch)
	waitTopoSettled(t, "C", r.c, epoch)

	// The recorded topology is the target.
	var got, want []string
	for _, n := range tp.Nodes {
		got = append(got, fmt.Sprintf("%s@%d", n.ID, n.Group))
	}
	for _, n := range target {
		want = append(want, fmt.Sprintf("%s@%d", n.ID, n.Group))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || tp.ReplicationFactor != wantRF {
		t.Fatalf("topology after the change: nodes %v RF %d, want %v RF %d", got, tp.ReplicationFactor, want, wantRF)
	}

	verifyClean(t, r.a, topoUID)
	perShard := r.f.checkNodes(t, tp, topoUID, r.o)
	r.f.checkSettings(t, tp, topoUID)
	topoReadAll(t, "C", r.c, topoUID, r.o)

	// A newcomer configured with the old list follows the record.
	nc := r.f.instance(t, r.f.initial)
	ntp := waitTopoSettled(t, "a newcomer with the old list", nc, epoch)
	if !sameNodes(r.f.initial, target) && ntp.Configured {
		t.Errorf("a newcomer with the old list says it follows its own configuration: %+v", ntp)
	}
	if ntp.ReplicationFactor != wantRF {
		t.Errorf("a newcomer with the old list: RF %d, want the recorded %d", ntp.ReplicationFactor, wantRF)
	}
	topoReadAll(t, "a newcomer with the old list", nc, topoUID, r.o)

	r.movement(t, tp, perShard, rec)
}

// movement checks the driver's last report against the placements before
// and after: the shards whose replica set changed are those reported
// moving, all done; it logs documents copied against the documents the
// new replicas hold (writes during the change go to both placements, so
// the ratio is below 1 by what was written meanwhile).
func (r *topoRun) movement(t *testing.T, tp Topology, perShard map[int]map[string]float64, rec *topoRecorder) {
	t.Helper()
	old, next := placementOf(r.before), placementOf(tp)
	changed, onNew := 0, 0
	for s := range tp.Shards {
		if !maps.Equal(old[s], next[s]) {
			changed++
		}
	}
	for s, ids := range old.gained(next) {
		onNew += len(ids) * len(perShard[s])
	}
	last, ok := rec.last(2)
	if !ok {
		t.Errorf("the driver's observer received no progress for epoch 2")
		return
	}
	t.Logf("phases reported %v; shards moving %d (placement changed: %d), done %d; documents copied %d, bytes %d; documents on new replicas %d",
		rec.phases(2), last.ShardsMoving, changed, last.ShardsDone, last.DocumentsCopied, last.BytesCopied, onNew)
	if last.Phase != PhaseDone || last.ShardsMoving != changed || last.ShardsDone != changed {
		t.Errorf("last progress %+v: want phase done, %d shards moving and done", last, changed)
	}
}

// sameNodes reports whether two node lists describe the same nodes and groups.
func sameNodes(a, b []Node) bool {
	key := func(ns []Node) []string {
		var out []string
		for _, n := range ns {
			out = append(out, fmt.Sprintf("%s@%d", n.ID, n.Group))
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// topoCases are the scenarios.
var topoCases = []topoCase{
	{name: "AddNodeRF1", groups: []int{0, 0, 0}, spare: 1, rf: 1, shards: 8, wantRF: 1,
		target: func(f *topoFleet) []Node { return f.plus(f.node("t3", 0)) }},
	{name: "AddNodeRF2", groups: []int{0, 0, 0}, spare: 1, rf: 2, shards: 8, wantRF: 2,
		target: func(f *topoFleet) []Node { return f.plus(f.node("t3", 0)) }},
	{name: "RemoveNode", groups: []int{0, 0, 0}, rf: 1, shards: 8, wantRF: 1,
		target: func(f *topoFleet) []Node { return f.without("t1") }},
	{name: "AddGroup", groups: []int{0, 0}, spare: 2, rf: 1, shards: 8, wantRF: 1,
		target: func(f *topoFleet) []Node { return f.plus(f.node("t2", 1), f.node("t3", 1)) }},
	{name: "RemoveGroup", groups: []int{0, 0, 1, 1}, rf: 1, shards: 8, wantRF: 1,
		target: func(f *topoFleet) []Node { return f.without("t2", "t3") }},
	{name: "RF1to2", groups: []int{0, 0, 0}, rf: 1, shards: 8, driverRF: 2, wantRF: 2,
		target: func(f *topoFleet) []Node { return f.plus() }},
}

// TestTopologyChangeScenarios runs every scenario: the change driven to
// its end while A and B write and C searches.
func TestTopologyChangeScenarios(t *testing.T) {
	for _, tc := range topoCases {
		t.Run(tc.name, func(t *testing.T) {
			r := startTopoRun(t, tc)
			target := tc.target(r.f)
			driver, rec := r.a, r.recA
			if tc.driverRF > 0 {
				rec = &topoRecorder{}
				driver = r.f.instance(t, r.f.initial, WithReplicationFactor(tc.driverRF), WithObserver(rec))
			}
			// Some writes before the change, so that it starts among them.
			r.awaitWrites(t, 4)
			ops0, reads0 := r.ops.Load(), r.searcher.readCount()
			if err := driver.ChangeTopology(testCtx(t), target); err != nil {
				r.halt()
				r.p.report(t)
				t.Fatalf("ChangeTopology: %v", err)
			}
			t.Logf("during the change: %d writes, %d reads", r.ops.Load()-ops0, r.searcher.readCount()-reads0)
			r.finish(t, target, tc.wantRF, rec)
			rec.checkMonotonic(t, 2)
		})
	}
}
