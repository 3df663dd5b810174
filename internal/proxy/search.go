package proxy

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/miroirsearch/miroir/internal/apierr"
	"github.com/miroirsearch/miroir/internal/caller"
	"github.com/miroirsearch/miroir/internal/keyauth"
	"github.com/miroirsearch/miroir/internal/uuid"
)

// Proxy routes: search, facet search, similar documents, multi-search.
// Bodies go to the Cluster's raw-bytes read path as they came; GET query
// parameters are first turned into the equivalent JSON body, as
// Meilisearch does.

// searchParamKinds says how a GET search parameter becomes a JSON value.
var searchParamKinds = map[string]byte{
	"attributesToRetrieve":    'l',
	"attributesToCrop":        'l',
	"attributesToHighlight":   'l',
	"sort":                    'l',
	"facets":                  'l',
	"attributesToSearchOn":    'l',
	"locales":                 'l',
	"retrieveVectors":         'b',
	"showMatchesPosition":     'b',
	"showRankingScore":        'b',
	"showRankingScoreDetails": 'b',
	"showPerformanceDetails":  'b',
	"offset":                  'n',
	"limit":                   'n',
	"page":                    'n',
	"hitsPerPage":             'n',
	"cropLength":              'n',
	"rankingScoreThreshold":   'n',
	"vector":                  'v',
}

// bodyFromQuery converts GET search (or similar) parameters into the JSON
// body of the POST form. Values that do not parse as their kind are passed
// as strings, for the nodes to refuse with their own error.
func bodyFromQuery(vals url.Values) []byte {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var o jsonObject
	var hybrid jsonObject
	for _, k := range keys {
		vs := vals[k]
		v := vs[len(vs)-1]
		switch searchParamKinds[k] {
		case 'l':
			l := splitList(v)
			if l == nil {
				l = []string{}
			}
			o.add(k, l)
		case 'b':
			switch strings.ToLower(v) {
			case "true":
				o.addRaw(k, []byte("true"))
			case "false":
				o.addRaw(k, []byte("false"))
			default:
				o.add(k, v)
			}
		case 'n':
			if _, err := strconv.ParseFloat(v, 64); err == nil && json.Valid([]byte(v)) {
				o.addRaw(k, []byte(v))
			} else {
				o.add(k, v)
			}
		case 'v':
			var nums []json.RawMessage
			ok := true
			for _, s := range splitList(strings.Trim(v, "[]")) {
				if !json.Valid([]byte(s)) {
					ok = false
					break
				}
				nums = append(nums, json.RawMessage(s))
			}
			if ok {
				o.add(k, nums)
			} else {
				o.add(k, v)
			}
		default:
			switch k {
			case "hybridEmbedder":
				hybrid.add("embedder", v)
			case "hybridSemanticRatio":
				if _, err := strconv.ParseFloat(v, 64); err == nil && json.Valid([]byte(v)) {
					hybrid.addRaw("semanticRatio", []byte(v))
				} else {
					hybrid.add("semanticRatio", v)
				}
			default:
				o.add(k, v)
			}
		}
	}
	if len(hybrid.b) > 0 {
		o.addRaw("hybrid", hybrid.bytes())
	}
	return o.bytes()
}

// searchRequestBody returns the JSON body of a search-like request: the
// POST body (an object) or the GET parameters.
func (h *handler) searchRequestBody(r *http.Request) ([]byte, error) {
	if r.Method == http.MethodGet {
		return bodyFromQuery(r.URL.Query()), nil
	}
	body, err := h.jsonBody(r, false)
	if err != nil {
		return nil, err
	}
	if k := jsonKindOf(body); k != "an object" {
		return nil, apierr.New(http.StatusBadRequest, "bad_request", "Invalid value type: expected an object, but found %s: `%s`", k, truncate(body, 64))
	}
	return body, nil
}

