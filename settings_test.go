package miroir

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// TestSettingsEveryMethodThroughTransaction calls every Update*/Reset*
// method of meilisearch.SettingsManager on the Cluster's Index and checks
// that each one was submitted to the settings transaction engine for the
// setting its name says (and nothing went to a node on a side path).
func TestSettingsEveryMethodThroughTransaction(t *testing.T) {
	f := newSettingsFleet(t, 3)
	ctx := context.Background()
	type sub struct {
		key   string
		reset bool
	}
	var mu sync.Mutex
	var seen []sub
	f.c.settingsTx().onSubmit = func(uid string, op *settingsOp) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, sub{op.key, op.reset})
	}
	// A valid argument for every update method; a new method in
	// meilisearch-go fails this test until it gets one (and a routing).
	args := map[string]any{
		"UpdateSettings":             &meilisearch.Settings{StopWords: []string{"a"}},
		"UpdateRankingRules":         &[]string{"typo", "words"},
		"UpdateDistinctAttribute":    "title",
		"UpdateSearchableAttributes": &[]string{"title"},
		"UpdateDisplayedAttributes":  &[]string{"title", "id"},
		"UpdateStopWords":            &[]string{"the"},
		"UpdateSynonyms":             &map[string][]string{"car": {"auto"}},
		"UpdateFilterableAttributes": &[]interface{}{"genre"},
		"UpdateSortableAttributes":   &[]string{"year"},
		"UpdateTypoTolerance":        &meilisearch.TypoTolerance{Enabled: true, MinWordSizeForTypos: meilisearch.MinWordSizeForTypos{OneTypo: 4, TwoTypos: 8}, DisableOnWords: []string{}, DisableOnAttributes: []string{}},
		"UpdatePagination":           &meilisearch.Pagination{MaxTotalHits: 500},
		"UpdateFaceting":             &meilisearch.Faceting{MaxValuesPerFacet: 50},
		"UpdateEmbedders":            map[string]meilisearch.Embedder{"manual": {Source: meilisearch.UserProvidedEmbedderSource, Dimensions: 3}},
		"UpdateSearchCutoffMs":       int64(150),
		"UpdateSeparatorTokens":      []string{"|"},
		"UpdateNonSeparatorTokens":   []string{"@"},
		"UpdateDictionary":           []string{"J.R.R."},
		"UpdateProximityPrecision":   meilisearch.ByAttribute,
		"UpdateLocalizedAttributes":  []*meilisearch.LocalizedAttributes{{Locales: []string{"fra"}, AttributePatterns: []string{"*_fr"}}},
		"UpdatePrefixSearch":         "disabled",
		"UpdateFacetSearch":          false,
		"UpdateForeignKeys":          []meilisearch.ForeignKey{{FieldName: "author", ForeignIndexUid: "authors"}},
	}
	iface := reflect.TypeOf((*meilisearch.SettingsManager)(nil)).Elem()
	idx := reflect.ValueOf(f.index())
	var infos []*meilisearch.TaskInfo
	calls := 0
	for m := range iface.Methods() {
		name := m.Name
		var setting string
		var reset bool
		switch {
		case strings.HasPrefix(name, "Update"):
			setting = strings.TrimPrefix(name, "Update")
		case strings.HasPrefix(name, "Reset"):
			setting, reset = strings.TrimPrefix(name, "Reset"), true
		default:
			continue // readers: covered by TestSettingsReaders
		}
		key := strings.ToLower(setting[:1]) + setting[1:]
		if key == "settings" {
			key = ""
		}
		meth := idx.MethodByName(name)
		if !meth.IsValid() {
			t.Errorf("*Index has no method %s", name)
			continue
		}
		in := []reflect.Value{reflect.ValueOf(ctx)}
		if !reset {
			a, ok := args[name]
			if !ok {
				t.Errorf("no test argument for %s: add one", name)
				continue
			}
			in = append(in, reflect.ValueOf(a))
		}
		mu.Lock()
		before := len(seen)
		mu.Unlock()
		out := meth.Call(in)
		calls++
		if err, _ := out[1].Interface().(error); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		info := out[0].Interface().(*meilisearch.TaskInfo)
		infos = append(infos, info)
		mu.Lock()
		got := seen[before:]
		mu.Unlock()
		if len(got) != 1 || got[0] != (sub{key, reset}) {
			t.Errorf("%s: transaction submissions %+v, want exactly one for setting %q (reset %v)", name, got, key, reset)
		}
		if info.Type != meilisearch.TaskTypeSettingsUpdate || info.Status != meilisearch.TaskStatusEnqueued {
			t.Errorf("%s: task info %+v", name, info)
		}
	}
	if calls < 40 {
		t.Errorf("only %d settings methods found on the interface", calls)
	}
	// Every task ends; all but foreignKeys (an experimental feature the
	// nodes have off) succeed, and the fleet stays uniform.
	for _, info := range infos {
		tk := f.wait(info, nil)
		if tk.Status != meilisearch.TaskStatusSucceeded && !strings.Contains(tk.Error.Message, "foreignKeys") {
			t.Errorf("task %d failed: %+v", tk.UID, tk.Error)
		}
	}
	// Methods run in name order: UpdateFilterableAttributes is the last to
	// touch the filterable attributes.
	s := f.assertUniform()
	if string(s["filterableAttributes"]) != `["genre","_miroir_shard"]` {
		t.Errorf("filterableAttributes after the last update: %s", s["filterableAttributes"])
	}
}

