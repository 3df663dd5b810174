package miroir

// Applying a settings change (settings_apply.go): node by node or all at
// once, rolled back on failure or timeout, an incomplete rollback
// reported, a node down before the change.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

func isRankingRulesPut(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/settings/ranking-rules")
}

// TestSettingsTxRollback injects a failure at node k of 3 (a failed task,
// a stopped node) with both strategies: every node must end with its
// original settings and the task must fail naming the node and the
// rollback outcome.
func TestSettingsTxRollback(t *testing.T) {
	faults := []string{"taskFailed", "stopped"}
	for _, st := range strategies {
		for _, fault := range faults {
			for k := 0; k < 3; k++ {
				t.Run(fmt.Sprintf("%s/%s/node%d", st.name, fault, k), func(t *testing.T) {
					t.Parallel() // each case has its own fleet
					f := newSettingsFleet(t, 3, WithSettingsStrategy(st.s))
					ctx := context.Background()
					idx := f.index()
					// A non-default baseline.
					f.mustSucceed(idx.UpdateSettings(ctx, &meilisearch.Settings{
						RankingRules:         []string{"words", "typo", "proximity", "attributeRank", "sort", "wordPosition", "exactness", "year:asc"},
						FilterableAttributes: []string{"genre"},
						StopWords:            []string{"the"},
					}))
					orig := f.allSettings()
					before, _ := f.c.indexSettings(ctx, f.uid)

					switch fault {
					case "taskFailed":
						clear := f.srv[k].FailTasks(isRankingRulesPut, "internal")
						defer clear()
					case "stopped":
						f.c.settingsTx().beforeApply = func(n *node) {
							if n.ID == f.id(k) {
								f.srv[k].Stop()
							}
						}
					}
					task := f.wait(idx.UpdateRankingRules(ctx, &[]string{"typo", "words"}))
					if fault == "stopped" {
						if err := f.srv[k].Start(); err != nil {
							t.Fatal(err)
						}
					}
					if task.Status != meilisearch.TaskStatusFailed {
						t.Fatalf("status %s, want failed", task.Status)
					}
					msg := task.Error.Message
					if !strings.Contains(msg, "node "+f.id(k)) {
						t.Errorf("error does not name node %s: %s", f.id(k), msg)
					}
					if !strings.Contains(msg, "rollback complete") {
						t.Errorf("error does not report a complete rollback: %s", msg)
					}
					if task.Error.Code != CodeSettingsRollback {
						t.Errorf("code %s", task.Error.Code)
					}
					t.Log(msg)
					f.assertSettings(orig)
					after, _ := f.c.indexSettings(ctx, f.uid)
					if !slices.Equal(after.RankingRules, before.RankingRules) {
						t.Errorf("cache changed by a rolled back transaction: %v", after.RankingRules)
					}
				})
			}
		}
	}
}

// Failure at node k of N (task failure and node stopped, k first, middle and
// last): every node ends with its original settings and the cluster task
// fails with an error naming the node and the rollback outcome.
func TestAuditSettingsRollback(t *testing.T) {
	for _, strategy := range []struct {
		name string
		s    SettingsStrategy
	}{{"sequential", Sequential}, {"parallel", Parallel}} {
		for _, kind := range []string{"task-failure", "node-stopped"} {
			for _, k := range []int{0, 1, 2} {
				if strategy.s == Parallel && k == 1 {
					continue // first and last are enough for the parallel strategy
				}
				name := fmt.Sprintf("%s/%s/k=%d", strategy.name, kind, k)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry, opts: []Option{WithSettingsStrategy(strategy.s)}})
					ix := f.create(t, "docs", "id")
					ctx := testCtx(t)
					acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 30), nil))
					acWaitOK(t, f.c)(ix.UpdateSettings(ctx, &meilisearch.Settings{
						StopWords:            []string{"orig"},
						RankingRules:         []string{"words", "typo", "proximity", "n:asc", "attribute", "sort", "exactness"},
						FilterableAttributes: []string{"n"},
					}))
					before := f.allSettings(t, "docs")
					var once atomic.Bool
					switch kind {
					case "task-failure":
						f.srv[k].FailTasks(func(r *http.Request) bool {
							return asIsSettingsWrite(r) && once.CompareAndSwap(false, true)
						}, "internal")
					case "node-stopped":
						srv := f.srv[k]
						srv.FailRequests(func(r *http.Request) bool {
							if asIsSettingsWrite(r) && once.CompareAndSwap(false, true) {
								go srv.Stop()
								return true
							}
							return false
						}, 503, "internal")
					}
					info, err := ix.UpdateSettings(ctx, &meilisearch.Settings{
						StopWords:            []string{"changed"},
						Synonyms:             map[string][]string{"x": {"y"}},
						FilterableAttributes: []string{"title"},
					})
					if err != nil {
						t.Fatalf("UpdateSettings: %v", err)
					}
					task := acWait(t, f.c)(info, nil)
					if !once.Load() {
						t.Fatalf("the injected failure never triggered on n%d", k)
					}
					if task.Status != meilisearch.TaskStatusFailed {
						t.Fatalf("transaction with a failure on n%d: %s, want failed", k, task.Status)
					}
					msg := task.Error.Message
					if !strings.Contains(msg, fmt.Sprintf("n%d", k)) {
						t.Errorf("error does not name the failing node n%d: %q", k, msg)
					}
					low := strings.ToLower(msg)
					if !strings.Contains(low, "rollback") && !strings.Contains(low, "rolled back") {
						t.Errorf("error does not give the rollback outcome: %q", msg)
					}
					if kind == "node-stopped" {
						if err := f.srv[k].Start(); err != nil {
							t.Fatal(err)
						}
						eventually(t, "node back", func() bool { return f.healthy(k) })
					}
					after := f.allSettings(t, "docs")
					for i := range after {
						if d := asDiff(after[i], before[i]); len(d) > 0 {
							t.Errorf("node n%d does not hold its original settings after rollback: %v", i, d)
						}
					}
					// The cache follows the rollback: reads show the originals.
					got, err := ix.GetSettings(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got.StopWords, []string{"orig"}) || !slices.Equal(got.FilterableAttributes, []string{"n"}) {
						t.Errorf("GetSettings after rollback: stopWords %v filterable %v", got.StopWords, got.FilterableAttributes)
					}
				})
			}
		}
	}
}

