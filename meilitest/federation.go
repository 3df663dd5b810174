package meilitest

import (
	"cmp"
	"math"
	"sort"
)

// Federated search merges the queries' result lists the way Meilisearch's
// perform_federated_search does (crates/meilisearch/src/search/federated/
// perform.rs):
//
//   - the queries are grouped by index, indexes in uid order (a BTreeMap),
//     each index's queries in request order;
//   - each query contributes its first `required` hits (offset+limit, or
//     page*hitsPerPage), in its own engine order;
//   - an index's lists are k-way merged (itertools::kmerge_by) with the
//     weighted-score comparator below, ties going to the lower query
//     position; a document already taken from an earlier query of the same
//     index is skipped, and the index keeps its first `required` hits;
//   - the per-index lists are k-way merged again the same way.
//
// A k-way merge only ever compares the heads of the lists, so each query's
// hits keep their relative order even where that order is not monotonic in
// score (sort, custom ranking rules): there is no global re-sort.

// fedHit is one hit of a federated search.
type fedHit struct {
	h      *scored
	ex     *searchExec
	pos    int        // queriesPosition
	values []fedValue // ScoreDetails::weighted_score_values
	global float64    // ScoreDetails::global_score * weight: weightedRankingScore
}

// fedValue is one of milli's WeightedScoreValue: a group of consecutive
// relevancy rules (their merged local score times the weight), a sort
// value, a geo distance, or a vector similarity times the weight (kept as a
// score: the two compare with each other).
type fedValue struct {
	kind  int // fedScore, fedSort, fedGeo
	score float64
	val   sortValue
	asc   bool
}

const (
	fedScore = iota
	fedSort
	fedGeo
)

func newFedHit(h *scored, ex *searchExec, pos int) fedHit {
	w := ex.p.weight
	fh := fedHit{h: h, ex: ex, pos: pos, global: h.score * w}
	for _, k := range h.keys {
		switch {
		case k.isScore:
			fh.values = append(fh.values, fedValue{kind: fedScore, score: k.score * w})
		case k.geo:
			fh.values = append(fh.values, fedValue{kind: fedGeo, val: k.val, asc: k.asc})
		default:
			fh.values = append(fh.values, fedValue{kind: fedSort, val: k.val, asc: k.asc})
		}
	}
	if len(h.keys) == 0 && h.semantic {
		fh.values = []fedValue{{kind: fedScore, score: h.score * w}}
	}
	return fh
}

// compareFederated is the federated search's weighted_scores::compare:
// positive when a ranks before b. The weighted score values are compared
// in order: scores (equal within f64::EPSILON), sort values of the same
// direction (Meilisearch's compare_sort_values), geo distances of the
// same direction (raw distances: the larger is "greater", as in
// Meilisearch); sort values of opposite directions decide by the weighted
// global score at once, geo sorts of opposite directions are skipped.
// When the kinds differ, the side with more values left wins, then the
// weighted global score decides. A side that runs out first loses.
func compareFederated(a, b *fedHit) int {
	for i := 0; ; i++ {
		switch {
		case i >= len(a.values) && i >= len(b.values):
			return 0
		case i >= len(a.values):
			return -1
		case i >= len(b.values):
			return 1
		}
		l, r := a.values[i], b.values[i]
		switch {
		case l.kind == fedScore && r.kind == fedScore:
			if math.Abs(l.score-r.score) <= epsilon64 {
				continue
			}
			return cmpFloat(l.score, r.score)
		case l.kind == fedSort && r.kind == fedSort:
			if l.asc != r.asc {
				return cmpFloat(a.global, b.global)
			}
			// compareSort is negative when l comes first, i.e. is greater
			if c := compareSort(l.val, r.val, l.asc); c != 0 {
				return -c
			}
			continue
		case l.kind == fedGeo && r.kind == fedGeo:
			if l.asc != r.asc {
				continue
			}
			ln, rn := l.val.kind == 2, r.val.kind == 2
			switch {
			case ln && rn:
				continue
			case ln:
				return -1
			case rn:
				return 1
			}
			if math.Abs(l.val.num-r.val.num) <= epsilon64 {
				continue
			}
			return cmpFloat(l.val.num, r.val.num)
		default:
			if c := cmp.Compare(len(a.values)-i-1, len(b.values)-i-1); c != 0 {
				return c
			}
			return cmpFloat(a.global, b.global)
		}
	}
}

