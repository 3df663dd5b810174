package miroir

// Black-box acceptance audit of settings (DESIGN.md §7 and issue 5).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// asCanon re-encodes raw JSON with sorted keys.
func asCanon(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func asDiff(a, b map[string]json.RawMessage) []string {
	var out []string
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for k := range keys {
		if asCanon(a[k]) != asCanon(b[k]) {
			out = append(out, fmt.Sprintf("%s: %s vs %s", k, asCanon(a[k]), asCanon(b[k])))
		}
	}
	sort.Strings(out)
	return out
}

func asIsSettingsWrite(r *http.Request) bool {
	return r.Method != http.MethodGet && strings.Contains(r.URL.Path, "/settings")
}

func asStrings(raw json.RawMessage) []string {
	var v []any
	_ = json.Unmarshal(raw, &v)
	var out []string
	for _, x := range v {
		if s, ok := x.(string); ok {
			out = append(out, s)
		} else {
			b, _ := json.Marshal(x)
			out = append(out, string(b))
		}
	}
	return out
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
		"sortableAttributes":   `["n"]`,
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

func TestAuditSettingsShardFieldAlwaysFilterable(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8, timing: oneRetry, proxy: true})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	nodeFA := func() [][]string {
		var out [][]string
		for _, s := range f.allSettings(t, "docs") {
			fa := asStrings(s["filterableAttributes"])
			sort.Strings(fa)
			out = append(out, fa)
		}
		return out
	}
	expectNodes := func(what string, want ...string) {
		t.Helper()
		sort.Strings(want)
		for i, fa := range nodeFA() {
			if !slices.Equal(fa, want) {
				t.Errorf("%s: node %d filterable %v, want %v", what, i, fa, want)
			}
		}
	}
	expectRead := func(what string, want ...string) {
		t.Helper()
		fa, err := ix.GetFilterableAttributes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, x := range *fa {
			if s, ok := x.(string); ok {
				got = append(got, s)
			} else {
				b, _ := json.Marshal(x)
				got = append(got, string(b))
			}
		}
		if len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
			t.Errorf("%s: GetFilterableAttributes %v, want %v", what, got, want)
		}
		st, err := ix.GetSettings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(st.FilterableAttributes, "_miroir_shard") {
			t.Errorf("%s: GetSettings shows _miroir_shard", what)
		}
	}
	expectNodes("after creation", "_miroir_shard")
	expectRead("after creation")

	acWaitOK(t, f.c)(ix.UpdateFilterableAttributes(ctx, &[]any{"genre"}))
	expectNodes("UpdateFilterableAttributes", "genre", "_miroir_shard")
	expectRead("UpdateFilterableAttributes", "genre")

	acWaitOK(t, f.c)(ix.UpdateSettings(ctx, &meilisearch.Settings{FilterableAttributes: []string{"year", "genre"}}))
	expectNodes("UpdateSettings", "year", "genre", "_miroir_shard")

	acWaitOK(t, f.c)(ix.UpdateSettings(ctx, &meilisearch.Settings{StopWords: []string{"x"}}))
	expectNodes("UpdateSettings without filterable", "year", "genre", "_miroir_shard")

	acWaitOK(t, f.c)(ix.UpdateFilterableAttributes(ctx, &[]any{map[string]any{"attributePatterns": []string{"tag*"}, "features": map[string]any{"facetSearch": true, "filter": map[string]any{"equality": true, "comparison": false}}}}))
	var hasShard bool
	for _, fa := range nodeFA() {
		hasShard = slices.ContainsFunc(fa, func(s string) bool { return strings.Contains(s, "_miroir_shard") })
		if !hasShard {
			t.Errorf("pattern-object update: node filterable %v lacks _miroir_shard", fa)
		}
	}

	acWaitOK(t, f.c)(ix.ResetFilterableAttributes(ctx))
	expectNodes("ResetFilterableAttributes", "_miroir_shard")
	expectRead("ResetFilterableAttributes")

	acWaitOK(t, f.c)(ix.UpdateFilterableAttributes(ctx, &[]any{"a"}))
	acWaitOK(t, f.c)(ix.ResetSettings(ctx))
	expectNodes("ResetSettings", "_miroir_shard")
	expectRead("ResetSettings")
	for i, s := range f.allSettings(t, "docs") {
		if asCanon(s["stopWords"]) != `[]` {
			t.Errorf("node %d: ResetSettings left stopWords %s", i, s["stopWords"])
		}
	}
	// Proxy mode goes through the same mechanism.
	st, body := acHTTP(t, f.url, "PUT", "/indexes/docs/settings/filterable-attributes", []string{"via_proxy"}, "")
	if st != 202 {
		t.Fatalf("proxy PUT filterable: %d %s", st, body)
	}
	var ti struct {
		TaskUID int64 `json:"taskUid"`
	}
	_ = json.Unmarshal(body, &ti)
	acWaitOK(t, f.c)(&meilisearch.TaskInfo{TaskUID: ti.TaskUID}, nil)
	expectNodes("proxy PUT filterable", "via_proxy", "_miroir_shard")
	for _, p := range []string{"/indexes/docs/settings", "/indexes/docs/settings/filterable-attributes"} {
		st, body := acHTTP(t, f.url, "GET", p, nil, "")
		if st != 200 || strings.Contains(string(body), "_miroir_shard") || !strings.Contains(string(body), "via_proxy") {
			t.Errorf("proxy GET %s: %d %s", p, st, body)
		}
	}
	st, body = acHTTP(t, f.url, "DELETE", "/indexes/docs/settings", nil, "")
	if st != 202 {
		t.Fatalf("proxy DELETE settings: %d %s", st, body)
	}
	_ = json.Unmarshal(body, &ti)
	acWaitOK(t, f.c)(&meilisearch.TaskInfo{TaskUID: ti.TaskUID}, nil)
	expectNodes("proxy DELETE settings", "_miroir_shard")
	// Filtering on the shard field keeps working after a reset.
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 20), nil))
	res, err := ix.Search(ctx, "", &meilisearch.SearchRequest{Limit: 100})
	if err != nil || len(res.Hits) != 20 {
		t.Errorf("search after reset: %v %v", res, err)
	}
}