func (h *handler) search(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	body, err := h.searchRequestBody(r)
	if err != nil {
		return reply{}, err
	}
	out, err := h.b.Search(r.Context(), uid, body)
	if err != nil {
		return reply{}, err
	}
	if wantsMetadata(r) {
		out = addMember(out, "metadata", h.metadata(r, uid))
	}
	return reply{body: out}, nil
}

func wantsMetadata(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Meili-Include-Metadata"), "true")
}

// metadata is the "metadata" object Meilisearch adds to a search answer
// when asked with Meili-Include-Metadata: a query uid, the index uid and
// its primary key.
func (h *handler) metadata(r *http.Request, uid string) []byte {
	var md jsonObject
	md.add("queryUid", uuid.V4())
	md.add("indexUid", uid)
	if pk := h.b.PrimaryKey(r.Context(), uid); pk != "" {
		md.add("primaryKey", pk)
	}
	return md.bytes()
}

// multiMetadata adds metadata to a multi-search answer: to every result of
// a plain one, as a list (one per query) to a federated one.
func (h *handler) multiMetadata(r *http.Request, uids []string, out []byte) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(out, &top) != nil {
		return out
	}
	if raw, ok := top["results"]; ok {
		var results []json.RawMessage
		if json.Unmarshal(raw, &results) != nil {
			return out
		}
		for i, res := range results {
			var ix struct {
				IndexUID string `json:"indexUid"`
			}
			_ = json.Unmarshal(res, &ix)
			results[i] = addMember(res, "metadata", h.metadata(r, ix.IndexUID))
		}
		b, _ := json.Marshal(results)
		top["results"] = b
	} else {
		mds := make([]json.RawMessage, len(uids))
		for i, uid := range uids {
			mds[i] = h.metadata(r, uid)
		}
		b, _ := json.Marshal(mds)
		top["metadata"] = b
	}
	b, err := json.Marshal(top)
	if err != nil {
		return out
	}
	return b
}

func (h *handler) facetSearch(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	body, err := h.searchRequestBody(r)
	if err != nil {
		return reply{}, err
	}
	out, err := h.b.FacetSearch(r.Context(), uid, body)
	if err != nil {
		return reply{}, err
	}
	return reply{body: out}, nil
}

func (h *handler) similar(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	body, err := h.searchRequestBody(r)
	if err != nil {
		return reply{}, err
	}
	out, err := h.b.Similar(r.Context(), uid, body)
	if err != nil {
		return reply{}, err
	}
	return reply{body: out}, nil
}

func (h *handler) multiSearch(r *http.Request) (reply, error) {
	body, err := h.searchRequestBody(r)
	if err != nil {
		return reply{}, err
	}
	// The index uids go into node paths: check them first.
	var req struct {
		Queries []struct {
			IndexUID json.RawMessage `json:"indexUid"`
		} `json:"queries"`
	}
	_ = json.Unmarshal(body, &req)
	uids := make([]string, 0, len(req.Queries))
	for i, q := range req.Queries {
		var uid string
		if len(q.IndexUID) == 0 || json.Unmarshal(q.IndexUID, &uid) != nil {
			continue // the Cluster reports the missing or mistyped uid
		}
		if err := h.b.CheckIndexUID(uid); err != nil {
			return reply{}, apierr.New(http.StatusBadRequest, "invalid_index_uid", "Inside `.queries[%d]`: %s", i, apierr.Message(err))
		}
		if !caller.Grant(r.Context()).IndexAuthorized(uid) {
			return reply{}, apierr.New(http.StatusForbidden, keyauth.Code, "Inside `.queries[%d]`: The provided API key is invalid.", i)
		}
		uids = append(uids, uid)
	}
	out, err := h.b.MultiSearch(r.Context(), body)
	if err != nil {
		return reply{}, err
	}
	if wantsMetadata(r) {
		out = h.multiMetadata(r, uids, out)
	}
	return reply{body: out}, nil
}
