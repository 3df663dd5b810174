package meilitest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Expected defaults, as meilisearch-go's integration suite states them.
var (
	wantDefaultTypo = meilisearch.TypoTolerance{
		Enabled:             true,
		MinWordSizeForTypos: meilisearch.MinWordSizeForTypos{OneTypo: 5, TwoTypos: 9},
		DisableOnWords:      []string{},
		DisableOnAttributes: []string{},
	}
	wantDefaultPagination = meilisearch.Pagination{MaxTotalHits: 1000}
	wantDefaultFaceting   = meilisearch.Faceting{
		MaxValuesPerFacet: 100,
		SortFacetValuesBy: map[string]meilisearch.SortFacetType{"*": meilisearch.SortFacetTypeAlpha},
	}
	wantDefaultRanking = []string{"words", "typo", "proximity", "attributeRank", "sort", "wordPosition", "exactness"}
)

const settingsTestKey = "masterKey-for-settings-tests"

// settingsEnv is a server with a master key and a client using it.
type settingsEnv struct {
	t   *testing.T
	srv *Server
	cli meilisearch.ServiceManager
}

func newSettingsEnv(t *testing.T) *settingsEnv {
	t.Helper()
	srv := RunT(t, WithMasterKey(settingsTestKey))
	cli := meilisearch.New(srv.URL(), meilisearch.WithAPIKey(settingsTestKey))
	t.Cleanup(cli.Close)
	return &settingsEnv{t: t, srv: srv, cli: cli}
}

// wait waits for a task and returns it.
func (e *settingsEnv) wait(info *meilisearch.TaskInfo, err error) *meilisearch.Task {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("enqueue: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	task, err := e.cli.WaitForTask(ctx, info.TaskUID, time.Millisecond)
	if err != nil {
		e.t.Fatalf("wait task %d: %v", info.TaskUID, err)
	}
	return task
}

// ok waits for a task and fails the test unless it succeeded.
func (e *settingsEnv) ok(info *meilisearch.TaskInfo, err error) *meilisearch.Task {
	e.t.Helper()
	task := e.wait(info, err)
	if task.Status != meilisearch.TaskStatusSucceeded {
		e.t.Fatalf("task %d: status %s, error %+v", task.UID, task.Status, task.Error)
	}
	return task
}

// raw sends an HTTP request with the master key; body "" sends none.
func (e *settingsEnv) raw(method, path, body string) (int, any) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+settingsTestKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			e.t.Fatalf("%s %s: bad JSON %q", method, path, b)
		}
	}
	return resp.StatusCode, v
}

// rawTask sends a write and waits for its task, returned as raw JSON.
func (e *settingsEnv) rawTask(method, path, body string) map[string]any {
	e.t.Helper()
	status, v := e.raw(method, path, body)
	if status != http.StatusAccepted {
		e.t.Fatalf("%s %s: status %d, body %v", method, path, status, v)
	}
	uid := int64(v.(map[string]any)["taskUid"].(float64))
	e.wait(&meilisearch.TaskInfo{TaskUID: uid}, nil)
	_, task := e.raw("GET", "/tasks/"+jsonNumber(uid), "")
	return task.(map[string]any)
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func mustEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

// asJSON round-trips v through JSON so Go values compare with decoded ones.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *settingsEnv) createIndex(uid string) meilisearch.IndexManager {
	e.t.Helper()
	e.ok(e.cli.CreateIndex(context.Background(), &meilisearch.IndexConfig{Uid: uid}))
	return e.cli.Index(uid)
}

