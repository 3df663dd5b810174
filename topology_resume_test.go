package miroir

// Crash and resume (issue 14): the instance driving a change loses its
// context in each phase; the change stays recorded, every instance sees
// it, what a change forbids is refused while it is stalled, writes and
// reads stay exact, and the other instance resumes it with the same target
// to the same end state as an uninterrupted change.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// TestTopologyResume cancels A's ChangeTopology when its observer first
// reports each phase, then resumes the change from B.
func TestTopologyResume(t *testing.T) {
	for _, phase := range []string{PhasePrepare, PhaseCopy, PhaseCutover, PhaseRetire} {
		t.Run(phase, func(t *testing.T) {
			r := startTopoRun(t, topoCase{groups: []int{0, 0, 0}, spare: 2, rf: 1, shards: 8})
			target := r.f.plus(r.f.node("t3", 0))
			ctxA, cancelA := context.WithCancel(testCtx(t))
			defer cancelA()
			r.recA.when(phase, cancelA)
			r.awaitWrites(t, 4)
			err := r.a.ChangeTopology(ctxA, target)
			if !slices.Contains(r.recA.phases(2), phase) {
				r.halt()
				t.Fatalf("A's observer never reported phase %s (reported %v); ChangeTopology returned %v", phase, r.recA.phases(2), err)
			}
			if err == nil || !errors.Is(err, context.Canceled) {
				t.Errorf("ChangeTopology after its ctx was canceled in phase %s: %v, want an error wrapping context.Canceled", phase, err)
			}

			// The change stays recorded, and every instance sees it.
			for _, in := range []struct {
				name string
				c    *Cluster
			}{{"A", r.a}, {"B", r.b}, {"C", r.c}} {
				var last Topology
				eventuallyFor(t, 30*time.Second, in.name+" sees the change in progress", func() bool {
					last = in.c.Topology()
					return last.Change != nil && last.Change.Epoch == 2
				}, func() string { return fmt.Sprintf("epoch %d change %+v", last.Epoch, last.Change) })
			}
			r.refusedWhileChanging(t, r.f.plus(r.f.node("t3", 0), r.f.node("t4", 0)))

			// Writes go on while the change is stalled; then B resumes it.
			r.awaitWrites(t, 6)
			if err := r.b.ChangeTopology(testCtx(t), target); err != nil {
				r.halt()
				r.p.report(t)
				t.Fatalf("B resuming the change: %v", err)
			}
			r.finish(t, target, 1, r.recB)
		})
	}
}

// refusedWhileChanging checks what a change in progress forbids: another
// target, index creation, a settings change; none of them reaches a node.
func (r *topoRun) refusedWhileChanging(t *testing.T, other []Node) {
	t.Helper()
	ctx := testCtx(t)
	err := r.b.ChangeTopology(ctx, other)
	if code, st := topoErrCode(err); !errors.Is(err, ErrTopologyChangeInProgress) || code != CodeTopologyChangeInProgress || st != http.StatusConflict {
		t.Errorf("another target during a change: %v (code %q, status %d), want %s (409)", err, code, st, CodeTopologyChangeInProgress)
	}
	info, err := r.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "other", PrimaryKey: "id"})
	expectRefusedTask(t, r.c, "index creation during a change", info, err)
	info, err = r.c.Index(topoUID).UpdateSettings(ctx, &meilisearch.Settings{SortableAttributes: []string{"rev"}})
	expectRefusedTask(t, r.c, "settings update during a change", info, err)
	r.f.idle(t)
	for _, id := range r.f.order {
		if r.f.hasIndex(t, id, "other") {
			t.Errorf("node %s holds index other, whose creation was refused", id)
		}
		if !r.f.hasIndex(t, id, topoUID) {
			continue // a spare the change has not reached yet
		}
		st, body := acHTTP(t, r.f.urls[id], "GET", "/indexes/"+topoUID+"/settings/sortable-attributes", nil, "")
		if st != 200 {
			t.Fatalf("node %s sortable attributes: %d %s", id, st, body)
		}
		var attrs []string
		if err := json.Unmarshal(body, &attrs); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(attrs, "rev") {
			t.Errorf("node %s: sortable attributes %v after a refused settings update", id, attrs)
		}
	}
}

// expectRefusedTask accepts a call refused with
// miroir_topology_change_in_progress (409), at once or as its task's
// failure.
func expectRefusedTask(t *testing.T, c *Cluster, what string, info *meilisearch.TaskInfo, err error) {
	t.Helper()
	if err != nil {
		if code, st := topoErrCode(err); !errors.Is(err, ErrTopologyChangeInProgress) || code != CodeTopologyChangeInProgress || st != http.StatusConflict {
			t.Errorf("%s: %v (code %q, status %d), want %s (409)", what, err, code, st, CodeTopologyChangeInProgress)
		}
		return
	}
	task, err := c.WaitForTask(testCtx(t), info.TaskUID, 5*time.Millisecond)
	if err != nil {
		t.Fatalf("%s: wait for task %d: %v", what, info.TaskUID, err)
	}
	if task.Status != meilisearch.TaskStatusFailed || string(task.Error.Code) != CodeTopologyChangeInProgress {
		t.Errorf("%s: task %d %s %+v, want refused with %s", what, task.UID, task.Status, task.Error, CodeTopologyChangeInProgress)
	}
}

