package meilitest

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// postMultiSearch sends a /multi-search body and decodes the answer.
func postMultiSearch(t *testing.T, srv *Server, body string) map[string]any {
	t.Helper()
	resp, err := http.Post(srv.URL()+"/multi-search", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := decodeResp(resp, &out); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("multi-search: %d %v", resp.StatusCode, out)
	}
	return out
}

// fedRow is one federated hit: id, queriesPosition, weightedRankingScore.
type fedRow struct {
	id       string
	pos      int
	weighted float64
}

func fedRows(t *testing.T, out map[string]any) []fedRow {
	t.Helper()
	var rows []fedRow
	for _, h := range out["hits"].([]any) {
		m := h.(map[string]any)
		fed := m["_federation"].(map[string]any)
		rows = append(rows, fedRow{id: m["id"].(string), pos: int(fed["queriesPosition"].(float64)), weighted: fed["weightedRankingScore"].(float64)})
	}
	return rows
}

func fedIDs(rows []fedRow) string {
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.id)
	}
	return strings.Join(ids, ",")
}

func fedIndex(t *testing.T, c meilisearch.ServiceManager, uid string, st *meilisearch.Settings, docs []map[string]any) {
	t.Helper()
	ctx := context.Background()
	ix := c.Index(uid)
	pk := "id"
	if task := waitFor(t, c)(ix.AddDocuments(ctx, docs, &meilisearch.DocumentOptions{PrimaryKey: &pk})); task.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("add %s: %+v", uid, task)
	}
	if st != nil {
		if task := waitFor(t, c)(ix.UpdateSettings(ctx, st)); task.Status != meilisearch.TaskStatusSucceeded {
			t.Fatalf("settings %s: %+v", uid, task)
		}
	}
}

// TestFederatedMergeKeepsQueryOrder: Meilisearch k-way merges the queries'
// lists by weighted score; it never re-sorts the hits, so a query's hits
// keep their order even when a custom ranking rule makes it non-monotonic
// in score.
func TestFederatedMergeKeepsQueryOrder(t *testing.T) {
	srv := RunT(t)
	c := meilisearch.New(srv.URL())
	fedIndex(t, c, "shop", &meilisearch.Settings{
		RankingRules:         []string{"rating:desc", "words", "typo", "proximity", "attribute", "exactness"},
		SearchableAttributes: []string{"title", "description"},
		SortableAttributes:   []string{"rating"},
	}, []map[string]any{
		{"id": "a", "title": "plain", "description": "a nice red shirt", "rating": 5},
		{"id": "b", "title": "shirt", "description": "plain", "rating": 3},
		{"id": "c", "title": "shoe", "description": "plain", "rating": 4},
	})
	out := postMultiSearch(t, srv, `{"federation":{},"queries":[
		{"indexUid":"shop","q":"shirt","showRankingScore":true},
		{"indexUid":"shop","q":"shoe"}]}`)
	rows := fedRows(t, out)
	// "shirt" ranks a (rating 5, weaker match) before b (rating 3, title
	// match); a full sort by weighted score would give b,c,a
	if got := fedIDs(rows); got != "a,c,b" {
		t.Fatalf("order %s, want a,c,b: %+v", got, rows)
	}
	if rows[0].pos != 0 || rows[1].pos != 1 || rows[2].pos != 0 || rows[0].weighted >= rows[2].weighted || rows[1].weighted != 1 {
		t.Errorf("_federation: %+v", rows)
	}
	if out["estimatedTotalHits"] != 3.0 {
		t.Errorf("estimatedTotalHits %v", out["estimatedTotalHits"])
	}

	// a document matched by two queries of one index appears once, from
	// the query whose copy the merge takes first (the greater weighted
	// score), and is counted once
	out = postMultiSearch(t, srv, `{"federation":{},"queries":[
		{"indexUid":"shop","q":"plain"},
		{"indexUid":"shop","q":"shirt","federationOptions":{"weight":2}}]}`)
	rows = fedRows(t, out)
	if got := fedIDs(rows); got != "a,c,b" || rows[0].pos != 1 || rows[0].weighted != 2*0.6893939393939394 || rows[2].pos != 1 {
		t.Errorf("dedup: %+v", rows)
	}
	if out["estimatedTotalHits"] != 3.0 {
		t.Errorf("dedup estimatedTotalHits %v", out["estimatedTotalHits"])
	}

	// across indexes the comparison goes value by value: where the kinds
	// differ (a rating sort against a relevancy score) the hit with more
	// values left wins, and a hit that runs out of values (a placeholder
	// search) loses to any hit that has one, whatever the scores
	fedIndex(t, c, "notes", nil, []map[string]any{
		{"id": "n1", "title": "shirt"},
		{"id": "n2", "title": "other"},
	})
	out = postMultiSearch(t, srv, `{"federation":{},"queries":[
		{"indexUid":"notes","q":"shirt"},
		{"indexUid":"shop","q":"shirt"}]}`)
	if got := fedIDs(fedRows(t, out)); got != "a,b,n1" {
		t.Errorf("mixed kinds: %s, want a,b,n1", got)
	}
	out = postMultiSearch(t, srv, `{"federation":{},"queries":[
		{"indexUid":"notes","q":""},
		{"indexUid":"notes","q":"shirt","federationOptions":{"weight":0.1}}]}`)
	if got := fedIDs(fedRows(t, out)); got != "n1,n2" || fedRows(t, out)[0].pos != 1 {
		t.Errorf("placeholder against keyword: %+v", fedRows(t, out))
	}
	// a placeholder search on shop still has its rating value
	out = postMultiSearch(t, srv, `{"federation":{},"queries":[
		{"indexUid":"notes","q":""},
		{"indexUid":"shop","q":""}]}`)
	if got := fedIDs(fedRows(t, out)); got != "a,c,b,n1,n2" {
		t.Errorf("placeholders: %s, want a,c,b,n1,n2", got)
	}
	// equal values: the lower query position first (not the index uid),
	// all of its hits
	fedIndex(t, c, "memo", nil, []map[string]any{{"id": "m1"}, {"id": "m2"}})
	out = postMultiSearch(t, srv, `{"federation":{},"queries":[
		{"indexUid":"notes","q":""},
		{"indexUid":"memo","q":""}]}`)
	if got := fedIDs(fedRows(t, out)); got != "n1,n2,m1,m2" {
		t.Errorf("ties: %s, want n1,n2,m1,m2", got)
	}
}