// TestSettingsTxTimeout: a node whose task does not finish in time fails
// the transaction; the rollback is queued behind the pending change.
func TestSettingsTxTimeout(t *testing.T) {
	f := newSettingsFleet(t, 3, WithSettingsTimeout(300*time.Millisecond))
	ctx := context.Background()
	e := f.c.settingsTx()
	orig := f.allSettings()
	f.srv[1].PauseTasks()
	e.beforeRollback = func() { f.srv[1].ResumeTasks() }
	task := f.wait(f.index().UpdateStopWords(ctx, &[]string{"a", "an"}))
	if task.Status != meilisearch.TaskStatusFailed {
		t.Fatalf("status %s", task.Status)
	}
	msg := task.Error.Message
	for _, want := range []string{"node n1", "did not finish within", "rollback complete", "n0", "n1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	f.assertSettings(orig)
}

// DESIGN §7 / issue 5: "on any failure (task failed, node unreachable,
// timeout), re-applies each already-changed node's snapshot ... and fails the
// cluster task". A node whose settings task never finishes makes the
// transaction time out (WithSettingsTimeout) and roll back.
func TestAuditSettingsTimeoutOptionRollsBack(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry, opts: []Option{WithSettingsTimeout(300 * time.Millisecond)}})
	ix := f.create(t, "docs", "id")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	acWaitOK(t, f.c)(ix.UpdateStopWords(ctx, &[]string{"orig"}))
	before := f.allSettings(t, "docs")
	f.srv[1].PauseTasks()
	defer f.srv[1].ResumeTasks()
	info, err := ix.UpdateStopWords(ctx, &[]string{"changed"})
	if err != nil {
		t.Fatal(err)
	}
	task, err := f.c.WaitForTask(ctx, info.TaskUID, 10*time.Millisecond)
	if err != nil {
		t.Fatalf("transaction did not time out: %v", err)
	}
	if task.Status != meilisearch.TaskStatusFailed || !strings.Contains(task.Error.Message, "n1") || !strings.Contains(strings.ToLower(task.Error.Message), "roll") {
		t.Errorf("timeout: %s %+v", task.Status, task.Error)
	}
	f.srv[1].ResumeTasks()
	f.requireSameEach(t, "after timeout rollback", f.allSettings(t, "docs"), before)
}

func TestSettingsTxCanceledNodeTaskOutcome(t *testing.T) {
	// sendOutcome: an answer means unchanged, a refused dial unchanged, a
	// lost answer unknown.
	if sendOutcome(&meilisearch.Error{ErrCode: meilisearch.APIError}) != unchanged {
		t.Error("API error must be unchanged")
	}
}

