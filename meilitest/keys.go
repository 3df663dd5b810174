package meilitest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// API keys and authorisation, modelled on Meilisearch's meilisearch-auth
// crate and its authentication extractor:
//
//   - Without a master key every route is open except the /keys routes,
//     which answer 401 missing_master_key.
//   - With a master key every route but /health needs
//     "Authorization: Bearer <token>". No header (or another scheme) is 401
//     missing_authorization_header; anything that does not grant the
//     route's action on the route's index is 403 invalid_api_key. The master
//     key grants everything. Unknown routes are not authorised at all: they
//     answer 404 as Meilisearch's router does.
//   - An API key's value is hex(HMAC-SHA256(masterKey, uid)) with the uid in
//     lower-case hyphenated form (meilisearch-auth generate_key_as_hexa), so
//     every server sharing a master key gives one uid the same key value.
//   - Tenant tokens (HS256/384/512 JWTs signed with an API key's value,
//     claims apiKeyUid, searchRules, optional exp) are accepted on the
//     routes whose action is "search", as in Meilisearch.
//
// Deviation, on purpose: Meilisearch gives its default keys random uids.
// meilitest derives them from the master key (a UUID v4 shaped value taken
// from HMAC-SHA256(masterKey, "meilitest default key: "+name)), so every
// meilitest server started with one master key has the same default keys,
// with the same values. A single-node client cannot tell the difference.

// apiKey is one stored API key.
type apiKey struct {
	uid         string // lower-case hyphenated uuid
	value       string // hex HMAC of uid under the master key
	name        *string
	description *string
	actions     []string // as given at creation
	indexes     []string // as given at creation
	expiresAt   *time.Time
	createdAt   time.Time
	updatedAt   time.Time
	seq         int64 // creation order, breaks createdAt ties when listing

	grants map[string]bool // actions expanded from the wildcards
}

// keyStore holds the master key and the API keys.
type keyStore struct {
	master string

	mu   sync.RWMutex
	keys map[string]*apiKey // by uid
	seq  int64
}

func newKeyStore(master string) *keyStore {
	ks := &keyStore{master: master, keys: map[string]*apiKey{}}
	if master == "" {
		return ks
	}
	// Meilisearch lists keys newest first and its default keys come out as
	// Search, Admin, Read-Only Admin, Chat; insert them in reverse so that
	// the creation-order tie break gives that order.
	now := time.Now().UTC()
	for i := len(defaultKeys) - 1; i >= 0; i-- {
		d := defaultKeys[i]
		name, desc := d.name, d.description
		ks.insertLocked(&apiKey{
			uid:         defaultKeyUID(master, d.name),
			name:        &name,
			description: &desc,
			actions:     append([]string(nil), d.actions...),
			indexes:     []string{"*"},
			createdAt:   now,
			updatedAt:   now,
		})
	}
	return ks
}

// defaultKeys are the keys Meilisearch creates on first launch with a
// master key (meilisearch-types keys.rs, listed by GET /keys in
// crates/meilisearch/tests/auth/api_keys.rs).
var defaultKeys = []struct {
	name, description string
	actions           []string
}{
	{"Default Search API Key", "Use it to search from the frontend", []string{"search"}},
	{"Default Admin API Key", "Use it for anything that is not a search operation. Caution! Do not expose it on a public frontend", []string{"*"}},
	{"Default Read-Only Admin API Key", "Use it to read information across the whole database. Caution! Do not expose this key on a public frontend", []string{"*.get", "keys.get"}},
	{"Default Chat API Key", "Use it to chat and search from the frontend", []string{"chatCompletions", "search"}},
}

// deriveKey is Meilisearch's generate_key_as_hexa: the hex HMAC-SHA256 of
// the lower-case hyphenated uid, keyed by the master key.
func deriveKey(master, uid string) string {
	m := hmac.New(sha256.New, []byte(master))
	m.Write([]byte(uid))
	return hex.EncodeToString(m.Sum(nil))
}

