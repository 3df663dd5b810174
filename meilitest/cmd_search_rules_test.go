package meilitest

import (
	"context"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func TestDynamicSearchRules(t *testing.T) {
	_, c := newClient(t)
	ctx := context.Background()
	rule := &meilisearch.SearchRulesRequest{Description: "Black friday boosts", Precedence: new(int), Active: new(bool),
		Actions: &meilisearch.Actions{Pin: []meilisearch.Pin{{ID: "1", Position: 0, IndexUid: "products"}}}}
	if _, err := c.UpdateSearchRule(ctx, "bf", rule); apiCode(err) != "feature_not_enabled" {
		t.Fatalf("without the feature: %v", err)
	}
	if _, err := c.ExperimentalFeatures().SetDynamicSearchRules(true).Update(ctx); err != nil {
		t.Fatal(err)
	}
	*rule.Active = true
	task, err := c.UpdateSearchRule(ctx, "bf", rule)
	if err != nil || task.Type != "dsrUpdate" {
		t.Fatalf("upsert %+v %v", task, err)
	}
	waitTask(t, c, task.TaskUID)
	got, err := c.GetSearchRule(ctx, "bf")
	if err != nil || got.Description != "Black friday boosts" || !got.Active || len(got.Actions.Pin) != 1 {
		t.Fatalf("get %+v %v", got, err)
	}
	// A partial update keeps the other fields.
	task, _ = c.UpdateSearchRule(ctx, "bf", &meilisearch.SearchRulesRequest{Actions: &meilisearch.Actions{Scale: []meilisearch.Scale{{Weight: 2, Filter: "brand = acme"}}}})
	waitTask(t, c, task.TaskUID)
	got, _ = c.GetSearchRule(ctx, "bf")
	if got.Description != "Black friday boosts" || len(got.Actions.Pin) != 0 || len(got.Actions.Scale) != 1 {
		t.Fatalf("after partial update %+v", got)
	}
	if _, err := c.UpdateSearchRule(ctx, "x", &meilisearch.SearchRulesRequest{Actions: &meilisearch.Actions{Scale: []meilisearch.Scale{{Weight: 2}}}}); apiCode(err) != "invalid_dynamic_search_rule_actions" {
		t.Fatalf("scale without filter nor ids: %v", err)
	}
	if _, err := c.UpdateSearchRule(ctx, "__meilisearch_metadata", rule); apiCode(err) != "invalid_dynamic_search_rule_uid" {
		t.Fatalf("reserved uid: %v", err)
	}
	task, _ = c.UpdateSearchRule(ctx, "summer", &meilisearch.SearchRulesRequest{Description: "Summer deals"})
	waitTask(t, c, task.TaskUID)
	for _, tc := range []struct {
		filter *meilisearch.SearchRulesFilter
		want   int64
	}{{nil, 2}, {&meilisearch.SearchRulesFilter{Query: "black fri"}, 1}, {&meilisearch.SearchRulesFilter{Active: new(bool)}, 1}, {&meilisearch.SearchRulesFilter{Query: "winter"}, 0}} {
		res, err := c.ListSearchRules(ctx, &meilisearch.SearchRulesParams{Limit: 20, Filter: tc.filter})
		if err != nil || res.Total != tc.want || int64(len(res.Results)) != tc.want {
			t.Fatalf("list %+v: %+v %v", tc.filter, res, err)
		}
	}
	uid := "nope"
	task, err = c.DeleteSearchRule(ctx, &uid)
	if err != nil {
		t.Fatal(err)
	}
	if done, _ := c.WaitForTask(ctx, task.TaskUID, 0); done.Status != meilisearch.TaskStatusFailed || done.Error.Code != "dynamic_search_rule_not_found" {
		t.Fatalf("delete missing rule: %+v", done)
	}
	task, _ = c.DeleteSearchRule(ctx, nil)
	waitTask(t, c, task.TaskUID)
	if _, err := c.GetSearchRule(ctx, "bf"); apiCode(err) != "dynamic_search_rule_not_found" {
		t.Fatalf("after clear: %v", err)
	}
}

// POST /dynamic-search-rules is a PaginationView: results, offset, limit,
// total.
func TestSearchRuleListKeyOrder(t *testing.T) {
	srv, c := newClient(t)
	if _, err := c.ExperimentalFeatures().SetDynamicSearchRules(true).Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	if keys := topKeys(t, srv, "POST", "/dynamic-search-rules", "", `{}`); !keyOrder(keys, "results", "offset", "limit", "total") {
		t.Errorf("keys %v", keys)
	}
}
