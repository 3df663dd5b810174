package miroir

// ChangeTopology without concurrent traffic: bad targets are refused
// before anything moves, and adding a node moves the minimum (measured).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// loadTopoDocs adds n documents d0..d<n-1> through c in batches and
// records them in o.
func loadTopoDocs(t *testing.T, c *Cluster, o *topoOracle, n int) {
	t.Helper()
	for from := 0; from < n; from += 1000 {
		var ids []string
		var docs []map[string]any
		for i := from; i < min(from+1000, n); i++ {
			id := fmt.Sprintf("d%d", i)
			ids = append(ids, id)
			docs = append(docs, topoDocument(id, 0))
		}
		o.begin(ids)
		acWaitOK(t, c)(c.Index(topoUID).AddDocuments(testCtx(t), docs, nil))
		o.end(ids, true, true, 0)
	}
}

// expectInvalidTopology fails unless err is miroir_invalid_topology (400)
// and c still follows epoch with no change recorded.
func expectInvalidTopology(t *testing.T, what string, c *Cluster, epoch int64, err error) {
	t.Helper()
	if code, st := topoErrCode(err); code != CodeInvalidTopology || st != http.StatusBadRequest {
		t.Errorf("%s: %v (code %q, status %d), want %s (400)", what, err, code, st, CodeInvalidTopology)
	}
	if tp := c.Topology(); tp.Epoch != epoch || tp.Change != nil {
		t.Errorf("%s: after the refusal epoch %d change %+v, want epoch %d and none", what, tp.Epoch, tp.Change, epoch)
	}
}

// TestTopologyChangeRefusesBadTargets: duplicate IDs, group gaps, an
// empty list, a group below RF and the removal of an unreachable node
// holding the last copy of its shards are refused with
// miroir_invalid_topology; the epoch stays, no change is recorded, and no
// node of the target received anything. The last one succeeds once the
// node is back (a reachable node being removed is the backfill source).
func TestTopologyChangeRefusesBadTargets(t *testing.T) {
	t.Run("RF1", func(t *testing.T) {
		f := startTopoFleet(t, []int{0, 0, 0}, 1, 8, 1)
		a := f.instance(t, f.initial, WithReplicationFactor(1))
		acWaitOK(t, a)(a.CreateIndex(testCtx(t), &meilisearch.IndexConfig{Uid: topoUID, PrimaryKey: "id"}))
		o := newTopoOracle()
		loadTopoDocs(t, a, o, 300)
		waitTopoSettled(t, "A", a, 1)
		dup := f.node("t3", 0)
		dup.ID = "t0"
		cases := []struct {
			name  string
			nodes []Node
		}{
			{"duplicate ID, another URL", f.plus(dup)},
			{"duplicate node", f.plus(f.initial[0])},
			{"no node", nil},
			{"empty ID", f.plus(Node{URL: f.urls["t3"], Group: 0})},
			{"group gap", f.plus(f.node("t3", 2))},
			{"negative group", f.plus(f.node("t3", -1))},
		}
		for _, tc := range cases {
			err := a.ChangeTopology(testCtx(t), tc.nodes)
			expectInvalidTopology(t, tc.name, a, 1, err)
		}
		if f.hasIndex(t, "t3", topoUID) {
			t.Errorf("the spare received index %s from a refused change", topoUID)
		}

		// t2 is unreachable and, at RF 1, holds the only copy of its shards.
		f.srv["t2"].Stop()
		eventually(t, "A sees t2 down", func() bool {
			for _, n := range a.Topology().Nodes {
				if n.ID == "t2" {
					return !n.Healthy
				}
			}
			return false
		})
		err := a.ChangeTopology(testCtx(t), f.without("t2"))
		expectInvalidTopology(t, "removing an unreachable node holding the last copy", a, 1, err)
		if err := f.srv["t2"].Start(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "A sees t2 healthy", func() bool {
			for _, n := range a.Topology().Nodes {
				if n.ID == "t2" {
					return n.Healthy
				}
			}
			return false
		})
		tp := f.checkUnchanged(t, a, o)

		// Reachable again, it is the source of its shards' backfill.
		if err := a.ChangeTopology(testCtx(t), f.without("t2")); err != nil {
			t.Fatalf("removing t2 once reachable: %v", err)
		}
		tp = waitTopoSettled(t, "A", a, tp.Epoch+1)
		f.checkNodes(t, tp, topoUID, o)
		verifyClean(t, a, topoUID)
	})
	t.Run("RF2", func(t *testing.T) {
		f := startTopoFleet(t, []int{0, 0}, 1, 8, 2)
		a := f.instance(t, f.initial, WithReplicationFactor(2))
		acWaitOK(t, a)(a.CreateIndex(testCtx(t), &meilisearch.IndexConfig{Uid: topoUID, PrimaryKey: "id"}))
		o := newTopoOracle()
		loadTopoDocs(t, a, o, 100)
		waitTopoSettled(t, "A", a, 1)
		expectInvalidTopology(t, "group 0 below RF", a, 1, a.ChangeTopology(testCtx(t), f.without("t1")))
		expectInvalidTopology(t, "a new group below RF", a, 1, a.ChangeTopology(testCtx(t), f.plus(f.node("t2", 1))))
		if f.hasIndex(t, "t2", topoUID) {
			t.Errorf("the spare received index %s from a refused change", topoUID)
		}
		f.checkUnchanged(t, a, o)
	})
}