// epsilon64 is Rust's f64::EPSILON.
const epsilon64 = 2.220446049250313e-16

// fedFirst is the merge's "goes first" predicate: the greater weighted
// score, ties broken by the lower query position.
func fedFirst(a, b *fedHit) bool {
	switch compareFederated(a, b) {
	case 1:
		return true
	case 0:
		return a.pos < b.pos
	}
	return false
}

// kmerge merges lists as itertools::kmerge_by does: a binary min-heap of
// the lists' heads under first, built by heapify and repaired by
// sift_down after each pop. Only heads are ever compared, so every list
// keeps its own order; with a comparator that is not a total order the
// heap's layout decides, exactly as in Meilisearch.
func kmerge(lists [][]*fedHit, first func(a, b *fedHit) bool) []*fedHit {
	type head struct{ list, at int }
	var heap []head
	total := 0
	for i, l := range lists {
		if len(l) > 0 {
			heap = append(heap, head{list: i})
			total += len(l)
		}
	}
	lt := func(i, j int) bool {
		a, b := heap[i], heap[j]
		return first(lists[a.list][a.at], lists[b.list][b.at])
	}
	siftDown := func(pos int) {
		child := 2*pos + 1
		for child+1 < len(heap) {
			if lt(child+1, child) {
				child++
			}
			if !lt(child, pos) {
				return
			}
			heap[pos], heap[child] = heap[child], heap[pos]
			pos = child
			child = 2*pos + 1
		}
		if child+1 == len(heap) && lt(child, pos) {
			heap[pos], heap[child] = heap[child], heap[pos]
		}
	}
	for i := len(heap)/2 - 1; i >= 0; i-- {
		siftDown(i)
	}
	out := make([]*fedHit, 0, total)
	for len(heap) > 0 {
		top := heap[0]
		out = append(out, lists[top.list][top.at])
		if top.at+1 < len(lists[top.list]) {
			heap[0].at++
		} else {
			last := len(heap) - 1
			heap[0] = heap[last]
			heap = heap[:last]
		}
		siftDown(0)
	}
	return out
}

// federatedMerge returns the merged hits (at most required per index)
// and the total number of hits: for each index, the number of distinct
// documents its queries matched (the union of their candidates), summed
// over the indexes.
func federatedMerge(execs []*searchExec, required int) ([]*fedHit, int) {
	byIndex := map[string][]int{}
	var uids []string
	for qi, ex := range execs {
		uid := ex.ix.uid
		if _, ok := byIndex[uid]; !ok {
			uids = append(uids, uid)
		}
		byIndex[uid] = append(byIndex[uid], qi)
	}
	sort.Strings(uids)
	total := 0
	perIndex := make([][]*fedHit, 0, len(uids))
	for _, uid := range uids {
		candidates := map[*document]bool{}
		lists := make([][]*fedHit, 0, len(byIndex[uid]))
		for _, qi := range byIndex[uid] {
			ex := execs[qi]
			for _, h := range ex.hits {
				candidates[h.doc] = true
			}
			hits := ex.hits[:min(required, len(ex.hits))]
			l := make([]*fedHit, len(hits))
			for i, h := range hits {
				fh := newFedHit(h, ex, qi)
				l[i] = &fh
			}
			lists = append(lists, l)
		}
		total += len(candidates)
		seen := map[*document]bool{}
		var kept []*fedHit
		for _, fh := range kmerge(lists, fedFirst) {
			if len(kept) == required {
				break
			}
			if seen[fh.h.doc] {
				continue
			}
			seen[fh.h.doc] = true
			kept = append(kept, fh)
		}
		perIndex = append(perIndex, kept)
	}
	return kmerge(perIndex, fedFirst), total
}
