package miroir

// Settings validated before any node (settings_validate.go): a bad value
// is refused with Meilisearch's own error, code and message.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// svCase is one settings payload: route "" is the settings object
// (PATCH), any other route a sub-route with the setting's own verb. code
// "" means Meilisearch accepts it.
type svCase struct {
	route, body, code string
	// handlerMsg: the proxy handler words this one its own way (its
	// shape check of the settings object runs first); status and code
	// still match.
	handlerMsg bool
}

var svCases = []svCase{
	// settings object
	{route: "", body: `{"foo":1}`, code: "bad_request"},
	{route: "", body: `{"rankingRules":["words"],"zzz":null}`, code: "bad_request"},
	{route: "", body: `[1]`, code: "bad_request", handlerMsg: true},
	{route: "", body: `{"rankingRules":"words"}`, code: "invalid_settings_ranking_rules"},
	{route: "", body: `{"proximityPrecision":"x","rankingRules":["bad rule"]}`, code: "invalid_settings_ranking_rules"},
	{route: "", body: `{"localizedAttributes":[{"attributePatterns":["*"],"locales":["xx"]}]}`, code: "invalid_settings_localized_attributes"},
	{route: "", body: `{"faceting":{"sortFacetValuesBy":{"genre":"size"}}}`, code: "invalid_settings_faceting"},
	{route: "", body: `{"embedders":{"e":[]}}`, code: "invalid_settings_embedders"},
	{route: "", body: `{"typoTolerance":{"minWordSizeForTypos":{"oneTypo":6,"twoTypos":2}}}`, code: "invalid_settings_typo_tolerance"},
	{route: "", body: `{"searchCutoffMs":1.5}`, code: "invalid_settings_search_cutoff_ms"},
	{route: "", body: `{"facetSearch":1}`, code: "invalid_settings_facet_search"},
	{route: "", body: `{"chat":{"searchParameters":{"matchingStrategy":"some"}}}`, code: "invalid_settings_index_chat"},
	{route: "", body: `{"rankingRules":["typo","price:asc"],"localizedAttributes":[{"attributePatterns":["*_ja"],"locales":["jpn","en"]}],"typoTolerance":{"minWordSizeForTypos":{"oneTypo":4,"twoTypos":8}},"faceting":{"maxValuesPerFacet":50,"sortFacetValuesBy":{"*":"count"}},"pagination":{"maxTotalHits":500},"proximityPrecision":"byAttribute","searchCutoffMs":150,"prefixSearch":"disabled"}`},
	{route: "", body: `{"rankingRules":null,"filterableAttributes":null,"embedders":null}`},
	// ranking rules
	{route: "ranking-rules", body: `["nonsense rule!"]`, code: "invalid_settings_ranking_rules"},
	{route: "ranking-rules", body: `["price:up"]`, code: "invalid_settings_ranking_rules"},
	{route: "ranking-rules", body: `[":asc"]`, code: "invalid_settings_ranking_rules"},
	{route: "ranking-rules", body: `[1]`, code: "invalid_settings_ranking_rules"},
	{route: "ranking-rules", body: `"words"`, code: "invalid_settings_ranking_rules"},
	{route: "ranking-rules", body: `["typo","attributeRank","release_date:desc"]`},
	// localized attributes
	{route: "localized-attributes", body: `[{"attributePatterns":["*"],"locales":["foo"]}]`, code: "invalid_settings_localized_attributes"},
	{route: "localized-attributes", body: `[{"locales":["foo"]}]`, code: "invalid_settings_localized_attributes"},
	{route: "localized-attributes", body: `[{"attributePatterns":["*"],"locales":["eng"],"x":1}]`, code: "invalid_settings_localized_attributes"},
	{route: "localized-attributes", body: `{"attributePatterns":["*"]}`, code: "invalid_settings_localized_attributes"},
	{route: "localized-attributes", body: `[{"attributePatterns":["*"],"locales":"eng"}]`, code: "invalid_settings_localized_attributes"},
	{route: "localized-attributes", body: `[{"attributePatterns":["title_*"],"locales":["fra","de"]}]`},
	{route: "localized-attributes", body: `null`},
	// typo tolerance
	{route: "typo-tolerance", body: `{"minWordSizeForTypos":{"oneTypo":9,"twoTypos":5}}`, code: "invalid_settings_typo_tolerance"},
	{route: "typo-tolerance", body: `{"minWordSizeForTypos":{"oneTypo":null,"twoTypos":3}}`, code: "invalid_settings_typo_tolerance"},
	{route: "typo-tolerance", body: `{"minWordSizeForTypos":{"oneTypo":300}}`, code: "invalid_settings_typo_tolerance"},
	{route: "typo-tolerance", body: `{"minWordSizeForTypos":{"oneTypo":-1}}`, code: "invalid_settings_typo_tolerance"},
	{route: "typo-tolerance", body: `{"minWordSizeForTypos":{"threeTypos":1}}`, code: "invalid_settings_typo_tolerance"},
	{route: "typo-tolerance", body: `{"enabled":"yes"}`, code: "invalid_settings_typo_tolerance"},
	{route: "typo-tolerance", body: `{"foo":true}`, code: "invalid_settings_typo_tolerance"},
	{route: "typo-tolerance", body: `{"disableOnWords":"x"}`, code: "invalid_settings_typo_tolerance"},
	{route: "typo-tolerance", body: `[]`, code: "invalid_settings_typo_tolerance"},
	{route: "typo-tolerance", body: `{"enabled":false,"disableOnNumbers":true,"disableOnAttributes":["sku"]}`},
	// enums
	{route: "proximity-precision", body: `"byLetter"`, code: "invalid_settings_proximity_precision"},
	{route: "proximity-precision", body: `1`, code: "invalid_settings_proximity_precision"},
	{route: "proximity-precision", body: `"byAttribute"`},
	{route: "prefix-search", body: `"always"`, code: "invalid_settings_prefix_search"},
	{route: "vector-store", body: `"fast"`, code: "invalid_settings_vector_store"},
	// faceting, pagination
	{route: "faceting", body: `{"sortFacetValuesBy":{"*":"random"}}`, code: "invalid_settings_faceting"},
	{route: "faceting", body: `{"sortFacetValuesBy":["alpha"]}`, code: "invalid_settings_faceting"},
	{route: "faceting", body: `{"maxValuesPerFacet":"10"}`, code: "invalid_settings_faceting"},
	{route: "faceting", body: `{"maxValuesPerFacet":1.5}`, code: "invalid_settings_faceting"},
	{route: "faceting", body: `{"maxValues":10}`, code: "invalid_settings_faceting"},
	{route: "faceting", body: `{"maxValuesPerFacet":20,"sortFacetValuesBy":{"genre":"count"}}`},
	{route: "pagination", body: `{"maxTotalHits":0}`, code: "invalid_settings_pagination"},
	{route: "pagination", body: `{"maxTotalHits":"x"}`, code: "invalid_settings_pagination"},
	{route: "pagination", body: `{"maxTotalHits":-5}`, code: "invalid_settings_pagination"},
	{route: "pagination", body: `{"maxTotalHits":5000}`},
	// embedders
	{route: "embedders", body: `[]`, code: "invalid_settings_embedders"},
	{route: "embedders", body: `{"e":1}`, code: "invalid_settings_embedders"},
	{route: "embedders", body: `{"e":{"source":"magic"}}`, code: "invalid_settings_embedders"},
	{route: "embedders", body: `{"e":{"foo":1}}`, code: "invalid_settings_embedders"},
	{route: "embedders", body: `{"e":{"source":"userProvided","model":"x","dimensions":3}}`, code: "invalid_settings_embedders"},
	{route: "embedders", body: `{"e":{"source":"userProvided","dimensions":0}}`, code: "invalid_settings_embedders"},
	{route: "embedders", body: `{"e":{"source":"userProvided","dimensions":3,"distribution":{"mean":0.5}}}`, code: "invalid_settings_embedders"},
	{route: "embedders", body: `{"e":{"source":"composite","searchEmbedder":{"source":"userProvided","searchEmbedder":{}}}}`, code: "invalid_settings_embedders"},
	{route: "embedders", body: `{"e":{"source":"userProvided","dimensions":3,"binaryQuantized":false}}`},
	// scalar and list settings
	{route: "search-cutoff-ms", body: `"x"`, code: "invalid_settings_search_cutoff_ms"},
	{route: "search-cutoff-ms", body: `-1`, code: "invalid_settings_search_cutoff_ms"},
	{route: "facet-search", body: `"yes"`, code: "invalid_settings_facet_search"},
	{route: "distinct-attribute", body: `1`, code: "invalid_settings_distinct_attribute"},
	{route: "synonyms", body: `{"a":"b"}`, code: "invalid_settings_synonyms"},
	{route: "synonyms", body: `[]`, code: "invalid_settings_synonyms"},
	{route: "synonyms", body: `{"phone":["mobile"]}`},
	{route: "stop-words", body: `[1]`, code: "invalid_settings_stop_words"},
	{route: "separator-tokens", body: `"a"`, code: "invalid_settings_separator_tokens"},
	{route: "non-separator-tokens", body: `{}`, code: "invalid_settings_non_separator_tokens"},
	{route: "dictionary", body: `[null]`, code: "invalid_settings_dictionary"},
	{route: "sortable-attributes", body: `"x"`, code: "invalid_settings_sortable_attributes"},
	{route: "displayed-attributes", body: `{"a":1}`, code: "invalid_settings_displayed_attributes"},
	{route: "searchable-attributes", body: `[true]`, code: "invalid_settings_searchable_attributes"},
	{route: "filterable-attributes", body: `[1]`, code: "invalid_settings_filterable_attributes"},
	{route: "filterable-attributes", body: `[{"attributePatterns":"x"}]`, code: "invalid_settings_filterable_attributes"},
	{route: "filterable-attributes", body: `[{"features":{}}]`, code: "invalid_settings_filterable_attributes"},
	{route: "filterable-attributes", body: `[{"attributePatterns":["a"],"features":{"filter":{"equality":"yes"}}}]`, code: "invalid_settings_filterable_attributes"},
	{route: "filterable-attributes", body: `["genre",{"attributePatterns":["a*"],"features":{"facetSearch":true,"filter":{"equality":true,"comparison":false}}}]`},
	{route: "foreign-keys", body: `[{"fieldName":"a"}]`, code: "invalid_settings_foreign_keys"},
	{route: "chat", body: `{"documentTemplateMaxBytes":"big"}`, code: "invalid_settings_index_chat"},
	{route: "chat", body: `{"description":"movies"}`},
}

