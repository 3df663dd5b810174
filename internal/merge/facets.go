package merge

import (
	"bytes"
	"slices"
	"sort"
	"strconv"
)

// FacetOrder is the index's faceting settings, as merging needs them.
type FacetOrder struct {
	// MaxValuesPerFacet truncates each facet's values (negative: no limit).
	MaxValuesPerFacet int
	// SortBy returns "alpha" or "count" for a facet attribute (nil: alpha).
	SortBy func(attr string) string
}

func (fo FacetOrder) sortBy(attr string) string {
	if fo.SortBy == nil {
		return "alpha"
	}
	return fo.SortBy(attr)
}

type facetValue struct {
	key   string // grouping key: "n"+number or "s"+normalized string
	shown []byte // raw JSON string of the key as the first node showed it
	num   float64
	isNum bool
	count int64
}

type facetAttr struct {
	name   []byte // raw key
	values []*facetValue
	byKey  map[string]*facetValue
	isNum  bool // a numeric facet (listed in facetStats)
}

// walkFacets walks objects shaped {"attr":{"key":value,...},...}
// (facetDistribution, facetStats), skipping empty or non-object ones and
// the attributes in hide. Each attribute gets one entry, made by mk when first
// seen and appended to attrs (so attrs keep the order in which the nodes
// list them); fn sees each member of each node's object for that
// attribute: its key as written, the key with its quotes, and the raw
// value.
func walkFacets[T any](attrs []*T, objs [][]byte, hide []string, mk func(name []byte) *T, fn func(a *T, key, rawKey, v []byte)) ([]*T, error) {
	byName := map[string]*T{}
	for _, o := range objs {
		if len(o) == 0 || o[0] != '{' {
			continue
		}
		it := NewObjectIter(o, 0)
		for {
			name, vs, ve, ok := it.Next()
			if !ok {
				break
			}
			if slices.Contains(hide, string(name)) {
				continue
			}
			a := byName[string(name)]
			if a == nil {
				a = mk(name)
				byName[string(name)] = a
				attrs = append(attrs, a)
			}
			v := o[vs:ve]
			vi := NewObjectIter(v, 0)
			for {
				k, s, e, ok := vi.Next()
				if !ok {
					break
				}
				fn(a, k, vi.RawKey(), v[s:e])
			}
			if err := vi.Err(); err != nil {
				return nil, err
			}
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
	}
	return attrs, nil
}

// MergeFacetDistributions sums the facetDistribution objects of several
// nodes per attribute and value, then orders and truncates each attribute's
// values like Meilisearch (alpha: numbers ascending then strings; count:
// count descending then alpha). Attributes keep the order in which the
// nodes listed them. hide names attributes left out (miroir's own fields).
// stats are the nodes' facetStats, used to tell numeric facets apart.
func MergeFacetDistributions(dst []byte, dists, stats [][]byte, fo FacetOrder, hide ...string) ([]byte, error) {
	numeric := map[string]bool{}
	for _, st := range stats {
		if len(st) == 0 {
			continue
		}
		it := NewObjectIter(st, 0)
		for {
			k, _, _, ok := it.Next()
			if !ok {
				break
			}
			numeric[string(k)] = true
		}
	}
	// attrs starts on the stack (walkFacets only passes it back).
	attrs, err := walkFacets(make([]*facetAttr, 0, 8), dists, hide,
		func(name []byte) *facetAttr {
			return &facetAttr{name: name, byKey: map[string]*facetValue{}, isNum: numeric[string(name)]}
		},
		func(fa *facetAttr, _, raw, v []byte) {
			cnt, _ := ParseInt(v)
			text, _ := Unquote(raw)
			fv := &facetValue{shown: raw}
			if f, err := strconv.ParseFloat(text, 64); fa.isNum && err == nil {
				fv.isNum, fv.num = true, f
				fv.key = "n" + strconv.FormatFloat(f, 'f', -1, 64)
			} else {
				fv.key = "s" + NormalizeFacet(text)
			}
			if have := fa.byKey[fv.key]; have != nil {
				have.count += cnt
				return
			}
			fv.count = cnt
			fa.byKey[fv.key] = fv
			fa.values = append(fa.values, fv)
		})
	if err != nil {
		return nil, err
	}
	dst = append(dst, '{')
	for i, fa := range attrs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, fa.name...)
		dst = append(dst, '"', ':', '{')
		vals := fa.values
		sortFacetValues(vals, fo.sortBy(string(fa.name)))
		if fo.MaxValuesPerFacet >= 0 && len(vals) > fo.MaxValuesPerFacet {
			vals = vals[:fo.MaxValuesPerFacet]
		}
		for j, v := range vals {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, v.shown...)
			dst = append(dst, ':')
			dst = strconv.AppendInt(dst, v.count, 10)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

func alphaLess(a, b *facetValue) bool {
	if a.isNum != b.isNum {
		return a.isNum
	}
	if a.isNum {
		return a.num < b.num
	}
	return a.key < b.key
}

func sortFacetValues(vals []*facetValue, by string) {
	sort.SliceStable(vals, func(i, j int) bool {
		if by == "count" && vals[i].count != vals[j].count {
			return vals[i].count > vals[j].count
		}
		return alphaLess(vals[i], vals[j])
	})
}

var (
	kMin = []byte("min")
	kMax = []byte("max")
)

// MergeFacetStats merges facetStats objects: the smallest min and the
// largest max per attribute, keeping the numbers as the nodes wrote them.
func MergeFacetStats(dst []byte, stats [][]byte, hide ...string) ([]byte, error) {
	type mm struct {
		name             []byte
		min, max         float64
		minRaw, maxRaw   []byte
		hasMin, hasMaxOK bool
	}
	attrs, err := walkFacets(make([]*mm, 0, 8), stats, hide,
		func(name []byte) *mm { return &mm{name: name} },
		func(a *mm, k, _, v []byte) {
			f, okf := ParseFloat(v)
			if !okf {
				return
			}
			switch {
			case bytes.Equal(k, kMin):
				if !a.hasMin || f < a.min {
					a.min, a.minRaw, a.hasMin = f, v, true
				}
			case bytes.Equal(k, kMax):
				if !a.hasMaxOK || f > a.max {
					a.max, a.maxRaw, a.hasMaxOK = f, v, true
				}
			}
		})
	if err != nil {
		return nil, err
	}
	dst = append(dst, '{')
	for i, a := range attrs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, a.name...)
		dst = append(dst, `":{"min":`...)
		dst = appendNum(dst, a.minRaw)
		dst = append(dst, `,"max":`...)
		dst = appendNum(dst, a.maxRaw)
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

func appendNum(dst, raw []byte) []byte {
	if len(raw) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, raw...)
}

