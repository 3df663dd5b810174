package meilitest

import (
	"encoding/json"
	"math"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"weak"
)

// The ranking engine.
//
// Every score is computed from the query, the settings and one document
// only, following Meilisearch's bucket-sort rules (milli's
// search/new/ranking_rule_graph and score_details.rs):
//
//	words          rank = query words kept by the matching strategy, max = query words
//	typo           max = Σ per term (0 for phrases, else max(typos allowed, 1) —
//	               a word always tolerates the "split word" typo), rank = max+1-typos
//	proximity      per adjacent pair of kept terms cost 0..7 (forward distance d
//	               costs d-1, backward distance d costs d, none closer than 8 or
//	               not in one attribute costs 7), rank = 1+7·pairs-Σcost
//	attributeRank  per term the weight of the best attribute (its index in
//	               searchableAttributes; all weights are 0 with ["*"], exactly as
//	               Meilisearch does), rank = 1+maxWeight·terms-Σweight
//	wordPosition   per term cost_from_distance(|position - query position|),
//	               rank = 1+10·terms-Σcost
//	exactness      exactMatch/matchesStart/noExactMatch (3/3, 2/3, 1/3) followed by
//	               the number of terms found as the exact query word (rank k+1 of n+1)
//
// _rankingScore is Meilisearch's Rank::global_score: the ranks are combined
// in mixed radix ((r-1)·max' + r' …), so ordering by score equals ordering
// the rules lexicographically. Where Meilisearch uses index-wide data (its
// n-gram and split-word derivations, the set of field ids, bucketed
// positions, frequency for matchingStrategy "frequency"), meilitest uses
// what one document and the settings say; only matchingStrategy
// "frequency" reads the index (its removal order is by document frequency,
// which is what the strategy means). The engine's order is: compare
// [score of the rules before the first sort rule, sort value, score of the
// next rules, …] lexicographically, then internal docid; without sort and
// custom rules this is `_rankingScore` descending then docid.

// ---------------------------------------------------------------------
// per-index cache of tokenized documents

type docAttr struct {
	name   string
	weight int
	words  []int32 // word ids
	pos    []int32 // word positions
	count  int     // number of words
}

type docEntry struct {
	fields uintptr // identity of document.fields when tokenized
	attrs  []docAttr
}

type indexCache struct {
	mu    sync.Mutex
	key   string
	tok   *tokenizer
	dict  map[string]int32
	words []string
	docs  map[*document]*docEntry
}

var indexCaches sync.Map // weak.Pointer[index] -> *indexCache

// cacheFor returns the tokenizing cache of ix, creating it on first use.
// The entry disappears when the index is garbage collected.
func cacheFor(ix *index) *indexCache {
	k := weak.Make(ix)
	if c, ok := indexCaches.Load(k); ok {
		return c.(*indexCache)
	}
	c, loaded := indexCaches.LoadOrStore(k, &indexCache{})
	if !loaded {
		runtime.AddCleanup(ix, func(k weak.Pointer[index]) { indexCaches.Delete(k) }, k)
	}
	return c.(*indexCache)
}

func mapIdentity(m map[string]any) uintptr {
	if m == nil {
		return 0
	}
	return uintptr(reflect.ValueOf(m).UnsafePointer())
}

// settingsKey fingerprints the settings that change tokenizing.
func settingsKey(st *settings) string {
	b, _ := json.Marshal([]any{st.SearchableAttributes, st.SeparatorTokens, st.NonSeparatorTokens, st.Dictionary, st.StopWords})
	return string(b)
}

// snapshot is a consistent read of the cache for one query.
type snapshot struct {
	tok     *tokenizer
	dict    map[string]int32 // must only be read under the cache lock; copied lookups below
	words   []string
	entries []*docEntry // parallel to the docs passed to prepare
}

// prepare tokenizes the documents not yet cached and returns their entries.
func (c *indexCache) prepare(st *settings, docs []*document) *snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := settingsKey(st)
	if c.key != key || c.dict == nil {
		c.key = key
		c.tok = newTokenizer(st)
		c.dict = map[string]int32{}
		c.words = nil
		c.docs = map[*document]*docEntry{}
	}
	entries := make([]*docEntry, len(docs))
	for i, d := range docs {
		id := mapIdentity(d.fields)
		e := c.docs[d]
		if e == nil || e.fields != id {
			e = c.build(st, d.fields)
			e.fields = id
			c.docs[d] = e
		}
		entries[i] = e
	}
	// forget deleted documents now and then
	if len(c.docs) > 2*len(docs)+4096 {
		keep := make(map[*document]*docEntry, len(docs))
		for i, d := range docs {
			keep[d] = entries[i]
		}
		c.docs = keep
	}
	return &snapshot{tok: c.tok, words: c.words[:len(c.words):len(c.words)], entries: entries}
}

// lookup returns word ids for the given normalized words (-1 if unknown).
func (c *indexCache) lookup(words []string) []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int32, len(words))
	for i, w := range words {
		id, ok := c.dict[w]
		if !ok {
			id = -1
		}
		out[i] = id
	}
	return out
}

func (c *indexCache) wordID(w string) int32 {
	id, ok := c.dict[w]
	if !ok {
		id = int32(len(c.words))
		c.dict[w] = id
		c.words = append(c.words, w)
	}
	return id
}