func TestSettingsDefaults(t *testing.T) {
	e := newSettingsEnv(t)
	ix := e.createIndex("movies")
	got, err := ix.GetSettings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &meilisearch.Settings{
		RankingRules:         wantDefaultRanking,
		SearchableAttributes: []string{"*"},
		DisplayedAttributes:  []string{"*"},
		StopWords:            []string{},
		Synonyms:             map[string][]string{},
		FilterableAttributes: []string{},
		SortableAttributes:   []string{},
		TypoTolerance:        &wantDefaultTypo,
		Pagination:           &wantDefaultPagination,
		Faceting:             &wantDefaultFaceting,
		ProximityPrecision:   meilisearch.ByWord,
		SeparatorTokens:      []string{},
		NonSeparatorTokens:   []string{},
		Dictionary:           []string{},
		PrefixSearch:         ptr("indexingTime"),
		FacetSearch:          true,
		Embedders:            map[string]meilisearch.Embedder{},
	}
	mustEqual(t, "settings", got, want)

	// The raw object has exactly Meilisearch's keys, in its order.
	req, _ := http.NewRequest("GET", e.srv.URL()+"/indexes/movies/settings", nil)
	req.Header.Set("Authorization", "Bearer "+settingsTestKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	var keys []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	mustEqual(t, "keys", keys, []string{"displayedAttributes", "searchableAttributes", "filterableAttributes",
		"sortableAttributes", "rankingRules", "stopWords", "nonSeparatorTokens", "separatorTokens", "dictionary",
		"synonyms", "distinctAttribute", "proximityPrecision", "typoTolerance", "faceting", "pagination", "embedders",
		"searchCutoffMs", "localizedAttributes", "facetSearch", "prefixSearch"})

	_, raw := e.raw("GET", "/indexes/movies/settings", "")
	m := raw.(map[string]any)
	for _, k := range []string{"distinctAttribute", "searchCutoffMs", "localizedAttributes"} {
		if v, ok := m[k]; !ok || v != nil {
			t.Errorf("%s = %v, want null", k, v)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestSettingsUnknownIndex(t *testing.T) {
	e := newSettingsEnv(t)
	for _, path := range []string{"/indexes/nope/settings", "/indexes/nope/settings/ranking-rules"} {
		status, v := e.raw("GET", path, "")
		if status != 404 || v.(map[string]any)["code"] != "index_not_found" {
			t.Errorf("GET %s: %d %v", path, status, v)
		}
	}
	// no route takes an unknown setting: 404 with an empty body
	status, v := e.raw("GET", "/indexes/movies/settings/no-such-setting", "")
	if status != 404 || v != nil {
		t.Errorf("unknown sub-route: %d %v", status, v)
	}
}

// TestSettingsSubRoutes drives every sub-setting through meilisearch-go:
// get the default, update, get the new value, reset, get the default again.
func TestSettingsSubRoutes(t *testing.T) {
	e := newSettingsEnv(t)
	ctx := context.Background()
	ix := e.createIndex("books")

	type roundTrip struct {
		name    string
		get     func() (any, error)
		update  func() (*meilisearch.TaskInfo, error)
		reset   func() (*meilisearch.TaskInfo, error)
		def     any
		updated any
	}
	deref := func(v any, err error) (any, error) {
		if err != nil {
			return nil, err
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer && !rv.IsNil() {
			return rv.Elem().Interface(), nil
		}
		return v, nil
	}
	typo := meilisearch.TypoTolerance{
		Enabled:             false,
		MinWordSizeForTypos: meilisearch.MinWordSizeForTypos{OneTypo: 3, TwoTypos: 7},
		DisableOnWords:      []string{"the", "and"},
		DisableOnAttributes: []string{"sku"},
		DisableOnNumbers:    true,
	}
	faceting := meilisearch.Faceting{MaxValuesPerFacet: 5, SortFacetValuesBy: map[string]meilisearch.SortFacetType{
		"*": meilisearch.SortFacetTypeCount, "genre": meilisearch.SortFacetTypeAlpha}}
	embedders := map[string]meilisearch.Embedder{"default": {Source: meilisearch.UserProvidedEmbedderSource, Dimensions: 3}}
	localized := []*meilisearch.LocalizedAttributes{{Locales: []string{"jpn", "eng"}, AttributePatterns: []string{"*_ja"}}}
	filterable := []any{"genre", map[string]any{"attributePatterns": []any{"year"}, "features": map[string]any{
		"facetSearch": true, "filter": map[string]any{"equality": true, "comparison": true}}}}

	cases := []roundTrip{
		{"ranking-rules", func() (any, error) { return deref(ix.GetRankingRules(ctx)) },
			func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateRankingRules(ctx, &[]string{"typo", "words", "year:desc"})
			}, func() (*meilisearch.TaskInfo, error) { return ix.ResetRankingRules(ctx) },
			wantDefaultRanking, []string{"typo", "words", "year:desc"}},
		{"distinct-attribute", func() (any, error) { return deref(ix.GetDistinctAttribute(ctx)) },
			func() (*meilisearch.TaskInfo, error) { return ix.UpdateDistinctAttribute(ctx, "sku") },
			func() (*meilisearch.TaskInfo, error) { return ix.ResetDistinctAttribute(ctx) },
			"", "sku"}, // the client reads null as ""
		{"searchable-attributes", func() (any, error) { return deref(ix.GetSearchableAttributes(ctx)) },
			func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateSearchableAttributes(ctx, &[]string{"title", "overview"})
			}, func() (*meilisearch.TaskInfo, error) { return ix.ResetSearchableAttributes(ctx) },
			[]string{"*"}, []string{"title", "overview"}},
		{"displayed-attributes", func() (any, error) { return deref(ix.GetDisplayedAttributes(ctx)) },
			func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateDisplayedAttributes(ctx, &[]string{"title", "id"})
			}, func() (*meilisearch.TaskInfo, error) { return ix.ResetDisplayedAttributes(ctx) },
			[]string{"*"}, []string{"title", "id"}},
		{"stop-words", func() (any, error) { return deref(ix.GetStopWords(ctx)) },
			func() (*meilisearch.TaskInfo, error) { return ix.UpdateStopWords(ctx, &[]string{"the", "a", "the"}) },
			func() (*meilisearch.TaskInfo, error) { return ix.ResetStopWords(ctx) },
			[]string{}, []string{"a", "the"}},
		{"synonyms", func() (any, error) { return deref(ix.GetSynonyms(ctx)) },
			func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateSynonyms(ctx, &map[string][]string{"hp": {"harry potter"}})
			}, func() (*meilisearch.TaskInfo, error) { return ix.ResetSynonyms(ctx) },
			map[string][]string{}, map[string][]string{"hp": {"harry potter"}}},
		{"filterable-attributes", func() (any, error) { return deref(ix.GetFilterableAttributes(ctx)) },
			func() (*meilisearch.TaskInfo, error) { return ix.UpdateFilterableAttributes(ctx, &filterable) },
			func() (*meilisearch.TaskInfo, error) { return ix.ResetFilterableAttributes(ctx) },
			[]any{}, filterable},
		{"sortable-attributes", func() (any, error) { return deref(ix.GetSortableAttributes(ctx)) },
			func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateSortableAttributes(ctx, &[]string{"year", "title"})
			}, func() (*meilisearch.TaskInfo, error) { return ix.ResetSortableAttributes(ctx) },
			[]string{}, []string{"title", "year"}},
		{"typo-tolerance", func() (any, error) { return deref(ix.GetTypoTolerance(ctx)) },
			func() (*meilisearch.TaskInfo, error) { return ix.UpdateTypoTolerance(ctx, &typo) },
			func() (*meilisearch.TaskInfo, error) { return ix.ResetTypoTolerance(ctx) },
			wantDefaultTypo, meilisearch.TypoTolerance{Enabled: false,
				MinWordSizeForTypos: meilisearch.MinWordSizeForTypos{OneTypo: 3, TwoTypos: 7},
				DisableOnWords:      []string{"and", "the"}, DisableOnAttributes: []string{"sku"}, DisableOnNumbers: true}},
		{"pagination", func() (any, error) { return deref(ix.GetPagination(ctx)) },
			func() (*meilisearch.TaskInfo, error) {
				return ix.UpdatePagination(ctx, &meilisearch.Pagination{MaxTotalHits: 50})
			}, func() (*meilisearch.TaskInfo, error) { return ix.ResetPagination(ctx) },
			wantDefaultPagination, meilisearch.Pagination{MaxTotalHits: 50}},
		{"faceting", func() (any, error) { return deref(ix.GetFaceting(ctx)) },
			func() (*meilisearch.TaskInfo, error) { return ix.UpdateFaceting(ctx, &faceting) },
			func() (*meilisearch.TaskInfo, error) { return ix.ResetFaceting(ctx) },
			wantDefaultFaceting, faceting},
		{"embedders", func() (any, error) { return ix.GetEmbedders(ctx) },
			func() (*meilisearch.TaskInfo, error) { return ix.UpdateEmbedders(ctx, embedders) },
			func() (*meilisearch.TaskInfo, error) { return ix.ResetEmbedders(ctx) },
			map[string]meilisearch.Embedder{}, embedders},
		{"search-cutoff-ms", func() (any, error) { return ix.GetSearchCutoffMs(ctx) },
			func() (*meilisearch.TaskInfo, error) { return ix.UpdateSearchCutoffMs(ctx, 150) },
			func() (*meilisearch.TaskInfo, error) { return ix.ResetSearchCutoffMs(ctx) },
			int64(0), int64(150)},
		{"dictionary", func() (any, error) { return ix.GetDictionary(ctx) },
			func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateDictionary(ctx, []string{"W. E. B.", "J. R. R."})
			},
			func() (*meilisearch.TaskInfo, error) { return ix.ResetDictionary(ctx) },
			[]string{}, []string{"J. R. R.", "W. E. B."}},
		{"separator-tokens", func() (any, error) { return ix.GetSeparatorTokens(ctx) },
			func() (*meilisearch.TaskInfo, error) { return ix.UpdateSeparatorTokens(ctx, []string{"|", "&hellip;"}) },
			func() (*meilisearch.TaskInfo, error) { return ix.ResetSeparatorTokens(ctx) },
			[]string{}, []string{"&hellip;", "|"}},
		{"non-separator-tokens", func() (any, error) { return ix.GetNonSeparatorTokens(ctx) },
			func() (*meilisearch.TaskInfo, error) { return ix.UpdateNonSeparatorTokens(ctx, []string{"@", "#"}) },
			func() (*meilisearch.TaskInfo, error) { return ix.ResetNonSeparatorTokens(ctx) },
			[]string{}, []string{"#", "@"}},
		{"proximity-precision", func() (any, error) { return ix.GetProximityPrecision(ctx) },
			func() (*meilisearch.TaskInfo, error) {
				return ix.UpdateProximityPrecision(ctx, meilisearch.ByAttribute)
			},
			func() (*meilisearch.TaskInfo, error) { return ix.ResetProximityPrecision(ctx) },
			meilisearch.ByWord, meilisearch.ByAttribute},
		{"localized-attributes", func() (any, error) { return ix.GetLocalizedAttributes(ctx) },
			func() (*meilisearch.TaskInfo, error) { return ix.UpdateLocalizedAttributes(ctx, localized) },
			func() (*meilisearch.TaskInfo, error) { return ix.ResetLocalizedAttributes(ctx) },
			[]*meilisearch.LocalizedAttributes(nil), localized},
		{"prefix-search", func() (any, error) { return ix.GetPrefixSearch(ctx) },
			func() (*meilisearch.TaskInfo, error) { return ix.UpdatePrefixSearch(ctx, "disabled") },
			func() (*meilisearch.TaskInfo, error) { return ix.ResetPrefixSearch(ctx) },
			ptr("indexingTime"), ptr("disabled")},
		{"facet-search", func() (any, error) { return ix.GetFacetSearch(ctx) },
			func() (*meilisearch.TaskInfo, error) { return ix.UpdateFacetSearch(ctx, false) },
			func() (*meilisearch.TaskInfo, error) { return ix.ResetFacetSearch(ctx) },
			true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			get := func(what string, want any) {
				t.Helper()
				got, err := c.get()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				mustEqual(t, what, got, want)
			}
			get("default", c.def)
			task := e.ok(c.update())
			if task.Type != meilisearch.TaskTypeSettingsUpdate || task.IndexUID != "books" {
				t.Errorf("task %+v", task)
			}
			get("updated", c.updated)
			e.ok(c.reset())
			get("reset", c.def)
		})
	}
	// After all resets the whole object is back to the defaults.
	_, got := e.raw("GET", "/indexes/books/settings", "")
	mustEqual(t, "settings after resets", got, asJSON(t, orderedSettingsView(defaultSettings())))
}