// checkUnchanged checks that the fleet still holds exactly the epoch-1
// placement of the oracle's documents, and returns the topology.
func (f *topoFleet) checkUnchanged(t *testing.T, c *Cluster, o *topoOracle) Topology {
	t.Helper()
	tp := waitTopoSettled(t, "A", c, 1)
	f.checkNodes(t, tp, topoUID, o)
	return tp
}

// TestTopologyMinimalMovement adds a node to group 0 (of N = 3 nodes) of a
// two-group fleet with S = 64 and a static index: only shards whose
// replica set changed move, all of them to the new node, nothing in group
// 1; the documents copied are the documents of those shards (ratio at
// most 1.1), about 1/(N+1) of the group's documents.
func TestTopologyMinimalMovement(t *testing.T) {
	const n, docs = 3, 3000
	f := startTopoFleet(t, []int{0, 0, 0, 1, 1, 1}, 1, 64, 1)
	rec := &topoRecorder{}
	a := f.instance(t, f.initial, WithReplicationFactor(1), WithObserver(rec))
	acWaitOK(t, a)(a.CreateIndex(testCtx(t), &meilisearch.IndexConfig{Uid: topoUID, PrimaryKey: "id"}))
	o := newTopoOracle()
	loadTopoDocs(t, a, o, docs)
	before := waitTopoSettled(t, "A", a, 1)

	if err := a.ChangeTopology(testCtx(t), f.plus(f.node("t6", 0))); err != nil {
		t.Fatalf("ChangeTopology: %v", err)
	}
	tp := waitTopoSettled(t, "A", a, 2)
	perShard := f.checkNodes(t, tp, topoUID, o)
	verifyClean(t, a, topoUID)

	moved, onMoved := 0, 0
	for s := range tp.Shards {
		if fmt.Sprint(tp.Replicas(s, 1)) != fmt.Sprint(before.Replicas(s, 1)) {
			t.Errorf("shard %d moved in the untouched group 1: %v -> %v", s, before.Replicas(s, 1), tp.Replicas(s, 1))
		}
		was, now := before.Replicas(s, 0), tp.Replicas(s, 0)
		if fmt.Sprint(was) == fmt.Sprint(now) {
			continue
		}
		if len(now) != 1 || now[0] != "t6" {
			t.Errorf("shard %d moved in group 0 to %v, not to the new node", s, now)
		}
		moved++
		onMoved += len(perShard[s])
	}
	onNew := len(f.rawNodeDocs(t, "t6", topoUID))
	last, ok := rec.last(2)
	if !ok {
		t.Fatal("the driver's observer received no progress for epoch 2")
	}
	ratio := float64(last.DocumentsCopied) / float64(onMoved)
	fraction := float64(onMoved) / docs
	t.Logf("N=%d S=64: %d of 64 shards moved; documents copied %d (bytes %d), on moved shards %d, on the new node %d: copied/moved %.3f; moved/group %.3f (1/(N+1) = %.3f)",
		n, moved, last.DocumentsCopied, last.BytesCopied, onMoved, onNew, ratio, fraction, 1.0/(n+1))
	if onNew != onMoved {
		t.Errorf("the new node holds %d documents, the shards it took %d", onNew, onMoved)
	}
	if last.ShardsMoving != moved || last.ShardsDone != moved || last.Phase != PhaseDone || last.DocumentsRemaining != 0 {
		t.Errorf("last progress %+v: want phase done, %d shards moving and done, nothing remaining", last, moved)
	}
	rec.checkMonotonic(t, 2)
	// Nothing was written during the change: every document of a moved
	// shard had to be copied once, and no more than 10% over.
	if ratio < 1 || ratio > 1.1 {
		t.Errorf("documents copied / documents on moved shards = %.3f, want within [1, 1.1]", ratio)
	}
	if lo, hi := 0.5/(n+1), 2.0/(n+1); fraction < lo || fraction > hi {
		t.Errorf("moved %.3f of the group's documents, want within [%.3f, %.3f]", fraction, lo, hi)
	}
}