func (c *indexCache) build(st *settings, fields map[string]any) *docEntry {
	e := &docEntry{}
	for _, fa := range searchableValues(st, fields) {
		a := docAttr{name: fa.name, weight: fa.weight}
		base := 0
		for _, v := range fa.values {
			toks := c.tok.tokenize(v, base)
			for _, t := range toks {
				a.words = append(a.words, c.wordID(t.word))
				a.pos = append(a.pos, int32(t.pos))
			}
			if len(toks) > 0 {
				base = toks[len(toks)-1].pos + hardGap
			}
		}
		a.count = len(a.words)
		e.attrs = append(e.attrs, a)
	}
	return e
}

// ---------------------------------------------------------------------
// attributes

type flatAttr struct {
	name   string
	weight int
	values []string
}

// flatten walks a document and calls fn for every scalar leaf with its
// dotted path (arrays keep the path of the array).
func flatten(prefix string, v any, fn func(path string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, x[k], fn)
		}
	case []any:
		for _, e := range x {
			flatten(prefix, e, fn)
		}
	default:
		fn(prefix, v)
	}
}

// scalarText renders a leaf as searchable text.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// searchableWeight returns the weight of attribute name, or -1 when it is
// not searchable. With ["*"] every attribute weighs 0.
func searchableWeight(st *settings, name string) int {
	if name == "_vectors" || strings.HasPrefix(name, "_vectors.") {
		return -1
	}
	list := st.SearchableAttributes
	if len(list) == 0 || (len(list) == 1 && list[0] == "*") || list == nil {
		return 0
	}
	for i, p := range list {
		if p == "*" || name == p || strings.HasPrefix(name, p+".") {
			return i
		}
	}
	return -1
}

// maxSearchableWeight is the weight of the last searchable attribute.
func maxSearchableWeight(st *settings) int {
	list := st.SearchableAttributes
	if len(list) == 0 || (len(list) == 1 && list[0] == "*") {
		return 0
	}
	return len(list) - 1
}

func searchableValues(st *settings, fields map[string]any) []flatAttr {
	idx := map[string]int{}
	var out []flatAttr
	flatten("", fields, func(path string, v any) {
		w := searchableWeight(st, path)
		if w < 0 {
			return
		}
		s, ok := scalarText(v)
		if !ok {
			return
		}
		i, seen := idx[path]
		if !seen {
			i = len(out)
			idx[path] = i
			out = append(out, flatAttr{name: path, weight: w})
		}
		out[i].values = append(out[i].values, s)
	})
	return out
}

// ---------------------------------------------------------------------
// queries

type qTerm struct {
	words    []string // one word, or the words of a phrase
	phrase   bool
	prefix   bool
	pos      int // query position
	typos    int // typos allowed (words only)
	synonyms []string
	ids      []int32 // phrase word ids (-1 unknown, -2 stop word)
}

func (t *qTerm) wordCount() int { return len(t.words) }

// maxTypoCost is the term's share of the typo rule's maximum.
func (t *qTerm) maxTypoCost() int {
	if t.phrase {
		return 0
	}
	if t.typos == 0 {
		return 1 // split words count as one typo
	}
	return t.typos
}

type compiledQuery struct {
	terms     []qTerm
	negatives []qTerm
	strategy  string
	attrOK    func(name string) bool // attributesToSearchOn
	removal   []int                  // removal order of non-phrase terms (frequency)
}

func (q *compiledQuery) placeholder() bool { return len(q.terms) == 0 }

// typosAllowed returns the typos a query word tolerates under st.
func typosAllowed(st *settings, w string) int {
	tt := st.TypoTolerance
	if !tt.Enabled {
		return 0
	}
	for _, d := range tt.DisableOnWords {
		if normalizeWord(d) == w {
			return 0
		}
	}
	if tt.DisableOnNumbers && isAllDigits(w) {
		return 0
	}
	n := len([]rune(w))
	switch {
	case n >= tt.MinWordSizeForTypos.TwoTypos:
		return 2
	case n >= tt.MinWordSizeForTypos.OneTypo:
		return 1
	}
	return 0
}

func isAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// maxQueryTerms is Meilisearch's limit on query words.
const maxQueryTerms = 10

// compileQuery parses q under st. attributesToSearchOn may be nil.
func compileQuery(st *settings, tok *tokenizer, q string, strategy string, attributesToSearchOn []string) *compiledQuery {
	cq := &compiledQuery{strategy: strategy}
	if strategy == "" {
		cq.strategy = "last"
	}
	toks, trailing := tok.parseQuery(q)
	syn := normalizedSynonyms(st)
	for i, qt := range toks {
		if qt.negative {
			cq.negatives = append(cq.negatives, qTerm{words: qt.words, phrase: qt.phrase})
			continue
		}
		if qt.stop {
			continue
		}
		if len(cq.terms) >= maxQueryTerms {
			break
		}
		t := qTerm{words: qt.words, phrase: qt.phrase, pos: qt.pos}
		if !qt.phrase {
			t.typos = typosAllowed(st, qt.words[0])
			t.prefix = i == len(toks)-1 && !trailing && st.PrefixSearch != "disabled"
			t.synonyms = syn[qt.words[0]]
		}
		cq.terms = append(cq.terms, t)
	}
	if len(attributesToSearchOn) > 0 {
		allowed := attributesToSearchOn
		all := false
		for _, a := range allowed {
			if a == "*" {
				all = true
			}
		}
		if !all {
			// checked for every attribute of every document, and an index
			// has few attribute names: each is resolved once (one query is
			// ranked by one goroutine)
			known := map[string]bool{}
			cq.attrOK = func(name string) bool {
				if ok, seen := known[name]; seen {
					return ok
				}
				ok := false
				for _, a := range allowed {
					if strings.HasPrefix(name, a) && (len(name) == len(a) || name[len(a)] == '.') {
						ok = true
						break
					}
				}
				known[name] = ok
				return ok
			}
		}
	}
	return cq
}

