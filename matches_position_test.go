package miroir

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
)

// _matchesPosition covers every displayed attribute, retrieved or not
// (Meilisearch's format_fields), and _formatted the attributes to
// retrieve, highlight and crop: an attribute the cluster adds to
// attributesToRetrieve for merging (the distinct attribute) leaves
// _formatted, but stays in _matchesPosition as on one node.
func TestMatchesPositionOfAddedAttribute(t *testing.T) {
	docs := genDocs(300, 23)
	oracle, _ := startRef(t)
	loadNode(t, oracle.URL(), "items", testSettings(false), docs)
	waitIdle(t, oracle)
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 7, timing: noProbes})
	f.load(t, "items", testSettings(false), docs)
	// distinct on the id: the cluster adds it to attributesToRetrieve
	for _, q := range []string{"7", "12 river"} {
		body := map[string]any{"q": q, "distinct": "id", "attributesToRetrieve": []string{"title"},
			"attributesToHighlight": []string{"title"}, "showMatchesPosition": true, "showRankingScore": true, "limit": 1000}
		url := oracle.URL() + "/indexes/items/search"
		want := postJSON(t, url, body)
		idMatched := false
		for _, h := range want["hits"].([]any) {
			_, ok := h.(map[string]any)["_matchesPosition"].(map[string]any)["id"]
			idMatched = idMatched || ok
		}
		if !idMatched {
			t.Fatalf("%q: the oracle shows no match in id", q)
		}
		b, _ := json.Marshal(body)
		out, err := f.c.searchBody(context.Background(), "items", b)
		if err != nil {
			t.Fatal(err)
		}
		// every matching document is on the page: the hits must be the
		// same set (ties may order differently)
		set := func(m map[string]any) map[string]int {
			out := map[string]int{}
			for _, h := range m["hits"].([]any) {
				b, _ := json.Marshal(h)
				out[string(b)]++
			}
			return out
		}
		if w, g := set(want), set(decodeUseNumber(t, out)); !reflect.DeepEqual(w, g) {
			for k := range w {
				if g[k] == 0 {
					t.Errorf("%q: missing %s", q, k)
				}
			}
			for k := range g {
				if w[k] == 0 {
					t.Errorf("%q: extra %s", q, k)
				}
			}
		}
	}
}
