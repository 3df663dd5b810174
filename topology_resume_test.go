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
