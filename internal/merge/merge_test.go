package merge

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestObjectIter(t *testing.T) {
	b := []byte(` { "a" : 1, "b\"c":"x\\\"y", "d":[1,{"e":"]"}], "f":{"g":null} ,"h":true} `)
	it := NewObjectIter(b, 0)
	var keys, vals []string
	for {
		k, vs, ve, ok := it.Next()
		if !ok {
			break
		}
		keys = append(keys, string(k))
		vals = append(vals, string(b[vs:ve]))
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	wantK := []string{"a", `b\"c`, "d", "f", "h"}
	wantV := []string{"1", `"x\\"`, `[1,{"e":"]"}]`, `{"g":null}`, "true"}
	_ = wantV
	if !reflect.DeepEqual(keys, wantK) {
		t.Fatalf("keys %q", keys)
	}
	if vals[2] != wantV[2] || vals[3] != wantV[3] || vals[0] != "1" || vals[4] != "true" {
		t.Fatalf("vals %q", vals)
	}
	for _, bad := range []string{`{"a" 1}`, `{"a":1,}`, `{"a":"x}`, `[1]`, `{"a":[1,2}`} {
		it := NewObjectIter([]byte(bad), 0)
		for {
			if _, _, _, ok := it.Next(); !ok {
				break
			}
		}
		if it.Err() == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestStringEscapes(t *testing.T) {
	for _, s := range []string{"plain", `q"uote`, `back\slash`, "ctl\x01\n\t", "é日本", "\u2028"} {
		enc := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(enc, &back); err != nil || back != s {
			t.Errorf("AppendString(%q) = %s (%v)", s, enc, err)
		}
		got, ok := Unquote(enc)
		if !ok || got != s {
			t.Errorf("Unquote(%s) = %q", enc, got)
		}
	}
	if s, ok := Unquote([]byte(`"\ud83d\ude00x"`)); !ok || s != "😀x" {
		t.Errorf("surrogates: %q", s)
	}
}

func resp(t *testing.T, hits ...string) *Response {
	t.Helper()
	r, err := ParseResponse([]byte(`{"hits":[` + strings.Join(hits, ",") + `],"query":"x","processingTimeMs":3,"limit":5,"offset":0,"estimatedTotalHits":42}`))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ids(m *Merger) []string {
	var out []string
	for _, r := range m.Out {
		h := m.Lists[r.List].Hits[r.Index]
		out = append(out, string(Lookup(h.Raw, "id")))
	}
	return out
}

func TestMergeByScore(t *testing.T) {
	a := resp(t, `{"id":1,"_rankingScore":0.9}`, `{"id":2,"_rankingScore":0.5}`, `{"id":3,"_rankingScore":0.5}`)
	b := resp(t, `{"id":4,"_rankingScore":0.95}`, `{"id":5,"_rankingScore":0.5}`, `{"id":6,"_rankingScore":0.1}`)
	if a.EstimatedTotalHits != 42 || a.ProcessingTimeMs != 3 || len(a.Hits) != 3 {
		t.Fatalf("parse: %+v", a)
	}
	m := &Merger{Lists: []*List{{Hits: a.Hits}, {Hits: b.Hits}}}
	if i := m.Run(5); i != -1 {
		t.Fatalf("refill %d", i)
	}
	// ties: list order, then the list's own order
	if got, want := ids(m), []string{"4", "1", "2", "3", "5"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestMergeDistinctRefill(t *testing.T) {
	a := resp(t, `{"id":1,"g":"x","_rankingScore":0.9}`, `{"id":2,"g":"y","_rankingScore":0.5}`)
	b := resp(t, `{"id":3,"g":"X ","_rankingScore":0.8}`, `{"id":4,"g":"w","_rankingScore":0.7}`)
	m := &Merger{Lists: []*List{{Hits: a.Hits, More: true}, {Hits: b.Hits, More: true}}, Distinct: "g"}
	i := m.Run(3)
	if i != 1 {
		t.Fatalf("want refill of list 1, got %d (out %v)", i, ids(m))
	}
	more := resp(t, `{"id":5,"g":"z","_rankingScore":0.6}`)
	m.Lists[1].Hits = append(m.Lists[1].Hits, more.Hits...)
	if i := m.Run(3); i != -1 {
		t.Fatalf("refill again %d", i)
	}
	if got, want := ids(m), []string{"1", "4", "5"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if m.Dropped != 1 {
		t.Fatalf("dropped %d", m.Dropped)
	}
}

func TestCompareByDetails(t *testing.T) {
	mk := func(s string) *Hit {
		return &Hit{Details: []byte(s)}
	}
	// price:asc after words: numbers before strings before missing
	n1 := mk(`{"words":{"order":0,"score":1.0},"price:asc":{"order":1,"value":3}}`)
	n2 := mk(`{"words":{"order":0,"score":1.0},"price:asc":{"order":1,"value":10}}`)
	s1 := mk(`{"words":{"order":0,"score":1.0},"price:asc":{"order":1,"value":"abc"}}`)
	miss := mk(`{"words":{"order":0,"score":1.0},"price:asc":{"order":1,"value":null}}`)
	better := mk(`{"price:asc":{"order":1,"value":99},"words":{"order":0,"score":1.0001}}`)
	order := []*Hit{better, n1, n2, s1, miss}
	for i := range order {
		for j := range order {
			c := CompareByDetails(order[i], order[j])
			if (i < j && c >= 0) || (i > j && c <= 0) || (i == j && c != 0) {
				t.Errorf("compare(%d,%d) = %d", i, j, c)
			}
		}
	}
	// descending: numbers still first, then strings, missing last
	d1 := mk(`{"price:desc":{"order":0,"value":10}}`)
	d2 := mk(`{"price:desc":{"order":0,"value":3}}`)
	d3 := mk(`{"price:desc":{"order":0,"value":"zz"}}`)
	d4 := mk(`{"price:desc":{"order":0,"value":"aa"}}`)
	d5 := mk(`{"price:desc":{"order":0,"value":null}}`)
	ds := []*Hit{d1, d2, d3, d4, d5}
	for i := 0; i+1 < len(ds); i++ {
		if CompareByDetails(ds[i], ds[i+1]) >= 0 {
			t.Errorf("desc %d !< %d", i, i+1)
		}
	}
	g1 := mk(`{"_geoPoint(1, 2):asc":{"order":0,"value":{"lat":1,"lng":2},"distance":5.5}}`)
	g2 := mk(`{"_geoPoint(1, 2):asc":{"order":0,"value":null,"distance":null}}`)
	if CompareByDetails(g1, g2) >= 0 {
		t.Error("geo: missing distance must come last")
	}
}

func TestDistinctKeys(t *testing.T) {
	got := DistinctKeys(nil, []byte(`{"a":{"b":[" Red",2.0,true,null,{"c":1}]},"a.b":"x"}`), "a.b")
	want := []string{"sred", "n2", "strue", "sx"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestFacets(t *testing.T) {
	d1 := []byte(`{"color":{"Red":2,"blue":1},"year":{"2020":1,"2024":3},"_miroir_shard":{"1":3}}`)
	d2 := []byte(`{"color":{"red":1,"green":5},"year":{"9":1}}`)
	s1 := []byte(`{"year":{"min":2020,"max":2024},"_miroir_shard":{"min":1,"max":1}}`)
	s2 := []byte(`{"year":{"min":9,"max":9}}`)
	out, err := MergeFacetDistributions(nil, [][]byte{d1, d2}, [][]byte{s1, s2}, FacetOrder{MaxValuesPerFacet: 2}, "_miroir_shard")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"color":{"blue":1,"green":5},"year":{"9":1,"2020":1}}`; string(out) != want {
		t.Fatalf("alpha: %s want %s", out, want)
	}
	out, _ = MergeFacetDistributions(nil, [][]byte{d1, d2}, [][]byte{s1, s2}, FacetOrder{MaxValuesPerFacet: 100, SortBy: func(string) string { return "count" }}, "_miroir_shard")
	if want := `{"color":{"green":5,"Red":3,"blue":1},"year":{"2024":3,"9":1,"2020":1}}`; string(out) != want {
		t.Fatalf("count: %s want %s", out, want)
	}
	st, _ := MergeFacetStats(nil, [][]byte{s1, s2}, "_miroir_shard")
	if want := `{"year":{"min":9,"max":2024}}`; string(st) != want {
		t.Fatalf("stats %s", st)
	}
	fh, took, err := MergeFacetSearch(nil, [][]byte{
		[]byte(`{"facetHits":[{"value":"Red","count":2},{"value":"rose","count":1}],"facetQuery":"r","processingTimeMs":4}`),
		[]byte(`{"facetHits":[{"value":"red","count":1}],"facetQuery":"r","processingTimeMs":7}`),
	}, "color", FacetOrder{MaxValuesPerFacet: 10})
	if err != nil || took != 7 || string(fh) != `[{"value":"Red","count":3},{"value":"rose","count":1}]` {
		t.Fatalf("facet search %s %d %v", fh, took, err)
	}
}

func TestAppendHit(t *testing.T) {
	hit := []byte(`{"id":1,"_miroir_shard":3,"title":"a","_formatted":{"id":"1","_miroir_shard":"3","g":"x"},"g":"x","_rankingScore":0.5}`)
	s := &Strip{Keys: []string{"_miroir_shard", "_rankingScore", "g"}, Nested: []string{"_miroir_shard", "g"}}
	got := AppendHit(nil, hit, s, []byte(`"_federation":{"indexUid":"i"}`))
	want := `{"id":1,"title":"a","_formatted":{"id":"1"},"_federation":{"indexUid":"i"}}`
	if string(got) != want {
		t.Fatalf("got %s", got)
	}
	m := map[string]string{}
	EachMember(hit, s, func(k string, v []byte) { m[k] = string(v) })
	if len(m) != 3 || m["_formatted"] != `{"id":"1"}` {
		t.Fatalf("members %v", m)
	}
}
