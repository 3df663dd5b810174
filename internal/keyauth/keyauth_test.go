package keyauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestExpandFamilies(t *testing.T) {
	g := Expand([]string{"tasks.*"})
	if !g["tasks.get"] || !g["tasks.cancel"] || !g["tasks.delete"] || g["tasks.compact"] {
		t.Fatalf("tasks.* grants %v (tasks.compact must not be among them)", g)
	}
	all := Expand([]string{"*"})
	if all["*.get"] || !all["keys.delete"] || !all["tasks.compact"] {
		t.Fatalf("* grants %v", all)
	}
	ro := Expand([]string{"*.get"})
	if !ro["search"] || ro["keys.get"] || ro["documents.add"] {
		t.Fatalf("*.get grants %v", ro)
	}
	// Every family member is itself a valid action.
	for fam, members := range families {
		for _, m := range members {
			if !ValidAction(m) {
				t.Errorf("%s expands to unknown action %s", fam, m)
			}
		}
	}
}

func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern, uid string
		want         bool
	}{{"*", "x", true}, {"mov*", "movies", true}, {"mov*", "mov", true}, {"mov*", "books", false}, {"movies", "movies", true}, {"movies", "movies2", false}} {
		if got := PatternMatches(tc.pattern, tc.uid); got != tc.want {
			t.Errorf("PatternMatches(%q, %q) = %v", tc.pattern, tc.uid, got)
		}
	}
	for p, want := range map[string]bool{"*": true, "a*": true, "a-b_c": true, "": false, "a b": false, "**": false} {
		if ValidIndexPattern(p) != want {
			t.Errorf("ValidIndexPattern(%q) != %v", p, want)
		}
	}
}

func TestValueMatchesIsHexCaseInsensitive(t *testing.T) {
	v := DeriveKey("master", "9aec34f4-e44c-4917-86c2-9c9403abb3b6")
	if !ValueMatches(v, v) || !ValueMatches(v, strings.ToUpper(v)) {
		t.Fatal("a key value must match itself in either case")
	}
	if ValueMatches(v, v[:len(v)-2]) || ValueMatches(v, "zz"+v[2:]) || ValueMatches(v, "") {
		t.Fatal("a shorter or non-hex token must not match")
	}
}

// lookup is an in-memory Lookup.
type lookup map[string]*Key

func (l lookup) KeyByValue(tok string) (*Key, error) {
	for _, k := range l {
		if ValueMatches(k.Value, tok) {
			return k, nil
		}
	}
	return nil, nil
}
func (l lookup) KeyByUID(uid string) (*Key, error) { return l[uid], nil }
func (l lookup) TenantSecret(uid string) (string, bool, error) {
	return DeriveKey("master", uid), true, nil
}