// defaultKeyUID derives a default key's uid from the master key (see the
// package comment above: Meilisearch uses random ones).
func defaultKeyUID(master, name string) string {
	m := hmac.New(sha256.New, []byte(master))
	m.Write([]byte("meilitest default key: " + name))
	var b [16]byte
	copy(b[:], m.Sum(nil))
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return keyFormatUUID(b)
}

func keyFormatUUID(b [16]byte) string {
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// keyParseUUID accepts the forms Rust's uuid::Uuid::from_str accepts (simple,
// hyphenated, braced, urn) and returns the lower-case hyphenated form.
func keyParseUUID(s string) (string, error) {
	t := s
	switch {
	case strings.HasPrefix(strings.ToLower(t), "urn:uuid:"):
		t = t[len("urn:uuid:"):]
	case strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}"):
		t = t[1 : len(t)-1]
	}
	var hexs string
	switch len(t) {
	case 32:
		hexs = t
	case 36:
		if t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
			return "", fmt.Errorf("invalid group separators in `%s`", s)
		}
		hexs = t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:36]
	default:
		return "", fmt.Errorf("invalid length: expected length 32 for simple format, found %d", len(t))
	}
	raw, err := hex.DecodeString(hexs)
	if err != nil || len(raw) != 16 {
		for i, c := range hexs {
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return "", fmt.Errorf("invalid character: found `%c` at %d", c, i+1)
			}
		}
		return "", fmt.Errorf("invalid uuid `%s`", s)
	}
	var b [16]byte
	copy(b[:], raw)
	return keyFormatUUID(b), nil
}

// validActions are the action names Meilisearch accepts, in the order its
// invalid_api_key_actions message lists them.
var validActions = []string{
	"*", "search", "documents.*", "documents.add", "documents.get", "documents.delete",
	"indexes.*", "indexes.create", "indexes.get", "indexes.update", "indexes.delete", "indexes.swap",
	"tasks.*", "tasks.cancel", "tasks.delete", "tasks.get", "settings.*", "settings.get", "settings.update",
	"stats.*", "stats.get", "metrics.*", "metrics.get", "dumps.*", "dumps.create", "snapshots.*",
	"snapshots.create", "version", "keys.create", "keys.get", "keys.update", "keys.delete",
	"experimental.get", "experimental.update", "export", "network.get", "network.update",
	"chatCompletions", "chats.*", "chats.get", "chats.delete", "chatsSettings.*", "chatsSettings.get",
	"chatsSettings.update", "*.get", "webhooks.get", "webhooks.update", "webhooks.delete",
	"webhooks.create", "webhooks.*", "indexes.compact", "fields.post", "tasks.compact",
	"dynamicSearchRules.get", "dynamicSearchRules.create", "dynamicSearchRules.update",
	"dynamicSearchRules.delete", "dynamicSearchRules.*",
}

var validActionSet = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range validActions {
		m[a] = true
	}
	return m
}()

// actionFamilies expands the wildcard actions (meilisearch-auth store.rs
// put_api_key). "*" grants every action but "*.get"; "*.get" grants the
// read actions. keys.get is not a read action: the Read-Only Admin key lists
// it explicitly.
var actionFamilies = map[string][]string{
	"documents.*":          {"documents.add", "documents.get", "documents.delete"},
	"indexes.*":            {"indexes.create", "indexes.get", "indexes.update", "indexes.delete", "indexes.swap", "indexes.compact"},
	"settings.*":           {"settings.get", "settings.update"},
	"dumps.*":              {"dumps.create"},
	"snapshots.*":          {"snapshots.create"},
	"tasks.*":              {"tasks.get", "tasks.delete", "tasks.cancel", "tasks.compact"},
	"stats.*":              {"stats.get"},
	"metrics.*":            {"metrics.get"},
	"chats.*":              {"chats.get", "chats.delete"},
	"chatsSettings.*":      {"chatsSettings.get", "chatsSettings.update"},
	"webhooks.*":           {"webhooks.get", "webhooks.update", "webhooks.delete", "webhooks.create"},
	"dynamicSearchRules.*": {"dynamicSearchRules.get", "dynamicSearchRules.create", "dynamicSearchRules.update", "dynamicSearchRules.delete"},
	"*.get": {"search", "documents.get", "indexes.get", "tasks.get", "settings.get", "stats.get",
		"metrics.get", "version", "experimental.get", "network.get", "chats.get", "chatsSettings.get",
		"webhooks.get", "dynamicSearchRules.get"},
}

