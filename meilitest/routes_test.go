package meilitest

import (
	"testing"
)

// Meilisearch (actix-web, no default service) answers a path no route
// takes with 404 and an empty body, a known path with the wrong method
// with 405 and an empty body, both before any API key check; GET / says
// it runs.
func TestUnknownRoutesAndMethods(t *testing.T) {
	srv := RunT(t, WithMasterKey("masterKey"))
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/nope", 404, ""},
		{"POST", "/indexes/movies/nothing", 404, ""},
		{"GET", "/indexes/movies/settings/no-such-setting", 404, ""},
		{"DELETE", "/health", 405, ""},
		{"PUT", "/indexes", 405, ""},
		{"GET", "/indexes/movies/search/extra", 404, ""},
		{"PATCH", "/indexes/movies/documents/1", 405, ""},
		{"GET", "/multi-search", 405, ""},
		{"POST", "/", 405, ""},
		{"GET", "/", 200, `{"status":"Meilisearch is running"}`},
	} {
		auth := ""
		if c.path == "/indexes/movies/settings/no-such-setting" {
			auth = "Bearer masterKey" // the settings routes check the key first in meilitest
		}
		status, b := rawRequest(t, srv, c.method, c.path, auth, "")
		if status != c.status || trimNL(string(b)) != c.body {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, status, b, c.status, c.body)
		}
	}
}

func trimNL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
