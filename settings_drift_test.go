package miroir

// Settings drift and repair (settings_drift.go), and a node whose settings
// drifted while it was away re-verified before it receives documents.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// TestSettingsDriftAndRepair: a node changed behind the cluster's back is
// reported and repaired to the majority, or to given settings.
func TestSettingsDriftAndRepair(t *testing.T) {
	for _, st := range strategies {
		t.Run(st.name, func(t *testing.T) {
			f := newSettingsFleet(t, 3, WithSettingsStrategy(st.s))
			ctx := context.Background()
			d, err := f.c.SettingsDrift(ctx, f.uid)
			if err != nil || d.Drifted() {
				t.Fatalf("fresh fleet drifted: %v %v", d, err)
			}
			// Behind the cluster's back.
			info, err := f.direct[1].Index(f.uid).UpdateRankingRules(ctx, &[]string{"typo", "words"})
			if err != nil {
				t.Fatal(err)
			}
			f.waitNode(1, info.TaskUID)
			info, err = f.direct[2].Index(f.uid).ResetFilterableAttributes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			f.waitNode(2, info.TaskUID)

			d, err = f.c.SettingsDrift(ctx, f.uid)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(d)
			if !d.Drifted() || !slices.Equal(d.DriftedNodes(), []string{"n1", "n2"}) {
				t.Fatalf("drift %v", d)
			}
			if rr := d.Settings["rankingRules"]; !slices.Equal(rr.Nodes, []string{"n1"}) || string(rr.Values["n1"]) != `["typo","words"]` {
				t.Errorf("rankingRules drift %+v", rr)
			}
			if fa := d.Settings["filterableAttributes"]; !slices.Equal(fa.Nodes, []string{"n2"}) || string(fa.Majority) != `["_miroir_shard","_miroir_v"]` {
				t.Errorf("filterableAttributes drift %+v", fa)
			}
			if len(d.Settings) != 2 {
				t.Errorf("unexpected drifted settings: %v", d)
			}

			f.mustSucceed(f.c.RepairSettings(ctx, f.uid, nil))
			if d, _ := f.c.SettingsDrift(ctx, f.uid); d.Drifted() {
				t.Errorf("still drifted after repair: %v", d)
			}
			s := f.assertUniform()
			if string(s["filterableAttributes"]) != `["_miroir_shard","_miroir_v"]` {
				t.Errorf("repair did not restore _miroir_shard: %s", s["filterableAttributes"])
			}

			// Repair toward given settings.
			f.mustSucceed(f.c.RepairSettings(ctx, f.uid, &meilisearch.Settings{StopWords: []string{"le"}, FilterableAttributes: []string{"genre"}}))
			s = f.assertUniform()
			if string(s["stopWords"]) != `["le"]` || string(s["filterableAttributes"]) != `["genre","_miroir_shard","_miroir_v"]` {
				t.Errorf("after repair to want: %s %s", s["stopWords"], s["filterableAttributes"])
			}
			// Nothing to repair: succeeds without touching nodes.
			f.mustSucceed(f.c.RepairSettings(ctx, f.uid, nil))
		})
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

// TestSettingsDriftUnreachable: an unreachable node is listed, not
// compared; a repair needs every node.
func TestSettingsDriftUnreachable(t *testing.T) {
	f := newSettingsFleet(t, 3)
	ctx := context.Background()
	f.srv[2].Stop()
	d, err := f.c.SettingsDrift(ctx, f.uid)
	if err != nil {
		t.Fatal(err)
	}
	if d.Drifted() || d.Unreadable["n2"] == "" || len(d.Nodes) != 2 {
		t.Errorf("drift %v", d)
	}
	task := f.wait(f.c.RepairSettings(ctx, f.uid, nil))
	if task.Status != meilisearch.TaskStatusFailed || !strings.Contains(task.Error.Message, "node n2") {
		t.Errorf("repair with a node down: %s %+v", task.Status, task.Error)
	}
}

// TestVerifyNodeSettings: a node that comes back with other settings is
// repaired (alone) before it receives writes.
func TestVerifyNodeSettings(t *testing.T) {
	f := newSettingsFleet(t, 3)
	ctx := context.Background()
	f.mustSucceed(f.index().UpdateSynonyms(ctx, &map[string][]string{"tv": {"television"}}))
	st, _ := f.c.state(ctx, f.uid)
	n1 := f.c.node(1)
	if err := f.c.verifyNodeSettings(ctx, st, n1); err != nil {
		t.Fatalf("in line node: %v", err)
	}
	// Behind the cluster's back: node 1 lost its settings.
	info, err := f.direct[1].Index(f.uid).ResetSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.waitNode(1, info.TaskUID)
	if err := f.c.verifyNodeSettings(ctx, st, n1); err != nil {
		t.Fatalf("verify: %v", err)
	}
	s := f.assertUniform()
	if string(s["synonyms"]) != `{"tv":["television"]}` || string(s["filterableAttributes"]) != `["_miroir_shard","_miroir_v"]` {
		t.Errorf("after verify: %s %s", s["synonyms"], s["filterableAttributes"])
	}
	// With the other nodes unreachable but a cache, the cache decides.
	info, err = f.direct[1].Index(f.uid).UpdateStopWords(ctx, &[]string{"zz"})
	if err != nil {
		t.Fatal(err)
	}
	f.waitNode(1, info.TaskUID)
	f.c.node(0).healthy.Store(false)
	f.c.node(2).healthy.Store(false)
	f.srv[0].Stop()
	f.srv[2].Stop()
	if err := f.c.verifyNodeSettings(ctx, st, n1); err != nil {
		t.Fatalf("verify against the cache: %v", err)
	}
	if s := f.nodeSettings(1); string(s["stopWords"]) != `[]` {
		t.Errorf("stop words %s", s["stopWords"])
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
	n1 := f.c.node(1)
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
	if string(s["searchableAttributes"]) != `["title"]` || string(s["filterableAttributes"]) != `["genre","_miroir_shard","_miroir_v"]` {
		t.Errorf("node settings after the write: %s %s", s["searchableAttributes"], s["filterableAttributes"])
	}
}

// A node whose settings drifted while it was unhealthy must not receive
// documents into an index without the fleet's settings.
func TestAuditCoreReverifySettingsOnComeback(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, rf: 1, shards: 4, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.UpdateRankingRules(ctx, &[]string{"words", "n:desc", "typo", "proximity", "attribute", "sort", "exactness"}))
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 10), nil))
	clear := f.srv[1].FailRequests(func(r *http.Request) bool { return r.URL.Path == "/health" }, 503, "internal")
	eventually(t, "n1 marked down", func() bool { return !f.healthy(1) })
	st, body := acHTTP(t, f.srv[1].URL(), "DELETE", "/indexes/docs/settings/ranking-rules", nil, "")
	if st != 202 {
		t.Fatalf("%d %s", st, body)
	}
	_ = f.srv[1].WaitIdle(ctx)
	clear()
	eventually(t, "n1 marked up", func() bool { return f.healthy(1) })
	info, err := ix.AddDocuments(ctx, acDocs(100, 40), nil)
	if err != nil {
		t.Fatal(err)
	}
	acWait(t, f.c)(info, nil)
	f.idle(t)
	got := f.nodeDocsByID(t, 1, "docs")
	received := false
	for id := range got {
		if n, _ := strconv.Atoi(id); n >= 100 {
			received = true
		}
	}
	rr := f.nodeSettings(t, 1, "docs")["rankingRules"]
	if received && !strings.Contains(string(rr), "n:desc") {
		t.Errorf("n1 received documents while its ranking rules differ from the fleet's: %s", rr)
	}
}