// orderedSettingsView is GET /settings for st with no feature enabled.
func orderedSettingsView(st *settings) settingsObject {
	var out settingsObject
	for _, d := range settingDescs {
		if d.feature == "" {
			out = append(out, settingsField{d.name, d.get(st)})
		}
	}
	return out
}

func TestSettingsPatchMerges(t *testing.T) {
	e := newSettingsEnv(t)
	e.createIndex("movies")
	e.rawTask("PATCH", "/indexes/movies/settings", `{"typoTolerance":{"minWordSizeForTypos":{"oneTypo":4}},
		"faceting":{"maxValuesPerFacet":10},"rankingRules":["typo","words"],"stopWords":["a"]}`)
	e.rawTask("PATCH", "/indexes/movies/settings", `{"typoTolerance":{"enabled":false},
		"faceting":{"sortFacetValuesBy":{"genre":"count"}},"stopWords":null}`)
	_, v := e.raw("GET", "/indexes/movies/settings", "")
	got := v.(map[string]any)
	mustEqual(t, "typoTolerance", got["typoTolerance"], asJSON(t, map[string]any{
		"enabled": false, "minWordSizeForTypos": map[string]any{"oneTypo": 4, "twoTypos": 9},
		"disableOnWords": []any{}, "disableOnAttributes": []any{}, "disableOnNumbers": false}))
	mustEqual(t, "faceting", got["faceting"], asJSON(t, map[string]any{
		"maxValuesPerFacet": 10, "sortFacetValuesBy": map[string]any{"*": "alpha", "genre": "count"}}))
	mustEqual(t, "rankingRules kept", got["rankingRules"], asJSON(t, []string{"typo", "words"}))
	mustEqual(t, "stopWords reset by null", got["stopWords"], []any{})

	// A null nested field resets just that field.
	e.rawTask("PATCH", "/indexes/movies/settings/typo-tolerance", `{"minWordSizeForTypos":null}`)
	_, v = e.raw("GET", "/indexes/movies/settings/typo-tolerance", "")
	mustEqual(t, "typo after nested reset", v.(map[string]any)["minWordSizeForTypos"],
		asJSON(t, map[string]any{"oneTypo": 5, "twoTypos": 9}))
	if v.(map[string]any)["enabled"] != false {
		t.Errorf("enabled lost: %v", v)
	}
	// A null body on a sub-route resets the setting.
	e.rawTask("PUT", "/indexes/movies/settings/ranking-rules", `null`)
	_, v = e.raw("GET", "/indexes/movies/settings/ranking-rules", "")
	mustEqual(t, "ranking rules reset by null", v, asJSON(t, defaultRankingRules))

	// Embedders merge by name and by field; null removes one.
	e.rawTask("PATCH", "/indexes/movies/settings/embedders",
		`{"a":{"source":"userProvided","dimensions":3},"b":{"source":"userProvided","dimensions":2}}`)
	e.rawTask("PATCH", "/indexes/movies/settings/embedders", `{"a":{"dimensions":5},"b":null}`)
	_, v = e.raw("GET", "/indexes/movies/settings/embedders", "")
	mustEqual(t, "embedders", v, asJSON(t, map[string]any{"a": map[string]any{"source": "userProvided", "dimensions": 5}}))
}

