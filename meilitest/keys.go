package meilitest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miroirsearch/miroir/internal/keyauth"
)

// API keys and authorisation, modelled on Meilisearch's meilisearch-auth
// crate and its authentication extractor (the rules themselves are in
// internal/keyauth, shared with miroir's proxy):
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

	auth *keyauth.Key // what authorisation needs, set on insertion
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

// insertLocked stores k; the caller holds mu for writing (or owns ks).
func (ks *keyStore) insertLocked(k *apiKey) {
	ks.seq++
	k.seq = ks.seq
	k.value = keyauth.DeriveKey(ks.master, k.uid)
	k.auth = keyauth.NewKey(k.uid, k.value, k.actions, k.indexes, k.expiresAt)
	ks.keys[k.uid] = k
}

// byValueLocked finds the key whose value is tok (hex-decoded, so the
// case does not matter, as in Meilisearch), comparing against every key
// in constant time. The caller holds mu.
func (ks *keyStore) byValueLocked(tok string) *apiKey {
	var found *apiKey
	for _, k := range ks.keys {
		if keyauth.ValueMatches(k.value, tok) {
			found = k
		}
	}
	return found
}

// lookupLocked resolves a /keys/{key} path parameter, a uid or a key value.
func (ks *keyStore) lookupLocked(keyOrUID string) *apiKey {
	if uid, err := keyParseUUID(keyOrUID); err == nil {
		return ks.keys[uid]
	}
	return ks.byValueLocked(keyOrUID)
}

// The keyauth.Lookup of the key store.

func (ks *keyStore) KeyByValue(tok string) (*keyauth.Key, error) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	if k := ks.byValueLocked(tok); k != nil {
		return k.auth, nil
	}
	return nil, nil
}

func (ks *keyStore) KeyByUID(uid string) (*keyauth.Key, error) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	if k := ks.keys[uid]; k != nil {
		return k.auth, nil
	}
	return nil, nil
}

// TenantSecret: a tenant token is signed with its parent key's value,
// derived from the uid, so the key need not exist for the signature to be
// checked (it must exist for the token to be accepted).
func (ks *keyStore) TenantSecret(uid string) (string, bool, error) {
	return keyauth.DeriveKey(ks.master, uid), true, nil
}

// Names shared with the rest of the package.
var (
	keyParseUUID      = keyauth.ParseUUID
	validIndexPattern = keyauth.ValidIndexPattern
	patternMatches    = keyauth.PatternMatches
	keyRustList       = keyauth.RustList
	validActions      = keyauth.Actions
)

func keyFormatUUID(b [16]byte) string { return keyauth.FormatUUID(b[:]) }

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

// ---- request authorisation ------------------------------------------------

type authCtxKey struct{}

// requestGrant is what authorize learnt about the caller (nil: the master
// key or an open server, no restriction).
func requestGrant(r *http.Request) *keyauth.Grant {
	g, _ := r.Context().Value(authCtxKey{}).(*keyauth.Grant)
	return g
}

// indexAuthorized reports whether the request's credentials may see index
// uid: true without a master key, with the master key, or when both the API
// key's index patterns and the tenant token's search rules allow it.
// Listing routes (GET /indexes, GET /tasks, GET /batches, global stats) use
// it to hide what the caller may not see, as Meilisearch does.
func indexAuthorized(r *http.Request, uid string) bool {
	return requestGrant(r).IndexAuthorized(uid)
}

// allowIndexCreation reports whether the request may create index uid
// (explicitly, or implicitly by adding documents to a missing index):
// Meilisearch's AuthFilter::allow_index_creation.
func allowIndexCreation(r *http.Request, uid string) bool {
	return requestGrant(r).AllowIndexCreation(uid)
}

// taskVisible reports whether the request's credentials may see a task of
// type typ on index indexUID: a key limited to some indexes sees only the
// tasks of one index it may see (Meilisearch's
// get_task_ids_from_authorized_indexes).
func taskVisible(r *http.Request, typ string, indexUID *string) bool {
	uid := ""
	if indexUID != nil {
		uid = *indexUID
	}
	return requestGrant(r).TaskVisible(typ, uid)
}

// searchRulesFilter returns the filter a tenant token imposes on searches
// of indexUID. ok is false when there is nothing to add: no tenant token,
// or the most specific search rule for the index carries no filter (or a
// null one). filter is the JSON value from the token (a string or an array
// in Meilisearch's array filter syntax; anything else fails later as an
// invalid filter, as it does in Meilisearch).
func searchRulesFilter(r *http.Request, indexUID string) (filter any, ok bool) {
	return requestGrant(r).SearchFilter(indexUID)
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
	return keyauth.FuseFilters(filter, tf)
}

// authorize checks the request's credentials like Meilisearch's
// authentication extractor, before routing. On success it may attach the
// caller's grant to the request's context (in place, so that the caller's
// r carries it to the handlers).
func (s *Server) authorize(r *http.Request) error {
	if r.URL.Path == "/health" {
		return nil
	}
	_, pattern := s.mux.Handler(r)
	if pattern == "" || pattern == "/" {
		return nil // 404/405 from the router, as Meilisearch answers before auth
	}
	action, _ := keyauth.RouteAction(pattern)
	ks := s.keys
	if ks.master == "" {
		if keyauth.IsKeysAction(action) {
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
	if keyauth.IndexParam(pattern) {
		if parts := strings.SplitN(r.URL.Path, "/", 4); len(parts) >= 3 {
			index = parts[2]
		}
	}
	g, err := keyauth.Authenticate(ks, action, index, tok, time.Now())
	if err != nil {
		if ke, ok := err.(*keyauth.Error); ok {
			return newError(keyauth.Code, "%s", ke.Message)
		}
		return newError("internal", "%v", err)
	}
	*r = *r.WithContext(context.WithValue(r.Context(), authCtxKey{}, g))
	return s.authorizeBody(r, pattern)
}

func errInvalidAPIKey() *apiError {
	return newError("invalid_api_key", "The provided API key is invalid.")
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
