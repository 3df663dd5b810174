package meilitest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// The crop and highlight cases of milli's own matcher tests
// (search/new/matches/mod.rs), query "split the world" unless stated.
func TestCropLikeMilli(t *testing.T) {
	st := defaultSettings()
	tok := newTokenizer(st)
	o := &formatOptions{cropMarker: "…", preTag: "<em>", postTag: "</em>"}
	cases := []struct {
		query, text string
		highlight   bool
		crop        int
		want        string
	}{
		{"split the world", "A quick brown fox can not jump 32 feet, right? Brr, it is cold!", false, 10, "A quick brown fox can not jump 32 feet, right…"},
		{"split the world", "(A quick brown fox can not jump 32 feet, right? Brr, it is cold!)", false, 10, "(A quick brown fox can not jump 32 feet, right…"},
		{"split the world", "Natalie risk her future to build a world with the boy she loves.", false, 10, "…future to build a world with the boy she loves…"},
		{"split the world", "Natalie risk her future to build a world with the boy she loves. Emily Henry: The Love That Split The World.", false, 10, "…she loves. Emily Henry: The Love That Split The World."},
		{"split the world", "The world split void void void void void void void void void split the world void void", false, 10, "…void void void void void split the world void void"},
		{"split the world", "split void the void void world void void void void void void void void void void split the world void void", false, 10, "…void void void void void split the world void void"},
		{"split the world", "split split split split split split void void void void void void void void void void split the world void void", false, 10, "…void void void void void split the world void void"},
		{"split the world", "Natalie risk her future to build a world with the boy she loves.", true, 10, "…future to build a <em>world</em> with <em>the</em> boy she loves…"},
		{"split the world", "Natalie risk her future to build a world with the boy she loves. Emily Henry: The Love That Split The World.", true, 10, "…she loves. Emily Henry: <em>The</em> Love That <em>Split</em> <em>The</em> <em>World</em>."},
		{"split the world", "The world split void void void void void void void void void split the world void void", true, 10, "…void void void void void <em>split</em> <em>the</em> <em>world</em> void void"},
		{"split the world", "Natalie risk her future to build a world with the boy she loves. Emily Henry: The Love That Split The World.", true, 0, "Natalie risk her future to build a <em>world</em> with <em>the</em> boy she loves. Emily Henry: <em>The</em> Love That <em>Split</em> <em>The</em> <em>World</em>."},
		{"split the world", "void void split the world void void.", false, 2, "…split the…"},
		{"split the world", "void void split the world void void.", false, 1, "…split…"},
		{"split the world", "void void split the world void void.", false, 0, "void void split the world void void."},
		{"split the world", ":-)", true, 10, ":-)"},
		{"split the world", "", true, 10, ""},
		{`"the world"`, "The groundbreaking invention had the power to split the world between those who embraced progress and those who resisted change!", true, 10, "…the power to split <em>the world</em> between those who embraced…"},
		{`those "and those"`, "The groundbreaking invention had the power to split the world between those who embraced progress and those who resisted change!", true, 10, "…world between <em>those</em> who embraced progress <em>and those</em> who resisted…"},
		{`"The groundbreaking invention had the power to split the world between those"`, "The groundbreaking invention had the power to split the world between those who embraced progress and those who resisted change!", true, 10, "<em>The groundbreaking invention had the power to split the world</em>…"},
	}
	for _, c := range cases {
		q := compileQuery(st, tok, c.query, "last", nil)
		if got := formatText(tok, q, c.text, c.highlight, c.crop, o); got != c.want {
			t.Errorf("%q in %q (highlight %v, crop %d):\n got %q\nwant %q", c.query, c.text, c.highlight, c.crop, got, c.want)
		}
	}
}