// normalizedSynonyms maps a normalized word to its single-word synonyms.
func normalizedSynonyms(st *settings) map[string][]string {
	out := map[string][]string{}
	for k, vs := range st.Synonyms {
		nk := normalizeWord(strings.TrimSpace(k))
		if strings.ContainsAny(nk, " \t") {
			continue
		}
		for _, v := range vs {
			nv := normalizeWord(strings.TrimSpace(v))
			if nv == "" || nv == nk || strings.ContainsAny(nv, " \t") {
				continue
			}
			out[nk] = append(out[nk], nv)
		}
	}
	return out
}

// ---------------------------------------------------------------------
// word matching

// match codes: 0 no match; otherwise matchHit | typos | flags.
const (
	matchHit    = 0x10
	matchExact  = 0x20 // the word is the query word itself
	matchPrefix = 0x40
	matchTypoM  = 0x03
	matchUnset  = 0xFF
)

// wordMatch computes how dict word w matches term t.
func wordMatch(t *qTerm, w string) uint8 {
	q := t.words[0]
	if w == q {
		return matchHit | matchExact
	}
	for _, s := range t.synonyms {
		if w == s {
			return matchHit
		}
	}
	if t.prefix && strings.HasPrefix(w, q) {
		return matchHit | matchPrefix
	}
	if t.typos == 0 {
		return 0
	}
	d := typoDistance(q, w, t.prefix, t.typos)
	if d >= 1 && d <= t.typos {
		return matchHit | uint8(d)
	}
	return 0
}

// typoDistance is the number of typos between query word q and word w
// (Damerau-Levenshtein, optimal string alignment), where a typo on the
// first character counts as two, as in Meilisearch. With prefix, w only
// needs to start with something that close to q. Results above limit may
// be approximate (limit+1).
func typoDistance(q, w string, prefix bool, limit int) int {
	qr := []rune(q)
	wr := []rune(w)
	if len(qr) == 0 {
		return 0
	}
	if !prefix {
		if diff := len(qr) - len(wr); diff > limit || -diff > limit {
			return limit + 1
		}
	} else if len(wr) < len(qr)-limit {
		return limit + 1
	}
	if len(wr) > 0 && qr[0] == wr[0] {
		return osa(qr[1:], wr[1:], prefix)
	}
	return osa(qr, wr, prefix) + 1
}

// osa is the optimal string alignment distance between a and b; with
// prefix, the smallest distance between a and a prefix of b.
func osa(a, b []rune, prefix bool) int {
	n, m := len(a), len(b)
	prev2 := make([]int, m+1)
	prev := make([]int, m+1)
	cur := make([]int, m+1)
	for j := 0; j <= m; j++ {
		prev[j] = j
	}
	for i := 1; i <= n; i++ {
		cur[0] = i
		for j := 1; j <= m; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := prev[j] + 1
			if cur[j-1]+1 < v {
				v = cur[j-1] + 1
			}
			if prev[j-1]+cost < v {
				v = prev[j-1] + cost
			}
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] && prev2[j-2]+1 < v {
				v = prev2[j-2] + 1
			}
			cur[j] = v
		}
		prev2, prev, cur = prev, cur, prev2
	}
	if !prefix {
		return prev[m]
	}
	best := prev[0]
	for j := 1; j <= m; j++ {
		if prev[j] < best {
			best = prev[j]
		}
	}
	return best
}

// ---------------------------------------------------------------------
// per-document evaluation

type occ struct {
	attr  int32
	pos   int32
	end   int32 // last position (phrases)
	typos int8
	exact bool
}

// matcher evaluates one compiled query against documents. It is used by
// one goroutine.
type matcher struct {
	q      *compiledQuery
	st     *settings
	words  []string
	memo   [][]uint8 // per term, per word id
	occs   [][]occ   // per term, reused per document
	noTypo map[string]bool
	rules  []rankRule
	maxW   int
}

func newMatcher(st *settings, q *compiledQuery, snap *snapshot, c *indexCache) *matcher {
	m := &matcher{q: q, st: st, words: snap.words, maxW: maxSearchableWeight(st)}
	m.memo = make([][]uint8, len(q.terms))
	m.occs = make([][]occ, len(q.terms))
	for i := range q.terms {
		memo := make([]uint8, len(snap.words))
		for j := range memo {
			memo[j] = matchUnset
		}
		m.memo[i] = memo
		t := &q.terms[i]
		if t.phrase {
			t.ids = c.lookup(t.words)
			for k, w := range t.words {
				if snap.tok.stopWords[w] {
					t.ids[k] = -2
				}
			}
		}
	}
	for i := range q.negatives {
		t := &q.negatives[i]
		t.ids = c.lookup(t.words)
	}
	m.noTypo = map[string]bool{}
	for _, a := range st.TypoTolerance.DisableOnAttributes {
		m.noTypo[a] = true
	}
	return m
}

