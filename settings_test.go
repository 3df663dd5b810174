package miroir

// Settings calls (settings.go): every setter goes through the settings
// transaction, every getter reads the fleet's settings, and the cache the
// merge uses stays true.

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

type asCall struct {
	name string
	run  func() (*meilisearch.TaskInfo, error)
}

func ptr[T any](v T) *T { return &v }

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
	if string(s["filterableAttributes"]) != `["genre","_miroir_shard","_miroir_v"]` {
		t.Errorf("filterableAttributes after the last update: %s", s["filterableAttributes"])
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
