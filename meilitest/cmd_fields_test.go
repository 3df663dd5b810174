package meilitest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// POST /indexes/{uid}/fields lists the index's fields with what the
// settings make of them, filtered and paged.
func TestListFields(t *testing.T) {
	srv, c := newClient(t)
	ix := c.Index("f")
	waitFor(t, c)(ix.AddDocuments(context.Background(), []map[string]any{{"id": 1, "title": "x", "genre": "y", "info": map[string]any{"year": 2000}}}, nil))
	waitFor(t, c)(ix.UpdateSettings(context.Background(), &meilisearch.Settings{
		SearchableAttributes: []string{"title"}, DisplayedAttributes: []string{"id", "title", "info"},
		SortableAttributes: []string{"info.year"}, DistinctAttribute: ptr("genre"),
		RankingRules: []string{"words", "info.year:desc"}, FilterableAttributes: []string{"genre"},
		Faceting: &meilisearch.Faceting{SortFacetValuesBy: map[string]meilisearch.SortFacetType{"genre": "count"}},
	}))
	list := func(body string) map[string]any {
		t.Helper()
		status, b := rawRequest(t, srv, "POST", "/indexes/f/fields", "", body)
		if status != 200 {
			t.Fatalf("%s: %d %s", body, status, b)
		}
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out
	}
	names := func(out map[string]any) string {
		var n []string
		for _, f := range out["results"].([]any) {
			n = append(n, f.(map[string]any)["name"].(string))
		}
		return strings.Join(n, ",")
	}
	out := list(`{}`)
	if names(out) != "genre,id,info,info.year,title" || out["total"] != 5.0 || out["limit"] != 20.0 || out["offset"] != 0.0 {
		t.Fatalf("all fields: %v", out)
	}
	status, b := rawRequest(t, srv, "POST", "/indexes/f/fields", "", `{"filter":{"attributePatterns":["genre"]}}`)
	want := `{"results":[{"name":"genre","displayed":{"enabled":false},"searchable":{"enabled":false},"sortable":{"enabled":false},"distinct":{"enabled":true},"rankingRule":{"enabled":false},"filterable":{"enabled":true,"sortBy":"count","facetSearch":true,"equality":true,"comparison":true},"localized":{"locales":[]}}],"offset":0,"limit":20,"total":1}`
	if status != 200 || trimNL(string(b)) != want {
		t.Errorf("genre:\n got %s\nwant %s", b, want)
	}
	year := list(`{"filter":{"rankingRule":true}}`)["results"].([]any)
	if len(year) != 1 || !jsonEqual(year[0].(map[string]any)["rankingRule"], map[string]any{"enabled": true, "order": "desc"}) {
		t.Errorf("ranking rule filter: %v", year)
	}
	for body, want := range map[string]string{
		`{"filter":{"searchable":true}}`:                            "title",
		`{"filter":{"displayed":false}}`:                            "genre",
		`{"filter":{"sortable":true,"displayed":true}}`:             "info.year",
		`{"filter":{"attributePatterns":["info*"]}}`:                "info,info.year",
		`{"filter":{"attributePatterns":["info.year"]}}`:            "info.year",
		`{"offset":1,"limit":2}`:                                    "id,info",
		`{"filter":{"filterable":false,"attributePatterns":["*"]}}`: "id,info,info.year,title",
	} {
		if got := names(list(body)); got != want {
			t.Errorf("%s: %s want %s", body, got, want)
		}
	}
	for body, code := range map[string]string{
		`{"filter":{"displayed":"yes"}}`:     "invalid_index_fields_filter_displayed",
		`{"filter":{"nope":true}}`:           "invalid_index_fields_filter",
		`{"limit":-1}`:                       "invalid_index_limit",
		`{"filter":{"rankingRule":1}}`:       "invalid_index_fields_filter_ranking_rule",
		`{"filter":{"attributePatterns":1}}`: "invalid_index_fields_filter_attribute_patterns",
	} {
		status, b := rawRequest(t, srv, "POST", "/indexes/f/fields", "", body)
		if status != 400 || !strings.Contains(string(b), `"code":"`+code+`"`) {
			t.Errorf("%s: %d %s, want %s", body, status, b, code)
		}
	}
	if status, b := rawRequest(t, srv, "POST", "/indexes/nope/fields", "", `{}`); status != 404 || !strings.Contains(string(b), "index_not_found") {
		t.Errorf("unknown index: %d %s", status, b)
	}
}

// A local facet search has no remoteErrors: Meilisearch writes them only
// for a search over the network.
func TestFacetSearchWithoutRemoteErrors(t *testing.T) {
	srv, c := newClient(t)
	ix := c.Index("f")
	waitFor(t, c)(ix.AddDocuments(context.Background(), []map[string]any{{"id": 1, "genre": "drama"}}, nil))
	waitFor(t, c)(ix.UpdateFilterableAttributes(context.Background(), &[]interface{}{"genre"}))
	for _, body := range []string{`{"facetName":"genre","facetQuery":"dr"}`, `{"facetName":"genre","useNetwork":false}`} {
		status, b := rawRequest(t, srv, "POST", "/indexes/f/facet-search", "", body)
		if status != 200 || strings.Contains(string(b), "remoteErrors") || !strings.Contains(string(b), `"value":"drama"`) {
			t.Errorf("%s: %d %s", body, status, b)
		}
	}
}