func (m *matcher) code(ti int, wid int32) uint8 {
	c := m.memo[ti][wid]
	if c == matchUnset {
		c = wordMatch(&m.q.terms[ti], m.words[wid])
		m.memo[ti][wid] = c
	}
	return c
}

func (m *matcher) attrAllowed(name string) bool {
	return m.q.attrOK == nil || m.q.attrOK(name)
}

func (m *matcher) typoAllowedIn(name string) bool {
	if len(m.noTypo) == 0 {
		return true
	}
	for a := range m.noTypo {
		if name == a || strings.HasPrefix(name, a+".") {
			return false
		}
	}
	return true
}

// negated reports whether the document contains a negative word or phrase.
func (m *matcher) negated(e *docEntry) bool {
	for _, n := range m.q.negatives {
		if !n.phrase {
			if n.ids[0] < 0 {
				continue
			}
			for _, a := range e.attrs {
				if !m.attrAllowed(a.name) {
					continue
				}
				for _, w := range a.words {
					if w == n.ids[0] {
						return true
					}
				}
			}
			continue
		}
		for ai := range e.attrs {
			if m.attrAllowed(e.attrs[ai].name) && len(phraseOccs(&e.attrs[ai], n.ids, 0)) > 0 {
				return true
			}
		}
	}
	return false
}

// phraseOccs finds the phrase in attribute a. ids -2 is a stop word
// (matches any word), -1 an unknown word (never matches).
func phraseOccs(a *docAttr, ids []int32, attr int32) []occ {
	var out []occ
	for _, id := range ids {
		if id == -1 {
			return nil
		}
	}
	for i := range a.words {
		if ids[0] >= 0 && a.words[i] != ids[0] {
			continue
		}
		ok := true
		p := a.pos[i]
		j := i
		for k := 1; k < len(ids); k++ {
			j++
			if j >= len(a.words) || a.pos[j] != p+int32(k) {
				ok = false
				break
			}
			if ids[k] >= 0 && a.words[j] != ids[k] {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, occ{attr: attr, pos: p, end: p + int32(len(ids)-1), exact: true})
		}
	}
	return out
}

// collect fills m.occs for document e and reports which terms matched.
func (m *matcher) collect(e *docEntry, matched []bool) {
	for ti := range m.q.terms {
		m.occs[ti] = m.occs[ti][:0]
		matched[ti] = false
	}
	for ai := range e.attrs {
		a := &e.attrs[ai]
		if !m.attrAllowed(a.name) {
			continue
		}
		typoOK := m.typoAllowedIn(a.name)
		for ti := range m.q.terms {
			t := &m.q.terms[ti]
			if t.phrase {
				o := phraseOccs(a, t.ids, int32(ai))
				if len(o) > 0 {
					m.occs[ti] = append(m.occs[ti], o...)
					matched[ti] = true
				}
				continue
			}
			for i, wid := range a.words {
				c := m.code(ti, wid)
				if c == 0 {
					continue
				}
				typos := int8(c & matchTypoM)
				if typos > 0 && !typoOK {
					continue
				}
				m.occs[ti] = append(m.occs[ti], occ{attr: int32(ai), pos: a.pos[i], end: a.pos[i], typos: typos, exact: c&matchExact != 0})
				matched[ti] = true
			}
		}
	}
}

