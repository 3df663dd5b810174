package meilitest

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"
)

func testIndex(t testing.TB, docs ...string) *index {
	t.Helper()
	ix := newIndex("t", "id", time.Now())
	for _, d := range docs {
		dec := json.NewDecoder(strings.NewReader(d))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		ix.put(fmt.Sprint(m["id"]), m)
	}
	return ix
}

func rankIDs(res *rankResult) []string {
	var out []string
	for _, h := range res.hits {
		out = append(out, h.doc.id)
	}
	return out
}

func runRank(ix *index, q string, mod func(*rankInput)) *rankResult {
	in := rankInput{st: ix.settings, cache: cacheFor(ix), all: ix.documents(), docs: ix.documents(), query: q}
	if mod != nil {
		mod(&in)
	}
	return rankDocuments(in)
}

func TestTokenize(t *testing.T) {
	tok := newTokenizer(defaultSettings())
	cases := []struct {
		in    string
		words string
		pos   string
	}{
		{"Hello, World!", "hello world", "0 8"},
		{"Crème Brûlée", "creme brulee", "0 1"},
		{"The Hitchhiker's Guide", "the hitchhiker s guide", "0 1 2 3"},
		{"Half-Blood Prince", "half blood prince", "0 1 2"},
		{"end. Next", "end next", "0 8"},
		{"3.14 pi", "3 14 pi", "0 1 2"},
		{"Œuvre ÆON", "oeuvre aeon", "0 1"},
		{"星の王子さま", "星 の 王 子 さ ま", "0 1 2 3 4 5"},
		{"c++ rocks", "c++ rocks", "0 1"},
	}
	for _, c := range cases {
		var w, p []string
		for _, tk := range tok.tokenize(c.in, 0) {
			w = append(w, tk.word)
			p = append(p, fmt.Sprint(tk.pos))
			if tk.start < 0 || tk.end > len(c.in) || tk.start >= tk.end {
				t.Errorf("%q: bad offsets %+v", c.in, tk)
			}
		}
		if strings.Join(w, " ") != c.words || strings.Join(p, " ") != c.pos {
			t.Errorf("%q: got %q %q, want %q %q", c.in, w, p, c.words, c.pos)
		}
	}
	st := defaultSettings()
	st.SeparatorTokens = []string{"|"}
	st.NonSeparatorTokens = []string{"@"}
	st.Dictionary = []string{"J.R.R."}
	tok = newTokenizer(st)
	var w []string
	for _, tk := range tok.tokenize("mail@host J.R.R. Tolkien a|b", 0) {
		w = append(w, tk.word)
	}
	if got := strings.Join(w, " "); got != "mail@host j.r.r. tolkien a b" {
		t.Errorf("custom tokens: %q", got)
	}
}

