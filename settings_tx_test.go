package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// settingsFleet is a fleet of n nodes (IDs n0..n{n-1}, one group, 4
// shards, no background health checks) holding index "movies", with t
// kept so that its helpers need no t argument.
type settingsFleet struct {
	*testFleet
	t      *testing.T
	direct []meilisearch.ServiceManager
	uid    string
}

func newSettingsFleet(t *testing.T, n int, opts ...Option) *settingsFleet {
	t.Helper()
	base := []Option{WithNodeTimeout(2 * time.Second)}
	f := &settingsFleet{t: t, uid: "movies",
		testFleet: startFleet(t, fleetSpec{groups: make([]int, n), shards: 4, timing: noProbes, opts: append(base, opts...)})}
	for _, s := range f.srv {
		f.direct = append(f.direct, meilisearch.New(s.URL()))
	}
	c := f.c
	// Create the index on every node directly: the Cluster adopts an
	// empty index (miroir_meta record, _miroir_shard filterable).
	ctx := context.Background()
	for i, d := range f.direct {
		info, err := d.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: f.uid, PrimaryKey: "id"})
		if err != nil {
			t.Fatalf("create index on node %d: %v", i, err)
		}
		f.waitNode(i, info.TaskUID)
	}
	if _, err := c.state(ctx, f.uid); err != nil {
		t.Fatalf("state: %v", err)
	}
	return f
}

func (f *settingsFleet) index() *Index { return &Index{c: f.c, uid: f.uid} }

func (f *settingsFleet) id(i int) string { return fmt.Sprintf("n%d", i) }

func (f *settingsFleet) waitNode(i int, uid int64) *meilisearch.Task {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t, err := f.direct[i].WaitForTask(ctx, uid, 5*time.Millisecond)
	if err != nil {
		f.t.Fatalf("node %d task %d: %v", i, uid, err)
	}
	return t
}