// kept applies the matching strategy: it returns the kept term indices, or
// nil when the document does not match.
func (m *matcher) kept(matched []bool) []int {
	terms := m.q.terms
	var phrases, words []int
	for i, t := range terms {
		if t.phrase {
			if !matched[i] {
				return nil
			}
			phrases = append(phrases, i)
		} else {
			words = append(words, i)
		}
	}
	switch m.q.strategy {
	case "all":
		for i := range terms {
			if !matched[i] {
				return nil
			}
		}
		return allIndices(len(terms))
	case "frequency":
		removed := map[int]bool{}
		order := m.q.removal
		r := 0
		for {
			ok := true
			for _, w := range words {
				if !removed[w] && !matched[w] {
					ok = false
					break
				}
			}
			if ok {
				break
			}
			if r >= len(order) || (len(phrases) == 0 && r >= len(words)-1) {
				return nil
			}
			removed[order[r]] = true
			r++
		}
		var out []int
		for i := range terms {
			if !removed[i] {
				out = append(out, i)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	default: // last
		k := 0
		for k < len(words) && matched[words[k]] {
			k++
		}
		if k == 0 && len(phrases) == 0 {
			return nil
		}
		keep := map[int]bool{}
		for _, p := range phrases {
			keep[p] = true
		}
		for _, w := range words[:k] {
			keep[w] = true
		}
		var out []int
		for i := range terms {
			if keep[i] {
				out = append(out, i)
			}
		}
		return out
	}
}

func allIndices(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// ---------------------------------------------------------------------
// ranking rules

type ruleKind int

const (
	ruleWords ruleKind = iota
	ruleTypo
	ruleProximity
	ruleAttribute // legacy: attributeRank + wordPosition
	ruleAttributeRank
	ruleWordPosition
	ruleExactness
	ruleSort   // placeholder for the request's sort
	ruleCustom // attr:asc|desc from settings
	ruleSortField
	ruleGeo
	ruleVector
)

type rankRule struct {
	kind  ruleKind
	name  string // detail key for wordPosition / custom names
	field string
	asc   bool
	geo   [2]float64
	geoS  string // "_geoPoint(lat, lng)"
}

// sortSpec is one parsed element of the request's sort.
type sortSpec struct {
	field string
	asc   bool
	geo   bool
	point [2]float64
	text  string
}

// buildRules turns the settings' ranking rules and the request's sort into
// the rules actually applied, as milli's get_ranking_rules_* do.
func buildRules(st *settings, placeholder bool, strategy string, sorts []sortSpec) []rankRule {
	var out []rankRule
	words := strategy == "all"
	seen := map[string]bool{}
	sorted := map[string]bool{}
	geoDone := false
	addSort := func() {
		for _, s := range sorts {
			if s.geo {
				if geoDone {
					continue
				}
				geoDone = true
				out = append(out, rankRule{kind: ruleGeo, asc: s.asc, geo: s.point, geoS: s.text})
				continue
			}
			if sorted[s.field] {
				continue
			}
			sorted[s.field] = true
			out = append(out, rankRule{kind: ruleSortField, field: s.field, asc: s.asc})
		}
	}
	for _, r := range st.RankingRules {
		if field, dir, ok := customRule(r); ok {
			if sorted[field] {
				continue
			}
			sorted[field] = true
			out = append(out, rankRule{kind: ruleCustom, field: field, asc: dir})
			continue
		}
		if r == "sort" {
			if !seen["sort"] {
				seen["sort"] = true
				addSort()
			}
			continue
		}
		if placeholder {
			continue
		}
		switch r {
		case "typo", "attribute", "proximity", "exactness":
			if !words {
				out = append(out, rankRule{kind: ruleWords})
				words = true
			}
		}
		switch r {
		case "words":
			if !words {
				out = append(out, rankRule{kind: ruleWords})
				words = true
			}
		case "typo":
			if !seen[r] {
				out = append(out, rankRule{kind: ruleTypo})
			}
		case "proximity":
			if !seen[r] {
				out = append(out, rankRule{kind: ruleProximity})
			}
		case "attribute":
			if !seen["attribute"] && !seen["attributeRank"] && !seen["wordPosition"] {
				out = append(out, rankRule{kind: ruleAttribute})
				seen["attributeRank"], seen["wordPosition"] = true, true
			}
		case "attributeRank":
			if !seen["attribute"] && !seen["attributeRank"] {
				out = append(out, rankRule{kind: ruleAttributeRank})
			}
		case "wordPosition", "attributePosition":
			if !seen["attribute"] && !seen["wordPosition"] {
				out = append(out, rankRule{kind: ruleWordPosition, name: r})
				seen["wordPosition"] = true
			}
		case "exactness":
			if !seen[r] {
				out = append(out, rankRule{kind: ruleExactness})
			}
		}
		seen[r] = true
	}
	return out
}

// customRule parses "field:asc" / "field:desc".
func customRule(r string) (field string, asc bool, ok bool) {
	if f, found := strings.CutSuffix(r, ":asc"); found && f != "" {
		return f, true, true
	}
	if f, found := strings.CutSuffix(r, ":desc"); found && f != "" {
		return f, false, true
	}
	return "", false, false
}

// rank is a (rank, max) pair of Meilisearch's score details.
type rank struct{ r, max uint64 }

func (r rank) local() float64 { return float64(r.r) / float64(r.max) }

func mergeRank(outer, inner rank) rank {
	rr := uint64(0)
	if outer.r > 0 {
		rr = outer.r - 1
	}
	return rank{r: rr*inner.max + inner.r, max: outer.max * inner.max}
}

func globalScore(ranks []rank) float64 {
	g := rank{1, 1}
	for _, r := range ranks {
		g = mergeRank(g, r)
	}
	return g.local()
}

// sortValue is a document's value for one sort rule.
type sortValue struct {
	kind int // 0 number, 1 string, 2 none
	num  float64
	str  string
}

func (v sortValue) json() any {
	switch v.kind {
	case 0:
		return v.num
	case 1:
		return v.str
	}
	return nil
}

// compareSort orders two values for a sort rule: negative when a comes
// first. Numbers come before strings, missing values last, in both
// directions (milli's compare_sort_values).
func compareSort(a, b sortValue, asc bool) int {
	if a.kind != b.kind {
		if a.kind < b.kind {
			return -1
		}
		return 1
	}
	c := 0
	switch a.kind {
	case 0:
		if a.num < b.num {
			c = -1
		} else if a.num > b.num {
			c = 1
		}
	case 1:
		c = strings.Compare(a.str, b.str)
	}
	if !asc {
		c = -c
	}
	return c
}

// detail is one entry of _rankingScoreDetails.
type detail struct {
	key   string
	value map[string]any
}

// sortKey is one element of the engine's lexicographic order.
type sortKey struct {
	isScore bool
	geo     bool // a _geoPoint sort: val is the distance (or none)
	score   float64
	val     sortValue
	asc     bool
}

// scored is one ranked document.
type scored struct {
	doc      *document
	entry    *docEntry
	kept     []int
	ranks    []rank // for the global score
	details  []detail
	keys     []sortKey
	score    float64
	geoDist  *float64
	semantic bool
}

// fieldValues returns every leaf value at path (dotted), looking through
// nested objects and arrays.
func fieldValues(fields map[string]any, path string) []any {
	var out []any
	var walk func(v any, rest string)
	walk = func(v any, rest string) {
		if rest == "" {
			switch x := v.(type) {
			case []any:
				for _, e := range x {
					walk(e, "")
				}
			default:
				out = append(out, v)
			}
			return
		}
		switch x := v.(type) {
		case map[string]any:
			// try every split of rest into a key and a remainder
			for i := 0; i <= len(rest); i++ {
				if i < len(rest) && rest[i] != '.' {
					continue
				}
				if sub, ok := x[rest[:i]]; ok {
					r := ""
					if i < len(rest) {
						r = rest[i+1:]
					}
					walk(sub, r)
				}
			}
		case []any:
			for _, e := range x {
				walk(e, rest)
			}
		}
	}
	walk(fields, path)
	return out
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

// normalizeFacet is milli's facet string normalization (trim, lowercase).
func normalizeFacet(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// docSortValue picks the value a document sorts by: the smallest number
// (ascending) or largest (descending), else the same among strings.
func docSortValue(fields map[string]any, field string, asc bool) sortValue {
	best := sortValue{kind: 2}
	for _, v := range fieldValues(fields, field) {
		var sv sortValue
		if f, ok := toFloat(v); ok {
			sv = sortValue{kind: 0, num: f}
		} else if s, ok := v.(string); ok {
			sv = sortValue{kind: 1, str: normalizeFacet(s)}
		} else if b, ok := v.(bool); ok {
			sv = sortValue{kind: 1, str: strconv.FormatBool(b)}
		} else {
			continue
		}
		if compareSort(sv, best, asc) < 0 {
			best = sv
		}
	}
	return best
}

// geoPoint reads a document's _geo.
func geoPoint(fields map[string]any) ([2]float64, bool) {
	g, ok := fields["_geo"].(map[string]any)
	if !ok {
		return [2]float64{}, false
	}
	lat, ok1 := geoCoord(g["lat"])
	lng, ok2 := geoCoord(g["lng"])
	return [2]float64{lat, lng}, ok1 && ok2
}

func geoCoord(v any) (float64, bool) {
	if f, ok := toFloat(v); ok {
		return f, true
	}
	if s, ok := v.(string); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		return f, err == nil
	}
	return 0, false
}

func costFromDistance(d int32) uint64 {
	switch {
	case d == 0:
		return 0
	case d == 1:
		return 1
	case d <= 4:
		return 2
	case d <= 7:
		return 3
	case d <= 11:
		return 4
	case d <= 16:
		return 5
	case d <= 24:
		return 6
	case d <= 64:
		return 7
	case d <= 256:
		return 8
	case d <= 1024:
		return 9
	}
	return 10
}

// attrDisplayed reports whether attribute name is displayed (redaction).
func attrDisplayed(st *settings, name string) bool {
	for _, d := range st.DisplayedAttributes {
		if d == "*" || d == name {
			return true
		}
	}
	return false
}

// score computes the details, global score and sort keys of one document
// whose kept terms are kept (nil for placeholder searches).
func (m *matcher) score(s *scored, rules []rankRule, st *settings) {
	order := 0
	var group []rank // consecutive rank rules, for the sort keys
	flush := func() {
		if len(group) > 0 {
			s.keys = append(s.keys, sortKey{isScore: true, score: globalScore(group)})
			group = group[:0]
		}
	}
	add := func(key string, v map[string]any, rs ...rank) {
		v["order"] = order
		order++
		s.details = append(s.details, detail{key: key, value: v})
		s.ranks = append(s.ranks, rs...)
		group = append(group, rs...)
	}
	kept := s.kept
	terms := m.q.terms
	// occurrences restricted to the best typo count when the typo rule applies
	best := make([][]occ, len(terms))
	for _, ti := range kept {
		best[ti] = m.occs[ti]
	}
	for _, r := range rules {
		switch r.kind {
		case ruleWords:
			total, n := 0, 0
			for _, t := range terms {
				total += t.wordCount()
			}
			for _, ti := range kept {
				n += terms[ti].wordCount()
			}
			rk := rank{uint64(n), uint64(total)}
			add("words", map[string]any{"matchingWords": n, "maxMatchingWords": total, "score": rk.local()}, rk)
		case ruleTypo:
			maxT, typos := 0, 0
			for _, ti := range kept {
				maxT += terms[ti].maxTypoCost()
				minT := int8(3)
				for _, o := range best[ti] {
					if o.typos < minT {
						minT = o.typos
					}
				}
				if minT == 3 {
					minT = 0
				}
				typos += int(minT)
				var keep []occ
				for _, o := range best[ti] {
					if o.typos == minT {
						keep = append(keep, o)
					}
				}
				best[ti] = keep
			}
			if typos > maxT {
				typos = maxT
			}
			rk := rank{uint64(maxT + 1 - typos), uint64(maxT + 1)}
			add("typo", map[string]any{"typoCount": typos, "maxTypoCount": maxT, "score": rk.local()}, rk)
		case ruleProximity:
			pairs, cost := 0, uint64(0)
			for i := 0; i+1 < len(kept); i++ {
				a, b := &terms[kept[i]], &terms[kept[i+1]]
				if a.pos+a.wordCount() != b.pos {
					continue
				}
				pairs++
				c := uint64(7)
				for _, oa := range best[kept[i]] {
					for _, ob := range best[kept[i+1]] {
						if oa.attr != ob.attr {
							continue
						}
						var pc uint64
						switch d := ob.pos - oa.end; {
						case d > 0:
							pc = uint64(d - 1)
						case d < 0 && !a.phrase && !b.phrase:
							pc = uint64(-d)
						default:
							continue
						}
						if pc < c {
							c = pc
						}
					}
				}
				cost += c
			}
			max := uint64(1 + 7*pairs)
			rk := rank{max - cost, max}
			add("proximity", map[string]any{"score": rk.local()}, rk)
		case ruleAttribute, ruleAttributeRank:
			maxW := uint64(m.maxW)
			var sum uint64
			for _, ti := range kept {
				w := uint64(math.MaxUint32)
				for _, o := range best[ti] {
					if aw := uint64(s.entry.attrs[o.attr].weight); aw < w {
						w = aw
					}
				}
				if w > maxW {
					w = maxW
				}
				sum += w
			}
			max := 1 + maxW*uint64(len(kept))
			fid := rank{max - sum, max}
			if r.kind == ruleAttributeRank {
				add("attributeRank", map[string]any{"score": fid.local()}, fid)
				continue
			}
			pos := m.positionRank(kept, best)
			add("attribute", map[string]any{
				"attributeRankingOrderScore": fid.local(),
				"queryWordDistanceScore":     pos.local(),
				"score":                      globalScore([]rank{fid, pos}),
			}, fid, pos)
		case ruleWordPosition:
			pos := m.positionRank(kept, best)
			add(r.name, map[string]any{"score": pos.local()}, pos)
		case ruleExactness:
			ea, ew := m.exactness(s.entry, kept, best)
			v := map[string]any{}
			switch ea.r {
			case 3:
				v["matchType"] = "exactMatch"
				v["score"] = ea.local()
			case 2:
				v["matchType"] = "matchesStart"
				v["score"] = ea.local()
			default:
				v["matchType"] = "noExactMatch"
				v["matchingWords"] = ew.r - 1
				v["maxMatchingWords"] = ew.max - 1
				v["score"] = globalScore([]rank{ea, ew})
			}
			add("exactness", v, ea, ew)
		case ruleSortField, ruleCustom:
			flush()
			val := docSortValue(s.doc.fields, r.field, r.asc)
			key := r.field + ":" + ascDesc(r.asc)
			var jv any = val.json()
			if !attrDisplayed(st, r.field) {
				key = "<hidden-rule-" + strconv.Itoa(order) + ">"
				jv = "<hidden>"
			}
			v := map[string]any{"order": order, "value": jv}
			order++
			s.details = append(s.details, detail{key: key, value: v})
			s.keys = append(s.keys, sortKey{val: val, asc: r.asc})
		case ruleGeo:
			flush()
			p, ok := geoPoint(s.doc.fields)
			v := map[string]any{"order": order}
			order++
			val := sortValue{kind: 2}
			if ok {
				d := haversineMeters(r.geo[0], r.geo[1], p[0], p[1])
				s.geoDist = &d
				v["value"] = map[string]any{"lat": p[0], "lng": p[1]}
				v["distance"] = d
				val = sortValue{kind: 0, num: d}
			} else {
				v["value"] = nil
				v["distance"] = nil
			}
			s.details = append(s.details, detail{key: r.geoS + ":" + ascDesc(r.asc), value: v})
			s.keys = append(s.keys, sortKey{geo: true, val: val, asc: r.asc})
		}
	}
	flush()
	s.score = globalScore(s.ranks)
}

func ascDesc(asc bool) string {
	if asc {
		return "asc"
	}
	return "desc"
}

func (m *matcher) positionRank(kept []int, best [][]occ) rank {
	var sum uint64
	for _, ti := range kept {
		c := uint64(10)
		for _, o := range best[ti] {
			d := o.pos - int32(m.q.terms[ti].pos)
			if d < 0 {
				d = -d
			}
			if cc := costFromDistance(d); cc < c {
				c = cc
			}
		}
		sum += c
	}
	max := 1 + 10*uint64(len(kept))
	return rank{max - sum, max}
}

// exactness returns the ExactAttribute rank and the ExactWords rank.
func (m *matcher) exactness(e *docEntry, kept []int, best [][]occ) (rank, rank) {
	terms := m.q.terms
	exactWords := 0
	for _, ti := range kept {
		for _, o := range m.occs[ti] {
			if o.exact {
				exactWords++
				break
			}
		}
	}
	ew := rank{uint64(exactWords + 1), uint64(len(kept) + 1)}
	// the kept terms must be the first terms, without holes
	for i, ti := range kept {
		if ti != i {
			return rank{1, 3}, ew
		}
	}
	if len(kept) == 0 {
		return rank{1, 3}, ew
	}
	positions := 0
	for _, ti := range kept {
		positions += terms[ti].wordCount()
	}
	result := uint64(1)
	for ai := range e.attrs {
		if !m.attrAllowed(e.attrs[ai].name) {
			continue
		}
		ok := true
		for _, ti := range kept {
			found := false
			for _, o := range m.occs[ti] {
				if o.attr == int32(ai) && o.exact && o.pos == int32(terms[ti].pos) {
					found = true
					break
				}
			}
			if !found {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if e.attrs[ai].count == positions {
			return rank{3, 3}, ew
		}
		result = 2
	}
	return rank{result, 3}, ew
}

// lessScored is the engine's order.
func lessScored(a, b *scored) bool {
	n := len(a.keys)
	if len(b.keys) < n {
		n = len(b.keys)
	}
	for i := 0; i < n; i++ {
		ka, kb := a.keys[i], b.keys[i]
		if ka.isScore {
			if ka.score != kb.score {
				return ka.score > kb.score
			}
			continue
		}
		if c := compareSort(ka.val, kb.val, ka.asc); c != 0 {
			return c < 0
		}
	}
	return a.doc.seq < b.doc.seq
}

// detailsJSON renders _rankingScoreDetails in ranking-rule order, each
// rule's fields in the order Meilisearch writes them (score_details.rs's
// to_json_map): clients iterating the object see the rules in order.
func detailsJSON(ds []detail) *orderedObject {
	out := &orderedObject{}
	for _, d := range ds {
		out.set(d.key, detailFields(d.value))
	}
	return out
}

// detailFieldOrder is the order of the fields inside one rule's details.
var detailFieldOrder = []string{"order", "matchType", "matchingWords", "maxMatchingWords", "typoCount", "maxTypoCount",
	"attributeRankingOrderScore", "queryWordDistanceScore", "value", "distance", "similarity", "score"}

func detailFields(v map[string]any) *orderedObject {
	o := &orderedObject{}
	for _, k := range detailFieldOrder {
		if x, ok := v[k]; ok {
			o.set(k, x)
		}
	}
	for _, k := range sortedKeys(v) { // any field not listed above
		if !slices.Contains(detailFieldOrder, k) {
			o.set(k, v[k])
		}
	}
	return o
}

// ---------------------------------------------------------------------
// running a ranked search over candidates

// rankInput is everything rankDocuments needs.
type rankInput struct {
	st       *settings
	cache    *indexCache
	all      []*document // the whole index, in docid order (frequency strategy)
	docs     []*document // candidates after filtering, in docid order
	query    string
	strategy string
	searchOn []string
	sorts    []sortSpec
}

// rankResult is the ranked candidates and what formatting needs.
type rankResult struct {
	hits    []*scored
	query   *compiledQuery
	matcher *matcher
	snap    *snapshot
	rules   []rankRule
}

// rankDocuments matches, scores and orders the candidates.
func rankDocuments(in rankInput) *rankResult {
	snap := in.cache.prepare(in.st, in.docs)
	q := compileQuery(in.st, snap.tok, in.query, in.strategy, in.searchOn)
	m := newMatcher(in.st, q, snap, in.cache)
	rules := buildRules(in.st, q.placeholder(), q.strategy, in.sorts)
	res := &rankResult{query: q, matcher: m, snap: snap, rules: rules}
	if q.strategy == "frequency" && !q.placeholder() {
		q.removal = m.frequencyOrder(in)
	}
	matched := make([]bool, len(q.terms))
	hits := make([]*scored, 0, len(in.docs))
	for i, d := range in.docs {
		e := snap.entries[i]
		if len(q.negatives) > 0 && m.negated(e) {
			continue
		}
		s := &scored{doc: d, entry: e}
		if !q.placeholder() {
			m.collect(e, matched)
			s.kept = m.kept(matched)
			if s.kept == nil {
				continue
			}
		}
		m.score(s, rules, in.st)
		hits = append(hits, s)
	}
	sort.SliceStable(hits, func(i, j int) bool { return lessScored(hits[i], hits[j]) })
	res.hits = hits
	return res
}

// frequencyOrder returns the non-phrase terms by decreasing document
// frequency in the whole index (ties: the later term first).
func (m *matcher) frequencyOrder(in rankInput) []int {
	snap := in.cache.prepare(in.st, in.all)
	// the memo may be too short for words added by this second prepare
	for i := range m.memo {
		if len(m.memo[i]) < len(snap.words) {
			grown := make([]uint8, len(snap.words))
			copy(grown, m.memo[i])
			for j := len(m.memo[i]); j < len(grown); j++ {
				grown[j] = matchUnset
			}
			m.memo[i] = grown
		}
	}
	m.words = snap.words
	freq := make([]int, len(m.q.terms))
	matched := make([]bool, len(m.q.terms))
	for _, e := range snap.entries {
		m.collect(e, matched)
		for i, ok := range matched {
			if ok {
				freq[i]++
			}
		}
	}
	var order []int
	for i, t := range m.q.terms {
		if !t.phrase {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool {
		if freq[order[a]] != freq[order[b]] {
			return freq[order[a]] > freq[order[b]]
		}
		return order[a] > order[b]
	})
	return order
}