// TestSettingsReaders: every Get* method answers from a node, with
// _miroir_shard hidden.
func TestSettingsReaders(t *testing.T) {
	f := newSettingsFleet(t, 2)
	ctx := context.Background()
	idx := f.index()
	f.mustSucceed(idx.UpdateSettings(ctx, &meilisearch.Settings{
		FilterableAttributes: []string{"genre", "year"},
		DistinctAttribute:    ptr("title"),
		SearchCutoffMs:       120,
		Dictionary:           []string{"C++"},
	}))
	// Every reader of the interface is callable.
	iface := reflect.TypeOf((*meilisearch.SettingsReader)(nil)).Elem()
	v := reflect.ValueOf(idx)
	for m := range iface.Methods() {
		out := v.MethodByName(m.Name).Call([]reflect.Value{reflect.ValueOf(ctx)})
		if err, _ := out[len(out)-1].Interface().(error); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
	s, err := idx.GetSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.FilterableAttributes, []string{"genre", "year"}) {
		t.Errorf("GetSettings filterable %v", s.FilterableAttributes)
	}
	if s.DistinctAttribute == nil || *s.DistinctAttribute != "title" || s.SearchCutoffMs != 120 {
		t.Errorf("GetSettings %+v", s)
	}
	fa, err := idx.GetFilterableAttributes(ctx)
	if err != nil || len(*fa) != 2 {
		t.Errorf("GetFilterableAttributes %v %v", fa, err)
	}
	d, err := idx.GetDistinctAttribute(ctx)
	if err != nil || *d != "title" {
		t.Errorf("GetDistinctAttribute %v %v", d, err)
	}
	if dict, _ := idx.GetDictionary(ctx); !slices.Equal(dict, []string{"C++"}) {
		t.Errorf("GetDictionary %v", dict)
	}
	// Readers fall back when a node is down.
	f.srv[0].Stop()
	f.srv[1].Stop()
	if _, err := idx.GetSettings(ctx); err == nil {
		t.Error("GetSettings with every node down: no error")
	}
	if err := f.srv[0].Start(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := idx.GetStopWords(ctx); err != nil {
			t.Errorf("GetStopWords with one node down: %v", err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestSettingsShardFilterable: _miroir_shard stays filterable through
// updates and resets, attribute-pattern objects are kept, reads hide it.
func TestSettingsShardFilterable(t *testing.T) {
	f := newSettingsFleet(t, 3)
	ctx := context.Background()
	idx := f.index()
	pattern := map[string]any{
		"attributePatterns": []any{"price*"},
		"features":          map[string]any{"facetSearch": false, "filter": map[string]any{"equality": true, "comparison": true}},
	}
	f.mustSucceed(idx.UpdateFilterableAttributes(ctx, &[]interface{}{"genre", pattern}))
	s := f.assertUniform()
	var list []any
	_ = json.Unmarshal(s["filterableAttributes"], &list)
	if len(list) != 3 || list[0] != "genre" || list[2] != shardField {
		t.Errorf("node filterable %s", s["filterableAttributes"])
	}
	if m, ok := list[1].(map[string]any); !ok || !reflect.DeepEqual(m["attributePatterns"], []any{"price*"}) {
		t.Errorf("pattern object not kept: %v", list[1])
	}
	got, err := idx.GetFilterableAttributes(ctx)
	if err != nil || len(*got) != 2 || (*got)[0] != "genre" {
		t.Errorf("GetFilterableAttributes %v %v", got, err)
	}
	gs, _ := idx.GetSettings(ctx)
	if !slices.Equal(gs.FilterableAttributes, []string{"genre", "price*"}) {
		t.Errorf("GetSettings filterable %v", gs.FilterableAttributes)
	}

	f.mustSucceed(idx.ResetFilterableAttributes(ctx))
	if s := f.assertUniform(); string(s["filterableAttributes"]) != `["_miroir_shard"]` {
		t.Errorf("after reset: %s", s["filterableAttributes"])
	}
	if got, _ := idx.GetFilterableAttributes(ctx); len(*got) != 0 {
		t.Errorf("after reset, read %v", *got)
	}

	f.mustSucceed(idx.UpdateSettings(ctx, &meilisearch.Settings{FilterableAttributes: []string{"a"}, SortableAttributes: []string{"b"}}))
	if s := f.assertUniform(); string(s["filterableAttributes"]) != `["a","_miroir_shard"]` {
		t.Errorf("after UpdateSettings: %s", s["filterableAttributes"])
	}
	// An update that already names it does not duplicate it.
	f.mustSucceed(idx.UpdateFilterableAttributes(ctx, &[]interface{}{shardField, "x"}))
	if s := f.assertUniform(); string(s["filterableAttributes"]) != `["_miroir_shard","x"]` {
		t.Errorf("after update naming it: %s", s["filterableAttributes"])
	}

	f.mustSucceed(idx.ResetSettings(ctx))
	s = f.assertUniform()
	if string(s["filterableAttributes"]) != `["_miroir_shard"]` || string(s["sortableAttributes"]) != `[]` {
		t.Errorf("after ResetSettings: filterable %s sortable %s", s["filterableAttributes"], s["sortableAttributes"])
	}
}

// TestSettingsCache: the cache is read once, then kept up to date by
// transactions, without a settings read per use.
func TestSettingsCache(t *testing.T) {
	f := newSettingsFleet(t, 2)
	ctx := context.Background()
	a, err := f.c.indexSettings(ctx, f.uid)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.RankingRules) == 0 || a.Faceting == nil || a.Faceting.MaxValuesPerFacet != 100 {
		t.Errorf("initial cache %+v", a)
	}
	if slices.Contains(a.FilterableAttributes, shardField) {
		t.Error("cache shows _miroir_shard")
	}
	b, _ := f.c.indexSettings(ctx, f.uid)
	if a != b {
		t.Error("second use read the settings again")
	}
	f.mustSucceed(f.index().UpdateFaceting(ctx, &meilisearch.Faceting{MaxValuesPerFacet: 7, SortFacetValuesBy: map[string]meilisearch.SortFacetType{"*": meilisearch.SortFacetTypeCount}}))
	f.mustSucceed(f.index().UpdateDistinctAttribute(ctx, "sku"))
	c, _ := f.c.indexSettings(ctx, f.uid)
	if c.Faceting.MaxValuesPerFacet != 7 || c.Faceting.SortFacetValuesBy["*"] != meilisearch.SortFacetTypeCount || c.DistinctAttribute == nil || *c.DistinctAttribute != "sku" {
		t.Errorf("cache after transactions %+v %+v", c.Faceting, c.DistinctAttribute)
	}
}

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
			if fa := d.Settings["filterableAttributes"]; !slices.Equal(fa.Nodes, []string{"n2"}) || string(fa.Majority) != `["_miroir_shard"]` {
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
			if string(s["filterableAttributes"]) != `["_miroir_shard"]` {
				t.Errorf("repair did not restore _miroir_shard: %s", s["filterableAttributes"])
			}

			// Repair toward given settings.
			f.mustSucceed(f.c.RepairSettings(ctx, f.uid, &meilisearch.Settings{StopWords: []string{"le"}, FilterableAttributes: []string{"genre"}}))
			s = f.assertUniform()
			if string(s["stopWords"]) != `["le"]` || string(s["filterableAttributes"]) != `["genre","_miroir_shard"]` {
				t.Errorf("after repair to want: %s %s", s["stopWords"], s["filterableAttributes"])
			}
			// Nothing to repair: succeeds without touching nodes.
			f.mustSucceed(f.c.RepairSettings(ctx, f.uid, nil))
		})
	}
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
	n1 := f.c.nodes[1]
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
	if string(s["synonyms"]) != `{"tv":["television"]}` || string(s["filterableAttributes"]) != `["_miroir_shard"]` {
		t.Errorf("after verify: %s %s", s["synonyms"], s["filterableAttributes"])
	}
	// With the other nodes unreachable but a cache, the cache decides.
	info, err = f.direct[1].Index(f.uid).UpdateStopWords(ctx, &[]string{"zz"})
	if err != nil {
		t.Fatal(err)
	}
	f.waitNode(1, info.TaskUID)
	f.c.nodes[0].healthy.Store(false)
	f.c.nodes[2].healthy.Store(false)
	f.srv[0].Stop()
	f.srv[2].Stop()
	if err := f.c.verifyNodeSettings(ctx, st, n1); err != nil {
		t.Fatalf("verify against the cache: %v", err)
	}
	if s := f.nodeSettings(1); string(s["stopWords"]) != `[]` {
		t.Errorf("stop words %s", s["stopWords"])
	}
}