// TestTopologyChangeMixedShardCounts: S is per index (DESIGN §2), so one
// fleet may hold indexes of different shard counts, created by instances
// configured differently. A change either moves every index by its own S
// (afterwards each index's documents sit on the replicas of their shard
// under that index's S, nothing lost) or is refused before it is
// recorded.
func TestTopologyChangeMixedShardCounts(t *testing.T) {
	f := startTopoFleet(t, []int{0, 0, 0}, 1, 8, 1)
	a := f.instance(t, f.initial, WithReplicationFactor(1)) // S 8
	acWaitOK(t, a)(a.CreateIndex(testCtx(t), &meilisearch.IndexConfig{Uid: topoUID, PrimaryKey: "id"}))
	o8 := newTopoOracle()
	loadTopoDocs(t, a, o8, 300)
	waitTopoSettled(t, "A", a, 1)

	f16 := *f
	f16.shards = 16
	b := f16.instance(t, f.initial) // S 16
	const other = "other"
	acWaitOK(t, b)(b.CreateIndex(testCtx(t), &meilisearch.IndexConfig{Uid: other, PrimaryKey: "id"}))
	o16 := newTopoOracle()
	var ids []string
	var docs []map[string]any
	for i := range 300 {
		id := fmt.Sprintf("o%d", i)
		ids = append(ids, id)
		docs = append(docs, topoDocument(id, 0))
	}
	o16.begin(ids)
	acWaitOK(t, b)(b.Index(other).AddDocuments(testCtx(t), docs, nil))
	o16.end(ids, true, true, 0)

	if err := a.ChangeTopology(testCtx(t), f.plus(f.node("t3", 0))); err != nil {
		// Refusing is acceptable only before anything moved: the fleet
		// stays at epoch 1 with no change recorded, so that it still
		// takes index creations and settings (a recorded change that no
		// instance can drive would refuse them for ever).
		tp := a.Topology()
		t.Logf("ChangeTopology: %v; epoch %d, change %+v", err, tp.Epoch, tp.Change)
		if tp.Epoch != 1 || tp.Change != nil {
			t.Fatalf("a change that cannot be driven was recorded: epoch %d, change %+v", tp.Epoch, tp.Change)
		}
		acWaitOK(t, b)(b.CreateIndex(testCtx(t), &meilisearch.IndexConfig{Uid: "third", PrimaryKey: "id"}))
		return
	}
	tp8 := waitTopoSettled(t, "A", a, 2)
	tp16 := waitTopoSettled(t, "B", b, 2)
	if tp8.Shards != 8 || tp16.Shards != 16 {
		t.Fatalf("snapshots with S %d and %d, want 8 and 16", tp8.Shards, tp16.Shards)
	}
	f.checkNodes(t, tp8, topoUID, o8)
	f16.checkNodes(t, tp16, other, o16)
	verifyClean(t, a, topoUID)
	verifyClean(t, b, other)
	topoReadAll(t, "B", b, other, o16)
}