// progressHook is an Observer whose TopologyProgress runs fn.
type progressHook struct {
	NopObserver
	fn func(TopologyChange)
}

// TopologyProgress implements TopologyObserver.
func (h *progressHook) TopologyProgress(p TopologyChange) { h.fn(p) }

// TestTopologyResumeRechecksEarlierCopies: A stops once its backfill
// filled the new replicas (their marks cleared) and before the cutover
// checked its copies against their sources. Meanwhile a deletion and an
// update raced those copies: the sources lost a document and hold a newer
// version of another, the new replica kept the copies (simulated on the
// source node directly). B resumes; after the change, served by the new
// replica alone (RF 1), neither the deleted document nor the old version
// may be back.
func TestTopologyResumeRechecksEarlierCopies(t *testing.T) {
	f := startTopoFleet(t, []int{0, 0, 0}, 1, 8, 1)
	ctx := testCtx(t)
	ctxA, cancelA := context.WithCancel(ctx)
	defer cancelA()
	a := f.instance(t, f.initial, WithObserver(&progressHook{fn: func(p TopologyChange) {
		if p.Phase == PhaseCopy && p.DocumentsCopied > 0 {
			cancelA()
		}
	}}))
	b := f.instance(t, f.initial)
	acWaitOK(t, a)(a.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: topoUID, PrimaryKey: "id"}))
	var docs []map[string]any
	for i := range 200 {
		docs = append(docs, topoDocument(fmt.Sprintf("p%d", i), 0))
	}
	acWaitOK(t, a)(a.Index(topoUID).AddDocuments(ctx, docs, nil))
	waitTopoSettled(t, "A", a, 1)
	waitTopoSettled(t, "B", b, 1)

	target := f.plus(f.node("t3", 0))
	if err := a.ChangeTopology(ctxA, target); !errors.Is(err, context.Canceled) {
		t.Fatalf("A's ChangeTopology canceled once documents were copied: %v", err)
	}
	if tp := b.Topology(); tp.Change == nil || tp.Change.Phase != PhaseCopy {
		if tp = a.Topology(); tp.Change == nil || tp.Change.Phase != PhaseCopy {
			t.Fatalf("A stopped outside the copy phase: %+v", tp.Change)
		}
	}
	f.idle(t)
	onNew := f.rawNodeDocs(t, "t3", topoUID)
	if len(onNew) < 2 {
		t.Fatalf("the new node holds %d documents after the backfill", len(onNew))
	}
	ids := slices.Sorted(maps.Keys(onNew))
	gone, updated := ids[0], ids[1]
	source := func(id string) string {
		for _, n := range f.initial {
			if _, ok := f.rawNodeDocs(t, n.ID, topoUID)[id]; ok {
				return n.ID
			}
		}
		t.Fatalf("no node of the first topology holds %s", id)
		return ""
	}
	// The racing deletion, on the source only.
	if st, body := acHTTP(t, f.urls[source(gone)], "DELETE", "/indexes/"+topoUID+"/documents/"+gone, nil, ""); st != 202 {
		t.Fatalf("deleting %s on its source: %d %s", gone, st, body)
	}
	// The racing update, on the source only: a newer version.
	src := source(updated)
	newer := maps.Clone(f.rawNodeDocs(t, src, topoUID)[updated])
	v, _ := newer[versionField].(float64)
	newer[versionField], newer["title"] = int64(v)+1, "updated while copying"
	if st, body := acHTTP(t, f.urls[src], "POST", "/indexes/"+topoUID+"/documents", []map[string]any{newer}, ""); st != 202 {
		t.Fatalf("updating %s on its source: %d %s", updated, st, body)
	}
	f.idle(t)

	if err := b.ChangeTopology(ctx, target); err != nil {
		t.Fatalf("B resuming the change: %v", err)
	}
	waitTopoSettled(t, "B", b, 2)
	var d map[string]any
	err := b.Index(topoUID).GetDocument(ctx, gone, nil, &d)
	var me *meilisearch.Error
	if !errors.As(err, &me) || me.StatusCode != http.StatusNotFound {
		t.Errorf("document %s, deleted while A copied it, after the change: %v %v, want not found", gone, d, err)
	}
	d = nil
	if err := b.Index(topoUID).GetDocument(ctx, updated, nil, &d); err != nil || d["title"] != "updated while copying" {
		t.Errorf("document %s, updated while A copied it, after the change: %v %v, want the update", updated, d, err)
	}
	if raw := f.rawNodeDocs(t, "t3", topoUID); raw[gone] != nil || raw[updated]["title"] != "updated while copying" {
		t.Errorf("the new node after the change: %s %v, %s %v", gone, raw[gone], updated, raw[updated])
	}
}
