package merge

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
)

// ruleKind says how one entry of _rankingScoreDetails compares.
type ruleKind uint8

const (
	ruleScore   ruleKind = iota // a relevancy rule: higher score first
	ruleValue                   // sort or custom rule: value in direction
	ruleGeo                     // geo sort: distance in direction
	ruleSimilar                 // vector sort: higher similarity first
	ruleOpaque                  // hidden or unknown: ties
)

// valueKind orders sort values like Meilisearch: numbers, then strings,
// then missing, in both directions.
type valueKind uint8

const (
	valNumber valueKind = iota
	valString
	valMissing
)

type ruleKey struct {
	order int
	kind  ruleKind
	asc   bool
	vk    valueKind
	num   float64 // score, number value, distance or similarity
	str   string
}

var (
	kOrder      = []byte("order")
	kScore      = []byte("score")
	kValue      = []byte("value")
	kDistance   = []byte("distance")
	kSimilarity = []byte("similarity")
)

// ruleKeys parses the hit's _rankingScoreDetails into its comparison keys,
// sorted by their "order".
func (h *Hit) ruleKeys() []ruleKey {
	if h.parsed {
		return h.keys
	}
	h.parsed = true
	if len(h.Details) == 0 {
		return nil
	}
	d := h.Details
	it := NewObjectIter(d, 0)
	keys := make([]ruleKey, 0, 8)
	for {
		name, vs, ve, ok := it.Next()
		if !ok {
			break
		}
		k := ruleKey{kind: ruleScore}
		var value, score, distance, similarity []byte
		hasValue := false
		oi := NewObjectIter(d[vs:ve], 0)
		obj := d[vs:ve]
		for {
			mk, mvs, mve, ok := oi.Next()
			if !ok {
				break
			}
			mv := obj[mvs:mve]
			switch {
			case bytes.Equal(mk, kOrder):
				n, _ := ParseInt(mv)
				k.order = int(n)
			case bytes.Equal(mk, kScore):
				score = mv
			case bytes.Equal(mk, kValue):
				value, hasValue = mv, true
			case bytes.Equal(mk, kDistance):
				distance = mv
			case bytes.Equal(mk, kSimilarity):
				similarity = mv
			}
		}
		sname := string(name)
		dir, asc := "", false
		if strings.HasSuffix(sname, ":asc") {
			dir, asc = "asc", true
		} else if strings.HasSuffix(sname, ":desc") {
			dir = "desc"
		}
		switch {
		case dir != "" && strings.HasPrefix(sname, "_geoPoint("):
			k.kind, k.asc = ruleGeo, asc
			if f, ok := ParseFloat(distance); ok {
				k.vk, k.num = valNumber, f
			} else {
				k.vk = valMissing
			}
		case dir != "" && hasValue:
			k.kind, k.asc = ruleValue, asc
			k.vk, k.num, k.str = sortValue(value)
		case similarity != nil:
			k.kind = ruleSimilar
			k.num, _ = ParseFloat(similarity)
		case score != nil:
			k.num, _ = ParseFloat(score)
		default:
			k.kind = ruleOpaque
		}
		keys = append(keys, k)
	}
	if !sort.SliceIsSorted(keys, func(i, j int) bool { return keys[i].order < keys[j].order }) {
		sort.SliceStable(keys, func(i, j int) bool { return keys[i].order < keys[j].order })
	}
	h.keys = keys
	return keys
}

// sortValue classifies a sort rule's value.
func sortValue(v []byte) (valueKind, float64, string) {
	if len(v) == 0 {
		return valMissing, 0, ""
	}
	switch v[0] {
	case '"':
		s, _ := Unquote(v)
		return valString, 0, s
	case 'n':
		return valMissing, 0, ""
	case 't', 'f':
		return valString, 0, string(v)
	}
	if f, ok := ParseFloat(v); ok {
		return valNumber, f, ""
	}
	return valMissing, 0, ""
}

// compareValues orders two sort values: numbers before strings before
// missing whatever the direction, then by value in the direction.
func compareValues(a, b *ruleKey, asc bool) int {
	if a.vk != b.vk {
		if a.vk < b.vk {
			return -1
		}
		return 1
	}
	c := 0
	switch a.vk {
	case valNumber:
		if a.num < b.num {
			c = -1
		} else if a.num > b.num {
			c = 1
		}
	case valString:
		c = strings.Compare(a.str, b.str)
	}
	if !asc {
		c = -c
	}
	return c
}

// CompareByScore orders by _rankingScore, best first (negative: a first).
func CompareByScore(a, b *Hit) int {
	switch {
	case a.Score > b.Score:
		return -1
	case a.Score < b.Score:
		return 1
	}
	return 0
}

// CompareByDetails orders two hits of the same query rule by rule over
// their _rankingScoreDetails, as Meilisearch's bucket sort does.
func CompareByDetails(a, b *Hit) int {
	ka, kb := a.ruleKeys(), b.ruleKeys()
	n := min(len(ka), len(kb))
	for i := 0; i < n; i++ {
		x, y := &ka[i], &kb[i]
		if x.kind != y.kind {
			continue // different rule shapes: not comparable, tie
		}
		switch x.kind {
		case ruleScore, ruleSimilar:
			if x.num > y.num {
				return -1
			}
			if x.num < y.num {
				return 1
			}
		case ruleValue, ruleGeo:
			if c := compareValues(x, y, x.asc); c != 0 {
				return c
			}
		}
	}
	if len(ka) == 0 && len(kb) == 0 {
		return CompareByScore(a, b)
	}
	return 0
}

