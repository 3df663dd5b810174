package miroir

// The settings transaction (settings_tx.go): a change lands on every node,
// the call returns at once with a task, transactions of one index
// serialise, those of several indexes do not wait for each other.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

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

func TestAuditSettingsUpdateLandsOnEveryNode(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 1}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	distinct := "title"
	info, err := ix.UpdateSettings(ctx, &meilisearch.Settings{
		RankingRules:         []string{"words", "typo", "n:desc", "proximity", "attribute", "sort", "exactness"},
		DistinctAttribute:    &distinct,
		SearchableAttributes: []string{"title", "body"},
		StopWords:            []string{"the", "a"},
		Synonyms:             map[string][]string{"car": {"auto"}},
		FilterableAttributes: []string{"n"},
		SortableAttributes:   []string{"n"},
		Pagination:           &meilisearch.Pagination{MaxTotalHits: 321},
		Faceting:             &meilisearch.Faceting{MaxValuesPerFacet: 17},
		SearchCutoffMs:       250,
	})
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != meilisearch.TaskTypeSettingsUpdate || info.IndexUID != "docs" {
		t.Errorf("TaskInfo %+v", info)
	}
	task := acWaitOK(t, f.c)(info, nil)
	if task.Type != meilisearch.TaskTypeSettingsUpdate {
		t.Errorf("task type %s", task.Type)
	}
	all := f.allSettings(t, "docs")
	for i, s := range all {
		if d := asDiff(s, all[0]); len(d) > 0 {
			t.Errorf("node %d differs from node 0: %v", i, d)
		}
	}
	s := all[0]
	checks := map[string]string{
		"rankingRules":         `["words","typo","n:desc","proximity","attribute","sort","exactness"]`,
		"distinctAttribute":    `"title"`,
		"searchableAttributes": `["title","body"]`,
		"synonyms":             `{"car":["auto"]}`,
		"sortableAttributes":   `["_miroir_v","n"]`, // _miroir_v: DESIGN §12
		"searchCutoffMs":       `250`,
	}
	for k, want := range checks {
		if asCanon(s[k]) != want {
			t.Errorf("%s on the nodes: %s, want %s", k, s[k], want)
		}
	}
	if sw := asStrings(s["stopWords"]); !slices.Contains(sw, "the") || !slices.Contains(sw, "a") {
		t.Errorf("stopWords %s", s["stopWords"])
	}
	if fa := asStrings(s["filterableAttributes"]); !slices.Contains(fa, "n") || !slices.Contains(fa, "_miroir_shard") {
		t.Errorf("filterableAttributes on the nodes %s, want n and _miroir_shard", s["filterableAttributes"])
	}
	if !strings.Contains(string(s["pagination"]), "321") || !strings.Contains(string(s["faceting"]), "17") {
		t.Errorf("pagination %s faceting %s", s["pagination"], s["faceting"])
	}
	// Reads from the cluster see the same, without _miroir_shard.
	got, err := ix.GetSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.FilterableAttributes, []string{"n"}) || got.DistinctAttribute == nil || *got.DistinctAttribute != "title" || got.Pagination.MaxTotalHits != 321 {
		t.Errorf("GetSettings %+v", got)
	}
	// GetSettings works with a node down (one healthy node).
	f.stop(t, 0)
	if _, err := ix.GetSettings(ctx); err != nil {
		t.Errorf("GetSettings with a node down: %v", err)
	}
}