func expandActions(actions []string) map[string]bool {
	g := map[string]bool{}
	for _, a := range actions {
		switch {
		case a == "*":
			for _, v := range validActions {
				if v != "*.get" {
					g[v] = true
				}
			}
		case actionFamilies[a] != nil:
			for _, v := range actionFamilies[a] {
				g[v] = true
			}
		default:
			g[a] = true
		}
	}
	return g
}

// patternMatches is IndexUidPattern::matches_str: a trailing '*' matches
// any suffix (so "*" matches everything), otherwise the uid must be equal.
func patternMatches(pattern, uid string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(uid, p)
	}
	return pattern == uid
}

// validIndexPattern: alphanumerics, '-' and '_', optionally ending with '*'.
func validIndexPattern(p string) bool {
	body := strings.TrimSuffix(p, "*")
	if len(p) > 400 || (body == "" && p != "*") {
		return false
	}
	for _, c := range body {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// insertLocked stores k; the caller holds mu for writing (or owns ks).
func (ks *keyStore) insertLocked(k *apiKey) {
	ks.seq++
	k.seq = ks.seq
	k.value = deriveKey(ks.master, k.uid)
	k.grants = expandActions(k.actions)
	ks.keys[k.uid] = k
}

// byValue finds the key whose value is tok, comparing against every key in
// constant time. The caller holds mu.
func (ks *keyStore) byValueLocked(tok string) *apiKey {
	var found *apiKey
	for _, k := range ks.keys {
		if subtle.ConstantTimeCompare([]byte(k.value), []byte(tok)) == 1 {
			found = k
		}
	}
	return found
}

// lookup resolves a /keys/{key} path parameter, a uid or a key value.
func (ks *keyStore) lookupLocked(keyOrUID string) *apiKey {
	if uid, err := keyParseUUID(keyOrUID); err == nil {
		return ks.keys[uid]
	}
	return ks.byValueLocked(keyOrUID)
}

// sortedKeysLocked lists keys newest first, as Meilisearch does.
func (ks *keyStore) sortedKeysLocked() []*apiKey {
	out := make([]*apiKey, 0, len(ks.keys))
	for _, k := range ks.keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].createdAt.Equal(out[j].createdAt) {
			return out[i].createdAt.After(out[j].createdAt)
		}
		return out[i].seq > out[j].seq
	})
	return out
}