func TestSettingsWholeUpdateThroughClient(t *testing.T) {
	e := newSettingsEnv(t)
	ix := e.cli.Index("movies")
	req := &meilisearch.Settings{
		RankingRules:         []string{"typo", "words"},
		SearchableAttributes: []string{"title", "tag"},
		DisplayedAttributes:  []string{"book_id", "tag", "title"},
		StopWords:            []string{"of", "the"},
		Synonyms:             map[string][]string{"hp": {"harry potter"}},
		FilterableAttributes: []string{"title"},
		SortableAttributes:   []string{"title"},
		TypoTolerance: &meilisearch.TypoTolerance{Enabled: true,
			MinWordSizeForTypos: meilisearch.MinWordSizeForTypos{OneTypo: 7, TwoTypos: 10},
			DisableOnWords:      []string{}, DisableOnAttributes: []string{}, DisableOnNumbers: true},
		Pagination:          &meilisearch.Pagination{MaxTotalHits: 1200},
		Faceting:            &meilisearch.Faceting{MaxValuesPerFacet: 200, SortFacetValuesBy: map[string]meilisearch.SortFacetType{"*": "alpha"}},
		SearchCutoffMs:      150,
		ProximityPrecision:  meilisearch.ByAttribute,
		SeparatorTokens:     []string{},
		NonSeparatorTokens:  []string{},
		Dictionary:          []string{},
		LocalizedAttributes: []*meilisearch.LocalizedAttributes{{Locales: []string{"jpn", "eng"}, AttributePatterns: []string{"*_ja"}}},
		PrefixSearch:        ptr("indexingTime"),
		FacetSearch:         true,
		Embedders:           map[string]meilisearch.Embedder{},
	}
	// The index does not exist: the settings update creates it.
	e.ok(ix.UpdateSettings(context.Background(), req))
	got, err := ix.GetSettings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "settings", got, req)
	info, err := e.cli.GetIndex(context.Background(), "movies")
	if err != nil || info.PrimaryKey != "" {
		t.Fatalf("index not created: %+v %v", info, err)
	}

	e.ok(ix.ResetSettings(context.Background()))
	got, err = ix.GetSettings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.RankingRules, wantDefaultRanking) || got.SearchCutoffMs != 0 ||
		!reflect.DeepEqual(got.DisplayedAttributes, []string{"*"}) || got.LocalizedAttributes != nil {
		t.Fatalf("not reset: %+v", got)
	}
}