func TestAuditSettingsCallReturnsAtOnce(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	for _, s := range f.srv {
		s.PauseTasks()
	}
	type result struct {
		info *meilisearch.TaskInfo
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		info, err := ix.UpdateStopWords(ctx, &[]string{"paused"})
		ch <- result{info, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-time.After(20 * time.Second):
		for _, s := range f.srv {
			s.ResumeTasks()
		}
		t.Fatal("UpdateStopWords blocked while node tasks were paused: the call must return its TaskInfo at once")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	task, err := f.c.GetTask(ctx, r.info.TaskUID)
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != meilisearch.TaskStatusEnqueued && task.Status != meilisearch.TaskStatusProcessing {
		t.Errorf("transaction with paused nodes: status %s, want enqueued or processing", task.Status)
	}
	for _, s := range f.srv {
		s.ResumeTasks()
	}
	acWaitOK(t, f.c)(r.info, nil)
	for i, s := range f.allSettings(t, "docs") {
		if !slices.Contains(asStrings(s["stopWords"]), "paused") {
			t.Errorf("node %d stopWords %s", i, s["stopWords"])
		}
	}
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

// Two transactions on one index never interleave: the node tasks of one
// all end before the first node task of the next is enqueued.
func TestAuditSettingsConcurrentTransactionsSerialise(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	const n = 5
	infos := make([]*meilisearch.TaskInfo, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := ix.UpdateStopWords(ctx, &[]string{fmt.Sprintf("marker%d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			infos[i] = info
		}()
	}
	wg.Wait()
	for _, info := range infos {
		if info == nil {
			t.FailNow()
		}
		acWaitOK(t, f.c)(info, nil)
	}
	type span struct{ start, end time.Time }
	spans := map[string]*span{}
	for i := range f.srv {
		res, err := meilisearch.New(f.srv[i].URL()).GetTasks(ctx, &meilisearch.TasksQuery{
			IndexUIDS: []string{"docs"}, Types: []meilisearch.TaskType{meilisearch.TaskTypeSettingsUpdate}, Limit: 1000,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, nt := range res.Results {
			var marker string
			for _, w := range nt.Details.StopWords {
				if strings.HasPrefix(w, "marker") {
					marker = w
				}
			}
			if marker == "" {
				continue
			}
			sp := spans[marker]
			if sp == nil {
				sp = &span{start: nt.EnqueuedAt, end: nt.FinishedAt}
				spans[marker] = sp
			}
			if nt.EnqueuedAt.Before(sp.start) {
				sp.start = nt.EnqueuedAt
			}
			if nt.FinishedAt.After(sp.end) {
				sp.end = nt.FinishedAt
			}
		}
	}
	if len(spans) != n {
		t.Fatalf("found node tasks of %d transactions, want %d", len(spans), n)
	}
	var list []*span
	var names []string
	for k, sp := range spans {
		list = append(list, sp)
		names = append(names, k)
	}
	for a := range list {
		for b := range list {
			if a >= b {
				continue
			}
			x, y := list[a], list[b]
			if x.start.Before(y.end) && y.start.Before(x.end) {
				t.Errorf("transactions %s [%v..%v] and %s [%v..%v] interleave on the nodes",
					names[a], x.start.Format(time.StampMicro), x.end.Format(time.StampMicro),
					names[b], y.start.Format(time.StampMicro), y.end.Format(time.StampMicro))
			}
		}
	}
	all := f.allSettings(t, "docs")
	for i := range all {
		if d := asDiff(all[i], all[0]); len(d) > 0 {
			t.Errorf("nodes disagree after concurrent transactions: %v", d)
		}
	}
	drift, err := f.c.SettingsDrift(ctx, "docs")
	if err != nil || drift.Drifted() {
		t.Errorf("drift after concurrent transactions: %v %v", drift, err)
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

// TestSettingsCreatesMissingIndex: as on Meilisearch, a settings update
// of a missing index creates it (here: on every node, managed by miroir).
func TestSettingsCreatesMissingIndex(t *testing.T) {
	f := newSettingsFleet(t, 3)
	ctx := context.Background()
	fresh := &settingsFleet{testFleet: f.testFleet, t: t, direct: f.direct, uid: "fresh"}
	fresh.mustSucceed(fresh.index().UpdateFilterableAttributes(ctx, &[]interface{}{"genre"}))
	if s := fresh.assertUniform(); string(s["filterableAttributes"]) != `["genre","_miroir_shard","_miroir_v"]` {
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
		if err != nil || !slices.Equal(*got, []string{versionField, "year"}) { // _miroir_v: DESIGN §12
			t.Errorf("node %d sortable %v %v", i, got, err)
		}
	}
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