func TestWithShardFilterable(t *testing.T) {
	cases := map[string]string{
		`null`:                          `["_miroir_shard"]`,
		`[]`:                            `["_miroir_shard"]`,
		`["a"]`:                         `["a","_miroir_shard"]`,
		`["_miroir_shard","a"]`:         `["_miroir_shard","a"]`,
		`[{"attributePatterns":["x"]}]`: `[{"attributePatterns":["x"]},"_miroir_shard"]`,
		`"oops"`:                        `"oops"`,
	}
	for in, want := range cases {
		if got := string(withShardFilterable(json.RawMessage(in))); got != want {
			t.Errorf("withShardFilterable(%s) = %s, want %s", in, got, want)
		}
	}
	if got := string(hideShardFilterable(json.RawMessage(`["a","_miroir_shard",{"attributePatterns":["_miroir_shard"]}]`))); got != `["a",{"attributePatterns":["_miroir_shard"]}]` {
		t.Errorf("hide: %s", got)
	}
}

func TestMajoritySettings(t *testing.T) {
	s := func(v string) rawSettings { return rawSettings{"k": json.RawMessage(v)} }
	if m := majoritySettings([]rawSettings{s(`1`), s(`2`), s(`2`)}, nil); string(m["k"]) != `2` {
		t.Errorf("majority %s", m["k"])
	}
	if m := majoritySettings([]rawSettings{s(`1`), s(`2`)}, nil); string(m["k"]) != `1` {
		t.Errorf("tie without preference %s", m["k"])
	}
	if m := majoritySettings([]rawSettings{s(`1`), s(`2`)}, s(`2`)); string(m["k"]) != `2` {
		t.Errorf("tie with preference %s", m["k"])
	}
	if !settingEqual("x", json.RawMessage(`{"a":1,"b":2}`), json.RawMessage(`{"b":2, "a":1}`)) {
		t.Error("key order must not matter")
	}
	if !settingEqual("embedders", json.RawMessage(`{"e":{"source":"openAi","apiKey":"sk-X***"}}`), json.RawMessage(`{"e":{"source":"openAi","apiKey":"other"}}`)) {
		t.Error("embedder API keys must not be compared")
	}
	w := writableSettings(rawSettings{"embedders": json.RawMessage(`{"e":{"source":"openAi","apiKey":"sk-X***"}}`)},
		rawSettings{"embedders": json.RawMessage(`{"e":{},"old":{}}`)})
	if string(w["embedders"]) != `{"e":{"source":"openAi"},"old":null}` {
		t.Errorf("writable embedders %s", w["embedders"])
	}
}