func TestSettingsValidation(t *testing.T) {
	e := newSettingsEnv(t)
	e.createIndex("movies")
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"PATCH", "/settings", `{"foo":1}`, 400, "bad_request"},
		{"PATCH", "/settings", `[]`, 400, "bad_request"},
		{"PATCH", "/settings", `{"rankingRules":["foo"]}`, 400, "invalid_settings_ranking_rules"},
		{"PATCH", "/settings", `{"rankingRules":["price:up"]}`, 400, "invalid_settings_ranking_rules"},
		{"PATCH", "/settings", `{"rankingRules":"words"}`, 400, "invalid_settings_ranking_rules"},
		{"PUT", "/settings/ranking-rules", `[":asc"]`, 400, "invalid_settings_ranking_rules"},
		{"PATCH", "/settings", `{"filterableAttributes":[1]}`, 400, "invalid_settings_filterable_attributes"},
		{"PATCH", "/settings", `{"filterableAttributes":[{"attributePatterns":["a"],"bogus":1}]}`, 400, "invalid_settings_filterable_attributes"},
		{"PATCH", "/settings", `{"sortableAttributes":[true]}`, 400, "invalid_settings_sortable_attributes"},
		{"PATCH", "/settings", `{"displayedAttributes":"*"}`, 400, "invalid_settings_displayed_attributes"},
		{"PATCH", "/settings", `{"searchableAttributes":[null]}`, 400, "invalid_settings_searchable_attributes"},
		{"PATCH", "/settings", `{"stopWords":{}}`, 400, "invalid_settings_stop_words"},
		{"PATCH", "/settings", `{"synonyms":{"a":"b"}}`, 400, "invalid_settings_synonyms"},
		{"PATCH", "/settings", `{"distinctAttribute":1}`, 400, "invalid_settings_distinct_attribute"},
		{"PATCH", "/settings", `{"typoTolerance":{"minWordSizeForTypos":{"oneTypo":9,"twoTypos":5}}}`, 400, "invalid_settings_typo_tolerance"},
		{"PATCH", "/settings", `{"typoTolerance":{"minWordSizeForTypos":{"oneTypo":256}}}`, 400, "invalid_settings_typo_tolerance"},
		{"PATCH", "/settings", `{"typoTolerance":{"foo":true}}`, 400, "invalid_settings_typo_tolerance"},
		{"PATCH", "/settings/typo-tolerance", `{"enabled":"yes"}`, 400, "invalid_settings_typo_tolerance"},
		{"PATCH", "/settings", `{"faceting":{"maxValuesPerFacet":-1}}`, 400, "invalid_settings_faceting"},
		{"PATCH", "/settings", `{"faceting":{"sortFacetValuesBy":{"*":"random"}}}`, 400, "invalid_settings_faceting"},
		{"PATCH", "/settings", `{"pagination":{"maxTotalHits":0}}`, 400, "invalid_settings_pagination"},
		{"PATCH", "/settings/pagination", `{"maxTotalHits":"10"}`, 400, "invalid_settings_pagination"},
		{"PATCH", "/settings", `{"proximityPrecision":"byLetter"}`, 400, "invalid_settings_proximity_precision"},
		{"PATCH", "/settings", `{"prefixSearch":"always"}`, 400, "invalid_settings_prefix_search"},
		{"PATCH", "/settings", `{"facetSearch":"yes"}`, 400, "invalid_settings_facet_search"},
		{"PATCH", "/settings", `{"searchCutoffMs":-5}`, 400, "invalid_settings_search_cutoff_ms"},
		{"PATCH", "/settings", `{"localizedAttributes":[{"locales":["foo"],"attributePatterns":["*"]}]}`, 400, "invalid_settings_localized_attributes"},
		{"PATCH", "/settings", `{"embedders":{"e":{"source":"magic"}}}`, 400, "invalid_settings_embedders"},
		{"PATCH", "/settings", `{"embedders":{"e":{"source":"userProvided","model":"x","dimensions":3}}}`, 400, "invalid_settings_embedders"},
		{"PATCH", "/settings", `{"embedders":{"e":{"source":"userProvided","dimensions":0}}}`, 400, "invalid_settings_embedders"},
		{"PATCH", "/settings", `{"embedders":{"e":{"unknown":1}}}`, 400, "invalid_settings_embedders"},
		{"PATCH", "/settings", `{"chat":{"description":"x"}}`, 400, "feature_not_enabled"},
		{"PATCH", "/settings", `{"foreignKeys":[]}`, 400, "feature_not_enabled"},
		{"PATCH", "/settings", `{"vectorStore":"stable"}`, 400, "feature_not_enabled"},
	}
	for _, c := range cases {
		status, v := e.raw(c.method, "/indexes/movies"+c.path, c.body)
		m, _ := v.(map[string]any)
		if status != c.status || m["code"] != c.code {
			t.Errorf("%s %s %s: got %d %v, want %d %s", c.method, c.path, c.body, status, v, c.status, c.code)
			continue
		}
		if m["type"] != "invalid_request" || m["message"] == "" || m["link"] != "https://docs.meilisearch.com/errors#"+c.code {
			t.Errorf("%s: error shape %v", c.body, m)
		}
	}
	status, v := e.raw("PATCH", "/indexes/movies/settings", `{"rankingRules":["words","foo"]}`)
	if msg := v.(map[string]any)["message"].(string); status != 400 || !strings.Contains(msg, "`.rankingRules[1]`") || !strings.Contains(msg, "`foo`") {
		t.Errorf("ranking rule message: %q", msg)
	}
	_, v = e.raw("PATCH", "/indexes/movies/settings", `{"foo":1}`)
	if msg := v.(map[string]any)["message"].(string); !strings.HasPrefix(msg, "Unknown field `foo`: expected one of `displayedAttributes`") {
		t.Errorf("unknown field message: %q", msg)
	}
	status, v = e.raw("PATCH", "/indexes/bad%20uid/settings", `{}`)
	if status != 400 || v.(map[string]any)["code"] != "invalid_index_uid" {
		t.Errorf("bad uid: %d %v", status, v)
	}
	// Nothing was enqueued by the rejected requests.
	_, tasks := e.raw("GET", "/tasks?types=settingsUpdate", "")
	if n := tasks.(map[string]any)["total"]; n != float64(0) {
		t.Errorf("rejected requests enqueued %v tasks", n)
	}
}