// DistinctKeys appends the normalized distinct values of the raw hit at
// the dotted path: strings trimmed and lowercased, numbers in canonical
// form, booleans as text; arrays contribute each element. Null, objects
// and a missing attribute contribute nothing.
func DistinctKeys(dst []string, hit []byte, path string) []string {
	eachLeaf(hit, path, func(v []byte) {
		switch v[0] {
		case '"':
			s, _ := Unquote(v)
			dst = append(dst, "s"+NormalizeFacet(s))
		case 't', 'f':
			dst = append(dst, "s"+string(v))
		default:
			if f, ok := ParseFloat(v); ok {
				dst = append(dst, "n"+strconv.FormatFloat(f, 'f', -1, 64))
			}
		}
	})
	return dst
}

// NormalizeFacet is Meilisearch's facet string normalization.
func NormalizeFacet(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// IsSemantic reports whether a hit came from semantic search: its details
// start with a vector rule.
func IsSemantic(h *Hit) bool {
	k := h.ruleKeys()
	return len(k) > 0 && k[0].kind == ruleSimilar
}

// HybridCompare orders hybrid-search hits like Meilisearch: by score
// weighted with semanticRatio for semantic hits and 1-semanticRatio for
// keyword hits.
func HybridCompare(ratio float64) func(a, b *Hit) int {
	w := func(h *Hit) float64 {
		if IsSemantic(h) {
			return h.Score * ratio
		}
		return h.Score * (1 - ratio)
	}
	return func(a, b *Hit) int {
		wa, wb := w(a), w(b)
		switch {
		case wa > wb:
			return -1
		case wa < wb:
			return 1
		}
		return 0
	}
}

// SortSpec is one element of a documents listing's sort.
type SortSpec struct {
	Path string
	Asc  bool
}

// ParseSort reads "field:asc" / "field:desc" elements; others are skipped.
func ParseSort(list []string) []SortSpec {
	var out []SortSpec
	for _, s := range list {
		if f, ok := strings.CutSuffix(s, ":asc"); ok {
			out = append(out, SortSpec{f, true})
		} else if f, ok := strings.CutSuffix(s, ":desc"); ok {
			out = append(out, SortSpec{f, false})
		}
	}
	return out
}

// docSortKey is the value a document sorts by for one field: the smallest
// number (ascending) or the largest (descending), else the same among
// strings (normalized), else missing.
func docSortKey(doc []byte, sp SortSpec) ruleKey {
	best := ruleKey{vk: valMissing}
	eachLeaf(doc, sp.Path, func(v []byte) {
		var k ruleKey
		switch v[0] {
		case '"':
			s, _ := Unquote(v)
			k = ruleKey{vk: valString, str: NormalizeFacet(s)}
		case 't', 'f':
			k = ruleKey{vk: valString, str: string(v)}
		default:
			f, ok := ParseFloat(v)
			if !ok {
				return
			}
			k = ruleKey{vk: valNumber, num: f}
		}
		if compareValues(&k, &best, sp.Asc) < 0 {
			best = k
		}
	})
	return best
}

// CompareDocs orders two raw documents by sort specs, like Meilisearch
// sorts a documents listing.
func CompareDocs(a, b []byte, specs []SortSpec) int {
	for _, sp := range specs {
		ka, kb := docSortKey(a, sp), docSortKey(b, sp)
		if c := compareValues(&ka, &kb, sp.Asc); c != 0 {
			return c
		}
	}
	return 0
}

// eachLeaf calls fn with each raw scalar value other than null at the
// dotted path of obj, looking through nested objects and arrays; a key may
// itself contain dots ("a.b" matches {"a":{"b":1}} and {"a.b":1}).
func eachLeaf(obj []byte, path string, fn func(v []byte)) {
	it := NewObjectIter(obj, 0)
	for {
		key, vs, ve, ok := it.Next()
		if !ok {
			return
		}
		if len(key) > len(path) {
			continue
		}
		if string(key) == path {
			eachLeafIn(obj[vs:ve], "", fn)
		} else if len(key) < len(path) && path[len(key)] == '.' && string(key) == path[:len(key)] {
			eachLeafIn(obj[vs:ve], path[len(key)+1:], fn)
		}
	}
}

// eachLeafIn is eachLeaf for the value v, with rest of the path to go.
func eachLeafIn(v []byte, rest string, fn func(v []byte)) {
	if len(v) == 0 {
		return
	}
	switch v[0] {
	case '[':
		ai := NewArrayIter(v, 0)
		for {
			s, e, ok := ai.Next()
			if !ok {
				return
			}
			eachLeafIn(v[s:e], rest, fn)
		}
	case '{':
		if rest != "" {
			eachLeaf(v, rest, fn)
		}
		return
	case 'n':
		return
	}
	if rest == "" {
		fn(v)
	}
}