// TestSettingsTxRollbackIncomplete: a restore that fails is reported as
// such, with miroir's code, the nodes concerned, and the cache dropped.
func TestSettingsTxRollbackIncomplete(t *testing.T) {
	f := newSettingsFleet(t, 3)
	ctx := context.Background()
	if _, err := f.c.indexSettings(ctx, f.uid); err != nil {
		t.Fatal(err)
	}
	defer f.srv[1].FailTasks(isRankingRulesPut, "internal")()
	defer f.srv[0].FailRequests(func(r *http.Request) bool {
		return r.Method == http.MethodPatch && strings.HasSuffix(r.URL.Path, "/settings")
	}, http.StatusInternalServerError, "internal")()
	task := f.wait(f.index().UpdateRankingRules(ctx, &[]string{"typo", "words"}))
	if task.Status != meilisearch.TaskStatusFailed || task.Error.Code != CodeSettingsRollback {
		t.Fatalf("task %s %+v", task.Status, task.Error)
	}
	msg := task.Error.Message
	for _, want := range []string{"failed on node n1", "rollback INCOMPLETE", "restoring node n0 failed", "RepairSettings"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	st, _ := f.c.state(ctx, f.uid)
	st.mu.Lock()
	cached := st.settings
	st.mu.Unlock()
	if cached != nil {
		t.Error("cache kept after an incomplete rollback")
	}
	// The drift is visible and repairable once the node accepts writes.
	d, err := f.c.SettingsDrift(ctx, f.uid)
	if err != nil || !slices.Equal(d.DriftedNodes(), []string{"n0"}) {
		t.Fatalf("drift %v %v", d, err)
	}
}

// When the rollback itself fails on a node, the error says the rollback did
// not complete and names that node.
func TestAuditSettingsRollbackIncompleteReported(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.UpdateStopWords(ctx, &[]string{"orig"}))
	var n0writes, n2writes atomic.Int64
	f.srv[0].FailTasks(func(r *http.Request) bool {
		return asIsSettingsWrite(r) && n0writes.Add(1) >= 2 // the restore fails
	}, "internal")
	f.srv[2].FailTasks(func(r *http.Request) bool {
		return asIsSettingsWrite(r) && n2writes.Add(1) == 1 // the change fails
	}, "internal")
	task := acWait(t, f.c)(ix.UpdateStopWords(ctx, &[]string{"changed"}))
	if task.Status != meilisearch.TaskStatusFailed {
		t.Fatalf("status %s", task.Status)
	}
	if n2writes.Load() == 0 {
		t.Fatalf("the change never reached n2")
	}
	msg := task.Error.Message
	low := strings.ToLower(msg)
	if !strings.Contains(msg, "n2") {
		t.Errorf("error does not name the failing node n2: %q", msg)
	}
	t.Logf("n0 settings writes: %d; message: %s", n0writes.Load(), msg)
	if n0writes.Load() >= 2 {
		if !strings.Contains(msg, "n0") || !(strings.Contains(low, "incomplete") || strings.Contains(low, "not complete") || strings.Contains(low, "did not complete")) {
			t.Errorf("rollback failed on n0 but the error does not say the rollback is incomplete on n0: %q", msg)
		}
	}
}

// A node already unreachable when the transaction starts fails it, naming
// the node; no node keeps the change.
func TestAuditSettingsNodeDownBeforeTransaction(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.UpdateStopWords(ctx, &[]string{"orig"}))
	before := f.allSettings(t, "docs")
	f.stop(t, 2)
	info, err := ix.UpdateStopWords(ctx, &[]string{"changed"})
	if err == nil {
		task := acWait(t, f.c)(info, nil)
		if task.Status != meilisearch.TaskStatusFailed || !strings.Contains(task.Error.Message, "n2") {
			t.Errorf("transaction with n2 down: %s %+v, want failed naming n2", task.Status, task.Error)
		}
	} else if !strings.Contains(err.Error(), "n2") {
		t.Errorf("transaction with n2 down: %v, want an error naming n2", err)
	}
	f.start(t, 2)
	f.requireSameEach(t, "after a transaction with a node down", f.allSettings(t, "docs"), before)
}

// Sequential strategy: each node's settings task has finished before the
// next node's is enqueued.
func TestAuditSettingsSequentialNodeByNode(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.UpdateStopWords(ctx, &[]string{"seqmarker"}))
	type nt struct {
		node       string
		enq, start time.Time
		fin        time.Time
	}
	var tasks []nt
	for i := range f.srv {
		res, err := meilisearch.New(f.srv[i].URL()).GetTasks(ctx, &meilisearch.TasksQuery{
			IndexUIDS: []string{"docs"}, Types: []meilisearch.TaskType{meilisearch.TaskTypeSettingsUpdate}, Limit: 100,
		})
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, x := range res.Results {
			if slices.Contains(x.Details.StopWords, "seqmarker") {
				tasks = append(tasks, nt{f.nodes[i].ID, x.EnqueuedAt, x.StartedAt, x.FinishedAt})
				found++
			}
		}
		if found != 1 {
			t.Errorf("node %s has %d settings tasks for the change, want 1", f.nodes[i].ID, found)
		}
	}
	sort.Slice(tasks, func(a, b int) bool { return tasks[a].enq.Before(tasks[b].enq) })
	for k := 1; k < len(tasks); k++ {
		if tasks[k].enq.Before(tasks[k-1].fin) {
			t.Errorf("node %s's task was enqueued (%v) before node %s's finished (%v): not node by node",
				tasks[k].node, tasks[k].enq.Format(time.StampMicro), tasks[k-1].node, tasks[k-1].fin.Format(time.StampMicro))
		}
	}
}