func TestSettingsTaskTimeFailures(t *testing.T) {
	e := newSettingsEnv(t)
	e.createIndex("movies")
	e.rawTask("PATCH", "/indexes/movies/settings/typo-tolerance", `{"minWordSizeForTypos":{"twoTypos":6}}`)
	// oneTypo 7 alone is valid, but not against the stored twoTypos 6.
	task := e.rawTask("PATCH", "/indexes/movies/settings/typo-tolerance", `{"minWordSizeForTypos":{"oneTypo":7}}`)
	if task["status"] != "failed" || task["error"].(map[string]any)["code"] != "invalid_settings_typo_tolerance" {
		t.Fatalf("task %v", task)
	}
	// A userProvided embedder needs dimensions; a failed update creates no index.
	task = e.rawTask("PATCH", "/indexes/ghost/settings", `{"embedders":{"e":{"source":"userProvided"}}}`)
	if task["status"] != "failed" || task["error"].(map[string]any)["code"] != "invalid_settings_embedders" {
		t.Fatalf("task %v", task)
	}
	if status, _ := e.raw("GET", "/indexes/ghost", ""); status != 404 {
		t.Fatalf("failed settings update created the index: %d", status)
	}
	// The failed change left the settings as they were.
	_, v := e.raw("GET", "/indexes/movies/settings/typo-tolerance", "")
	mustEqual(t, "minWordSizeForTypos", v.(map[string]any)["minWordSizeForTypos"], asJSON(t, map[string]int{"oneTypo": 5, "twoTypos": 6}))
}

