package meilitest

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// handleFacetSearch is POST /indexes/{uid}/facet-search. Its answer has
// no remoteErrors: Meilisearch writes that member only for a facet search
// over the network (useNetwork, sharding: Enterprise Edition features),
// never for a local one (perform_facet_search sets it to None); useNetwork
// is accepted and, as in search, runs the search locally.
func (s *Server) handleFacetSearch(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var body map[string]any
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	m, e := (vctx{code: "bad_request"}).object(body, []string{"facetName", "facetQuery", "q", "filter", "matchingStrategy", "attributesToSearchOn", "exhaustiveFacetCount", "vector", "hybrid", "locales", "rankingScoreThreshold", "media", "useNetwork"})
	if e != nil {
		writeError(w, e)
		return
	}
	nameV, ok := m["facetName"]
	if !ok || nameV == nil {
		writeError(w, newError("missing_facet_search_facet_name", "Missing field `facetName`"))
		return
	}
	facetName, e := (vctx{"invalid_facet_search_facet_name", ".facetName"}).str(nameV)
	if e != nil {
		writeError(w, e)
		return
	}
	facetQuery := ""
	if v, ok := m["facetQuery"]; ok && v != nil {
		if facetQuery, e = (vctx{"invalid_facet_search_facet_query", ".facetQuery"}).str(v); e != nil {
			writeError(w, e)
			return
		}
	}
	inner := map[string]any{}
	for _, k := range []string{"q", "filter", "matchingStrategy", "attributesToSearchOn", "vector", "hybrid", "rankingScoreThreshold"} {
		if v, ok := m[k]; ok {
			inner[k] = v
		}
	}
	p, e := parseSearchParams(inner, false)
	if e != nil {
		writeError(w, e)
		return
	}
	p.filter = withTokenFilter(r, r.PathValue("uid"), p.filter)
	s.mu.RLock()
	defer s.mu.RUnlock()
	ix, err := s.readIndex(r.PathValue("uid"))
	if err != nil {
		writeError(w, err)
		return
	}
	st := ix.settings
	if !st.FacetSearch {
		writeError(w, newError("facet_search_disabled", "The facet search is disabled for this index"))
		return
	}
	if !facetSearchable(st, facetName) {
		fl := filterableList(st)
		avail := "This index does not have configured facet-searchable attributes."
		if len(fl) > 0 {
			avail = "Available facet-searchable attributes patterns are: `" + strings.Join(fl, ", ") + "`."
		}
		writeError(w, newError("invalid_facet_search_facet_name", "Attribute `%s` is not facet-searchable. %s To make it facet-searchable add it to the `filterableAttributes` index settings.", facetName, avail))
		return
	}
	ex, e := s.execute(ix, p)
	if e != nil {
		writeError(w, e)
		return
	}
	docs := make([]*document, len(ex.hits))
	for i, h := range ex.hits {
		docs[i] = h.doc
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].seq < docs[j].seq })
	out := &orderedObject{}
	out.set("facetHits", facetSearch(st, docs, facetName, facetQuery))
	if _, ok := m["facetQuery"]; ok && m["facetQuery"] != nil {
		out.set("facetQuery", facetQuery)
	} else {
		out.set("facetQuery", nil)
	}
	out.set("processingTimeMs", time.Since(start).Milliseconds())
	writeJSON(w, http.StatusOK, out)
}