// TestTopologyBackfillRacingDelete: a deletion races the backfill while
// the backfill's source lags. Node t1 joins t0 (RF 1) and takes shard s.
// Right after the backfill drained t0's tasks (its pass then reads t0 as
// the truth), t0 answers slowly and holds its task queue, and a document
// X of s is deleted through another instance: the deletion is applied on
// t1 (a write target of the moving shard) at once and waits on t0, which
// still holds X while the pass lists, fetches and looks it up again. The
// queue is released when the pass clears the marks of s on t1, or drains
// t0 again. The deletion is acknowledged, so X must be on no node
// afterwards. (An attempt at pinning the deleted documents the scenarios
// find back now and then; this ordering does not bring them back.)
func TestTopologyBackfillRacingDelete(t *testing.T) {
	f := startTopoFleet(t, []int{0}, 1, 8, 1)
	rec := &topoRecorder{}
	a := f.instance(t, f.initial, WithReplicationFactor(1), WithObserver(rec))
	acWaitOK(t, a)(a.CreateIndex(testCtx(t), &meilisearch.IndexConfig{Uid: topoUID, PrimaryKey: "id"}))
	o := newTopoOracle()
	loadTopoDocs(t, a, o, 200)
	waitTopoSettled(t, "A", a, 1)
	b := f.instance(t, f.initial)
	waitTopoSettled(t, "B", b, 1)

	target := f.plus(f.node("t1", 0))
	taken := benchTaken(target[0], target[1])
	if len(taken) == 0 {
		t.Fatal("t1 takes no shard")
	}
	var x string
	for i := range 200 {
		if id := fmt.Sprintf("d%d", i); ShardOf(id, 8) == taken[0] {
			x = id
			break
		}
	}
	t0 := f.srv["t0"]
	var armed, held, released atomic.Bool
	var how atomic.Value
	release := func(why string) {
		if released.CompareAndSwap(false, true) {
			how.Store(why)
			t0.SetLatency(0)
			t0.ResumeTasks()
		}
	}
	defer release("the end")
	var delInfo *meilisearch.TaskInfo
	var delErr error
	deleted := make(chan struct{})
	isDrain := func(r *http.Request) bool {
		return r.Method == http.MethodGet && r.URL.Path == "/tasks" && r.URL.Query().Get("statuses") != ""
	}
	mark := fmt.Sprintf("shard = %d ", taken[0])
	unhook := t0.FailRequests(func(r *http.Request) bool {
		switch {
		case isDrain(r) && armed.CompareAndSwap(true, false):
			// Not under the hook (it holds the node's fault lock).
			go func() {
				defer close(deleted)
				t0.SetLatency(300 * time.Millisecond)
				t0.PauseTasks()
				held.Store(true)
				o.begin([]string{x})
				delInfo, delErr = b.Index(topoUID).DeleteDocument(context.Background(), x, nil)
			}()
		case held.Load() && isDrain(r):
			go release("a second drain")
		case held.Load() && r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/indexes/miroir_meta/documents/delete"):
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if strings.Contains(string(body), mark) {
				go release("the marks of shard " + strconv.Itoa(taken[0]) + " cleared")
			}
		}
		return false
	}, 500, "internal")
	defer unhook()
	rec.when(PhaseCopy, func() {
		eventually(t, "B follows the copy phase", func() bool {
			ch := b.Topology().Change
			return ch != nil && ch.Phase == PhaseCopy
		})
		armed.Store(true)
	})
	if err := a.ChangeTopology(testCtx(t), target); err != nil {
		t.Fatalf("ChangeTopology: %v", err)
	}
	release("the end")
	if !held.Load() {
		t.Fatal("the backfill never drained t0 during the copy phase")
	}
	<-deleted
	if delErr != nil {
		t.Fatalf("delete %s: %v", x, delErr)
	}
	t.Logf("document %s of shard %d; t0's queue released on %v", x, taken[0], how.Load())
	acWaitOKTask(t, b, delInfo, nil)
	o.end([]string{x}, true, false, 0)
	tp := waitTopoSettled(t, "A", a, 2)
	f.checkNodes(t, tp, topoUID, o)
	verifyClean(t, a, topoUID)
}