// wait waits for a cluster task and returns it.
func (f *settingsFleet) wait(info *meilisearch.TaskInfo, err error) *meilisearch.Task {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("call: %v", err)
	}
	if info.Type != meilisearch.TaskTypeSettingsUpdate || info.IndexUID != f.uid {
		f.t.Fatalf("task info %+v: want a settingsUpdate task of %s", info, f.uid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t, err := f.c.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
	if err != nil {
		f.t.Fatalf("wait task %d: %v", info.TaskUID, err)
	}
	return t
}

func (f *settingsFleet) mustSucceed(info *meilisearch.TaskInfo, err error) {
	f.t.Helper()
	if t := f.wait(info, err); t.Status != meilisearch.TaskStatusSucceeded {
		f.t.Fatalf("task %d: status %s, error %+v", t.UID, t.Status, t.Error)
	}
}

// nodeSettings reads node i's settings directly.
func (f *settingsFleet) nodeSettings(i int) rawSettings {
	f.t.Helper()
	resp, err := http.Get(f.srv[i].URL() + "/indexes/" + f.uid + "/settings")
	if err != nil {
		f.t.Fatalf("node %d: %v", i, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		f.t.Fatalf("node %d: %d %s", i, resp.StatusCode, b)
	}
	var s rawSettings
	if err := json.Unmarshal(b, &s); err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *settingsFleet) allSettings() []rawSettings {
	out := make([]rawSettings, len(f.srv))
	for i := range f.srv {
		out[i] = f.nodeSettings(i)
	}
	return out
}

// sameSettings reports the first difference between two settings objects.
func sameSettings(a, b rawSettings) string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for _, k := range sortedMapKeys(keys) {
		if !settingEqual(k, a[k], b[k]) {
			return fmt.Sprintf("%s: %s vs %s", k, a[k], b[k])
		}
	}
	return ""
}

func (f *settingsFleet) assertSettings(want []rawSettings) {
	f.t.Helper()
	for i := range f.srv {
		if d := sameSettings(f.nodeSettings(i), want[i]); d != "" {
			f.t.Errorf("node %d: settings differ from expected: %s", i, d)
		}
	}
}

func (f *settingsFleet) assertUniform() rawSettings {
	f.t.Helper()
	all := f.allSettings()
	for i := 1; i < len(all); i++ {
		if d := sameSettings(all[0], all[i]); d != "" {
			f.t.Errorf("node %d differs from node 0: %s", i, d)
		}
	}
	return all[0]
}

func isRankingRulesPut(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/settings/ranking-rules")
}

var strategies = []struct {
	name string
	s    SettingsStrategy
}{{"sequential", Sequential}, {"parallel", Parallel}}

func TestSettingsTxUpdateLandsEverywhere(t *testing.T) {
	for _, st := range strategies {
		t.Run(st.name, func(t *testing.T) {
			f := newSettingsFleet(t, 3, WithSettingsStrategy(st.s))
			ctx := context.Background()
			idx := f.index()
			rules := []string{"words", "typo", "year:desc", "proximity", "attributeRank", "sort", "wordPosition", "exactness"}
			start := time.Now()
			info, err := idx.UpdateRankingRules(ctx, &rules)
			if err != nil {
				t.Fatal(err)
			}
			if info.Status != meilisearch.TaskStatusEnqueued {
				t.Errorf("status %s, want enqueued", info.Status)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("the call took %v: it must return at once", d)
			}
			task := f.wait(info, nil)
			if task.Status != meilisearch.TaskStatusSucceeded || task.Type != meilisearch.TaskTypeSettingsUpdate {
				t.Fatalf("task %+v", task)
			}
			if !slices.Equal(task.Details.RankingRules, rules) {
				t.Errorf("details.rankingRules = %v", task.Details.RankingRules)
			}
			s := f.assertUniform()
			var got []string
			_ = json.Unmarshal(s["rankingRules"], &got)
			if !slices.Equal(got, rules) {
				t.Errorf("node ranking rules %v, want %v", got, rules)
			}
			cached, err := f.c.indexSettings(ctx, f.uid)
			if err != nil || !slices.Equal(cached.RankingRules, rules) {
				t.Errorf("cache: %v %v", cached, err)
			}
			rr, err := idx.GetRankingRules(ctx)
			if err != nil || !slices.Equal(*rr, rules) {
				t.Errorf("GetRankingRules = %v, %v", rr, err)
			}
		})
	}
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

// TestSettingsTxInvalidValue: a value every node refuses fails at the
// first node with Meilisearch's own code; nothing changes.
func TestSettingsTxInvalidValue(t *testing.T) {
	f := newSettingsFleet(t, 3)
	ctx := context.Background()
	orig := f.allSettings()
	// oneTypo above the stored twoTypos (9): well-formed, so it passes the
	// request-time checks, but every node refuses it when applying.
	task := f.wait(f.c.updateSettingsRaw(ctx, f.uid, "typo-tolerance", http.MethodPatch, []byte(`{"minWordSizeForTypos":{"oneTypo":10}}`)))
	if task.Status != meilisearch.TaskStatusFailed {
		t.Fatalf("status %s", task.Status)
	}
	if task.Error.Code != "invalid_settings_typo_tolerance" {
		t.Errorf("code %q, want the node's invalid_settings_typo_tolerance (%s)", task.Error.Code, task.Error.Message)
	}
	if !strings.Contains(task.Error.Message, "node n0") || !strings.Contains(task.Error.Message, "no node had been changed") {
		t.Errorf("message: %s", task.Error.Message)
	}
	f.assertSettings(orig)
}

// TestSettingsTxSerialises: transactions of one index run one at a time
// in submission order, while every call returns at once.
func TestSettingsTxSerialises(t *testing.T) {
	for _, st := range strategies {
		t.Run(st.name, func(t *testing.T) {
			f := newSettingsFleet(t, 3, WithSettingsStrategy(st.s))
			ctx := context.Background()
			idx := f.index()
			f.srv[0].PauseTasks()
			var infos []*meilisearch.TaskInfo
			var mu sync.Mutex
			start := time.Now()
			for i := range 6 {
				words := []string{fmt.Sprintf("w%d", i)}
				info, err := idx.UpdateStopWords(ctx, &words)
				if err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				infos = append(infos, info)
				mu.Unlock()
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("6 calls took %v with node tasks paused: they must return at once", d)
			}
			time.Sleep(20 * time.Millisecond)
			for _, info := range infos {
				tk, err := f.c.GetTask(ctx, info.TaskUID)
				if err != nil {
					t.Fatal(err)
				}
				if tk.Status == meilisearch.TaskStatusSucceeded {
					t.Errorf("task %d succeeded while node 0 was paused", info.TaskUID)
				}
			}
			f.srv[0].ResumeTasks()
			var tasks []*meilisearch.Task
			for _, info := range infos {
				tk := f.wait(info, nil)
				if tk.Status != meilisearch.TaskStatusSucceeded {
					t.Fatalf("task %d: %s %+v", tk.UID, tk.Status, tk.Error)
				}
				tasks = append(tasks, tk)
			}
			for i := 1; i < len(tasks); i++ {
				if tasks[i].UID <= tasks[i-1].UID {
					t.Errorf("task uids not increasing")
				}
				if tasks[i].StartedAt.Before(tasks[i-1].FinishedAt) {
					t.Errorf("task %d started at %v before task %d finished at %v: transactions interleaved",
						tasks[i].UID, tasks[i].StartedAt, tasks[i-1].UID, tasks[i-1].FinishedAt)
				}
			}
			s := f.assertUniform()
			if string(s["stopWords"]) != `["w5"]` {
				t.Errorf("final stop words %s, want the last submitted", s["stopWords"])
			}
		})
	}
}

// TestSettingsTxQueuesPerIndex: a blocked transaction on one index does
// not hold up another index's.
func TestSettingsTxQueuesPerIndex(t *testing.T) {
	f := newSettingsFleet(t, 2)
	ctx := context.Background()
	for i, d := range f.direct {
		info, err := d.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "books", PrimaryKey: "id"})
		if err != nil {
			t.Fatal(err)
		}
		f.waitNode(i, info.TaskUID)
	}
	release := make(chan struct{})
	blocked := make(chan struct{})
	var first atomic.Bool
	f.c.settingsTx().beforeApply = func(n *node) {
		if n.ID == "n0" && first.CompareAndSwap(false, true) {
			close(blocked)
			<-release
		}
	}
	moviesInfo, err := f.index().UpdateStopWords(ctx, &[]string{"x"})
	if err != nil {
		t.Fatal(err)
	}
	<-blocked // movies' transaction is now held before applying on n0
	books := &Index{c: f.c, uid: "books"}
	f2 := &settingsFleet{testFleet: f.testFleet, t: t, direct: f.direct, uid: "books"}
	f2.mustSucceed(books.UpdateStopWords(ctx, &[]string{"y"}))
	close(release)
	f.mustSucceed(moviesInfo, nil)
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

// TestSettingsCreatesMissingIndex: as on Meilisearch, a settings update
// of a missing index creates it (here: on every node, managed by miroir).
func TestSettingsCreatesMissingIndex(t *testing.T) {
	f := newSettingsFleet(t, 3)
	ctx := context.Background()
	fresh := &settingsFleet{testFleet: f.testFleet, t: t, direct: f.direct, uid: "fresh"}
	fresh.mustSucceed(fresh.index().UpdateFilterableAttributes(ctx, &[]interface{}{"genre"}))
	if s := fresh.assertUniform(); string(s["filterableAttributes"]) != `["genre","_miroir_shard"]` {
		t.Errorf("filterable %s", s["filterableAttributes"])
	}
	// Another Cluster over the same nodes sees a managed index.
	c2 := f.newCluster(t, WithShards(4), WithHealthCheck(0, 0, 0, 0))
	if _, err := c2.state(ctx, "fresh"); err != nil {
		t.Errorf("state on a second cluster: %v", err)
	}
	// Repair and drift do not create indexes.
	if _, err := f.c.RepairSettings(ctx, "nope", nil); apiCode(err) != "index_not_found" {
		t.Errorf("repair of a missing index: %v", err)
	}
	if _, err := f.c.SettingsDrift(ctx, "nope"); apiCode(err) != "index_not_found" {
		t.Errorf("drift of a missing index: %v", err)
	}
}

// TestSettingsVerifiedBeforeWrites: a node that comes back from being
// unhealthy with other settings is repaired before documents reach it.
func TestSettingsVerifiedBeforeWrites(t *testing.T) {
	f := newSettingsFleet(t, 3)
	ctx := context.Background()
	idx := f.index()
	f.mustSucceed(idx.UpdateSettings(ctx, &meilisearch.Settings{SearchableAttributes: []string{"title"}, FilterableAttributes: []string{"genre"}}))
	// Node 1 goes down and comes back having lost its settings.
	n1 := f.c.nodes[1]
	for range f.c.opts.failThreshold {
		n1.markFailure()
	}
	if n1.isHealthy() {
		t.Fatal("node 1 still healthy")
	}
	info, err := f.direct[1].Index(f.uid).ResetSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.waitNode(1, info.TaskUID)
	for range f.c.opts.okThreshold {
		n1.markSuccess()
	}
	docs := []map[string]any{}
	for i := range 40 {
		docs = append(docs, map[string]any{"id": i, "title": fmt.Sprintf("movie %d", i), "genre": "drama"})
	}
	f.mustSucceedAny(idx.AddDocuments(ctx, &docs, nil))
	s := f.assertUniform()
	if string(s["searchableAttributes"]) != `["title"]` || string(s["filterableAttributes"]) != `["genre","_miroir_shard"]` {
		t.Errorf("node settings after the write: %s %s", s["searchableAttributes"], s["filterableAttributes"])
	}
}

// mustSucceedAny waits for a cluster task of any type.
func (f *settingsFleet) mustSucceedAny(info *meilisearch.TaskInfo, err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tk, err := f.c.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
	if err != nil || tk.Status != meilisearch.TaskStatusSucceeded {
		f.t.Fatalf("task %d: %v %+v", info.TaskUID, err, tk)
	}
}

// TestSettingsRightAfterCreate: as on one Meilisearch, a settings update
// sent right after CreateIndex succeeds although the nodes have not yet
// processed their creation tasks.
func TestSettingsRightAfterCreate(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: make([]int, 3), shards: 4, timing: newDefaults, opts: []Option{WithHealthCheck(0, 0, 0, 0)}})
	c, srvs := f.c, f.srv
	ctx := context.Background()
	srvs[1].PauseTasks()
	created, err := c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "fresh", PrimaryKey: "id"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Index("fresh").UpdateSettings(ctx, &meilisearch.Settings{SortableAttributes: []string{"year"}})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, srvs[1].ResumeTasks)
	for _, uid := range []int64{created.TaskUID, info.TaskUID} {
		task, err := c.WaitForTask(ctx, uid, 5*time.Millisecond)
		if err != nil || task.Status != meilisearch.TaskStatusSucceeded {
			t.Fatalf("task %d: %+v %v", uid, task, err)
		}
	}
	for i, s := range srvs {
		got, err := meilisearch.New(s.URL()).Index("fresh").GetSortableAttributes(ctx)
		if err != nil || len(*got) != 1 || (*got)[0] != "year" {
			t.Errorf("node %d sortable %v %v", i, got, err)
		}
	}
}