var (
	kFacetHits  = []byte("facetHits")
	kCount      = []byte("count")
	kFacetQuery = []byte("facetQuery")
)

// MergeFacetSearch merges facet-search answers: counts summed per value
// (grouped like facet values), ordered by the facet's sort setting,
// truncated to MaxValuesPerFacet. It returns the merged facetHits array
// and the largest processingTimeMs.
func MergeFacetSearch(dst []byte, bodies [][]byte, attr string, fo FacetOrder) ([]byte, int64, error) {
	var vals []*facetValue
	byKey := map[string]*facetValue{}
	var took int64
	for _, b := range bodies {
		it := NewObjectIter(b, 0)
		for {
			k, vs, ve, ok := it.Next()
			if !ok {
				break
			}
			switch {
			case bytes.Equal(k, kProcessingTimeMs):
				if t, _ := ParseInt(b[vs:ve]); t > took {
					took = t
				}
			case bytes.Equal(k, kFacetHits):
				ai := NewArrayIter(b, vs)
				for {
					hs, he, ok := ai.Next()
					if !ok {
						break
					}
					var value []byte
					var cnt int64
					oi := NewObjectIter(b, hs)
					for {
						mk, ms, me, ok := oi.Next()
						if !ok {
							break
						}
						if bytes.Equal(mk, kValue) {
							value = b[ms:me]
						} else if bytes.Equal(mk, kCount) {
							cnt, _ = ParseInt(b[ms:me])
						}
					}
					if err := oi.Err(); err != nil {
						return nil, 0, err
					}
					_ = he
					if value == nil {
						continue
					}
					fv := &facetValue{shown: value, count: cnt}
					if text, ok := Unquote(value); ok {
						fv.key = "s" + NormalizeFacet(text)
					} else if f, ok := ParseFloat(value); ok {
						fv.isNum, fv.num = true, f
						fv.key = "n" + strconv.FormatFloat(f, 'f', -1, 64)
					} else {
						fv.key = "r" + string(value)
					}
					if have := byKey[fv.key]; have != nil {
						have.count += cnt
						continue
					}
					byKey[fv.key] = fv
					vals = append(vals, fv)
				}
				if err := ai.Err(); err != nil {
					return nil, 0, err
				}
			}
		}
		if err := it.Err(); err != nil {
			return nil, 0, err
		}
	}
	sortFacetValues(vals, fo.sortBy(attr))
	if fo.MaxValuesPerFacet >= 0 && len(vals) > fo.MaxValuesPerFacet {
		vals = vals[:fo.MaxValuesPerFacet]
	}
	dst = append(dst, '[')
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"value":`...)
		dst = append(dst, v.shown...)
		dst = append(dst, `,"count":`...)
		dst = strconv.AppendInt(dst, v.count, 10)
		dst = append(dst, '}')
	}
	return append(dst, ']'), took, nil
}
