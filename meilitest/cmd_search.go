package meilitest

import "net/http"

// Temporary stubs until the search engine lands.

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "search not implemented yet"))
}

func (s *Server) handleFacetSearch(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "facet search not implemented yet"))
}

func (s *Server) handleSimilar(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "similar not implemented yet"))
}

func (s *Server) handleMultiSearch(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "multi-search not implemented yet"))
}
