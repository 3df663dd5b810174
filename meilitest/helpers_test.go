package meilitest

import (
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
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	dec := json.NewDecoder(resp.Body)
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

// keyOrder reports whether keys is exactly want, for error messages.
func keyOrder(keys []string, want ...string) bool {
	return strings.Join(keys, ",") == strings.Join(want, ",")
}
