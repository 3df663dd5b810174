package meilitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func decodeResp(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// topKeys sends one request and returns the keys of the JSON object it
// answers with, in the order they are written: key order is part of
// Meilisearch's wire format (serde writes struct fields in declaration
// order), which a decoded map cannot show.
func topKeys(t *testing.T, srv *Server, method, path, auth, body string) []string {
	t.Helper()
	status, b := rawRequest(t, srv, method, path, auth, body)
	if status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, status, b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s %s: not an object (%v %v)", method, path, tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// rawRequest sends one HTTP request (auth is the whole Authorization
// header value, "" sends none; a body is sent as JSON) and returns the
// status and the body.
func rawRequest(t *testing.T, srv *Server, method, path, auth, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// keyOrder reports whether keys is exactly want, for error messages.
func keyOrder(keys []string, want ...string) bool {
	return strings.Join(keys, ",") == strings.Join(want, ",")
}