// svMethod is the verb that updates route.
func svMethod(route string) string {
	if route == "" {
		return http.MethodPatch
	}
	return settingByRoute(route).update
}

type svAnswer struct {
	status int
	err    struct{ Message, Code, Type, Link string }
	task   int64
}

func svDo(t *testing.T, h http.Handler, method, path, body string) svAnswer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	a := svAnswer{status: w.Code}
	b := w.Body.Bytes()
	_ = json.Unmarshal(b, &a.err)
	var sum struct {
		TaskUID int64 `json:"taskUid"`
	}
	_ = json.Unmarshal(b, &sum)
	a.task = sum.TaskUID
	return a
}

func svSettingsPath(uid, route string) string {
	if route == "" {
		return "/indexes/" + uid + "/settings"
	}
	return "/indexes/" + uid + "/settings/" + route
}

// svEnableFeatures turns on the experimental features the gated settings
// need, so a node judges their values rather than the feature.
func svEnableFeatures(t *testing.T, srv *meilitest.Server) {
	t.Helper()
	a := svDo(t, srv.Handler(), http.MethodPatch, "/experimental-features",
		`{"chatCompletions":true,"foreignKeys":true,"vectorStoreSetting":true}`)
	if a.status != http.StatusOK {
		t.Fatalf("enable features: %d %+v", a.status, a.err)
	}
}

