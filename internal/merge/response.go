package merge

import "bytes"

// Hit is one search hit as a node sent it: the raw object, plus what the
// merge orders by. Nothing else of the document is decoded.
type Hit struct {
	// Raw is the whole hit object, a slice of the node's response body.
	Raw []byte
	// Score is _rankingScore (0 when absent).
	Score float64
	// Details is the raw _rankingScoreDetails object, nil when absent.
	Details []byte

	keys   []ruleKey // Details parsed, lazily
	parsed bool
}

// Member is one raw top-level member of a response.
type Member struct {
	Key   []byte // as written between quotes
	Value []byte
}

// Response is a node's search answer, scanned once.
type Response struct {
	Hits []Hit

	ProcessingTimeMs   int64
	EstimatedTotalHits int64
	TotalHits          int64
	HasEstimated       bool
	HasTotalHits       bool
	SemanticHitCount   int64
	HasSemantic        bool
	FacetDistribution  []byte // raw object or nil
	FacetStats         []byte // raw object or nil
	QueryVector        []byte // raw or nil
	// Extra holds top-level members the merge does not interpret, in order
	// (e.g. performanceDetails, requestUid, metadata).
	Extra []Member
}

var (
	kHits               = []byte("hits")
	kQuery              = []byte("query")
	kProcessingTimeMs   = []byte("processingTimeMs")
	kLimit              = []byte("limit")
	kOffset             = []byte("offset")
	kEstimatedTotalHits = []byte("estimatedTotalHits")
	kTotalHits          = []byte("totalHits")
	kTotalPages         = []byte("totalPages")
	kPage               = []byte("page")
	kHitsPerPage        = []byte("hitsPerPage")
	kFacetDistribution  = []byte("facetDistribution")
	kFacetStats         = []byte("facetStats")
	kSemanticHitCount   = []byte("semanticHitCount")
	kQueryVector        = []byte("queryVector")
	kIndexUID           = []byte("indexUid")
	kRankingScore       = []byte("_rankingScore")
	kRankingDetails     = []byte("_rankingScoreDetails")
)

// ParseResponse scans a node's search response. The hits keep pointing
// into body.
func ParseResponse(body []byte) (*Response, error) {
	r := &Response{}
	it := NewObjectIter(body, 0)
	for {
		key, vs, ve, ok := it.Next()
		if !ok {
			break
		}
		v := body[vs:ve]
		switch {
		case bytes.Equal(key, kHits):
			hits, err := ParseHits(body, vs, nil)
			if err != nil {
				return nil, err
			}
			r.Hits = hits
		case bytes.Equal(key, kProcessingTimeMs):
			r.ProcessingTimeMs, _ = ParseInt(v)
		case bytes.Equal(key, kEstimatedTotalHits):
			r.EstimatedTotalHits, r.HasEstimated = ParseInt(v)
		case bytes.Equal(key, kTotalHits):
			r.TotalHits, r.HasTotalHits = ParseInt(v)
		case bytes.Equal(key, kSemanticHitCount):
			r.SemanticHitCount, r.HasSemantic = ParseInt(v)
		case bytes.Equal(key, kFacetDistribution):
			r.FacetDistribution = v
		case bytes.Equal(key, kFacetStats):
			r.FacetStats = v
		case bytes.Equal(key, kQueryVector):
			r.QueryVector = v
		case bytes.Equal(key, kQuery), bytes.Equal(key, kLimit), bytes.Equal(key, kOffset),
			bytes.Equal(key, kTotalPages), bytes.Equal(key, kPage), bytes.Equal(key, kHitsPerPage),
			bytes.Equal(key, kIndexUID):
			// recomputed or echoed from the caller's request
		default:
			r.Extra = append(r.Extra, Member{Key: key, Value: v})
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

// ParseHits scans the array of hit objects at b[i], appending to dst.
func ParseHits(b []byte, i int, dst []Hit) ([]Hit, error) {
	ai := NewArrayIter(b, i)
	if dst == nil {
		dst = make([]Hit, 0, 32)
	}
	for {
		hs, he, ok := ai.Next()
		if !ok {
			break
		}
		h := Hit{Raw: b[hs:he]}
		oi := NewObjectIter(b, hs)
		for {
			key, vs, ve, ok := oi.Next()
			if !ok {
				break
			}
			// only keys starting with "_r" interest us; test cheaply first
			if len(key) < 13 || key[0] != '_' || key[1] != 'r' {
				continue
			}
			if bytes.Equal(key, kRankingScore) {
				h.Score, _ = ParseFloat(b[vs:ve])
			} else if bytes.Equal(key, kRankingDetails) {
				h.Details = b[vs:ve]
			}
		}
		if err := oi.Err(); err != nil {
			return nil, err
		}
		dst = append(dst, h)
	}
	if err := ai.Err(); err != nil {
		return nil, err
	}
	return dst, nil
}

// Lookup returns the raw value at a dotted path inside the object obj
// ("a.b" looks into nested objects, and also matches a key literally named
// "a.b"), or nil.
func Lookup(obj []byte, path string) []byte {
	it := NewObjectIter(obj, 0)
	for {
		key, vs, ve, ok := it.Next()
		if !ok {
			return nil
		}
		if len(key) > len(path) {
			continue
		}
		if string(key) == path {
			return obj[vs:ve]
		}
		if len(key) < len(path) && path[len(key)] == '.' && string(key) == path[:len(key)] && obj[vs] == '{' {
			if v := Lookup(obj[vs:ve], path[len(key)+1:]); v != nil {
				return v
			}
		}
	}
}