// _formatted as HitMaker builds it: the attributes to retrieve, highlight
// and crop; numbers as strings, booleans and null as they are, nested
// values formatted leaf by leaf; no _formatted when no attribute to
// highlight or crop names a field.
func TestFormattedFields(t *testing.T) {
	srv, c := newClient(t)
	ix := c.Index("films")
	docs := []map[string]any{{"id": 1, "title": "The river", "year": 1999, "price": 12.50, "tags": []any{"river", 7}, "cast": map[string]any{"lead": "river phoenix", "age": 23}, "free": true, "note": nil,
		"overview": "A long story about one river that runs through a quiet town where nothing happens until the day the river floods"}}
	task, err := ix.AddDocuments(context.Background(), docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, c, task.TaskUID)
	search := func(body string) map[string]any {
		t.Helper()
		status, b := rawRequest(t, srv, "POST", "/indexes/films/search", "", body)
		if status != 200 {
			t.Fatalf("%s: %d %s", body, status, b)
		}
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out["hits"].([]any)[0].(map[string]any)
	}
	hit := search(`{"q":"river","attributesToRetrieve":["id","year"],"attributesToHighlight":["title","cast"],"attributesToCrop":["overview:6"]}`)
	want := map[string]any{
		"id": "1", "year": "1999", "title": "The <em>river</em>",
		"cast":     map[string]any{"lead": "<em>river</em> phoenix", "age": "23"},
		"overview": "…story about one river that runs…", // the first of equally good matches
	}
	if got := hit["_formatted"]; !jsonEqual(got, want) {
		t.Errorf("_formatted %v\nwant %v", got, want)
	}
	if _, ok := hit["title"]; ok {
		t.Errorf("title retrieved though not in attributesToRetrieve: %v", hit)
	}
	// every attribute: floats print like serde_json, arrays element by
	// element, booleans and null untouched
	hit = search(`{"q":"river","attributesToHighlight":["*"]}`)
	f := hit["_formatted"].(map[string]any)
	if f["price"] != "12.5" || f["free"] != true || f["note"] != nil || !jsonEqual(f["tags"], []any{"<em>river</em>", "7"}) {
		t.Errorf("leaf formatting: %v", f)
	}
	// an unknown attribute formats nothing: no _formatted at all
	hit = search(`{"q":"river","attributesToHighlight":["nope"]}`)
	if _, ok := hit["_formatted"]; ok {
		t.Errorf("_formatted for an unknown attribute: %v", hit)
	}
	// a crop that keeps the whole text writes no marker
	hit = search(`{"q":"river","attributesToCrop":["title"],"cropLength":5}`)
	if got := hit["_formatted"].(map[string]any)["title"]; got != "The river" {
		t.Errorf("uncut crop: %q", got)
	}
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// _rankingScoreDetails lists the rules in ranking-rule order, and each
// rule's fields in Meilisearch's order.
func TestRankingScoreDetailsOrder(t *testing.T) {
	srv, c := newClient(t)
	ix := c.Index("books")
	task, err := ix.AddDocuments(context.Background(), searchBooks, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, c, task.TaskUID)
	task, err = ix.UpdateSettings(context.Background(), &meilisearch.Settings{RankingRules: []string{"words", "typo", "year:desc", "proximity", "attribute", "exactness"}, SortableAttributes: []string{"year"}})
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, c, task.TaskUID)
	status, b := rawRequest(t, srv, "POST", "/indexes/books/search", "", `{"q":"the prince","showRankingScoreDetails":true,"limit":1}`)
	if status != 200 {
		t.Fatalf("%d %s", status, b)
	}
	i := bytes.Index(b, []byte(`"_rankingScoreDetails":`))
	if i < 0 {
		t.Fatalf("no details: %s", b)
	}
	var raw json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(b[i+len(`"_rankingScoreDetails":`):])).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var v json.RawMessage
		_ = dec.Decode(&v)
		if !bytes.HasPrefix(v, []byte(`{"order":`)) {
			t.Errorf("%s does not start with order: %s", k, v)
		}
	}
	if got := strings.Join(keys, ","); got != "words,typo,year:desc,proximity,attribute,exactness" {
		t.Errorf("rule order %s", got)
	}
	if !bytes.Contains(raw, []byte(`"typo":{"order":1,"typoCount":0,"maxTypoCount":`)) {
		t.Errorf("typo fields out of order: %s", raw)
	}
}
