package miroir

// Comparing a fleet's answers with the reference node's: the read tests
// send one query to both and require the same answer, hit for hit where
// the ranking is exact and as sets where scores tie.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func auditJSON(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode %s: %v", auditTrunc(raw), err)
	}
	return m
}

func auditTrunc(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

func auditCanon(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func auditHits(m map[string]any) []map[string]any {
	hs, _ := m["hits"].([]any)
	out := make([]map[string]any, len(hs))
	for i, h := range hs {
		out[i], _ = h.(map[string]any)
	}
	return out
}

// auditRankKey is a hit's position key: its ranking score details (or
// score), which define Meilisearch's order; equal keys are exact ties.
func auditRankKey(h map[string]any) string {
	if d, ok := h["_rankingScoreDetails"]; ok {
		return auditCanon(d)
	}
	if s, ok := h["_rankingScore"]; ok {
		return auditCanon(s)
	}
	return ""
}

func auditID(h map[string]any) string {
	if v, ok := h["id"]; ok {
		return auditCanon(v)
	}
	return auditCanon(h)
}

// auditOrderedKeys returns the keys of a JSON object in document order,
// for each nested object of obj (facetDistribution: facet -> values).
func auditOrderedKeys(t testing.TB, raw json.RawMessage) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	if len(raw) == 0 || string(raw) == "null" {
		return out
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(raw, &outer); err != nil {
		t.Fatalf("facetDistribution %s: %v", raw, err)
	}
	for k, v := range outer {
		dec := json.NewDecoder(bytes.NewReader(v))
		tok, err := dec.Token()
		if err != nil || tok != json.Delim('{') {
			continue
		}
		var keys []string
		for dec.More() {
			kt, _ := dec.Token()
			keys = append(keys, fmt.Sprint(kt))
			var skip json.RawMessage
			_ = dec.Decode(&skip)
		}
		out[k] = keys
	}
	return out
}

type auditSearcher interface {
	SearchRaw(ctx context.Context, query string, request *meilisearch.SearchRequest) (*json.RawMessage, error)
}

type auditQuery struct {
	name string
	q    string
	mk   func() *meilisearch.SearchRequest
	// distinct: identity of hits inside a tie is the distinct value
	distinct string
	// ignore lists top-level fields not compared (checked elsewhere)
	ignore []string
}

func auditSearch(t testing.TB, s auditSearcher, q auditQuery, force bool) (map[string]any, []byte) {
	t.Helper()
	req := q.mk()
	if force {
		req.ShowRankingScore = true
		req.ShowRankingScoreDetails = true
	}
	raw, err := s.SearchRaw(context.Background(), q.q, req)
	if err != nil {
		t.Fatalf("%s: search: %v", q.name, err)
	}
	return auditJSON(t, *raw), *raw
}

// auditCompareSearch compares a cluster answer with the reference answer
// to the same request: every field but hits and processingTimeMs equal
// (facet values in the same order), hits equal position by position up to
// exact ties, no duplicate, and hits with the same identity equal field
// by field.
func auditCompareSearch(t testing.TB, label string, q auditQuery, want, got map[string]any, wantRaw, gotRaw []byte, keyOf func(h map[string]any) (string, bool)) {
	t.Helper()
	for k, wv := range want {
		if k == "hits" || k == "processingTimeMs" || slices.Contains(q.ignore, k) {
			continue
		}
		gv, ok := got[k]
		if !ok {
			t.Errorf("%s: field %q missing (want %s)", label, k, auditCanon(wv))
			continue
		}
		if auditCanon(wv) != auditCanon(gv) {
			t.Errorf("%s: field %q = %s, want %s", label, k, auditTrunc([]byte(auditCanon(gv))), auditTrunc([]byte(auditCanon(wv))))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && k != "processingTimeMs" {
			t.Errorf("%s: extra field %q = %s", label, k, auditTrunc([]byte(auditCanon(got[k]))))
		}
	}
	if _, ok := want["processingTimeMs"]; ok && !slices.Contains(q.ignore, "processingTimeMs") {
		if _, ok := got["processingTimeMs"]; !ok {
			t.Errorf("%s: processingTimeMs missing", label)
		}
	}
	// facet value order
	if fdw, ok := want["facetDistribution"]; ok && fdw != nil {
		var w, g struct {
			FD json.RawMessage `json:"facetDistribution"`
		}
		_ = json.Unmarshal(wantRaw, &w)
		_ = json.Unmarshal(gotRaw, &g)
		wo, gob := auditOrderedKeys(t, w.FD), auditOrderedKeys(t, g.FD)
		for f, keys := range wo {
			if !slices.Equal(keys, gob[f]) {
				t.Errorf("%s: facet %q values in order %v, want %v", label, f, gob[f], keys)
			}
		}
	}
	wh, gh := auditHits(want), auditHits(got)
	if len(wh) != len(gh) {
		t.Errorf("%s: %d hits, want %d", label, len(gh), len(wh))
	}
	seen := map[string]bool{}
	for _, h := range gh {
		if _, ok := h["id"]; ok {
			id := auditID(h)
			if seen[id] {
				t.Errorf("%s: hit %s duplicated", label, id)
			}
			seen[id] = true
		}
		for _, bad := range []string{"_miroir_shard"} {
			if _, ok := h[bad]; ok {
				t.Errorf("%s: hit carries %s", label, bad)
			}
			if f, ok := h["_formatted"].(map[string]any); ok {
				if _, ok := f[bad]; ok {
					t.Errorf("%s: _formatted carries %s", label, bad)
				}
			}
		}
	}
	n := min(len(wh), len(gh))
	wk := make([]string, n)
	gk := make([]string, n)
	known := make([]bool, n)
	for i := 0; i < n; i++ {
		var ok1, ok2 bool
		wk[i], ok1 = keyOf(wh[i])
		gk[i], ok2 = keyOf(gh[i])
		known[i] = ok1 && ok2
		if known[i] && wk[i] != gk[i] {
			t.Errorf("%s: hit %d (%s) ranks %s, want %s (reference hit %s)", label, i, auditID(gh[i]), auditTrunc([]byte(gk[i])), auditTrunc([]byte(wk[i])), auditID(wh[i]))
			return
		}
	}
	// inner tie groups: same identities
	ident := func(h map[string]any) string {
		if q.distinct != "" {
			return auditCanon(h[q.distinct])
		}
		return auditID(h)
	}
	for i := 0; i < n; {
		if !known[i] {
			i++
			continue
		}
		j := i + 1
		for j < n && known[j] && wk[j] == wk[i] {
			j++
		}
		if i > 0 && known[i-1] && j < n && known[j] {
			var a, b []string
			for k := i; k < j; k++ {
				a = append(a, ident(wh[k]))
				b = append(b, ident(gh[k]))
			}
			sort.Strings(a)
			sort.Strings(b)
			if !slices.Equal(a, b) {
				t.Errorf("%s: tie group at %d..%d holds %v, want %v", label, i, j-1, b, a)
			}
		}
		i = j
	}
	// same documents, same content
	byID := map[string]map[string]any{}
	for _, h := range wh {
		byID[auditID(h)] = h
	}
	for _, h := range gh {
		if w, ok := byID[auditID(h)]; ok && auditCanon(w) != auditCanon(h) {
			t.Errorf("%s: hit %s = %s, want %s", label, auditID(h), auditTrunc([]byte(auditCanon(h))), auditTrunc([]byte(auditCanon(w))))
		}
	}
}

// auditRef is the reference's answers to one query: with ranking scores
// and details forced on, and (computed on first use) as asked plus the
// rank key of every matching document (from a wide forced answer without
// distinct).
type auditRef struct {
	forced    map[string]any
	forcedRaw []byte
	once      sync.Once
	ref       auditSearcher
	q         auditQuery
	plain     map[string]any
	plainRaw  []byte
	keys      map[string]string
}

func auditReference(t testing.TB, ref auditSearcher, q auditQuery) *auditRef {
	t.Helper()
	r := &auditRef{ref: ref, q: q}
	r.forced, r.forcedRaw = auditSearch(t, ref, q, true)
	return r
}

func (r *auditRef) plainPass(t testing.TB) {
	r.once.Do(func() {
		r.keys = map[string]string{}
		r.plain, r.plainRaw = auditSearch(t, r.ref, r.q, false)
		q := r.q
		wide := q
		wide.mk = func() *meilisearch.SearchRequest {
			w := q.mk()
			w.Distinct = ""
			w.Page, w.HitsPerPage = 0, nil
			w.Offset, w.Limit = 0, 1000
			w.AttributesToRetrieve = []string{"id"}
			w.Facets = nil
			return w
		}
		wa, _ := auditSearch(t, r.ref, wide, true)
		for _, h := range auditHits(wa) {
			r.keys[auditID(h)] = auditRankKey(h)
		}
		for _, h := range auditHits(r.forced) {
			if _, ok := h["id"]; ok {
				r.keys[auditID(h)] = auditRankKey(h)
			}
		}
	})
	if r.plain == nil {
		t.Fatalf("%s: reference plain answer missing", r.q.name)
	}
}

// auditRunForced is the first half of auditRun.
func auditRunForced(t testing.TB, label string, ref *auditRef, clu auditSearcher, q auditQuery) {
	t.Helper()
	gf, gfr := auditSearch(t, clu, q, true)
	self := func(h map[string]any) (string, bool) { k := auditRankKey(h); return k, k != "" }
	auditCompareSearch(t, label+" [scores]", q, ref.forced, gf, ref.forcedRaw, gfr, self)
}

// auditRun compares the cluster with the reference on q twice: with
// ranking scores and details forced on (position keys read from the hits
// themselves), and as the caller asked (keys looked up by id).
func auditRun(t testing.TB, label string, ref *auditRef, clu auditSearcher, q auditQuery) {
	t.Helper()
	gf, gfr := auditSearch(t, clu, q, true)
	self := func(h map[string]any) (string, bool) { k := auditRankKey(h); return k, k != "" }
	auditCompareSearch(t, label+" [scores]", q, ref.forced, gf, ref.forcedRaw, gfr, self)
	lookup := func(h map[string]any) (string, bool) {
		if k := auditRankKey(h); k != "" {
			return k, true
		}
		if _, ok := h["id"]; !ok {
			return "", false
		}
		k, ok := ref.keys[auditID(h)]
		return k, ok
	}
	ref.plainPass(t)
	gp, gpr := auditSearch(t, clu, q, false)
	auditCompareSearch(t, label+" [plain]", q, ref.plain, gp, ref.plainRaw, gpr, lookup)
}

func auditI64(v int64) *int64 { return &v }

// post sends body to url and returns the decoded answer.
func postJSON(t testing.TB, url string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", url, b, resp.StatusCode, raw)
	}
	return decodeUseNumber(t, raw)
}

func decodeUseNumber(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return m
}

func cloneBody(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// rankKey is what orders a hit: its score and details.
func rankKey(h map[string]any) string {
	d, _ := json.Marshal(h["_rankingScoreDetails"])
	return fmt.Sprint(h["_rankingScore"]) + string(d)
}

func hitID(h map[string]any) string { return fmt.Sprint(h["id"]) }

// hitIdent identifies a hit for comparison: its id, or with distinct its
// distinct value (which document represents a value among tied ones is a
// tie order, like any other).
func hitIdent(body map[string]any, h map[string]any) string {
	if d, ok := body["distinct"].(string); ok {
		return "d:" + strings.ToLower(fmt.Sprint(h[d]))
	}
	return hitID(h)
}

// compareAnswers checks a cluster answer against the oracle's: the same
// ranking keys in the same order, each hit equal to the oracle's hit of the
// same document, tie groups equal as sets (a group cut by the page edge
// only needs its members to tie in the oracle's full order), totals and
// facets equal.
func compareAnswers(t testing.TB, label string, body map[string]any, want, got map[string]any, oracleFull map[string]map[string]any, lookup func(id string) map[string]any) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		b, _ := json.Marshal(body)
		t.Errorf("%s %s: %s", label, b, fmt.Sprintf(format, args...))
	}
	_, distinct := body["distinct"]
	for _, k := range []string{"estimatedTotalHits", "totalHits", "totalPages", "limit", "offset", "page", "hitsPerPage", "query"} {
		if distinct && k != "limit" && k != "offset" && k != "page" && k != "hitsPerPage" && k != "query" {
			continue // per-node distinct counts: see the README's differences
		}
		if fmt.Sprint(want[k]) != fmt.Sprint(got[k]) {
			fail("%s: got %v want %v", k, got[k], want[k])
		}
	}
	for _, k := range []string{"facetDistribution", "facetStats"} {
		if !reflect.DeepEqual(want[k], got[k]) {
			fail("%s:\n got  %v\n want %v", k, got[k], want[k])
		}
	}
	wh, _ := want["hits"].([]any)
	gh, _ := got["hits"].([]any)
	if len(wh) != len(gh) {
		fail("got %d hits, want %d", len(gh), len(wh))
		return
	}
	type group struct {
		key       string
		want, got []string
		start     int
	}
	var groups []*group
	seen := map[string]bool{}
	for i := range wh {
		w, g := wh[i].(map[string]any), gh[i].(map[string]any)
		if _, leak := g[shardField]; leak {
			fail("hit %d leaks %s", i, shardField)
		}
		if f, ok := g["_formatted"].(map[string]any); ok {
			if _, leak := f[shardField]; leak {
				fail("hit %d leaks %s in _formatted", i, shardField)
			}
		}
		if seen[hitIdent(body, g)] {
			fail("hit %s twice", hitIdent(body, g))
		}
		seen[hitIdent(body, g)] = true
		wk, gk := rankKey(w), rankKey(g)
		if wk != gk {
			fail("hit %d: ranking key %s, want %s (ids %s / %s)", i, gk, wk, hitID(g), hitID(w))
			return
		}
		if len(groups) == 0 || groups[len(groups)-1].key != wk {
			groups = append(groups, &group{key: wk, start: i})
		}
		gr := groups[len(groups)-1]
		gr.want = append(gr.want, hitIdent(body, w))
		gr.got = append(gr.got, hitIdent(body, g))
		// the same document renders the same on any node
		full, ok := oracleFull[hitIdent(body, g)]
		if !ok && lookup != nil {
			full = lookup(hitID(g))
			ok = full != nil
		}
		if ok {
			if hitID(full) == hitID(g) && !reflect.DeepEqual(full, g) {
				fail("hit %s differs:\n got  %v\n want %v", hitID(g), g, full)
			}
			if rankKey(full) != rankKey(g) {
				fail("hit %s ranks %s, in the oracle %s", hitIdent(body, g), rankKey(g), rankKey(full))
			}
		} else if oracleFull != nil {
			fail("hit %s not in the oracle's full answer", hitIdent(body, g))
		}
	}
	for gi, gr := range groups {
		edge := gi == len(groups)-1 || (gi == 0 && gr.start == 0 && pageStart(body) > 0)
		if edge {
			for _, id := range gr.got {
				if full, ok := oracleFull[id]; ok && rankKey(full) != gr.key && !strings.HasPrefix(id, "d:") {
					fail("edge group: hit %s does not tie in the oracle", id)
				}
			}
			continue
		}
		sort.Strings(gr.want)
		sort.Strings(gr.got)
		if !reflect.DeepEqual(gr.want, gr.got) {
			fail("tie group %s: got %v want %v", gr.key, gr.got, gr.want)
		}
	}
}

func pageStart(body map[string]any) int {
	if p, ok := body["page"].(int); ok {
		return p - 1
	}
	if o, ok := body["offset"].(int); ok {
		return o
	}
	return 0
}

// oracleFull returns the oracle's hits from 0 to well past the page, by
// id, for tie and content checks.
func oracleFullHits(t testing.TB, url string, body map[string]any) map[string]map[string]any {
	b := cloneBody(body)
	delete(b, "page")
	delete(b, "hitsPerPage")
	delete(b, "facets")
	end := 20
	if o, ok := body["offset"].(int); ok {
		end = o
	}
	if l, ok := body["limit"].(int); ok {
		end += l
	} else if _, paged := body["page"]; !paged {
		end += 20
	}
	if p, ok := body["page"].(int); ok {
		h, _ := body["hitsPerPage"].(int)
		end = p * h
	}
	b["offset"] = 0
	b["limit"] = min(end+50, 1000)
	ans := postJSON(t, url, b)
	out := map[string]map[string]any{}
	for _, h := range ans["hits"].([]any) {
		m := h.(map[string]any)
		out[hitIdent(body, m)] = m
	}
	return out
}

// oracleHit returns the oracle's rendering of document id for the query
// body (nil when the query does not match it).
func oracleHit(t testing.TB, url string, body map[string]any, id string) map[string]any {
	b := cloneBody(body)
	delete(b, "page")
	delete(b, "hitsPerPage")
	delete(b, "facets")
	b["offset"] = 0
	b["limit"] = 1
	idf := "id = " + id
	switch f := b["filter"].(type) {
	case nil:
		b["filter"] = idf
	case string:
		b["filter"] = "(" + f + ") AND " + idf
	case []any:
		b["filter"] = append(append([]any{}, f...), idf)
	}
	hits, _ := postJSON(t, url, b)["hits"].([]any)
	if len(hits) == 0 {
		return nil
	}
	return hits[0].(map[string]any)
}

// fedKey orders federated hits.
func fedKey(h map[string]any) string {
	f, _ := json.Marshal(h["_federation"])
	return string(f)
}
