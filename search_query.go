package miroir

import (
	"encoding/json"
	"strings"
	"unicode"

	"github.com/miroirsearch/miroir/internal/merge"
)

// A search request taken apart (DESIGN §5): the caller's members kept raw,
// to pass on to the nodes, and the parameters the scatter-gather acts on,
// decoded and checked as Meilisearch checks them.

// searchQuery is a caller's search request taken apart: its members kept
// raw (passed through to nodes), and the parameters the scatter-gather
// acts on, decoded.
type searchQuery struct {
	members []rawMember

	q           string
	offset      int64
	limit       int64
	page        int64
	hitsPerPage int64
	pageMode    bool
	hasSort     bool
	distinct    string
	retrieve    []string // nil: everything
	searchOn    []string
	hasSearchOn bool
	showScore   bool
	showDetails bool
	filter      []byte // raw, nil when absent or null
	facets      bool
	semantic    bool
	hybrid      bool    // a hybrid member
	qSet        bool    // a q member (even empty)
	vector      bool    // a vector member
	ratio       float64 // hybrid semanticRatio
	weight      float64 // federationOptions.weight
	indexUID    string
}

// parseSearchQuery takes a search request body apart.
func parseSearchQuery(body []byte) (*searchQuery, error) {
	q := &searchQuery{limit: 20, hitsPerPage: 20, page: 1, ratio: 0.5, weight: 1}
	it := merge.NewObjectIter(body, 0)
	hasPage, hasHPP := false, false
	for {
		k, vs, ve, ok := it.Next()
		if !ok {
			break
		}
		v := body[vs:ve]
		key := string(k)
		q.members = append(q.members, rawMember{key, v})
		if string(v) == "null" {
			continue
		}
		hasPage = hasPage || key == "page"
		hasHPP = hasHPP || key == "hitsPerPage"
		if err := q.decodeMember(key, v); err != nil {
			return nil, badParam("invalid_search_"+snake(key), "Invalid value at `.%s`: %v", key, err)
		}
	}
	if err := it.Err(); err != nil {
		return nil, badParam("bad_request", "Json deserialize error: %v", err)
	}
	// Each pagination parameter is an unsigned integer in Meilisearch,
	// refused with its own code.
	for _, p := range []struct {
		name string
		v    int64
	}{{"offset", q.offset}, {"limit", q.limit}, {"page", q.page}, {"hitsPerPage", q.hitsPerPage}} {
		if p.v < 0 {
			return nil, badParam("invalid_search_"+snake(p.name), "Invalid value type at `.%s`: expected a positive integer, but found a negative integer: `%d`", p.name, p.v)
		}
	}
	q.pageMode = hasPage || hasHPP
	return q, nil
}

// decodeMember decodes member key (value v, not null) into the parameter
// the scatter-gather acts on, if it is one.
func (q *searchQuery) decodeMember(key string, v []byte) error {
	switch key {
	case "q":
		q.qSet = true
		return json.Unmarshal(v, &q.q)
	case "offset":
		return json.Unmarshal(v, &q.offset)
	case "limit":
		return json.Unmarshal(v, &q.limit)
	case "page":
		return json.Unmarshal(v, &q.page)
	case "hitsPerPage":
		return json.Unmarshal(v, &q.hitsPerPage)
	case "sort":
		var s []string
		err := json.Unmarshal(v, &s)
		q.hasSort = len(s) > 0
		return err
	case "distinct":
		return json.Unmarshal(v, &q.distinct)
	case "attributesToRetrieve":
		err := json.Unmarshal(v, &q.retrieve)
		if q.retrieve == nil {
			q.retrieve = []string{}
		}
		return err
	case "attributesToSearchOn":
		q.hasSearchOn = true
		return json.Unmarshal(v, &q.searchOn)
	case "showRankingScore":
		return json.Unmarshal(v, &q.showScore)
	case "showRankingScoreDetails":
		return json.Unmarshal(v, &q.showDetails)
	case "filter":
		q.filter = v
	case "facets":
		q.facets = true
	case "vector":
		q.semantic, q.vector = true, true
	case "hybrid":
		q.semantic, q.hybrid = true, true
		var h struct {
			SemanticRatio *float64 `json:"semanticRatio"`
		}
		err := json.Unmarshal(v, &h)
		if h.SemanticRatio != nil {
			q.ratio = *h.SemanticRatio
		}
		return err
	case "federationOptions":
		var f struct {
			Weight *float64 `json:"weight"`
		}
		err := json.Unmarshal(v, &f)
		if f.Weight != nil {
			q.weight = *f.Weight
		}
		return err
	case "indexUid":
		return json.Unmarshal(v, &q.indexUID)
	}
	return nil
}

// hybridKind reports whether one node runs q as a hybrid search
// (Meilisearch's search_kind): a query and 0 < semanticRatio < 1, a
// vector unless the query is blank. Such a search answers with its
// keyword part alone when that part is good enough (hybrid.rs).
func (q *searchQuery) hybridKind() bool {
	return q.hybrid && q.qSet && q.ratio > 0 && q.ratio < 1 && (q.vector || strings.TrimSpace(q.q) != "")
}

// keywordPart is q asking for the keyword part of its hybrid search only:
// semanticRatio 0 makes a node search by keywords alone.
func (q *searchQuery) keywordPart() *searchQuery {
	k := *q
	k.semantic, k.ratio = false, 0
	k.members = make([]rawMember, len(q.members))
	for i, m := range q.members {
		if m.key == "hybrid" {
			var h map[string]json.RawMessage
			if json.Unmarshal(m.value, &h) == nil && h != nil {
				h["semanticRatio"] = json.RawMessage("0.0")
				if v, err := json.Marshal(h); err == nil {
					m.value = v
				}
			}
		}
		k.members[i] = m
	}
	return &k
}

// window returns how many merged hits the caller's page needs, and where
// the page starts in them.
func (q *searchQuery) window() (from, to int) {
	if q.pageMode {
		if q.page == 0 {
			return 0, 0
		}
		from = int((q.page - 1) * q.hitsPerPage)
		return from, from + int(q.hitsPerPage)
	}
	return int(q.offset), int(q.offset + q.limit)
}

// hasDigit reports whether q holds a digit: only such a query can match
// the numeric shard field.
func hasDigit(q string) bool {
	for _, r := range q {
		if unicode.IsDigit(r) {
			return true
		}
	}
	return false
}