func TestAuditSettingsDriftAndRepair(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	orig := []string{"words", "typo", "proximity", "attribute", "sort", "exactness"}
	acWaitOK(t, f.c)(ix.UpdateSettings(ctx, &meilisearch.Settings{RankingRules: orig, StopWords: []string{"keep"}}))
	d, err := f.c.SettingsDrift(ctx, "docs")
	if err != nil {
		t.Fatal(err)
	}
	if d.Drifted() || len(d.DriftedNodes()) != 0 {
		t.Fatalf("drift on a consistent fleet: %v", d)
	}
	if !slices.Equal(d.Nodes, []string{"n0", "n1", "n2"}) {
		t.Errorf("SettingsDrift.Nodes %v, want every node", d.Nodes)
	}
	// Change n1 behind the cluster's back.
	st, body := acHTTP(t, f.srv[1].URL(), "PUT", "/indexes/docs/settings/ranking-rules", []string{"sort", "words"}, "")
	if st != 202 {
		t.Fatalf("%d %s", st, body)
	}
	st, body = acHTTP(t, f.srv[1].URL(), "PUT", "/indexes/docs/settings/synonyms", map[string][]string{"p": {"q"}}, "")
	if st != 202 {
		t.Fatalf("%d %s", st, body)
	}
	f.idle(t)
	d, err = f.c.SettingsDrift(ctx, "docs")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Drifted() || !slices.Equal(d.DriftedNodes(), []string{"n1"}) {
		t.Fatalf("drift not detected: %v", d)
	}
	rr, ok := d.Settings["rankingRules"]
	if !ok || !slices.Equal(rr.Nodes, []string{"n1"}) {
		t.Errorf("rankingRules drift %+v", rr)
	}
	if asCanon(rr.Values["n1"]) != `["sort","words"]` {
		t.Errorf("drifted value %s", rr.Values["n1"])
	}
	var maj []string
	_ = json.Unmarshal(rr.Majority, &maj)
	if !slices.Equal(maj, orig) {
		t.Errorf("majority %s", rr.Majority)
	}
	if _, ok := d.Settings["synonyms"]; !ok {
		t.Errorf("synonyms drift not reported: %v", d)
	}
	if _, ok := d.Settings["stopWords"]; ok {
		t.Errorf("stopWords reported as drifted though all nodes agree")
	}
	if d.String() == "" {
		t.Errorf("empty drift summary")
	}
	// Repair to the majority through the transaction.
	info, err := f.c.RepairSettings(ctx, "docs", nil)
	if err != nil {
		t.Fatal(err)
	}
	task := acWaitOK(t, f.c)(info, nil)
	if task.Type != meilisearch.TaskTypeSettingsUpdate {
		t.Errorf("repair task type %s", task.Type)
	}
	all := f.allSettings(t, "docs")
	for i := range all {
		if d := asDiff(all[i], all[0]); len(d) > 0 {
			t.Errorf("after repair node %d differs: %v", i, d)
		}
	}
	var got []string
	_ = json.Unmarshal(all[1]["rankingRules"], &got)
	if !slices.Equal(got, orig) {
		t.Errorf("n1 ranking rules after repair %v", got)
	}
	if d, _ := f.c.SettingsDrift(ctx, "docs"); d == nil || d.Drifted() {
		t.Errorf("drift after repair: %v", d)
	}
	// Repair to given settings.
	acWaitOK(t, f.c)(f.c.RepairSettings(ctx, "docs", &meilisearch.Settings{StopWords: []string{"given"}}))
	for i, s := range f.allSettings(t, "docs") {
		if !slices.Equal(asStrings(s["stopWords"]), []string{"given"}) {
			t.Errorf("node %d stopWords after repair-to-given %s", i, s["stopWords"])
		}
		if !slices.Contains(asStrings(s["filterableAttributes"]), "_miroir_shard") {
			t.Errorf("node %d lost _miroir_shard in repair", i)
		}
	}
	// A failing repair rolls back like any transaction.
	st, _ = acHTTP(t, f.srv[2].URL(), "PUT", "/indexes/docs/settings/stop-words", []string{"rogue"}, "")
	if st != 202 {
		t.Fatal(st)
	}
	f.idle(t)
	before := f.allSettings(t, "docs")
	clear := f.srv[2].FailTasks(asIsSettingsWrite, "internal")
	task = acWait(t, f.c)(f.c.RepairSettings(ctx, "docs", nil))
	clear()
	if task.Status != meilisearch.TaskStatusFailed || !strings.Contains(task.Error.Message, "n2") {
		t.Errorf("failing repair: %s %+v", task.Status, task.Error)
	}
	f.requireSameEach(t, "after failed repair", f.allSettings(t, "docs"), before)
}