// TestFederatedPageZero: page 0 asks for no hits (Meilisearch's (Some(0), _)
// => (0, 0)) but still counts them.
func TestFederatedPageZero(t *testing.T) {
	srv := RunT(t)
	c := meilisearch.New(srv.URL())
	fedIndex(t, c, "notes", nil, []map[string]any{{"id": "n1", "title": "shirt"}, {"id": "n2", "title": "shirt"}})
	out := postMultiSearch(t, srv, `{"federation":{"page":0,"hitsPerPage":1},"queries":[{"indexUid":"notes","q":"shirt"}]}`)
	if hits := out["hits"].([]any); len(hits) != 0 || out["totalHits"] != 2.0 || out["page"] != 0.0 || out["totalPages"] != 2.0 {
		t.Errorf("page 0: %v", out)
	}
}

// federation.showPerformanceDetails adds the federated search's
// performanceDetails, durations printed like Rust's {:.2?}.
func TestFederationPerformanceDetails(t *testing.T) {
	srv, c := newClient(t)
	fedIndex(t, c, "a", nil, []map[string]any{{"id": "1", "t": "x"}})
	out := postMultiSearch(t, srv, `{"federation":{"showPerformanceDetails":true},"queries":[{"indexUid":"a","q":"x"}]}`)
	pd, ok := out["performanceDetails"].(map[string]any)
	if !ok || len(pd) == 0 {
		t.Fatalf("performanceDetails: %v", out)
	}
	for k, v := range pd {
		s, _ := v.(string)
		if !strings.HasSuffix(s, "s") || !strings.Contains(s, ".") {
			t.Errorf("%s: duration %q", k, v)
		}
	}
	if out := postMultiSearch(t, srv, `{"federation":{},"queries":[{"indexUid":"a","q":"x"}]}`); out["performanceDetails"] != nil {
		t.Errorf("performanceDetails without asking: %v", out)
	}
}