func TestSettingsTaskDetails(t *testing.T) {
	e := newSettingsEnv(t)
	task := e.rawTask("PATCH", "/indexes/movies/settings",
		`{"rankingRules":["typo","words"],"sortableAttributes":["b","a","b"],"displayedAttributes":["title","*"],
		  "typoTolerance":{"enabled":false},"distinctAttribute":null,
		  "embedders":{"e":{"source":"rest","url":"http://x","request":{},"response":{},"apiKey":"0123456789abcdefghijklmnopqrstuvwxyz","dimensions":2}}}`)
	if task["type"] != "settingsUpdate" || task["status"] != "succeeded" || task["indexUid"] != "movies" {
		t.Fatalf("task %v", task)
	}
	mustEqual(t, "details", task["details"], asJSON(t, map[string]any{
		"rankingRules":        []string{"typo", "words"},
		"sortableAttributes":  []string{"a", "b"},
		"displayedAttributes": []string{"*"},
		"typoTolerance":       map[string]any{"enabled": false},
		"distinctAttribute":   nil,
		"embedders": map[string]any{"e": map[string]any{"source": "rest", "url": "http://x", "request": map[string]any{},
			"response": map[string]any{}, "apiKey": "01234XXXXXX...", "dimensions": 2}},
	}))
	// GET masks the key too, and shows the rest embedder's headers and
	// its document template defaults.
	_, v := e.raw("GET", "/indexes/movies/settings/embedders", "")
	mustEqual(t, "embedders", v, asJSON(t, map[string]any{"e": map[string]any{"source": "rest", "url": "http://x",
		"request": map[string]any{}, "response": map[string]any{}, "apiKey": "01234XXXXXX...", "dimensions": 2, "headers": map[string]any{},
		"documentTemplate": defaultDocumentTemplate, "documentTemplateMaxBytes": 400}}))

	task = e.rawTask("PUT", "/indexes/movies/settings/stop-words", `["the","a"]`)
	mustEqual(t, "sub-route details", task["details"], asJSON(t, map[string]any{"stopWords": []string{"a", "the"}}))

	task = e.rawTask("DELETE", "/indexes/movies/settings/searchable-attributes", "")
	mustEqual(t, "sub-route reset details", task["details"], asJSON(t, map[string]any{"searchableAttributes": []string{"*"}}))
	task = e.rawTask("DELETE", "/indexes/movies/settings/ranking-rules", "")
	mustEqual(t, "sub-route reset details", task["details"], map[string]any{"rankingRules": nil})

	task = e.rawTask("DELETE", "/indexes/movies/settings", "")
	want := map[string]any{}
	for _, n := range settingNames() {
		want[n] = nil
	}
	want["displayedAttributes"] = []any{"*"}
	want["searchableAttributes"] = []any{"*"}
	mustEqual(t, "reset-all details", task["details"], want)
	_, got := e.raw("GET", "/indexes/movies/settings", "")
	mustEqual(t, "settings after reset-all", got, asJSON(t, orderedSettingsView(defaultSettings())))
}

