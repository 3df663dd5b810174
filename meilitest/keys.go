package meilitest

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// keyStore holds the master key and API keys. (Being fleshed out: API keys,
// per-action authorisation.)
type keyStore struct {
	master string
}

func newKeyStore(master string) *keyStore { return &keyStore{master: master} }

// authorize checks the request's bearer token like Meilisearch does.
func (s *Server) authorize(r *http.Request) error {
	if s.keys.master == "" || r.URL.Path == "/health" {
		return nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return newError("missing_authorization_header", "The Authorization header is missing. It must use the bearer authorization method.")
	}
	tok := strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.keys.master)) == 1 {
		return nil
	}
	return newError("invalid_api_key", "The provided API key is invalid.")
}