// keyView is an API key in Meilisearch's JSON shape, fields in its order.
type keyView struct {
	Name        *string    `json:"name"`
	Description *string    `json:"description"`
	Key         string     `json:"key"`
	UID         string     `json:"uid"`
	Actions     []string   `json:"actions"`
	Indexes     []string   `json:"indexes"`
	ExpiresAt   *time.Time `json:"expiresAt"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
}

func (k *apiKey) view() keyView {
	return keyView{
		Name: k.name, Description: k.description, Key: k.value, UID: k.uid,
		Actions: k.actions, Indexes: k.indexes, ExpiresAt: k.expiresAt,
		CreatedAt: k.createdAt, UpdatedAt: k.updatedAt,
	}
}

// expired reports whether the key is past its expiration date.
func (k *apiKey) expired(now time.Time) bool {
	return k.expiresAt != nil && !now.Before(*k.expiresAt)
}

// allowsIndex: the key's index patterns allow uid.
func (k *apiKey) allowsIndex(uid string) bool {
	for _, p := range k.indexes {
		if patternMatches(p, uid) {
			return true
		}
	}
	return false
}

// authorized is meilisearch-auth is_key_authorized: the key grants action
// (on index when index != "") and has not expired. With no index, having
// the action on any index is enough.
func (k *apiKey) authorized(action, index string, now time.Time) bool {
	if action == "" {
		action = "*" // a route meilitest has not mapped: only "*" keys
		if !keyContains(k.actions, "*") {
			return false
		}
	} else if !k.grants[action] {
		return false
	}
	if index != "" && !k.allowsIndex(index) {
		return false
	}
	return !k.expired(now)
}

func keyContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ---- request authorisation ------------------------------------------------

// routeActions maps the mux patterns of routes.go to Meilisearch's action
// for them (the ActionPolicy of each route in crates/meilisearch/src/routes
// and the AUTHORIZATIONS table of tests/auth/authorization.rs). A pattern
// missing here can only be used with the master key or a "*" key.
var routeActions = map[string]string{
	"GET /version":                 "version",
	"GET /stats":                   "stats.get",
	"POST /dumps":                  "dumps.create",
	"POST /snapshots":              "snapshots.create",
	"GET /experimental-features":   "experimental.get",
	"PATCH /experimental-features": "experimental.update",
	"GET /batches":                 "tasks.get",
	"GET /batches/{uid}":           "tasks.get",
	"GET /network":                 "network.get",
	"PATCH /network":               "network.update",
	"GET /metrics":                 "metrics.get",
	"POST /export":                 "export",

	"GET /webhooks":           "webhooks.get",
	"POST /webhooks":          "webhooks.create",
	"GET /webhooks/{uuid}":    "webhooks.get",
	"PATCH /webhooks/{uuid}":  "webhooks.update",
	"DELETE /webhooks/{uuid}": "webhooks.delete",

	"GET /chats":                               "chats.get",
	"GET /chats/{workspace}":                   "chats.get",
	"DELETE /chats/{workspace}":                "chats.delete",
	"GET /chats/{workspace}/settings":          "chatsSettings.get",
	"PATCH /chats/{workspace}/settings":        "chatsSettings.update",
	"DELETE /chats/{workspace}/settings":       "chatsSettings.update",
	"POST /chats/{workspace}/chat/completions": "chatCompletions",

	"POST /dynamic-search-rules":         "dynamicSearchRules.get",
	"DELETE /dynamic-search-rules":       "dynamicSearchRules.delete",
	"GET /dynamic-search-rules/{uid}":    "dynamicSearchRules.get",
	"PATCH /dynamic-search-rules/{uid}":  "dynamicSearchRules.update",
	"DELETE /dynamic-search-rules/{uid}": "dynamicSearchRules.delete",

	"GET /indexes":                 "indexes.get",
	"POST /indexes":                "indexes.create",
	"GET /indexes/{uid}":           "indexes.get",
	"PATCH /indexes/{uid}":         "indexes.update",
	"DELETE /indexes/{uid}":        "indexes.delete",
	"GET /indexes/{uid}/stats":     "stats.get",
	"POST /indexes/{uid}/compact":  "indexes.compact",
	"POST /swap-indexes":           "indexes.swap",
	"POST /indexes/{uid}/fields":   "fields.post",
	"GET /indexes/{uid}/documents": "documents.get",

	"POST /indexes/{uid}/documents/fetch":        "documents.get",
	"POST /indexes/{uid}/documents":              "documents.add",
	"PUT /indexes/{uid}/documents":               "documents.add",
	"DELETE /indexes/{uid}/documents":            "documents.delete",
	"GET /indexes/{uid}/documents/{id}":          "documents.get",
	"DELETE /indexes/{uid}/documents/{id}":       "documents.delete",
	"POST /indexes/{uid}/documents/delete-batch": "documents.delete",
	"POST /indexes/{uid}/documents/delete":       "documents.delete",
	"POST /indexes/{uid}/documents/edit":         "documents.*",

	"GET /indexes/{uid}/search":        "search",
	"POST /indexes/{uid}/search":       "search",
	"POST /indexes/{uid}/facet-search": "search",
	"GET /indexes/{uid}/similar":       "search",
	"POST /indexes/{uid}/similar":      "search",
	"POST /multi-search":               "search",

	"GET /indexes/{uid}/settings":           "settings.get",
	"PATCH /indexes/{uid}/settings":         "settings.update",
	"DELETE /indexes/{uid}/settings":        "settings.update",
	"GET /indexes/{uid}/settings/{name}":    "settings.get",
	"PUT /indexes/{uid}/settings/{name}":    "settings.update",
	"PATCH /indexes/{uid}/settings/{name}":  "settings.update",
	"POST /indexes/{uid}/settings/{name}":   "settings.update",
	"DELETE /indexes/{uid}/settings/{name}": "settings.update",

	"GET /tasks":          "tasks.get",
	"GET /tasks/{uid}":    "tasks.get",
	"POST /tasks/cancel":  "tasks.cancel",
	"DELETE /tasks":       "tasks.delete",
	"POST /tasks/compact": "tasks.compact",

	"GET /keys":          "keys.get",
	"POST /keys":         "keys.create",
	"GET /keys/{key}":    "keys.get",
	"PATCH /keys/{key}":  "keys.update",
	"DELETE /keys/{key}": "keys.delete",
}

func isKeysAction(a string) bool { return strings.HasPrefix(a, "keys.") }

// authInfo is what authorize learnt about the caller; handlers read it
// through indexAuthorized, allowIndexCreation and searchRulesFilter.
type authInfo struct {
	key         *apiKey      // nil: master key or open server, no restriction
	rules       *searchRules // tenant token search rules, nil without a token
	allowCreate bool         // the key grants indexes.create (on some index)
}

type authCtxKey struct{}

func requestAuth(r *http.Request) *authInfo {
	a, _ := r.Context().Value(authCtxKey{}).(*authInfo)
	return a
}

// indexAuthorized reports whether the request's credentials may see index
// uid: true without a master key, with the master key, or when both the API
// key's index patterns and the tenant token's search rules allow it.
// Listing routes (GET /indexes, GET /tasks, GET /batches, global stats) use
// it to hide what the caller may not see, as Meilisearch does.
func indexAuthorized(r *http.Request, uid string) bool {
	a := requestAuth(r)
	if a == nil || a.key == nil {
		return true
	}
	if !a.key.allowsIndex(uid) {
		return false
	}
	return a.rules == nil || a.rules.allows(uid)
}

// allowIndexCreation reports whether the request may create index uid
// (explicitly, or implicitly by adding documents to a missing index):
// Meilisearch's AuthFilter::allow_index_creation.
func allowIndexCreation(r *http.Request, uid string) bool {
	a := requestAuth(r)
	if a == nil || a.key == nil {
		return true
	}
	return a.allowCreate && indexAuthorized(r, uid)
}

// searchRulesFilter returns the filter a tenant token imposes on searches
// of indexUID, read from the request's context where authorize left it.
// withTokenFilter ANDs it with the request's own filter. ok is false when
// there is nothing to add: no tenant token, or the most specific search
// rule for the index carries no filter (or a null one). filter is the JSON
// value from the token (a string or an array in Meilisearch's array filter
// syntax; anything else fails later as an invalid filter, as it does in
// Meilisearch).
func searchRulesFilter(r *http.Request, indexUID string) (filter any, ok bool) {
	a := requestAuth(r)
	if a == nil || a.rules == nil {
		return nil, false
	}
	return a.rules.filterFor(indexUID)
}

// withTokenFilter returns the filter a search of indexUID must run with:
// the request's filter with the tenant token's filter ANDed on. Meilisearch
// applies it on the search, multi-search (federated or not), facet-search
// and similar routes (add_search_rules), before any filter validation, so
// an error in the token's filter, e.g. an attribute that is not filterable,
// is reported like one in the request's own filter.
func withTokenFilter(r *http.Request, indexUID string, filter any) any {
	tf, ok := searchRulesFilter(r, indexUID)
	if !ok {
		return filter
	}
	return fuseFilters(filter, tf)
}

// fuseFilters is Meilisearch's fuse_filters: with one side missing the
// other is kept as is; otherwise both become one array filter (whose
// elements are ANDed), the request's first, an array's elements spliced in
// (an inner array stays an OR group) and any other value as one element.
func fuseFilters(request, token any) any {
	if request == nil {
		return token
	}
	if token == nil {
		return request
	}
	spread := func(v any) []any {
		if a, ok := v.([]any); ok {
			return a
		}
		return []any{v}
	}
	out := append([]any{}, spread(request)...)
	return append(out, spread(token)...)
}

// authorize checks the request's credentials like Meilisearch's
// authentication extractor, before routing. On success it may attach an
// authInfo to the request's context (in place, so that the caller's r
// carries it to the handlers).
func (s *Server) authorize(r *http.Request) error {
	if r.URL.Path == "/health" {
		return nil
	}
	_, pattern := s.mux.Handler(r)
	if pattern == "" || pattern == "/" {
		return nil // 404/405 from the router, as Meilisearch answers before auth
	}
	action, mapped := routeActions[pattern]
	if !mapped {
		action = ""
	}
	ks := s.keys
	if ks.master == "" {
		if isKeysAction(action) {
			return newError("missing_master_key", "Meilisearch is running without a master key. To access this API endpoint, you must have set a master key at launch.")
		}
		return nil
	}
	h, present := r.Header["Authorization"]
	if !present || len(h) == 0 {
		return newError("missing_authorization_header", "The Authorization header is missing. It must use the bearer authorization method.")
	}
	scheme, tok, hasTok := strings.Cut(h[0], " ")
	if scheme != "Bearer" {
		return newError("missing_authorization_header", "The Authorization header is missing. It must use the bearer authorization method.")
	}
	if !hasTok {
		return errInvalidAPIKey()
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(ks.master)) == 1 {
		return nil
	}
	index := ""
	if strings.Contains(pattern, " /indexes/{uid}") {
		if parts := strings.SplitN(r.URL.Path, "/", 4); len(parts) >= 3 {
			index = parts[2]
		}
	}

	now := time.Now()
	ks.mu.RLock()
	var key *apiKey
	var rules *searchRules
	if action == "search" {
		uid, sr, isToken, err := ks.verifyTenantToken(tok, now)
		if err != nil {
			ks.mu.RUnlock()
			return err
		}
		if isToken {
			key, rules = ks.keys[uid], sr
			if key == nil {
				ks.mu.RUnlock()
				return errInvalidAPIKey()
			}
		}
	}
	if key == nil {
		key = ks.byValueLocked(tok)
	}
	ks.mu.RUnlock()
	if key == nil {
		return errInvalidAPIKey()
	}
	if index != "" {
		if rules != nil && !rules.allows(index) {
			return newError("invalid_api_key", "The provided tenant token cannot acces the index `%s`, allowed indexes are %s.", index, keyRustList(rules.names()))
		}
		if !key.allowsIndex(index) {
			if rules != nil {
				return newError("invalid_api_key", "The API key used to generate this tenant token cannot acces the index `%s`.", index)
			}
			names := append([]string(nil), key.indexes...)
			sort.Strings(names)
			return newError("invalid_api_key", "The API key cannot acces the index `%s`, authorized indexes are %s.", index, keyRustList(names))
		}
	}
	if !key.authorized(action, index, now) {
		return errInvalidAPIKey()
	}
	info := &authInfo{key: key, rules: rules, allowCreate: key.authorized("indexes.create", "", now)}
	ctx := context.WithValue(r.Context(), authCtxKey{}, info)
	*r = *r.WithContext(ctx)
	return s.authorizeBody(r, pattern)
}

func errInvalidAPIKey() *apiError {
	return newError("invalid_api_key", "The provided API key is invalid.")
}

// keyRustList formats names like Rust's {:?} of a Vec<String>.
func keyRustList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// authorizeBody applies the index checks Meilisearch makes inside the
// handlers of routes whose indexes are in the body rather than the path:
// index creation, swaps and multi-search. It reads the body and puts it
// back for the handler. Only API keys get here (not the master key).
func (s *Server) authorizeBody(r *http.Request, pattern string) error {
	switch pattern {
	case "POST /indexes", "POST /swap-indexes", "POST /multi-search":
	default:
		return nil
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	r.Header.Del("Content-Encoding") // the body is now plain
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	switch pattern {
	case "POST /indexes":
		var req struct {
			UID any `json:"uid"`
		}
		if json.Unmarshal(body, &req) == nil {
			if uid, ok := req.UID.(string); ok && !allowIndexCreation(r, uid) {
				return errInvalidAPIKey()
			}
		}
	case "POST /swap-indexes":
		// The route checks each swap's length, then its indexes against
		// the key, in turn, once the body is read; the handler answers
		// whatever comes before an index the key cannot reach.
		swaps, e := parseSwapPayload(body)
		if e != nil {
			return nil
		}
		for _, sw := range swaps {
			if swapLengthError(sw) != nil {
				return nil
			}
			for _, uid := range sw.Indexes {
				if !indexAuthorized(r, uid) {
					return errInvalidAPIKey()
				}
			}
		}
	case "POST /multi-search":
		var req struct {
			Queries []struct {
				IndexUID any `json:"indexUid"`
			} `json:"queries"`
		}
		if json.Unmarshal(body, &req) == nil {
			for i, q := range req.Queries {
				if uid, ok := q.IndexUID.(string); ok && !indexAuthorized(r, uid) {
					return newError("invalid_api_key", "Inside `.queries[%d]`: The provided API key is invalid.", i)
				}
			}
		}
	}
	return nil
}

// ---- tenant tokens -------------------------------------------------------

// searchRules is a tenant token's searchRules claim: either a list of index
// patterns or a map from index pattern to rules (null or {"filter": ...}).
type searchRules struct {
	set []string
	m   map[string]*indexRule // nil when the claim is a list
}

type indexRule struct {
	filter    any
	hasFilter bool
}

func (sr *searchRules) names() []string {
	var out []string
	if sr.m == nil {
		out = append(out, sr.set...)
	} else {
		for p := range sr.m {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func (sr *searchRules) allows(index string) bool {
	for _, p := range sr.names() {
		if patternMatches(p, index) {
			return true
		}
	}
	return false
}

// filterFor is SearchRules::get_index_search_rules: among the map's
// patterns matching index the most specific wins (exact before wildcard,
// then the longest), and its filter applies.
func (sr *searchRules) filterFor(index string) (any, bool) {
	if sr.m == nil {
		return nil, false
	}
	best, bestExact, bestLen := "", false, -1
	for p := range sr.m {
		if !patternMatches(p, index) {
			continue
		}
		exact := !strings.HasSuffix(p, "*")
		if exact && !bestExact || exact == bestExact && (len(p) > bestLen || len(p) == bestLen && p < best) {
			best, bestExact, bestLen = p, exact, len(p)
		}
	}
	if bestLen < 0 {
		return nil, false
	}
	rule := sr.m[best]
	if rule == nil || !rule.hasFilter {
		return nil, false
	}
	return rule.filter, true
}

func parseSearchRules(raw json.RawMessage) (*searchRules, error) {
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil && list != nil {
		return &searchRules{set: list}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errors.New("data did not match any variant of untagged enum SearchRules")
	}
	sr := &searchRules{m: map[string]*indexRule{}}
	for p, v := range m {
		if string(bytes.TrimSpace(v)) == "null" {
			sr.m[p] = nil
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(v, &obj); err != nil {
			return nil, errors.New("data did not match any variant of untagged enum SearchRules")
		}
		rule := &indexRule{}
		if f, ok := obj["filter"]; ok && string(bytes.TrimSpace(f)) != "null" {
			dec := json.NewDecoder(bytes.NewReader(f))
			dec.UseNumber()
			if err := dec.Decode(&rule.filter); err != nil {
				return nil, err
			}
			rule.hasFilter = true
		}
		sr.m[p] = rule
	}
	return sr, nil
}

// verifyTenantToken is Meilisearch's authenticate_tenant_token. isToken is
// false when tok is not shaped like a JWT at all, in which case the caller
// treats it as an API key. A JWT that fails to decode, is badly signed or
// has expired is an error. The caller holds ks.mu for reading; the parent
// key's existence is checked by the caller.
func (ks *keyStore) verifyTenantToken(tok string, now time.Time) (uid string, rules *searchRules, isToken bool, err error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", nil, false, nil
	}
	decodeErr := func(format string, args ...any) error {
		return newError("invalid_api_key", "Could not decode tenant token, "+format+".", args...)
	}
	hdrRaw, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	payload, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "", nil, true, decodeErr("Base64 error: Invalid last symbol or padding")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hdrRaw, &hdr); err != nil {
		return "", nil, true, decodeErr("JSON error: %v", err)
	}
	var newHash func() hash.Hash
	switch hdr.Alg {
	case "HS256":
		newHash = sha256.New
	case "HS384":
		newHash = sha512.New384
	case "HS512":
		newHash = sha512.New
	default:
		return "", nil, true, decodeErr("InvalidAlgorithm")
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", nil, true, decodeErr("JSON error: %v", err)
	}
	rawRules, ok := claims["searchRules"]
	if !ok {
		return "", nil, true, decodeErr("JSON error: missing field `searchRules`")
	}
	rules, err = parseSearchRules(rawRules)
	if err != nil {
		return "", nil, true, decodeErr("JSON error: %v", err)
	}
	var uidStr string
	rawUID, ok := claims["apiKeyUid"]
	if !ok {
		return "", nil, true, decodeErr("JSON error: missing field `apiKeyUid`")
	}
	if err := json.Unmarshal(rawUID, &uidStr); err != nil {
		return "", nil, true, decodeErr("JSON error: %v", err)
	}
	if uid, err = keyParseUUID(uidStr); err != nil {
		return "", nil, true, decodeErr("JSON error: %v", err)
	}
	var exp *int64
	if rawExp, ok := claims["exp"]; ok && string(bytes.TrimSpace(rawExp)) != "null" {
		var e int64
		if err := json.Unmarshal(rawExp, &e); err != nil {
			return "", nil, true, decodeErr("JSON error: %v", err)
		}
		exp = &e
	}
	// The signing secret is the parent key's value, derived from its uid:
	// the key need not exist for the signature to be checked.
	m := hmac.New(newHash, []byte(deriveKey(ks.master, uid)))
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(m.Sum(nil), sig) {
		return "", nil, true, decodeErr("InvalidSignature")
	}
	if exp != nil && now.Unix() > *exp {
		return "", nil, true, newError("invalid_api_key", "Tenant token expired. Was valid up to `%d` and we're now `%d`.", *exp, now.Unix())
	}
	return uid, rules, true, nil
}