func TestSettingsExperimentalFeatures(t *testing.T) {
	e := newSettingsEnv(t)
	e.createIndex("movies")
	if _, err := e.cli.ExperimentalFeatures().SetChatCompletions(true).SetForeignKeys(true).Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, v := e.raw("GET", "/indexes/movies/settings", "")
	m := v.(map[string]any)
	mustEqual(t, "chat default", m["chat"], asJSON(t, defaultChat()))
	mustEqual(t, "foreignKeys default", m["foreignKeys"], []any{})
	if _, ok := m["vectorStore"]; ok {
		t.Errorf("vectorStore shown without its feature")
	}

	e.rawTask("PATCH", "/indexes/movies/settings", `{"chat":{"description":"Movies","searchParameters":{"limit":5}},
		"foreignKeys":[{"fieldName":"author","foreignIndexUid":"authors"}]}`)
	e.rawTask("PATCH", "/indexes/movies/settings/chat", `{"searchParameters":{"distinct":"sku"}}`)
	_, v = e.raw("GET", "/indexes/movies/settings/chat", "")
	mustEqual(t, "chat merged", v, asJSON(t, map[string]any{"description": "Movies", "documentTemplate": defaultChatTemplate,
		"documentTemplateMaxBytes": 400, "searchParameters": map[string]any{"limit": 5, "distinct": "sku"}}))
	fks, err := e.cli.Index("movies").GetForeignKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "foreign keys", fks, []meilisearch.ForeignKey{{FieldName: "author", ForeignIndexUid: "authors"}})

	// With the chat feature on, the client's own defaultChat round-trips.
	got, err := e.cli.Index("movies").GetSettings(context.Background())
	if err != nil || got.Chat == nil || got.Chat.Description != "Movies" || got.Chat.DocumentTemplateMaxBytes != 400 {
		t.Fatalf("chat through client: %+v %v", got.Chat, err)
	}
}

func TestSettingsConcurrentReaders(t *testing.T) {
	// Settings updates swap the pointer; readers under the lock keep a
	// consistent value. Run with -race.
	e := newSettingsEnv(t)
	e.createIndex("movies")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			e.raw("GET", "/indexes/movies/settings", "")
		}
	}()
	for i := 0; i < 5; i++ {
		e.rawTask("PATCH", "/indexes/movies/settings", `{"stopWords":["a"],"typoTolerance":{"enabled":false}}`)
	}
	<-done
}