// TestSettingsValidateMatchesMeilisearch sends each payload to a plain
// meilitest node and through a Cluster (its Handler and updateSettingsRaw):
// the Cluster refuses what the node refuses, at once, with the same status
// and code (and message), before any node sees a settings request or a task
// is registered; what the node accepts, the Cluster applies.
func TestSettingsValidateMatchesMeilisearch(t *testing.T) {
	direct, _ := startRef(t)
	svEnableFeatures(t, direct)
	f := newSettingsFleet(t, 2)
	var settingsHits atomic.Int64
	for _, s := range f.srv {
		svEnableFeatures(t, s)
	}
	h := f.c.Handler()
	ctx := context.Background()
	taskTotal := func() int64 {
		var tr struct {
			Total int64 `json:"total"`
		}
		r := httptest.NewRequest(http.MethodGet, "/tasks?limit=1", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil || w.Code != http.StatusOK {
			t.Fatalf("GET /tasks: %d %s", w.Code, w.Body.Bytes())
		}
		return tr.Total
	}
	for _, tc := range svCases {
		name := tc.route
		if name == "" {
			name = "settings"
		}
		t.Run(name+" "+tc.body, func(t *testing.T) {
			method := svMethod(tc.route)
			want := svDo(t, direct.Handler(), method, svSettingsPath("x", tc.route), tc.body)
			if tc.code == "" {
				if want.status != http.StatusAccepted {
					t.Fatalf("node refused a valid payload: %d %+v", want.status, want.err)
				}
				got := svDo(t, h, method, svSettingsPath(f.uid, tc.route), tc.body)
				if got.status != http.StatusAccepted {
					t.Fatalf("cluster: %d %+v", got.status, got.err)
				}
				wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				task, err := f.c.WaitForTask(wctx, got.task, 5*time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				if task.Status != meilisearch.TaskStatusSucceeded {
					t.Fatalf("cluster task %s: %+v", task.Status, task.Error)
				}
				return
			}
			if want.status != http.StatusBadRequest || want.err.Code != tc.code {
				t.Fatalf("node: %d %+v, want 400 %s (test table out of date?)", want.status, want.err, tc.code)
			}
			// Tripwire: any settings request reaching a node fails and is
			// counted.
			settingsHits.Store(0)
			for _, s := range f.srv {
				clear := s.FailRequests(func(r *http.Request) bool {
					if strings.Contains(r.URL.Path, "/settings") {
						settingsHits.Add(1)
						return true
					}
					return false
				}, http.StatusInternalServerError, "internal")
				defer clear()
			}
			before := taskTotal()
			got := svDo(t, h, method, svSettingsPath(f.uid, tc.route), tc.body)
			if got.status != want.status || got.err.Code != want.err.Code || got.err.Type != want.err.Type || got.err.Link != want.err.Link {
				t.Errorf("handler: %d %+v\nnode:    %d %+v", got.status, got.err, want.status, want.err)
			}
			if !tc.handlerMsg && got.err.Message != want.err.Message {
				t.Errorf("handler message:\n got %s\nwant %s", got.err.Message, want.err.Message)
			}
			info, err := f.c.updateSettingsRaw(ctx, f.uid, tc.route, method, []byte(tc.body))
			var me *Error
			if info != nil || !errors.As(err, &me) {
				t.Fatalf("updateSettingsRaw: %+v, %v: want a synchronous *Error", info, err)
			}
			if me.Status != want.status || me.Code != want.err.Code {
				t.Errorf("updateSettingsRaw: %d %s, want %d %s", me.Status, me.Code, want.status, want.err.Code)
			}
			if n := settingsHits.Load(); n != 0 {
				t.Errorf("%d settings requests reached the nodes", n)
			}
			if after := taskTotal(); after != before {
				t.Errorf("a task was registered: %d tasks, was %d", after, before)
			}
		})
	}
}

// TestSettingsValidateDropIn: the meilisearch-go calls refused by one
// Meilisearch are refused by the Cluster, synchronously, with an error
// errors.As reads as *meilisearch.Error with the same code.
func TestSettingsValidateDropIn(t *testing.T) {
	f := newSettingsFleet(t, 2)
	ctx := context.Background()
	node := f.direct[0].Index(f.uid)
	ix := f.index()
	check := func(name string, mine, theirs error, code string) {
		t.Helper()
		var a, b *meilisearch.Error
		if !errors.As(theirs, &b) || b.APIError.Code != meilisearch.APIErrCode(code) {
			t.Fatalf("%s: node answered %v, want %s", name, theirs, code)
		}
		if !errors.As(mine, &a) {
			t.Fatalf("%s: cluster answered %v, want a *meilisearch.Error", name, mine)
		}
		if a.APIError.Code != b.APIError.Code || a.StatusCode != b.StatusCode || a.APIError.Type != b.APIError.Type {
			t.Errorf("%s: cluster %d %s %s, node %d %s %s", name, a.StatusCode, a.APIError.Code, a.APIError.Type, b.StatusCode, b.APIError.Code, b.APIError.Type)
		}
	}

	loc := []*meilisearch.LocalizedAttributes{{Locales: []string{"foo"}}}
	_, err := ix.UpdateLocalizedAttributes(ctx, loc)
	_, nerr := node.UpdateLocalizedAttributes(ctx, loc)
	check("UpdateLocalizedAttributes", err, nerr, "invalid_settings_localized_attributes")

	loc = []*meilisearch.LocalizedAttributes{{AttributePatterns: []string{"*"}, Locales: []string{"foo"}}}
	_, err = ix.UpdateLocalizedAttributes(ctx, loc)
	_, nerr = node.UpdateLocalizedAttributes(ctx, loc)
	check("UpdateLocalizedAttributes with patterns", err, nerr, "invalid_settings_localized_attributes")

	typo := &meilisearch.TypoTolerance{Enabled: true, MinWordSizeForTypos: meilisearch.MinWordSizeForTypos{OneTypo: 5}}
	_, err = ix.UpdateTypoTolerance(ctx, typo)
	_, nerr = node.UpdateTypoTolerance(ctx, typo)
	check("UpdateTypoTolerance", err, nerr, "invalid_settings_typo_tolerance")

	st := &meilisearch.Settings{RankingRules: []string{"words", "by price"}, ProximityPrecision: "sometimes"}
	_, err = ix.UpdateSettings(ctx, st)
	_, nerr = node.UpdateSettings(ctx, st)
	check("UpdateSettings", err, nerr, "invalid_settings_ranking_rules")

	_, err = ix.UpdateProximityPrecision(ctx, "sometimes")
	_, nerr = node.UpdateProximityPrecision(ctx, "sometimes")
	check("UpdateProximityPrecision", err, nerr, "invalid_settings_proximity_precision")

	emb := map[string]meilisearch.Embedder{"e": {Source: "userProvided", Model: "x", Dimensions: 3}}
	_, err = ix.UpdateEmbedders(ctx, emb)
	_, nerr = node.UpdateEmbedders(ctx, emb)
	check("UpdateEmbedders", err, nerr, "invalid_settings_embedders")

	// A valid typed payload still goes through.
	f.mustSucceed(ix.UpdateLocalizedAttributes(ctx, []*meilisearch.LocalizedAttributes{{AttributePatterns: []string{"*"}, Locales: []string{"eng"}}}))
}

// TestSettingsValidateKeepsShardFilterable: validation sees the payload
// with _miroir_shard added and leaves it alone.
func TestSettingsValidateKeepsShardFilterable(t *testing.T) {
	f := newSettingsFleet(t, 2)
	ctx := context.Background()
	f.mustSucceed(f.index().UpdateFilterableAttributes(ctx, &[]interface{}{"genre"}))
	for i := range f.srv {
		fa := f.nodeSettings(i)["filterableAttributes"]
		if !bytes.Contains(fa, []byte(shardField)) {
			t.Errorf("node %d: filterableAttributes %s lost %s", i, fa, shardField)
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
