package miroir

// The shard field stays filterable whatever the caller sets
// (settings_raw.go), and never shows in what the caller reads.

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

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
	if len(list) != 4 || list[0] != "genre" || list[2] != shardField || list[3] != versionField {
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
	if s := f.assertUniform(); string(s["filterableAttributes"]) != `["_miroir_shard","_miroir_v"]` {
		t.Errorf("after reset: %s", s["filterableAttributes"])
	}
	if got, _ := idx.GetFilterableAttributes(ctx); len(*got) != 0 {
		t.Errorf("after reset, read %v", *got)
	}

	f.mustSucceed(idx.UpdateSettings(ctx, &meilisearch.Settings{FilterableAttributes: []string{"a"}, SortableAttributes: []string{"b"}}))
	if s := f.assertUniform(); string(s["filterableAttributes"]) != `["a","_miroir_shard","_miroir_v"]` {
		t.Errorf("after UpdateSettings: %s", s["filterableAttributes"])
	}
	// An update that already names it does not duplicate it.
	f.mustSucceed(idx.UpdateFilterableAttributes(ctx, &[]interface{}{shardField, "x"}))
	if s := f.assertUniform(); string(s["filterableAttributes"]) != `["_miroir_shard","x","_miroir_v"]` {
		t.Errorf("after update naming it: %s", s["filterableAttributes"])
	}

	f.mustSucceed(idx.ResetSettings(ctx))
	s = f.assertUniform()
	if string(s["filterableAttributes"]) != `["_miroir_shard","_miroir_v"]` || string(s["sortableAttributes"]) != `["_miroir_v"]` {
		t.Errorf("after ResetSettings: filterable %s sortable %s", s["filterableAttributes"], s["sortableAttributes"])
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
	expectNodes("after creation", "_miroir_shard", "_miroir_v")
	expectRead("after creation")

	acWaitOK(t, f.c)(ix.UpdateFilterableAttributes(ctx, &[]any{"genre"}))
	expectNodes("UpdateFilterableAttributes", "genre", "_miroir_shard", "_miroir_v")
	expectRead("UpdateFilterableAttributes", "genre")

	acWaitOK(t, f.c)(ix.UpdateSettings(ctx, &meilisearch.Settings{FilterableAttributes: []string{"year", "genre"}}))
	expectNodes("UpdateSettings", "year", "genre", "_miroir_shard", "_miroir_v")

	acWaitOK(t, f.c)(ix.UpdateSettings(ctx, &meilisearch.Settings{StopWords: []string{"x"}}))
	expectNodes("UpdateSettings without filterable", "year", "genre", "_miroir_shard", "_miroir_v")

	acWaitOK(t, f.c)(ix.UpdateFilterableAttributes(ctx, &[]any{map[string]any{"attributePatterns": []string{"tag*"}, "features": map[string]any{"facetSearch": true, "filter": map[string]any{"equality": true, "comparison": false}}}}))
	var hasShard bool
	for _, fa := range nodeFA() {
		hasShard = slices.ContainsFunc(fa, func(s string) bool { return strings.Contains(s, "_miroir_shard") })
		if !hasShard {
			t.Errorf("pattern-object update: node filterable %v lacks _miroir_shard", fa)
		}
	}

	acWaitOK(t, f.c)(ix.ResetFilterableAttributes(ctx))
	expectNodes("ResetFilterableAttributes", "_miroir_shard", "_miroir_v")
	expectRead("ResetFilterableAttributes")

	acWaitOK(t, f.c)(ix.UpdateFilterableAttributes(ctx, &[]any{"a"}))
	acWaitOK(t, f.c)(ix.ResetSettings(ctx))
	expectNodes("ResetSettings", "_miroir_shard", "_miroir_v")
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
	expectNodes("proxy PUT filterable", "via_proxy", "_miroir_shard", "_miroir_v")
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
	expectNodes("proxy DELETE settings", "_miroir_shard", "_miroir_v")
	// Filtering on the shard field keeps working after a reset.
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 20), nil))
	res, err := ix.Search(ctx, "", &meilisearch.SearchRequest{Limit: 100})
	if err != nil || len(res.Hits) != 20 {
		t.Errorf("search after reset: %v %v", res, err)
	}
}

func TestWithShardFilterable(t *testing.T) {
	cases := map[string]string{
		`null`:                          `["_miroir_shard","_miroir_v"]`,
		`[]`:                            `["_miroir_shard","_miroir_v"]`,
		`["a"]`:                         `["a","_miroir_shard","_miroir_v"]`,
		`["_miroir_shard","a"]`:         `["_miroir_shard","a","_miroir_v"]`,
		`["_miroir_v","_miroir_shard"]`: `["_miroir_v","_miroir_shard"]`,
		`[{"attributePatterns":["x"]}]`: `[{"attributePatterns":["x"]},"_miroir_shard","_miroir_v"]`,
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