func (f *testFleet) requireSameEach(t testing.TB, what string, got, want []map[string]json.RawMessage) {
	t.Helper()
	for i := range got {
		if d := asDiff(got[i], want[i]); len(d) > 0 {
			t.Errorf("%s: node %s changed: %v", what, f.nodes[i].ID, d)
		}
	}
}

// Every settings method of the interface goes through the transaction: with
// a task failure injected on the last node, the call fails and no node keeps
// the change; without failure the change lands on every node.
func TestAuditSettingsEveryMethodThroughTransaction(t *testing.T) {
	ctx := testCtx(t)
	callsFor := func(ix meilisearch.IndexManager) []asCall {
		distinct := "title"
		prefix := "disabled"
		type call = asCall
		return []call{
			{"UpdateSettings", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateSettings(ctx, &meilisearch.Settings{StopWords: []string{"s1"}, DistinctAttribute: &distinct})
			}},
			{"ResetSettings", func() (*meilisearch.TaskInfo, error) { return ix.ResetSettings(ctx) }},
			{"UpdateRankingRules", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateRankingRules(ctx, &[]string{"typo", "words", "n:desc"})
			}},
			{"ResetRankingRules", func() (*meilisearch.TaskInfo, error) { return ix.ResetRankingRules(ctx) }},
			{"UpdateDistinctAttribute", func() (*meilisearch.TaskInfo, error) { return ix.UpdateDistinctAttribute(ctx, "title") }},
			{"ResetDistinctAttribute", func() (*meilisearch.TaskInfo, error) { return ix.ResetDistinctAttribute(ctx) }},
			{"UpdateSearchableAttributes", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateSearchableAttributes(ctx, &[]string{"title"})
			}},
			{"ResetSearchableAttributes", func() (*meilisearch.TaskInfo, error) { return ix.ResetSearchableAttributes(ctx) }},
			{"UpdateDisplayedAttributes", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateDisplayedAttributes(ctx, &[]string{"id", "title"})
			}},
			{"ResetDisplayedAttributes", func() (*meilisearch.TaskInfo, error) { return ix.ResetDisplayedAttributes(ctx) }},
			{"UpdateStopWords", func() (*meilisearch.TaskInfo, error) { return ix.UpdateStopWords(ctx, &[]string{"of"}) }},
			{"ResetStopWords", func() (*meilisearch.TaskInfo, error) { return ix.ResetStopWords(ctx) }},
			{"UpdateSynonyms", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateSynonyms(ctx, &map[string][]string{"big": {"large"}})
			}},
			{"ResetSynonyms", func() (*meilisearch.TaskInfo, error) { return ix.ResetSynonyms(ctx) }},
			{"UpdateFilterableAttributes", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateFilterableAttributes(ctx, &[]any{"n"})
			}},
			{"ResetFilterableAttributes", func() (*meilisearch.TaskInfo, error) { return ix.ResetFilterableAttributes(ctx) }},
			{"UpdateSortableAttributes", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateSortableAttributes(ctx, &[]string{"n"})
			}},
			{"ResetSortableAttributes", func() (*meilisearch.TaskInfo, error) { return ix.ResetSortableAttributes(ctx) }},
			{"UpdateTypoTolerance", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateTypoTolerance(ctx, &meilisearch.TypoTolerance{Enabled: true, MinWordSizeForTypos: meilisearch.MinWordSizeForTypos{OneTypo: 4, TwoTypos: 8}, DisableOnWords: []string{}, DisableOnAttributes: []string{}})
			}},
			{"ResetTypoTolerance", func() (*meilisearch.TaskInfo, error) { return ix.ResetTypoTolerance(ctx) }},
			{"UpdatePagination", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdatePagination(ctx, &meilisearch.Pagination{MaxTotalHits: 77})
			}},
			{"ResetPagination", func() (*meilisearch.TaskInfo, error) { return ix.ResetPagination(ctx) }},
			{"UpdateFaceting", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateFaceting(ctx, &meilisearch.Faceting{MaxValuesPerFacet: 9, SortFacetValuesBy: map[string]meilisearch.SortFacetType{"*": meilisearch.SortFacetTypeCount}})
			}},
			{"ResetFaceting", func() (*meilisearch.TaskInfo, error) { return ix.ResetFaceting(ctx) }},
			{"UpdateEmbedders", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateEmbedders(ctx, map[string]meilisearch.Embedder{"manual": {Source: meilisearch.UserProvidedEmbedderSource, Dimensions: 3}})
			}},
			{"ResetEmbedders", func() (*meilisearch.TaskInfo, error) { return ix.ResetEmbedders(ctx) }},
			{"UpdateSearchCutoffMs", func() (*meilisearch.TaskInfo, error) { return ix.UpdateSearchCutoffMs(ctx, 123) }},
			{"ResetSearchCutoffMs", func() (*meilisearch.TaskInfo, error) { return ix.ResetSearchCutoffMs(ctx) }},
			{"UpdateSeparatorTokens", func() (*meilisearch.TaskInfo, error) { return ix.UpdateSeparatorTokens(ctx, []string{"|"}) }},
			{"ResetSeparatorTokens", func() (*meilisearch.TaskInfo, error) { return ix.ResetSeparatorTokens(ctx) }},
			{"UpdateNonSeparatorTokens", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateNonSeparatorTokens(ctx, []string{"@"})
			}},
			{"ResetNonSeparatorTokens", func() (*meilisearch.TaskInfo, error) { return ix.ResetNonSeparatorTokens(ctx) }},
			{"UpdateDictionary", func() (*meilisearch.TaskInfo, error) { return ix.UpdateDictionary(ctx, []string{"J.R.R."}) }},
			{"ResetDictionary", func() (*meilisearch.TaskInfo, error) { return ix.ResetDictionary(ctx) }},
			{"UpdateProximityPrecision", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateProximityPrecision(ctx, meilisearch.ByAttribute)
			}},
			{"ResetProximityPrecision", func() (*meilisearch.TaskInfo, error) { return ix.ResetProximityPrecision(ctx) }},
			{"UpdateLocalizedAttributes", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateLocalizedAttributes(ctx, []*meilisearch.LocalizedAttributes{{Locales: []string{"fra"}, AttributePatterns: []string{"title"}}})
			}},
			{"ResetLocalizedAttributes", func() (*meilisearch.TaskInfo, error) { return ix.ResetLocalizedAttributes(ctx) }},
			{"UpdatePrefixSearch", func() (*meilisearch.TaskInfo, error) { return ix.UpdatePrefixSearch(ctx, prefix) }},
			{"ResetPrefixSearch", func() (*meilisearch.TaskInfo, error) { return ix.ResetPrefixSearch(ctx) }},
			{"UpdateFacetSearch", func() (*meilisearch.TaskInfo, error) { return ix.UpdateFacetSearch(ctx, false) }},
			{"ResetFacetSearch", func() (*meilisearch.TaskInfo, error) { return ix.ResetFacetSearch(ctx) }},
			{"UpdateForeignKeys", func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateForeignKeys(ctx, []meilisearch.ForeignKey{{FieldName: "ref", ForeignIndexUid: "other"}})
			}},
			{"ResetForeignKeys", func() (*meilisearch.TaskInfo, error) { return ix.ResetForeignKeys(ctx) }},
		}
	}
	calls := callsFor(nil)
	// Every Update/Reset method of the interface is in the list.
	sm := reflect.TypeOf((*meilisearch.SettingsManager)(nil)).Elem()
	for i := 0; i < sm.NumMethod(); i++ {
		name := sm.Method(i).Name
		if (strings.HasPrefix(name, "Update") || strings.HasPrefix(name, "Reset")) && !slices.ContainsFunc(calls, func(c asCall) bool { return c.name == name }) {
			t.Errorf("audit does not cover settings method %s", name)
		}
	}
	// The calls are closures over ix; run them in chunks on separate fleets,
	// each with its own Index bound through a per-chunk copy of the list.
	const chunks = 4
	per := (len(calls)/2 + chunks - 1) / chunks * 2 // keep Update/Reset pairs together
	for ci := 0; ci < chunks; ci++ {
		lo, hi := ci*per, min((ci+1)*per, len(calls))
		if lo >= hi {
			continue
		}
		t.Run(fmt.Sprintf("chunk%d", ci), func(t *testing.T) {
			t.Parallel()
			f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8, nodeOpts: []meilitest.Option{meilitest.WithTaskDuration(0)}, timing: oneRetry})
			own := f.create(t, "docs", "id")
			if _, err := f.c.ExperimentalFeatures().SetForeignKeys(true).Update(ctx); err != nil {
				t.Fatalf("enable foreignKeys: %v", err)
			}
			f.create(t, "other", "id")
			// Put the index in a non-default state first so that every reset changes something.
			acWaitOK(t, f.c)(own.UpdateSettings(ctx, &meilisearch.Settings{StopWords: []string{"pre"}}))
			last := len(f.srv) - 1
			run := func(c asCall) (*meilisearch.TaskInfo, error) { return c.run() }
			for _, c := range callsFor(own)[lo:hi] {
				before := f.allSettings(t, "docs")
				// With a failure on the last node: no node keeps the change.
				clear := f.srv[last].FailTasks(asIsSettingsWrite, "internal")
				info, err := run(c)
				if err != nil {
					clear()
					t.Errorf("%s: %v", c.name, err)
					continue
				}
				if info.Type != meilisearch.TaskTypeSettingsUpdate {
					t.Errorf("%s: task type %s, want settingsUpdate", c.name, info.Type)
				}
				task := acWait(t, f.c)(info, nil)
				clear()
				if task.Status != meilisearch.TaskStatusFailed {
					t.Errorf("%s with a task failure on %s: %s, want failed", c.name, f.nodes[last].ID, task.Status)
				}
				f.requireSameEach(t, c.name+" (failed, rolled back)", f.allSettings(t, "docs"), before)
				// Without failure: lands on every node.
				acWaitOK(t, f.c)(run(c))
				after := f.allSettings(t, "docs")
				for i := range after {
					if d := asDiff(after[i], after[0]); len(d) > 0 {
						t.Errorf("%s: node %d differs from node 0: %v", c.name, i, d)
					}
					if !slices.Contains(asStrings(after[i]["filterableAttributes"]), "_miroir_shard") {
						t.Errorf("%s: node %d lost _miroir_shard filterable", c.name, i)
					}
				}
				if len(asDiff(after[0], before[0])) == 0 {
					t.Errorf("%s: no change observed on the nodes", c.name)
				}
			}
		})
	}
}