func sign(t *testing.T, secret string, claims map[string]any) string {
	b, _ := json.Marshal(claims)
	s := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(b)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	return s + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestAuthenticateOrderOfChecks(t *testing.T) {
	now := time.Now()
	mk := func(uid string, actions, indexes []string, exp *time.Time) *Key {
		return NewKey(uid, DeriveKey("master", uid), actions, indexes, exp)
	}
	past := now.Add(-time.Hour)
	search := mk("11111111-1111-4111-8111-111111111111", []string{"search"}, []string{"mov*"}, nil)
	expired := mk("22222222-2222-4222-8222-222222222222", []string{"*"}, []string{"*"}, &past)
	l := lookup{search.UID: search, expired.UID: expired}
	msg := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	cases := []struct {
		name, action, index, token, want string
	}{
		{"unknown token", "search", "movies", "nope", "The provided API key is invalid."},
		{"action not granted", "documents.add", "movies", search.Value, "The provided API key is invalid."},
		{"index not allowed, listed", "search", "books", search.Value, "The API key cannot acces the index `books`, authorized indexes are [\"mov*\"]."},
		{"granted", "search", "movies", search.Value, ""},
		{"expired key", "search", "movies", expired.Value, "The provided API key is invalid."},
		{"token outside its rules", "search", "books", sign(t, search.Value, map[string]any{"apiKeyUid": search.UID, "searchRules": []string{"movies"}}), "The provided tenant token cannot acces the index `books`, allowed indexes are [\"movies\"]."},
		{"token inside its rules, outside the key's", "search", "books", sign(t, search.Value, map[string]any{"apiKeyUid": search.UID, "searchRules": []string{"*"}}), "The API key used to generate this tenant token cannot acces the index `books`."},
		{"token badly signed", "search", "movies", sign(t, "x", map[string]any{"apiKeyUid": search.UID, "searchRules": []string{"*"}}), "Could not decode tenant token, InvalidSignature."},
		{"token expired", "search", "movies", sign(t, search.Value, map[string]any{"apiKeyUid": search.UID, "searchRules": []string{"*"}, "exp": now.Add(-time.Minute).Unix()}), "Tenant token expired."},
		{"token on another action is a key lookup", "documents.get", "movies", sign(t, search.Value, map[string]any{"apiKeyUid": search.UID, "searchRules": []string{"*"}}), "The provided API key is invalid."},
	}
	for _, tc := range cases {
		g, err := Authenticate(l, tc.action, tc.index, tc.token, now)
		if got := msg(err); !strings.HasPrefix(got, tc.want) || (tc.want == "") != (err == nil) {
			t.Errorf("%s: error %q, want %q", tc.name, got, tc.want)
		}
		if err == nil && g == nil {
			t.Errorf("%s: no grant", tc.name)
		}
	}
}

func TestGrantVisibility(t *testing.T) {
	k := NewKey("u", "00", []string{"tasks.get"}, []string{"movies"}, nil)
	g := &Grant{Key: k}
	if !g.TaskVisible("documentAdditionOrUpdate", "movies") || g.TaskVisible("documentAdditionOrUpdate", "books") || g.TaskVisible("dumpCreation", "") {
		t.Fatal("a grant limited to movies sees only one-index tasks of movies")
	}
	var master *Grant
	if !master.TaskVisible("dumpCreation", "") || !master.IndexAuthorized("x") || !master.AllowIndexCreation("x") {
		t.Fatal("the nil grant (master key) sees everything")
	}
	rules, _ := ParseSearchRules(json.RawMessage(`{"mov*":{"filter":"a = 1"},"movies":{"filter":"b = 2"},"*":null}`))
	tg := &Grant{Key: NewKey("u", "00", []string{"search"}, []string{"*"}, nil), Rules: rules}
	if f, ok := tg.SearchFilter("movies"); !ok || f != "b = 2" {
		t.Fatalf("the exact rule wins: %v %v", f, ok)
	}
	if f, ok := tg.SearchFilter("movie"); !ok || f != "a = 1" {
		t.Fatalf("the longest pattern wins: %v %v", f, ok)
	}
	if _, ok := tg.SearchFilter("books"); ok {
		t.Fatal("a null rule adds no filter")
	}
}

func TestRouteAction(t *testing.T) {
	for pattern, want := range map[string]string{
		"GET /indexes/{uid}/settings/{name}": "settings.get",
		"POST /tasks/cancel":                 "tasks.cancel",
		"GET /tasks/{uid}/documents":         "tasks.get",
		"GET /webhooks/{uuid}":               "webhooks.get",
	} {
		if got, ok := RouteAction(pattern); !ok || got != want {
			t.Errorf("RouteAction(%q) = %q, %v", pattern, got, ok)
		}
	}
	if _, ok := RouteAction("POST /render-template"); ok {
		t.Error("an unmapped route has no action")
	}
	if !IndexParam("GET /indexes/{uid}") || IndexParam("GET /indexes") || IndexParam("POST /swap-indexes") {
		t.Error("IndexParam")
	}
}
