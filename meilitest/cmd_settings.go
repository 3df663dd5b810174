package meilitest

import "net/http"

// Temporary stubs until settings routes land.

func (s *Server) handleGetSettings(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "settings not implemented yet"))
}
func (s *Server) handleUpdateSettings(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "settings not implemented yet"))
}
func (s *Server) handleResetSettings(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "settings not implemented yet"))
}
func (s *Server) handleGetSetting(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "settings not implemented yet"))
}
func (s *Server) handleUpdateSetting(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "settings not implemented yet"))
}
func (s *Server) handleResetSetting(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError("internal", "settings not implemented yet"))
}