type asCall struct {
	name string
	run  func() (*meilisearch.TaskInfo, error)
}

// Every getter reads the value the transaction wrote, without _miroir_shard.
func TestAuditSettingsGetters(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8, nodeOpts: []meilitest.Option{meilitest.WithTaskDuration(0)}, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	distinct := "title"
	acWaitOK(t, f.c)(ix.UpdateSettings(ctx, &meilisearch.Settings{
		RankingRules: []string{"words", "n:desc"}, DistinctAttribute: &distinct,
		SearchableAttributes: []string{"title"}, DisplayedAttributes: []string{"id", "title"},
		StopWords: []string{"of"}, Synonyms: map[string][]string{"a": {"b"}},
		FilterableAttributes: []string{"n"}, SortableAttributes: []string{"n"},
		SeparatorTokens: []string{"|"}, NonSeparatorTokens: []string{"@"}, Dictionary: []string{"J.R.R."},
		SearchCutoffMs: 99, Pagination: &meilisearch.Pagination{MaxTotalHits: 55},
	}))
	check := func(name string, got any, err error, want string) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		b, _ := json.Marshal(got)
		if strings.Contains(string(b), "_miroir_shard") {
			t.Errorf("%s shows _miroir_shard: %s", name, b)
		}
		if want != "" && asCanon(b) != want {
			t.Errorf("%s = %s, want %s", name, b, want)
		}
	}
	rr, err := ix.GetRankingRules(ctx)
	check("GetRankingRules", rr, err, `["words","n:desc"]`)
	da, err := ix.GetDistinctAttribute(ctx)
	check("GetDistinctAttribute", da, err, `"title"`)
	sa, err := ix.GetSearchableAttributes(ctx)
	check("GetSearchableAttributes", sa, err, `["title"]`)
	dsp, err := ix.GetDisplayedAttributes(ctx)
	check("GetDisplayedAttributes", dsp, err, `["id","title"]`)
	sw, err := ix.GetStopWords(ctx)
	check("GetStopWords", sw, err, `["of"]`)
	syn, err := ix.GetSynonyms(ctx)
	check("GetSynonyms", syn, err, `{"a":["b"]}`)
	fa, err := ix.GetFilterableAttributes(ctx)
	check("GetFilterableAttributes", fa, err, `["n"]`)
	so, err := ix.GetSortableAttributes(ctx)
	check("GetSortableAttributes", so, err, `["n"]`)
	st, err := ix.GetSeparatorTokens(ctx)
	check("GetSeparatorTokens", st, err, `["|"]`)
	nst, err := ix.GetNonSeparatorTokens(ctx)
	check("GetNonSeparatorTokens", nst, err, `["@"]`)
	dic, err := ix.GetDictionary(ctx)
	check("GetDictionary", dic, err, `["J.R.R."]`)
	co, err := ix.GetSearchCutoffMs(ctx)
	check("GetSearchCutoffMs", co, err, `99`)
	pg, err := ix.GetPagination(ctx)
	check("GetPagination", pg, err, `{"maxTotalHits":55}`)
	tt, err := ix.GetTypoTolerance(ctx)
	check("GetTypoTolerance", tt, err, "")
	fc, err := ix.GetFaceting(ctx)
	check("GetFaceting", fc, err, "")
	em, err := ix.GetEmbedders(ctx)
	check("GetEmbedders", em, err, "")
	pp, err := ix.GetProximityPrecision(ctx)
	check("GetProximityPrecision", pp, err, `"byWord"`)
	la, err := ix.GetLocalizedAttributes(ctx)
	check("GetLocalizedAttributes", la, err, "")
	ps, err := ix.GetPrefixSearch(ctx)
	check("GetPrefixSearch", ps, err, "")
	fs, err := ix.GetFacetSearch(ctx)
	check("GetFacetSearch", fs, err, `true`)
	all, err := ix.GetSettings(ctx)
	check("GetSettings", all, err, "")
}