func TestParseQuery(t *testing.T) {
	st := defaultSettings()
	st.StopWords = []string{"the"}
	tok := newTokenizer(st)
	toks, trailing := tok.parseQuery(`the "big cat" -dog -"red fox" run `)
	if !trailing {
		t.Error("trailing separator not seen")
	}
	var got []string
	for _, q := range toks {
		got = append(got, fmt.Sprintf("%v/%v/%v/%v/%d", q.words, q.phrase, q.negative, q.stop, q.pos))
	}
	want := []string{"[the]/false/false/true/0", "[big cat]/true/false/false/1", "[dog]/false/true/false/3", "[red fox]/true/true/false/4", "[run]/false/false/false/6"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestTypoDistance(t *testing.T) {
	cases := []struct {
		q, w   string
		prefix bool
		want   int
	}{
		{"hello", "hello", false, 0},
		{"hello", "helo", false, 1},
		{"hello", "hlelo", false, 1}, // transposition
		{"hello", "jello", false, 2}, // first letter counts twice
		{"prinec", "prince", false, 1},
		{"prin", "princess", true, 0},
		{"prinse", "princess", true, 1},
		{"saturday", "caturday", false, 2},
	}
	for _, c := range cases {
		if got := typoDistance(c.q, c.w, c.prefix, 2); got != c.want {
			t.Errorf("typoDistance(%q,%q,%v) = %d, want %d", c.q, c.w, c.prefix, got, c.want)
		}
	}
	st := defaultSettings()
	for w, want := range map[string]int{"four": 0, "fives": 1, "eightchr": 1, "ninechars": 2} {
		if got := typosAllowed(st, w); got != want {
			t.Errorf("typosAllowed(%q) = %d, want %d", w, got, want)
		}
	}
	st.TypoTolerance.DisableOnNumbers = true
	if typosAllowed(st, "123456") != 0 {
		t.Error("disableOnNumbers ignored")
	}
	st.TypoTolerance.Enabled = false
	if typosAllowed(st, "ninechars") != 0 {
		t.Error("typo tolerance disabled ignored")
	}
}

func details(t *testing.T, h *scored) string {
	t.Helper()
	b, err := json.Marshal(detailsJSON(h.details))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRankingRuleDetails(t *testing.T) {
	ix := testIndex(t,
		`{"id":1,"title":"hello world"}`,
		`{"id":2,"title":"world hello"}`,
		`{"id":3,"title":"hello big wide world"}`,
		`{"id":4,"title":"helo world"}`,
		`{"id":5,"title":"hello"}`,
		`{"id":6,"title":"say hello world again"}`,
	)
	res := runRank(ix, "hello world", nil)
	if got := strings.Join(rankIDs(res), ","); got != "1,6,2,3,4,5" {
		t.Errorf("order %s", got)
	}
	byID := map[string]*scored{}
	for _, h := range res.hits {
		byID[h.doc.id] = h
	}
	want := map[string]string{
		"1": `{"words":{"order":0,"matchingWords":2,"maxMatchingWords":2,"score":1},"typo":{"order":1,"typoCount":0,"maxTypoCount":2,"score":1},"proximity":{"order":2,"score":1},"attributeRank":{"order":3,"score":1},"wordPosition":{"order":4,"score":1},"exactness":{"order":5,"matchType":"exactMatch","score":1}}`,
		"2": `{"words":{"order":0,"matchingWords":2,"maxMatchingWords":2,"score":1},"typo":{"order":1,"typoCount":0,"maxTypoCount":2,"score":1},"proximity":{"order":2,"score":0.875},"attributeRank":{"order":3,"score":1},"wordPosition":{"order":4,"score":0.9047619047619048},"exactness":{"order":5,"matchType":"noExactMatch","matchingWords":2,"maxMatchingWords":2,"score":0.3333333333333333}}`,
		"4": `{"words":{"order":0,"matchingWords":2,"maxMatchingWords":2,"score":1},"typo":{"order":1,"typoCount":1,"maxTypoCount":2,"score":0.6666666666666666},"proximity":{"order":2,"score":1},"attributeRank":{"order":3,"score":1},"wordPosition":{"order":4,"score":1},"exactness":{"order":5,"matchType":"noExactMatch","matchingWords":1,"maxMatchingWords":2,"score":0.2222222222222222}}`,
		"5": `{"words":{"order":0,"matchingWords":1,"maxMatchingWords":2,"score":0.5},"typo":{"order":1,"typoCount":0,"maxTypoCount":1,"score":1},"proximity":{"order":2,"score":1},"attributeRank":{"order":3,"score":1},"wordPosition":{"order":4,"score":1},"exactness":{"order":5,"matchType":"exactMatch","score":1}}`,
	}
	for id, w := range want {
		if got := details(t, byID[id]); got != w {
			t.Errorf("doc %s details\n got %s\nwant %s", id, got, w)
		}
	}
	// _rankingScore order equals engine order
	for i := 1; i < len(res.hits); i++ {
		if res.hits[i-1].score < res.hits[i].score {
			t.Errorf("score order broken at %d: %v < %v", i, res.hits[i-1].score, res.hits[i].score)
		}
	}
	if byID["1"].score != 1 {
		t.Errorf("perfect match score %v", byID["1"].score)
	}
}

func TestMatchingStrategies(t *testing.T) {
	ix := testIndex(t,
		`{"id":1,"t":"alpha beta gamma"}`,
		`{"id":2,"t":"alpha beta"}`,
		`{"id":3,"t":"alpha"}`,
		`{"id":4,"t":"beta gamma"}`,
		`{"id":5,"t":"gamma"}`,
		`{"id":6,"t":"gamma gamma beta"}`,
	)
	// frequencies: gamma 4, beta 4, alpha 3; ties drop the later term first
	cases := map[string]string{
		"last":      "1,6,4,5",
		"all":       "1",
		"frequency": "1,2,3",
	}
	for strat, want := range cases {
		res := runRank(ix, "gamma beta alpha", func(in *rankInput) { in.strategy = strat })
		if got := strings.Join(rankIDs(res), ","); got != want {
			t.Errorf("%s: got %s want %s", strat, got, want)
		}
	}
	// all has no words rule
	res := runRank(ix, "alpha beta gamma", func(in *rankInput) { in.strategy = "all" })
	if d := details(t, res.hits[0]); strings.Contains(d, "words") {
		t.Errorf("words rule with matchingStrategy all: %s", d)
	}
	// phrases and negatives
	if got := strings.Join(rankIDs(runRank(ix, `"beta gamma"`, nil)), ","); got != "4,1" {
		t.Errorf("phrase: %s", got)
	}
	if got := strings.Join(rankIDs(runRank(ix, `gamma -alpha`, nil)), ","); got != "5,6,4" && got != "4,5,6" {
		t.Errorf("negative: %s", got)
	}
}

func TestAttributeRankAndSearchableAttributes(t *testing.T) {
	ix := testIndex(t,
		`{"id":1,"title":"x","overview":"dragon"}`,
		`{"id":2,"title":"dragon","overview":"x"}`,
		`{"id":3,"info":{"comment":"dragon"}}`,
	)
	res := runRank(ix, "dragon", nil)
	if got := strings.Join(rankIDs(res), ","); got != "1,2,3" {
		t.Errorf("with * all attributes weigh the same: %s", got)
	}
	ix.settings.SearchableAttributes = []string{"title", "overview", "info"}
	res = runRank(ix, "dragon", nil)
	if got := strings.Join(rankIDs(res), ","); got != "2,1,3" {
		t.Errorf("searchable order: %s", got)
	}
	if d := details(t, res.hits[1]); !strings.Contains(d, `"attributeRank":{"order":3,"score":0.6666666666666666}`) {
		t.Errorf("attributeRank detail: %s", d)
	}
	res = runRank(ix, "dragon", func(in *rankInput) { in.searchOn = []string{"overview"} })
	if got := strings.Join(rankIDs(res), ","); got != "1" {
		t.Errorf("attributesToSearchOn: %s", got)
	}
}

func TestSortAndCustomRules(t *testing.T) {
	ix := testIndex(t,
		`{"id":1,"t":"book","price":10,"name":"b"}`,
		`{"id":2,"t":"book","price":"cheap","name":"A"}`,
		`{"id":3,"t":"book","name":"c"}`,
		`{"id":4,"t":"book","price":[3,30],"name":"d"}`,
		`{"id":5,"t":"book","price":5,"name":"e"}`,
	)
	asc := runRank(ix, "book", func(in *rankInput) { in.sorts = []sortSpec{{field: "price", asc: true}} })
	if got := strings.Join(rankIDs(asc), ","); got != "4,5,1,2,3" {
		t.Errorf("asc: %s", got)
	}
	desc := runRank(ix, "book", func(in *rankInput) { in.sorts = []sortSpec{{field: "price", asc: false}} })
	if got := strings.Join(rankIDs(desc), ","); got != "4,1,5,2,3" {
		t.Errorf("desc: %s", got)
	}
	if d := details(t, asc.hits[0]); !strings.Contains(d, `"price:asc":{"order":4,"value":3}`) {
		t.Errorf("sort detail: %s", d)
	}
	if d := details(t, asc.hits[4]); !strings.Contains(d, `"price:asc":{"order":4,"value":null}`) {
		t.Errorf("missing value detail: %s", d)
	}
	// placeholder: only sort rules, score 1
	ph := runRank(ix, "", func(in *rankInput) { in.sorts = []sortSpec{{field: "name", asc: true}} })
	if got := strings.Join(rankIDs(ph), ","); got != "2,1,3,4,5" {
		t.Errorf("placeholder sort by name (case-insensitive): %s", got)
	}
	if d := details(t, ph.hits[0]); d != `{"name:asc":{"order":0,"value":"a"}}` || ph.hits[0].score != 1 {
		t.Errorf("placeholder details %s score %v", d, ph.hits[0].score)
	}
	// custom ranking rule
	ix.settings.RankingRules = append(append([]string(nil), defaultRankingRules...), "price:desc")
	res := runRank(ix, "book", nil)
	if got := strings.Join(rankIDs(res), ","); got != "4,1,5,2,3" {
		t.Errorf("custom rule: %s", got)
	}
	if d := details(t, res.hits[0]); !strings.Contains(d, `"price:desc":{"order":6,"value":30}`) {
		t.Errorf("custom detail: %s", d)
	}
}

// TestScoreIsDocumentLocal checks the property the cluster relies on: a
// document's score and details do not depend on the other documents, and
// ordering by score then docid gives the engine's order.
func TestScoreIsDocumentLocal(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	vocab := []string{"apple", "apply", "banana", "band", "cherry", "chery", "date", "dates", "elder", "fig", "grape", "grapes", "melon", "lemon", "lime", "kiwi", "12", "2024"}
	var docs []string
	for i := 0; i < 400; i++ {
		var title, body []string
		for j := 0; j < 1+rng.Intn(5); j++ {
			title = append(title, vocab[rng.Intn(len(vocab))])
		}
		for j := 0; j < rng.Intn(12); j++ {
			body = append(body, vocab[rng.Intn(len(vocab))])
		}
		docs = append(docs, fmt.Sprintf(`{"id":%d,"title":%q,"body":%q,"tags":["%s","%s"]}`, i, strings.Join(title, " "), strings.Join(body, ". "), vocab[rng.Intn(len(vocab))], vocab[rng.Intn(len(vocab))]))
	}
	full := testIndex(t, docs...)
	half := testIndex(t, docs[:200]...)
	other := testIndex(t, docs[200:]...)
	for _, st := range []*settings{full.settings, half.settings, other.settings} {
		st.SearchableAttributes = []string{"title", "tags", "body"}
	}
	queries := []string{"apple", "aple banana", "cherry date elder", "grap", "lemon lime kiwi", "12 apple", `"apple banana"`, "dates fig grapes melon"}
	for _, q := range queries {
		for _, strat := range []string{"last", "all"} {
			mod := func(in *rankInput) { in.strategy = strat }
			f := runRank(full, q, mod)
			parts := map[string]*scored{}
			for _, r := range []*rankResult{runRank(half, q, mod), runRank(other, q, mod)} {
				for _, h := range r.hits {
					parts[h.doc.id] = h
				}
			}
			if len(parts) != len(f.hits) {
				t.Fatalf("%q: %d hits in shards, %d in full", q, len(parts), len(f.hits))
			}
			for _, h := range f.hits {
				p := parts[h.doc.id]
				if p == nil || p.score != h.score || details(t, p) != details(t, h) {
					t.Fatalf("%q doc %s: score/details differ across shards", q, h.doc.id)
				}
			}
			sorted := append([]*scored(nil), f.hits...)
			sort.SliceStable(sorted, func(i, j int) bool {
				if sorted[i].score != sorted[j].score {
					return sorted[i].score > sorted[j].score
				}
				return sorted[i].doc.seq < sorted[j].doc.seq
			})
			for i := range sorted {
				if sorted[i] != f.hits[i] {
					t.Fatalf("%q (%s): order by score differs from engine order at %d", q, strat, i)
				}
			}
		}
	}
}

func TestFacetsAndDistinct(t *testing.T) {
	ix := testIndex(t,
		`{"id":1,"genre":"Drama","year":2001,"sku":"a"}`,
		`{"id":2,"genre":"drama","year":1999,"sku":"a"}`,
		`{"id":3,"genre":["Comedy","Drama"],"year":2001.5,"sku":"b"}`,
		`{"id":4,"genre":"Action"}`,
	)
	st := ix.settings
	dist, stats := facetDistribution(st, ix.documents(), []string{"genre", "year"})
	b, _ := json.Marshal(dist)
	if string(b) != `{"genre":{"Action":1,"Comedy":1,"Drama":3},"year":{"1999":1,"2001":1,"2001.5":1}}` {
		t.Errorf("distribution %s", b)
	}
	b, _ = json.Marshal(stats)
	if string(b) != `{"year":{"max":2001.5,"min":1999}}` {
		t.Errorf("stats %s", b)
	}
	st.Faceting.SortFacetValuesBy = map[string]string{"*": "alpha", "genre": "count"}
	st.Faceting.MaxValuesPerFacet = 2
	dist, _ = facetDistribution(st, ix.documents(), []string{"genre"})
	b, _ = json.Marshal(dist)
	if string(b) != `{"genre":{"Drama":3,"Action":1}}` {
		t.Errorf("count order + max values %s", b)
	}
	res := runRank(ix, "", nil)
	d := applyDistinct(res.hits, "sku")
	var ids []string
	for _, h := range d {
		ids = append(ids, h.doc.id)
	}
	if strings.Join(ids, ",") != "1,3,4" {
		t.Errorf("distinct %v", ids)
	}
	hits := facetSearch(st, ix.documents(), "genre", "dra")
	b, _ = json.Marshal(hits)
	if string(b) != `[{"count":3,"value":"Drama"}]` {
		t.Errorf("facet search %s", b)
	}
}

func TestFormat(t *testing.T) {
	st := defaultSettings()
	tok := newTokenizer(st)
	q := compileQuery(st, tok, "quick brow", "last", nil)
	o := &formatOptions{cropMarker: "…", preTag: "<em>", postTag: "</em>"}
	got := formatText(tok, q, "The Quick brown fox", true, 0, o)
	if got != "The <em>Quick</em> <em>brow</em>n fox" {
		t.Errorf("highlight: %q", got)
	}
	long := "one two three four five six seven eight nine ten quick eleven twelve thirteen fourteen fifteen"
	got = formatText(tok, q, long, true, 5, o)
	if got != "…nine ten <em>quick</em> eleven twelve…" {
		t.Errorf("crop: %q", got)
	}
	got = formatText(tok, compileQuery(st, tok, "", "last", nil), long, false, 3, o)
	if got != "one two three…" {
		t.Errorf("crop without match: %q", got)
	}
	mp := matchesPosition(tok, q, map[string]any{"title": "Quick brown", "tags": []any{"x", "quick"}})
	b, _ := json.Marshal(mp)
	if string(b) != `{"tags":[{"start":0,"length":5,"indices":[1]}],"title":[{"start":0,"length":5},{"start":6,"length":4}]}` {
		t.Errorf("matches position %s", b)
	}
}

func benchIndex(b *testing.B, n int) *index {
	rng := rand.New(rand.NewSource(2))
	words := make([]string, 5000)
	for i := range words {
		var sb strings.Builder
		for j := 0; j < 4+rng.Intn(6); j++ {
			sb.WriteByte(byte('a' + rng.Intn(26)))
		}
		words[i] = sb.String()
	}
	ix := newIndex("b", "id", time.Now())
	for i := 0; i < n; i++ {
		var t []string
		for j := 0; j < 3+rng.Intn(6); j++ {
			t = append(t, words[rng.Intn(len(words))])
		}
		ix.put(fmt.Sprint(i), map[string]any{"id": json.Number(fmt.Sprint(i)), "title": strings.Join(t, " "), "price": json.Number(fmt.Sprint(rng.Intn(1000)))})
	}
	return ix
}

func BenchmarkRank100k(b *testing.B) {
	ix := benchIndex(b, 100_000)
	runRank(ix, "warm", nil) // tokenize once
	for _, q := range []string{"", "abcde", "abcde fghij", "qwerty uiop asdf"} {
		b.Run(fmt.Sprintf("q=%q", q), func(b *testing.B) {
			for b.Loop() {
				runRank(ix, q, nil)
			}
		})
	}
}
