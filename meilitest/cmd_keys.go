package meilitest

import "net/http"

// Temporary stubs until keys land.

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "keys not implemented yet"))
}
func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "keys not implemented yet"))
}
func (s *Server) handleGetKey(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "keys not implemented yet"))
}
func (s *Server) handleUpdateKey(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "keys not implemented yet"))
}
func (s *Server) handleDeleteKey(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "keys not implemented yet"))
}