// The merge uses the index's settings from a cache the transaction keeps:
// no search pays a settings read, and a change is in force right away.
func TestAuditSettingsCacheUsedByMerge(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	docs := acDocs(0, 70) // n = id % 7
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, docs, nil))
	acWaitOK(t, f.c)(ix.UpdateSettings(ctx, &meilisearch.Settings{
		RankingRules: []string{"n:desc", "words", "typo", "proximity", "attribute", "sort", "exactness"},
	}))
	spy := f.spy()
	for k := 0; k < 5; k++ {
		res, err := ix.Search(ctx, "title", &meilisearch.SearchRequest{Limit: 70})
		if err != nil {
			t.Fatal(err)
		}
		prev := 1 << 30
		for _, h := range res.Hits {
			var n int
			_ = json.Unmarshal(h["n"], &n)
			if n > prev {
				t.Fatalf("custom ranking rule n:desc not honoured across nodes: %d after %d", n, prev)
			}
			prev = n
		}
	}
	for _, r := range spy.take() {
		if strings.Contains(r, " GET ") && strings.HasSuffix(r, "/settings") || strings.Contains(r, "/settings/") && strings.Contains(r, " GET ") {
			t.Errorf("a search read settings from a node: %s", r)
		}
	}
	// A distinct attribute set by a transaction applies to the next merge.
	acWaitOK(t, f.c)(ix.UpdateDistinctAttribute(ctx, "n"))
	f.idle(t)
	spy.take()
	res, err := ix.Search(ctx, "title", &meilisearch.SearchRequest{Limit: 70})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, h := range res.Hits {
		if seen[string(h["n"])] {
			t.Errorf("distinct attribute n not re-applied across nodes: n=%s twice", h["n"])
		}
		seen[string(h["n"])] = true
	}
	if len(res.Hits) != 7 {
		t.Errorf("distinct n: %d hits, want 7", len(res.Hits))
	}
	// A rolled-back transaction leaves the merge on the old settings.
	acWaitOK(t, f.c)(ix.ResetDistinctAttribute(ctx))
	clear := f.srv[2].FailTasks(asIsSettingsWrite, "internal")
	task := acWait(t, f.c)(ix.UpdateDistinctAttribute(ctx, "n"))
	clear()
	if task.Status != meilisearch.TaskStatusFailed {
		t.Fatalf("expected the transaction to fail, got %s", task.Status)
	}
	res, err = ix.Search(ctx, "title", &meilisearch.SearchRequest{Limit: 70})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 70 {
		t.Errorf("after a rolled-back distinct change the merge gives %d hits, want 70 (no distinct)", len(res.Hits))
	}
	// Faceting settings are re-applied to merged facet counts.
	acWaitOK(t, f.c)(ix.UpdateSettings(ctx, &meilisearch.Settings{
		FilterableAttributes: []string{"n"},
		Faceting:             &meilisearch.Faceting{MaxValuesPerFacet: 3},
	}))
	f.idle(t)
	spy.take()
	res, err = ix.Search(ctx, "", &meilisearch.SearchRequest{Facets: []string{"n"}, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	var fd map[string]map[string]int
	_ = json.Unmarshal(res.FacetDistribution, &fd)
	if len(fd["n"]) != 3 {
		t.Errorf("maxValuesPerFacet 3: merged facetDistribution %v", fd["n"])
	}
	total := 0
	for _, v := range fd["n"] {
		total += v
	}
	if total != 30 {
		t.Errorf("facet counts not summed across nodes: %v (want three values of 10)", fd["n"])
	}
	for _, r := range spy.take() {
		if strings.Contains(r, " GET ") && strings.Contains(r, "/settings") {
			t.Errorf("a search read settings from a node: %s", r)
		}
	}
	for _, r := range spy.take() {
		if strings.Contains(r, " GET ") && strings.Contains(r, "/settings") {
			t.Errorf("a search read settings from a node: %s", r)
		}
	}
}

// A settings call on an index with another shard count is refused, and the
// settings errors read as Meilisearch errors.
func TestAuditSettingsErrorsAreMeilisearchShaped(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	spy := f.spy()
	_, err := ix.UpdateRankingRules(ctx, &[]string{"bogus rule"})
	var me *meilisearch.Error
	if err == nil {
		// Accepted: then the task must fail, with Meilisearch's code.
		t.Errorf("invalid ranking rule accepted synchronously (a single Meilisearch refuses it with 400)")
	} else if !errors.As(err, &me) || me.APIError.Code != "invalid_settings_ranking_rules" {
		t.Errorf("invalid ranking rule: %v", err)
	}
	for _, r := range spy.take() {
		if !strings.Contains(r, " GET ") {
			t.Errorf("an invalid settings payload reached a node: %s", r)
		}
	}
	other := f.newCluster(t, append(oneRetry.options(), WithShards(16))...)
	if _, err := other.Index("docs").UpdateStopWords(ctx, &[]string{"x"}); !errors.Is(err, ErrShardCountMismatch) {
		t.Errorf("settings update with another shard count: %v", err)
	}
	if _, err := other.Index("docs").GetSettings(ctx); !errors.Is(err, ErrShardCountMismatch) {
		t.Errorf("settings read with another shard count: %v", err)
	}
	if _, err := other.SettingsDrift(ctx, "docs"); err != nil && !errors.Is(err, ErrShardCountMismatch) {
		t.Errorf("SettingsDrift with another shard count: %v", err)
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
