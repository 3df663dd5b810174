package meilitest

import (
	"encoding/json"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// Search parameters: the body of a search (or its GET query) read and
// validated as Meilisearch's SearchQuery deserializes it.

// searchParams is a validated search request.
type searchParams struct {
	q                       string
	qSet                    bool // q was given (an empty q is still a query for search_kind)
	offset, limit           int
	page, hitsPerPage       *int
	attributesToRetrieve    []string
	retrieveVectors         bool
	attributesToCrop        []string
	cropLength              int
	cropMarker              string
	attributesToHighlight   []string
	preTag, postTag         string
	showMatchesPosition     bool
	showRankingScore        bool
	showRankingScoreDetails bool
	showPerformanceDetails  bool
	filter                  any
	sort                    []string
	distinct                *string
	facets                  []string
	facetsAsked             bool
	matchingStrategy        string
	attributesToSearchOn    []string
	rankingScoreThreshold   *float64
	vector                  []float64
	hybrid                  *hybridParams
	weight                  float64
	hasWeight               bool
	indexUID                string
	paginationFields        []string // which of offset/limit/page/hitsPerPage were given
}

type hybridParams struct {
	embedder      string
	semanticRatio float64
}

var searchFields = []string{"q", "vector", "offset", "limit", "page", "hitsPerPage", "attributesToRetrieve", "retrieveVectors", "attributesToCrop", "cropLength", "cropMarker", "attributesToHighlight", "showMatchesPosition", "showRankingScore", "showRankingScoreDetails", "showPerformanceDetails", "filter", "sort", "distinct", "facets", "highlightPreTag", "highlightPostTag", "matchingStrategy", "attributesToSearchOn", "hybrid", "rankingScoreThreshold", "locales", "media", "personalize", "useNetwork", "inlineRule"}

var multiSearchExtraFields = []string{"indexUid", "federationOptions"}

const (
	defaultLimit       = 20
	defaultCropLength  = 10
	defaultCropMarker  = "…"
	defaultPreTag      = "<em>"
	defaultPostTag     = "</em>"
	maxSearchIntParams = math.MaxInt32
)

func intParam(code string, loc string, v any) (int, *apiError) {
	u, e := vctx{code, loc}.uint(v, maxSearchIntParams)
	return int(u), e
}

func boolParam(code, loc string, v any) (bool, *apiError) {
	return vctx{code, loc}.boolean(v)
}

func strListParam(code, loc string, v any) ([]string, *apiError) {
	if v == nil {
		return nil, nil
	}
	return vctx{code, loc}.strList(v)
}

// parseSearchParams validates a search body (already decoded with
// UseNumber). inMulti allows indexUid/federationOptions.
func parseSearchParams(m map[string]any, inMulti bool) (*searchParams, *apiError) {
	allowed := searchFields
	if inMulti {
		allowed = append(append([]string(nil), searchFields...), multiSearchExtraFields...)
	}
	if _, e := (vctx{code: "bad_request"}).object(m, allowed); e != nil {
		return nil, e
	}
	p := &searchParams{limit: defaultLimit, cropLength: defaultCropLength, cropMarker: defaultCropMarker, preTag: defaultPreTag, postTag: defaultPostTag, weight: 1}
	var e *apiError
	for _, k := range sortedKeys(m) {
		v := m[k]
		loc := "." + k
		switch k {
		case "q":
			if v != nil {
				if p.q, e = (vctx{"invalid_search_q", loc}).str(v); e != nil {
					return nil, e
				}
				p.qSet = true
			}
		case "offset":
			if v != nil {
				p.paginationFields = append(p.paginationFields, k)
				if p.offset, e = intParam("invalid_search_offset", loc, v); e != nil {
					return nil, e
				}
			}
		case "limit":
			if v != nil {
				p.paginationFields = append(p.paginationFields, k)
				if p.limit, e = intParam("invalid_search_limit", loc, v); e != nil {
					return nil, e
				}
			}
		case "page":
			if v != nil {
				p.paginationFields = append(p.paginationFields, k)
				n, e := intParam("invalid_search_page", loc, v)
				if e != nil {
					return nil, e
				}
				p.page = &n
			}
		case "hitsPerPage":
			if v != nil {
				p.paginationFields = append(p.paginationFields, k)
				n, e := intParam("invalid_search_hits_per_page", loc, v)
				if e != nil {
					return nil, e
				}
				p.hitsPerPage = &n
			}
		case "attributesToRetrieve":
			if p.attributesToRetrieve, e = strListParam("invalid_search_attributes_to_retrieve", loc, v); e != nil {
				return nil, e
			}
		case "retrieveVectors":
			if p.retrieveVectors, e = boolParam("invalid_search_retrieve_vectors", loc, v); e != nil {
				return nil, e
			}
		case "attributesToCrop":
			if p.attributesToCrop, e = strListParam("invalid_search_attributes_to_crop", loc, v); e != nil {
				return nil, e
			}
		case "cropLength":
			if p.cropLength, e = intParam("invalid_search_crop_length", loc, v); e != nil {
				return nil, e
			}
		case "cropMarker":
			if p.cropMarker, e = (vctx{"invalid_search_crop_marker", loc}).str(v); e != nil {
				return nil, e
			}
		case "attributesToHighlight":
			if p.attributesToHighlight, e = strListParam("invalid_search_attributes_to_highlight", loc, v); e != nil {
				return nil, e
			}
		case "highlightPreTag":
			if p.preTag, e = (vctx{"invalid_search_highlight_pre_tag", loc}).str(v); e != nil {
				return nil, e
			}
		case "highlightPostTag":
			if p.postTag, e = (vctx{"invalid_search_highlight_post_tag", loc}).str(v); e != nil {
				return nil, e
			}
		case "showMatchesPosition":
			if p.showMatchesPosition, e = boolParam("invalid_search_show_matches_position", loc, v); e != nil {
				return nil, e
			}
		case "showRankingScore":
			if p.showRankingScore, e = boolParam("invalid_search_show_ranking_score", loc, v); e != nil {
				return nil, e
			}
		case "showRankingScoreDetails":
			if p.showRankingScoreDetails, e = boolParam("invalid_search_show_ranking_score_details", loc, v); e != nil {
				return nil, e
			}
		case "showPerformanceDetails":
			if p.showPerformanceDetails, e = boolParam("invalid_search_show_performance_details", loc, v); e != nil {
				return nil, e
			}
		case "filter":
			p.filter = v
		case "sort":
			if p.sort, e = strListParam("invalid_search_sort", loc, v); e != nil {
				return nil, e
			}
		case "distinct":
			if v != nil {
				s, e := (vctx{"invalid_search_distinct", loc}).str(v)
				if e != nil {
					return nil, e
				}
				p.distinct = &s
			}
		case "facets":
			if v != nil {
				p.facetsAsked = true
				if p.facets, e = strListParam("invalid_search_facets", loc, v); e != nil {
					return nil, e
				}
			}
		case "matchingStrategy":
			if v != nil {
				if p.matchingStrategy, e = (vctx{"invalid_search_matching_strategy", loc}).enum(v, []string{"last", "all", "frequency"}); e != nil {
					return nil, e
				}
			}
		case "attributesToSearchOn":
			if p.attributesToSearchOn, e = strListParam("invalid_search_attributes_to_search_on", loc, v); e != nil {
				return nil, e
			}
		case "rankingScoreThreshold":
			if v != nil {
				f, ok := toFloat(v)
				if !ok {
					return nil, (vctx{"invalid_search_ranking_score_threshold", loc}).typeErr("a number", v)
				}
				if f < 0 || f > 1 {
					return nil, newError("invalid_search_ranking_score_threshold", "Invalid value at `.rankingScoreThreshold`: the value of `rankingScoreThreshold` is invalid, expected a float between `0.0` and `1.0`.")
				}
				p.rankingScoreThreshold = &f
			}
		case "vector":
			if v != nil {
				a, ok := v.([]any)
				if !ok {
					return nil, (vctx{"invalid_search_vector", loc}).typeErr("an array", v)
				}
				for i, x := range a {
					f, ok := toFloat(x)
					if !ok {
						return nil, (vctx{"invalid_search_vector", loc}).elem(i).typeErr("a number", x)
					}
					p.vector = append(p.vector, f32(f)) // Vec<f32>
				}
			}
		case "hybrid":
			if v != nil {
				hm, e := (vctx{"invalid_search_hybrid_query", loc}).object(v, []string{"embedder", "semanticRatio"})
				if e != nil {
					return nil, e
				}
				h := &hybridParams{semanticRatio: 0.5}
				if ev, ok := hm["embedder"]; ok {
					if h.embedder, e = (vctx{"invalid_search_embedder", loc + ".embedder"}).str(ev); e != nil {
						return nil, e
					}
				} else {
					return nil, newError("missing_search_hybrid_embedder", "Missing field `embedder` inside `.hybrid`")
				}
				if rv, ok := hm["semanticRatio"]; ok && rv != nil {
					f, ok := toFloat(rv)
					if !ok || f < 0 || f > 1 {
						return nil, newError("invalid_search_semantic_ratio", "Invalid value at `.hybrid.semanticRatio`: the value of `semanticRatio` is invalid, expected a float between `0.0` and `1.0`.")
					}
					h.semanticRatio = f
				}
				p.hybrid = h
			}
		case "inlineRule":
			if v != nil {
				return nil, newError("requires_enterprise_edition", "Meilisearch Enterprise Edition is required to use `inlineRule`.")
			}
		case "indexUid":
			if p.indexUID, e = (vctx{"invalid_index_uid", loc}).str(v); e != nil {
				return nil, e
			}
		case "federationOptions":
			if v != nil {
				fm, e := (vctx{"invalid_multi_search_federation_options", loc}).object(v, []string{"weight", "remote", "queryPosition"})
				if e != nil {
					return nil, e
				}
				if wv, ok := fm["weight"]; ok && wv != nil {
					f, ok := toFloat(wv)
					if !ok || f < 0 {
						return nil, newError("invalid_multi_search_weight", "Invalid value at `.federationOptions.weight`: the value of `weight` is invalid, expected a positive float (>= 0.0).")
					}
					p.weight, p.hasWeight = f, true
				}
			}
		}
	}
	if p.hybrid == nil && p.vector != nil {
		return nil, newError("invalid_search_hybrid_query", "Passing `vector` as a parameter requires the `hybrid` parameter with an `embedder`.")
	}
	return p, nil
}

// searchParamsFromQuery converts GET query parameters into a body.
func searchParamsFromQuery(vals url.Values) map[string]any {
	m := map[string]any{}
	lists := map[string]bool{"attributesToRetrieve": true, "attributesToCrop": true, "attributesToHighlight": true, "sort": true, "facets": true, "attributesToSearchOn": true, "locales": true}
	bools := map[string]bool{"retrieveVectors": true, "showMatchesPosition": true, "showRankingScore": true, "showRankingScoreDetails": true, "showPerformanceDetails": true}
	nums := map[string]bool{"offset": true, "limit": true, "page": true, "hitsPerPage": true, "cropLength": true, "rankingScoreThreshold": true}
	for k, vs := range vals {
		v := vs[len(vs)-1]
		switch {
		case lists[k]:
			var l []any
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					l = append(l, s)
				}
			}
			if l == nil {
				l = []any{}
			}
			m[k] = l
		case bools[k]:
			switch strings.ToLower(v) {
			case "true":
				m[k] = true
			case "false":
				m[k] = false
			default:
				m[k] = v
			}
		case nums[k]:
			if _, err := strconv.ParseFloat(v, 64); err == nil {
				m[k] = json.Number(v)
			} else {
				m[k] = v
			}
		case k == "vector":
			var l []any
			for _, s := range strings.Split(strings.Trim(v, "[]"), ",") {
				if s = strings.TrimSpace(s); s != "" {
					l = append(l, json.Number(s))
				}
			}
			m[k] = l
		case k == "filter":
			m[k] = queryFilter(v)
		case k == "hybridEmbedder":
			h, _ := m["hybrid"].(map[string]any)
			if h == nil {
				h = map[string]any{}
				m["hybrid"] = h
			}
			h["embedder"] = v
		case k == "hybridSemanticRatio":
			h, _ := m["hybrid"].(map[string]any)
			if h == nil {
				h = map[string]any{}
				m["hybrid"] = h
			}
			h["semanticRatio"] = json.Number(v)
		default:
			m[k] = v
		}
	}
	return m
}

// queryFilter reads the filter query parameter as Meilisearch's GET routes
// do: a value that parses as JSON is that JSON (so `["a = 1", "b = 2"]` is
// the array form), anything else is a filter string. JSON null stays the
// string "null": Meilisearch rejects it too, where nil here would mean no
// filter at all.
func queryFilter(v string) any {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil || out == nil {
		return v
	}
	if _, err := dec.Token(); err != io.EOF {
		return v // trailing data: not one JSON value
	}
	return out
}
