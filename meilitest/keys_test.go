package meilitest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/keyauth"
)

const testMaster = "masterKey"

func keysClient(t *testing.T, opts ...Option) (*Server, meilisearch.ServiceManager) {
	t.Helper()
	srv := RunT(t, append([]Option{WithMasterKey(testMaster)}, opts...)...)
	return srv, meilisearch.New(srv.URL(), meilisearch.WithAPIKey(testMaster))
}

func keysErrCode(err error) string {
	var me *meilisearch.Error
	if errors.As(err, &me) {
		return string(me.APIError.Code)
	}
	return ""
}

type rawResp struct {
	status int
	body   map[string]any
}

// keysRaw sends one HTTP request; auth is the whole Authorization header
// value ("" sends none).
func keysRaw(t *testing.T, srv *Server, method, path, auth, body string) rawResp {
	t.Helper()
	status, b := rawRequest(t, srv, method, path, auth, body)
	out := rawResp{status: status}
	if len(b) > 0 && b[0] == '{' {
		_ = json.Unmarshal(b, &out.body)
	}
	return out
}

func (r rawResp) code() string { s, _ := r.body["code"].(string); return s }
func (r rawResp) msg() string  { s, _ := r.body["message"].(string); return s }

func createTestKey(t *testing.T, c meilisearch.ServiceManager, k meilisearch.Key) *meilisearch.Key {
	t.Helper()
	got, err := c.CreateKey(context.Background(), &k)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return got
}

// Golden values from Meilisearch's own test suite
// (crates/meilisearch/tests/auth/errors.rs and api_keys.rs).
func TestKeyDerivationMatchesMeilisearch(t *testing.T) {
	cases := []struct{ master, uid, key string }{
		{"MASTER_KEY", "00000000-0000-0000-0000-000000000000", "aeb94973e0b6e912d94165430bbe87dee91a7c4f891ce19050c3910ec96977e9"},
		{"MASTER_KEY", "4bc0887a-0e41-4f3b-935d-0c451dcee9c8", "d9e776b8412f1db6974c9a5556b961c3559440b6588216f4ea5d9ed49f7c8f3c"},
	}
	for _, tc := range cases {
		if got := keyauth.DeriveKey(tc.master, tc.uid); got != tc.key {
			t.Errorf("DeriveKey(%s) = %s, want %s", tc.uid, got, tc.key)
		}
	}
	// And through the API, with the uid given in simple form.
	srv := RunT(t, WithMasterKey("MASTER_KEY"))
	r := keysRaw(t, srv, "POST", "/keys", "Bearer MASTER_KEY",
		`{"uid":"4bc0887a0e414f3b935d0c451dcee9c8","actions":["search"],"indexes":["products"],"expiresAt":"2050-11-13T00:00:00Z"}`)
	if r.status != 201 || r.body["key"] != cases[1].key || r.body["uid"] != cases[1].uid || r.body["expiresAt"] != "2050-11-13T00:00:00Z" || r.body["name"] != nil {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
}

func TestKeysSameValueAcrossServers(t *testing.T) {
	ctx := context.Background()
	srvs := RunCluster(t, 2, WithMasterKey(testMaster))
	var vals []string
	var defaults [][]meilisearch.Key
	for _, srv := range srvs {
		c := meilisearch.New(srv.URL(), meilisearch.WithAPIKey(testMaster))
		k := createTestKey(t, c, meilisearch.Key{UID: "9aec34f4-e44c-4917-86c2-9c9403abb3b6", Actions: []string{"*"}, Indexes: []string{"*"}})
		vals = append(vals, k.Key)
		list, err := c.GetKeys(ctx, &meilisearch.KeysQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		defaults = append(defaults, list.Results[1:])
		// The key authenticates on its own server.
		if _, err := meilisearch.New(srv.URL(), meilisearch.WithAPIKey(k.Key)).Version(ctx); err != nil {
			t.Fatalf("key rejected: %v", err)
		}
	}
	if vals[0] != vals[1] || vals[0] != keyauth.DeriveKey(testMaster, "9aec34f4-e44c-4917-86c2-9c9403abb3b6") {
		t.Fatalf("key values differ: %v", vals)
	}
	if len(defaults[0]) != 4 || len(defaults[1]) != 4 {
		t.Fatalf("default keys: %d %d", len(defaults[0]), len(defaults[1]))
	}
	for i := range defaults[0] {
		a, b := defaults[0][i], defaults[1][i]
		if a.UID != b.UID || a.Key != b.Key || a.Name != b.Name {
			t.Fatalf("default key %d differs: %+v vs %+v", i, a, b)
		}
	}
	// A key made on one node works on the other: the fleet shares the master key.
	other := meilisearch.New(srvs[1].URL(), meilisearch.WithAPIKey(vals[0]))
	if _, err := other.Version(ctx); err != nil {
		t.Fatal(err)
	}
	// A different master key gives another value.
	if keyauth.DeriveKey("otherMaster", "9aec34f4-e44c-4917-86c2-9c9403abb3b6") == vals[0] {
		t.Fatal("value does not depend on the master key")
	}
}

func TestDefaultKeys(t *testing.T) {
	_, c := keysClient(t)
	list, err := c.GetKeys(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name    string
		actions []string
	}{
		{"Default Search API Key", []string{"search"}},
		{"Default Admin API Key", []string{"*"}},
		{"Default Read-Only Admin API Key", []string{"*.get", "keys.get"}},
		{"Default Chat API Key", []string{"chatCompletions", "search"}},
	}
	if list.Total != 4 || len(list.Results) != 4 || list.Limit != 20 || list.Offset != 0 {
		t.Fatalf("list: %+v", list)
	}
	for i, w := range want {
		k := list.Results[i]
		if k.Name != w.name || strings.Join(k.Actions, ",") != strings.Join(w.actions, ",") ||
			strings.Join(k.Indexes, ",") != "*" || !k.ExpiresAt.IsZero() || k.CreatedAt.IsZero() || k.UpdatedAt.IsZero() ||
			k.Key != keyauth.DeriveKey(testMaster, k.UID) || k.Description == "" {
			t.Errorf("key %d: %+v", i, k)
		}
	}
	// The Read-Only Admin key reads, including keys, and writes nothing.
	srv := RunT(t, WithMasterKey(testMaster))
	ro := ""
	for _, k := range list.Results {
		if k.Name == "Default Read-Only Admin API Key" {
			ro = k.Key
		}
	}
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/keys", 200}, {"GET", "/indexes", 200}, {"GET", "/version", 200}, {"GET", "/tasks", 200},
		{"POST", "/indexes", 403}, {"POST", "/keys", 403}, {"DELETE", "/indexes/x", 403},
	} {
		body := ""
		if tc.method == "POST" {
			body = `{"uid":"x"}`
		}
		if r := keysRaw(t, srv, tc.method, tc.path, "Bearer "+ro, body); (r.status == 403) != (tc.want == 403) {
			t.Errorf("%s %s with read-only key: %d %v", tc.method, tc.path, r.status, r.body)
		}
	}
}

func TestKeysCRUDWithClient(t *testing.T) {
	ctx := context.Background()
	_, c := keysClient(t)
	exp := time.Now().Add(10 * time.Hour).UTC()
	k := createTestKey(t, c, meilisearch.Key{
		Name: "indexing", Description: "TestKey", UID: "9aec34f4-e44c-4917-86c2-9c9403abb3b6",
		Actions: []string{"documents.add", "documents.delete"}, Indexes: []string{"movies", "games"}, ExpiresAt: exp,
	})
	if k.UID != "9aec34f4-e44c-4917-86c2-9c9403abb3b6" || k.Name != "indexing" || k.Description != "TestKey" ||
		k.ExpiresAt.Format(time.DateTime) != exp.Format(time.DateTime) || len(k.Key) != 64 {
		t.Fatalf("created: %+v", k)
	}
	for _, id := range []string{k.Key, k.UID} {
		got, err := c.GetKey(ctx, id)
		if err != nil || got.UID != k.UID || got.Key != k.Key || strings.Join(got.Indexes, ",") != "movies,games" ||
			strings.Join(got.Actions, ",") != "documents.add,documents.delete" {
			t.Fatalf("get %s: %+v %v", id, got, err)
		}
	}
	// Newest first.
	list, err := c.GetKeys(ctx, &meilisearch.KeysQuery{Limit: 2, Offset: 0})
	if err != nil || list.Total != 5 || len(list.Results) != 2 || list.Results[0].UID != k.UID || list.Results[1].Name != "Default Search API Key" {
		t.Fatalf("list: %+v %v", list, err)
	}
	list, err = c.GetKeys(ctx, &meilisearch.KeysQuery{Limit: 2, Offset: 4})
	if err != nil || len(list.Results) != 1 || list.Offset != 4 {
		t.Fatalf("list offset: %+v %v", list, err)
	}
	// Duplicate uid.
	if _, err := c.CreateKey(ctx, &meilisearch.Key{UID: k.UID, Actions: []string{"*"}, Indexes: []string{"*"}}); keysErrCode(err) != "api_key_already_exists" {
		t.Fatalf("duplicate: %v", err)
	}
	// Update name and description only.
	time.Sleep(2 * time.Millisecond)
	up, err := c.UpdateKey(ctx, k.Key, &meilisearch.Key{Description: "changed"})
	if err != nil || up.Description != "changed" || up.Name != "indexing" || !up.UpdatedAt.After(k.UpdatedAt) || !up.CreatedAt.Equal(k.CreatedAt) {
		t.Fatalf("update: %+v %v", up, err)
	}
	up, err = c.UpdateKey(ctx, k.UID, &meilisearch.Key{Name: "renamed"})
	if err != nil || up.Name != "renamed" || up.Description != "changed" {
		t.Fatalf("update name: %+v %v", up, err)
	}
	// Delete, then it is gone.
	if ok, err := c.DeleteKey(ctx, k.Key); !ok || err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.DeleteKey(ctx, k.Key); keysErrCode(err) != "api_key_not_found" {
		t.Fatalf("delete again: %v", err)
	}
	if _, err := c.GetKey(ctx, k.UID); keysErrCode(err) != "api_key_not_found" {
		t.Fatalf("get deleted: %v", err)
	}
	// A generated uid is a valid v4 uuid.
	g := createTestKey(t, c, meilisearch.Key{Actions: []string{"*"}, Indexes: []string{"*"}})
	if u, err := keyParseUUID(g.UID); err != nil || u != g.UID || g.UID[14] != '4' {
		t.Fatalf("generated uid %q: %v", g.UID, err)
	}
}

func TestKeysValidation(t *testing.T) {
	srv := RunT(t, WithMasterKey(testMaster))
	auth := "Bearer " + testMaster
	cases := []struct {
		body, code string
		msg        string
	}{
		{`{"indexes":["doggo"],"expiresAt":null}`, "missing_api_key_actions", "Missing field `actions`"},
		{`{"actions":["*"],"expiresAt":null}`, "missing_api_key_indexes", "Missing field `indexes`"},
		{`{"actions":["*"],"indexes":["doggo"]}`, "missing_api_key_expires_at", "Missing field `expiresAt`"},
		{`{"actions":["doggo"],"indexes":["*"],"expiresAt":null}`, "invalid_api_key_actions", "Unknown value `doggo` at `.actions[0]`: expected one of `*`, `search`,"},
		{`{"actions":"doggo","indexes":["*"],"expiresAt":null}`, "invalid_api_key_actions", "Invalid value type at `.actions`: expected an array, but found a string: `\"doggo\"`"},
		{`{"actions":["*"],"indexes":["good doggo"],"expiresAt":null}`, "invalid_api_key_indexes", "`good doggo` is not a valid index uid pattern"},
		{`{"uid":"doggo","actions":["*"],"indexes":["*"],"expiresAt":null}`, "invalid_api_key_uid", "Invalid value at `.uid`:"},
		{`{"actions":["*"],"indexes":["*"],"expiresAt":"2010-11-13T00:00:00Z"}`, "invalid_api_key_expires_at", "`2010-11-13T00:00:00Z` is not a valid date"},
		{`{"actions":["*"],"indexes":["*"],"expiresAt":"tomorrow"}`, "invalid_api_key_expires_at", "is not a valid date"},
		{`{"description":["doggo"],"actions":["*"],"indexes":["*"],"expiresAt":null}`, "invalid_api_key_description", "Invalid value type at `.description`: expected a string, but found an array: `[\"doggo\"]`"},
		{`{"actions":["*"],"indexes":["*"],"expiresAt":null,"doggo":"bork"}`, "bad_request", "Unknown field `doggo`: expected one of `description`, `name`, `uid`, `actions`, `indexes`, `expiresAt`"},
	}
	for _, tc := range cases {
		r := keysRaw(t, srv, "POST", "/keys", auth, tc.body)
		if r.status != 400 || r.code() != tc.code || !strings.Contains(r.msg(), tc.msg) {
			t.Errorf("%s: %d %v", tc.body, r.status, r.body)
		}
	}
	// Accepted date forms.
	for _, exp := range []string{`"2050-11-13"`, `"2050-11-13T00:00:00"`, `"2050-11-13 00:00:00"`, `"2050-11-13T01:00:00+01:00"`} {
		r := keysRaw(t, srv, "POST", "/keys", auth, `{"actions":["search"],"indexes":["movies*"],"expiresAt":`+exp+`}`)
		if r.status != 201 || r.body["expiresAt"] != "2050-11-13T00:00:00Z" {
			t.Errorf("expiresAt %s: %d %v", exp, r.status, r.body)
		}
	}
	// PATCH: only name and description.
	uid := "4bc0887a-0e41-4f3b-935d-0c451dcee9c8"
	if r := keysRaw(t, srv, "POST", "/keys", auth, `{"uid":"`+uid+`","name":"n","description":"d","actions":["search"],"indexes":["*"],"expiresAt":null}`); r.status != 201 {
		t.Fatalf("create: %v", r.body)
	}
	for field, code := range map[string]string{"uid": "immutable_api_key_uid", "actions": "immutable_api_key_actions", "indexes": "immutable_api_key_indexes",
		"expiresAt": "immutable_api_key_expires_at", "createdAt": "immutable_api_key_created_at", "updatedAt": "immutable_api_key_updated_at", "doggo": "bad_request"} {
		if r := keysRaw(t, srv, "PATCH", "/keys/"+uid, auth, `{"`+field+`":"x"}`); r.status != 400 || r.code() != code {
			t.Errorf("patch %s: %d %v", field, r.status, r.body)
		}
	}
	if r := keysRaw(t, srv, "PATCH", "/keys/"+uid, auth, `{"description":null}`); r.status != 200 || r.body["description"] != nil || r.body["name"] != "n" {
		t.Errorf("patch null description: %d %v", r.status, r.body)
	}
	if r := keysRaw(t, srv, "GET", "/keys/d0552b41d0552b41536279a0ad88bd595327b96f01176a60c2243e906c52ac02375f9bc4", auth, ""); r.status != 404 || r.code() != "api_key_not_found" ||
		r.msg() != "API key `d0552b41d0552b41536279a0ad88bd595327b96f01176a60c2243e906c52ac02375f9bc4` not found." {
		t.Errorf("not found: %d %v", r.status, r.body)
	}
	if r := keysRaw(t, srv, "DELETE", "/keys/"+uid, auth, ""); r.status != 204 {
		t.Errorf("delete: %d %v", r.status, r.body)
	}
	if r := keysRaw(t, srv, "GET", "/keys?offset=doggo", auth, ""); r.status != 400 || r.code() != "invalid_api_key_offset" {
		t.Errorf("bad offset: %d %v", r.status, r.body)
	}
	if r := keysRaw(t, srv, "GET", "/keys?doggo=1", auth, ""); r.status != 400 || r.code() != "bad_request" {
		t.Errorf("unknown param: %d %v", r.status, r.body)
	}
}

func TestAuthOutcomes(t *testing.T) {
	srv, c := keysClient(t)
	ctx := context.Background()
	search := createTestKey(t, c, meilisearch.Key{Actions: []string{"search"}, Indexes: []string{"dog"}})
	expiring := createTestKey(t, c, meilisearch.Key{Actions: []string{"*"}, Indexes: []string{"*"}, ExpiresAt: time.Now().Add(1100 * time.Millisecond)})
	cases := []struct {
		name, method, path, auth string
		status                   int
		code, msg                string
	}{
		{"health open", "GET", "/health", "", 200, "", ""},
		{"no header", "GET", "/indexes", "", 401, "missing_authorization_header", "The Authorization header is missing. It must use the bearer authorization method."},
		{"other scheme", "GET", "/indexes", "Basic " + testMaster, 401, "missing_authorization_header", ""},
		{"bearer without token", "GET", "/indexes", "Bearer", 403, "invalid_api_key", "The provided API key is invalid."},
		{"unknown key", "GET", "/indexes", "Bearer kefir", 403, "invalid_api_key", "The provided API key is invalid."},
		{"master", "GET", "/indexes", "Bearer " + testMaster, 200, "", ""},
		{"master on keys", "GET", "/keys", "Bearer " + testMaster, 200, "", ""},
		{"unknown route before auth", "GET", "/nope", "", 404, "", ""}, // empty body, as actix-web answers
		{"search key wrong action", "GET", "/indexes/dog/documents", "Bearer " + search.Key, 403, "invalid_api_key", "The provided API key is invalid."},
		{"search key wrong index", "POST", "/indexes/doggo/search", "Bearer " + search.Key, 403, "invalid_api_key", "The API key cannot acces the index `doggo`, authorized indexes are [\"dog\"]."},
		{"search key on keys", "GET", "/keys", "Bearer " + search.Key, 403, "invalid_api_key", "The provided API key is invalid."},
		{"expiring key still valid", "GET", "/version", "Bearer " + expiring.Key, 200, "", ""},
	}
	for _, tc := range cases {
		body := ""
		if tc.method == "POST" {
			body = "{}"
		}
		r := keysRaw(t, srv, tc.method, tc.path, tc.auth, body)
		if r.status != tc.status || r.code() != tc.code || (tc.msg != "" && r.msg() != tc.msg) {
			t.Errorf("%s: %d %v", tc.name, r.status, r.body)
		}
		if r.status == 403 || r.status == 401 {
			if r.body["type"] != "auth" || r.body["link"] != "https://docs.meilisearch.com/errors#"+tc.code {
				t.Errorf("%s: shape %v", tc.name, r.body)
			}
		}
	}
	// The search key passes auth on its index (the handler may still answer
	// index_not_found, never 401/403).
	if r := keysRaw(t, srv, "POST", "/indexes/dog/search", "Bearer "+search.Key, "{}"); r.status == 401 || r.status == 403 {
		t.Errorf("search key on its index: %d %v", r.status, r.body)
	}
	// Expiry.
	time.Sleep(1200 * time.Millisecond)
	if r := keysRaw(t, srv, "GET", "/version", "Bearer "+expiring.Key, ""); r.status != 403 || r.code() != "invalid_api_key" {
		t.Errorf("expired key: %d %v", r.status, r.body)
	}
	// A deleted key stops working at once.
	if _, err := c.DeleteKey(ctx, search.UID); err != nil {
		t.Fatal(err)
	}
	if r := keysRaw(t, srv, "POST", "/indexes/dog/search", "Bearer "+search.Key, "{}"); r.status != 403 {
		t.Errorf("deleted key: %d %v", r.status, r.body)
	}
}

func TestNoMasterKey(t *testing.T) {
	srv := RunT(t)
	if r := keysRaw(t, srv, "GET", "/indexes", "", ""); r.status != 200 {
		t.Errorf("open route: %d %v", r.status, r.body)
	}
	if r := keysRaw(t, srv, "GET", "/indexes", "Bearer whatever", ""); r.status != 200 {
		t.Errorf("open route with a token: %d %v", r.status, r.body)
	}
	for _, m := range []string{"GET /keys", "POST /keys", "GET /keys/x", "PATCH /keys/x", "DELETE /keys/x"} {
		method, path, _ := strings.Cut(m, " ")
		body := ""
		if method == "POST" || method == "PATCH" {
			body = "{}"
		}
		r := keysRaw(t, srv, method, path, "", body)
		if r.status != 401 || r.code() != "missing_master_key" || r.body["type"] != "auth" {
			t.Errorf("%s: %d %v", m, r.status, r.body)
		}
	}
	c := meilisearch.New(srv.URL())
	if _, err := c.GetKeys(context.Background(), nil); keysErrCode(err) != "missing_master_key" {
		t.Errorf("client GetKeys: %v", err)
	}
}

func TestActionAndIndexRestrictions(t *testing.T) {
	srv, c := keysClient(t)
	mk := func(actions, indexes []string) string {
		return "Bearer " + createTestKey(t, c, meilisearch.Key{Actions: actions, Indexes: indexes}).Key
	}
	docs := mk([]string{"documents.*"}, []string{"movies*"})
	settings := mk([]string{"settings.get"}, []string{"*"})
	tasks := mk([]string{"tasks.*"}, []string{"*"})
	all := mk([]string{"*"}, []string{"*"})
	creator := mk([]string{"indexes.create", "indexes.swap"}, []string{"movies"})
	searcher := mk([]string{"search"}, []string{"movies", "books"})
	cases := []struct {
		auth, method, path, body string
		allowed                  bool
	}{
		{docs, "GET", "/indexes/movies/documents", "", true},
		{docs, "GET", "/indexes/movies_fr/documents/1", "", true},
		{docs, "POST", "/indexes/movies/documents", "[]", true},
		{docs, "DELETE", "/indexes/movies/documents", "", true},
		{docs, "POST", "/indexes/movies/documents/edit", "{}", false}, // needs documents.* itself: only "*" grants it
		{docs, "GET", "/indexes/books/documents", "", false},
		{docs, "GET", "/indexes/movies/settings", "", false},
		{settings, "GET", "/indexes/movies/settings", "", true},
		{settings, "GET", "/indexes/movies/settings/ranking-rules", "", true},
		{settings, "PATCH", "/indexes/movies/settings", "{}", false},
		{tasks, "GET", "/tasks", "", true},
		{tasks, "POST", "/tasks/cancel?uids=1", "", true},
		{tasks, "DELETE", "/tasks?uids=1", "", true},
		{tasks, "GET", "/batches", "", true},
		{tasks, "GET", "/stats", "", false},
		{all, "GET", "/keys", "", true},
		{all, "POST", "/dumps", "", true},
		{all, "PATCH", "/experimental-features", "{}", true},
		{creator, "POST", "/indexes", `{"uid":"movies"}`, true},
		{creator, "POST", "/indexes", `{"uid":"books"}`, false},
		{creator, "POST", "/swap-indexes", `[{"indexes":["movies","books"]}]`, false},
		{creator, "GET", "/indexes", "", false},
		{searcher, "POST", "/multi-search", `{"queries":[{"indexUid":"movies"},{"indexUid":"books"}]}`, true},
		{searcher, "POST", "/multi-search", `{"queries":[{"indexUid":"movies"},{"indexUid":"games"}]}`, false},
		{searcher, "POST", "/indexes/books/facet-search", `{"facetName":"x"}`, true},
		{searcher, "GET", "/indexes/movies/similar?id=1", "", true},
	}
	for _, tc := range cases {
		r := keysRaw(t, srv, tc.method, tc.path, tc.auth, tc.body)
		denied := r.status == 403 || r.status == 401
		if denied == tc.allowed {
			t.Errorf("%s %s (%s): %d %v", tc.method, tc.path, tc.body, r.status, r.body)
		}
		if denied && r.code() != "invalid_api_key" {
			t.Errorf("%s %s: code %v", tc.method, tc.path, r.body)
		}
	}
	r := keysRaw(t, srv, "POST", "/multi-search", searcher, `{"queries":[{"indexUid":"movies"},{"indexUid":"games"}]}`)
	if r.msg() != "Inside `.queries[1]`: The provided API key is invalid." {
		t.Errorf("multi-search message: %v", r.body)
	}
	// Meilisearch's swap route reads the whole body first, then checks
	// each swap's length and the key's access to its indexes in turn, and
	// the duplicates of the request only when registering it.
	for _, tc := range []struct{ body, code string }{
		{`[{"indexes":["movies","books"],"rename":"x"}]`, "invalid_swap_rename"},
		{`[{"indexes":["movies","books"]},{"indexes":"x"}]`, "invalid_swap_indexes"},
		{`[{"indexes":["movies"]},{"indexes":["books","x"]}]`, "invalid_swap_indexes"},
		{`[{"indexes":["books","x"]},{"indexes":["movies"]}]`, "invalid_api_key"},
		{`[{"indexes":["books","books"]}]`, "invalid_api_key"},
		{`[{"indexes":["movies","movies"]}]`, "invalid_swap_duplicate_index_found"},
	} {
		if r := keysRaw(t, srv, "POST", "/swap-indexes", creator, tc.body); r.code() != tc.code {
			t.Errorf("swap %s with a movies-only key: %d %v", tc.body, r.status, r.body)
		}
	}
}

func TestTenantTokens(t *testing.T) {
	srv, c := keysClient(t)
	ctx := context.Background()
	parent := createTestKey(t, c, meilisearch.Key{Actions: []string{"search"}, Indexes: []string{"movies*"}})
	tok := func(rules map[string]any, opts *meilisearch.TenantTokenOptions) string {
		t.Helper()
		if opts == nil {
			opts = &meilisearch.TenantTokenOptions{}
		}
		if opts.APIKey == "" {
			opts.APIKey = parent.Key
		}
		s, err := c.GenerateTenantToken(parent.UID, rules, opts)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	open := tok(map[string]any{"*": map[string]any{}}, nil)
	filtered := tok(map[string]any{"movies*": map[string]any{"filter": "genre = comedy"}, "movies_fr": map[string]any{"filter": []any{"lang = fr"}}, "movies_de": nil}, nil)
	list := tok(map[string]any{"movies": nil}, nil)
	expired := tok(map[string]any{"*": nil}, &meilisearch.TenantTokenOptions{ExpiresAt: time.Now().Add(time.Second)})

	passes := func(name, auth, method, path, body string) {
		t.Helper()
		if r := keysRaw(t, srv, method, path, auth, body); r.status == 401 || r.status == 403 {
			t.Errorf("%s: rejected %d %v", name, r.status, r.body)
		}
	}
	denied := func(name, auth, method, path, body, msg string) {
		t.Helper()
		r := keysRaw(t, srv, method, path, auth, body)
		if r.status != 403 || r.code() != "invalid_api_key" || (msg != "" && r.msg() != msg) {
			t.Errorf("%s: %d %v", name, r.status, r.body)
		}
	}
	passes("open token", open, "POST", "/indexes/movies/search", "{}")
	passes("open token GET", open, "GET", "/indexes/movies_en/search?q=a", "")
	passes("facet search", open, "POST", "/indexes/movies/facet-search", `{"facetName":"genre"}`)
	passes("similar", open, "POST", "/indexes/movies/similar", `{"id":1}`)
	passes("multi-search", filtered, "POST", "/multi-search", `{"queries":[{"indexUid":"movies"},{"indexUid":"movies_fr"}]}`)
	denied("index outside the parent key", open, "POST", "/indexes/books/search", "{}", "The API key used to generate this tenant token cannot acces the index `books`.")
	denied("index outside the token", list, "POST", "/indexes/movies_fr/search", "{}", "The provided tenant token cannot acces the index `movies_fr`, allowed indexes are [\"movies\"].")
	denied("not a search route", open, "GET", "/indexes/movies/documents", "", "The provided API key is invalid.")
	denied("multi-search other index", list, "POST", "/multi-search", `{"queries":[{"indexUid":"movies_fr"}]}`, "Inside `.queries[0]`: The provided API key is invalid.")

	// Signed with the wrong secret.
	bad := tok(map[string]any{"*": nil}, &meilisearch.TenantTokenOptions{APIKey: strings.Repeat("0", 64)})
	denied("bad signature", bad, "POST", "/indexes/movies/search", "{}", "Could not decode tenant token, InvalidSignature.")

	// Expiry.
	passes("before exp", expired, "POST", "/indexes/movies/search", "{}")
	time.Sleep(2100 * time.Millisecond)
	if r := keysRaw(t, srv, "POST", "/indexes/movies/search", expired, "{}"); r.status != 403 || !strings.HasPrefix(r.msg(), "Tenant token expired.") {
		t.Errorf("expired token: %d %v", r.status, r.body)
	}

	// Search rules filters reach the handler through searchRulesFilter.
	probe := func(auth, index string) (any, bool) {
		req, _ := http.NewRequest("POST", srv.URL()+"/indexes/"+index+"/search", strings.NewReader("{}"))
		req.Header.Set("Authorization", auth)
		if err := srv.authorize(req); err != nil {
			t.Fatalf("authorize %s: %v", index, err)
		}
		return searchRulesFilter(req, index)
	}
	if f, ok := probe(filtered, "movies"); !ok || f != "genre = comedy" {
		t.Errorf("movies filter: %v %v", f, ok)
	}
	if f, ok := probe(filtered, "movies_fr"); !ok || len(f.([]any)) != 1 || f.([]any)[0] != "lang = fr" {
		t.Errorf("movies_fr filter (exact rule wins): %v %v", f, ok)
	}
	if f, ok := probe(filtered, "movies_de"); ok {
		t.Errorf("movies_de has a null rule: %v", f)
	}
	if _, ok := probe(open, "movies"); ok {
		t.Error("open token has no filter")
	}
	if _, ok := probe("Bearer "+parent.Key, "movies"); ok {
		t.Error("plain key has no filter")
	}

	// A token whose parent key is deleted stops working.
	if _, err := c.DeleteKey(ctx, parent.UID); err != nil {
		t.Fatal(err)
	}
	denied("parent deleted", open, "POST", "/indexes/movies/search", "{}", "The provided API key is invalid.")

	// With meilisearch-go: the Default Admin key's uid and value, as the
	// client's own integration test does.
	keys, err := c.GetKeys(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var admin meilisearch.Key
	for _, k := range keys.Results {
		if k.Name == "Default Admin API Key" {
			admin = k
		}
	}
	adminClient := meilisearch.New(srv.URL(), meilisearch.WithAPIKey(admin.Key))
	s, err := adminClient.GenerateTenantToken(admin.UID, map[string]any{"*": map[string]string{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tc := meilisearch.New(srv.URL(), meilisearch.WithAPIKey(s))
	if _, err := tc.Index("movies").Search(ctx, "", &meilisearch.SearchRequest{}); keysErrCode(err) == "invalid_api_key" || keysErrCode(err) == "missing_authorization_header" {
		t.Errorf("client search with tenant token: %v", err)
	}
}

// A tenant token's filter is ANDed with the request's on every search
// route, as Meilisearch's add_search_rules does, and is checked like a
// request filter.
func TestTenantTokenFilterApplied(t *testing.T) {
	srv, c := keysClient(t)
	ctx := context.Background()
	ix := c.Index("movies")
	docs := []map[string]any{
		{"id": 1, "genre": "comedy", "lang": "en", "secret": "x", "_vectors": map[string]any{"default": []float64{1, 0, 0}}},
		{"id": 2, "genre": "comedy", "lang": "fr", "_vectors": map[string]any{"default": []float64{0.9, 0.1, 0}}},
		{"id": 3, "genre": "drama", "lang": "en", "_vectors": map[string]any{"default": []float64{0.8, 0.2, 0}}},
		{"id": 4, "genre": "drama", "lang": "fr", "_vectors": map[string]any{"default": []float64{0, 1, 0}}},
	}
	waitFor(t, c)(ix.UpdateSettings(ctx, &meilisearch.Settings{
		FilterableAttributes: []string{"genre", "lang"},
		Embedders:            map[string]meilisearch.Embedder{"default": {Source: meilisearch.UserProvidedEmbedderSource, Dimensions: 3}},
	}))
	if task := waitFor(t, c)(ix.AddDocuments(ctx, docs, nil)); task.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("add: %+v", task)
	}
	parent := createTestKey(t, c, meilisearch.Key{Actions: []string{"search"}, Indexes: []string{"movies*"}})
	tok := func(rules map[string]any) string {
		t.Helper()
		s, err := c.GenerateTenantToken(parent.UID, rules, &meilisearch.TenantTokenOptions{APIKey: parent.Key})
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	comedy := tok(map[string]any{"movies": map[string]any{"filter": "genre = comedy"}})
	arrayRule := tok(map[string]any{"movies*": map[string]any{"filter": []any{[]any{"lang = fr", "lang = de"}, "genre = comedy"}}})
	nullRule := tok(map[string]any{"movies": map[string]any{"filter": nil}})
	unfilterable := tok(map[string]any{"movies": map[string]any{"filter": "secret = x"}})

	ids := func(hits any) []int {
		var out []int
		list, _ := hits.([]any)
		for _, h := range list {
			m, _ := h.(map[string]any)
			if f, ok := m["id"].(float64); ok {
				out = append(out, int(f))
			}
		}
		sort.Ints(out)
		return out
	}
	search := func(name, auth, method, path, body string, want ...int) map[string]any {
		t.Helper()
		r := keysRaw(t, srv, method, path, auth, body)
		if r.status != 200 {
			t.Errorf("%s: %d %v", name, r.status, r.body)
			return nil
		}
		if want != nil && !equalInts(ids(r.body["hits"]), want) {
			t.Errorf("%s: hits %v, want %v", name, ids(r.body["hits"]), want)
		}
		return r.body
	}
	search("master key: no token filter", "Bearer "+testMaster, "POST", "/indexes/movies/search", `{}`, 1, 2, 3, 4)
	search("token filter alone", comedy, "POST", "/indexes/movies/search", `{}`, 1, 2)
	search("null request filter", comedy, "POST", "/indexes/movies/search", `{"filter":null}`, 1, 2)
	search("both filters hold", comedy, "POST", "/indexes/movies/search", `{"filter":"lang = fr"}`, 2)
	search("request cannot widen", comedy, "POST", "/indexes/movies/search", `{"filter":"genre = drama OR lang = en"}`, 1)
	search("request array", comedy, "POST", "/indexes/movies/search", `{"filter":["lang = en"]}`, 1)
	search("request OR group stays OR", comedy, "POST", "/indexes/movies/search", `{"filter":[["lang = fr","lang = en"]]}`, 1, 2)
	search("GET string filter", comedy, "GET", "/indexes/movies/search?filter="+url.QueryEscape("lang = fr"), "", 2)
	search("GET JSON array filter", comedy, "GET", "/indexes/movies/search?filter="+url.QueryEscape(`["lang = en"]`), "", 1)
	search("GET no filter", comedy, "GET", "/indexes/movies/search?q=", "", 1, 2)
	search("array rule", arrayRule, "POST", "/indexes/movies/search", `{}`, 2)
	search("array rule and request", arrayRule, "POST", "/indexes/movies/search", `{"filter":"lang = en"}`)
	search("null rule", nullRule, "POST", "/indexes/movies/search", `{}`, 1, 2, 3, 4)

	if b := search("multi-search", comedy, "POST", "/multi-search", `{"queries":[{"indexUid":"movies"},{"indexUid":"movies","filter":"lang = en"}]}`); b != nil {
		res, _ := b["results"].([]any)
		if len(res) != 2 || !equalInts(ids(res[0].(map[string]any)["hits"]), []int{1, 2}) || !equalInts(ids(res[1].(map[string]any)["hits"]), []int{1}) {
			t.Errorf("multi-search: %v", b)
		}
	}
	search("federated multi-search", comedy, "POST", "/multi-search", `{"federation":{},"queries":[{"indexUid":"movies"},{"indexUid":"movies","filter":"lang = fr"}]}`, 1, 2)
	if b := search("facet search", comedy, "POST", "/indexes/movies/facet-search", `{"facetName":"genre"}`); b != nil {
		fh, _ := b["facetHits"].([]any)
		if len(fh) != 1 || fh[0].(map[string]any)["value"] != "comedy" || fh[0].(map[string]any)["count"] != float64(2) {
			t.Errorf("facet search: %v", b)
		}
	}
	search("facet search with request filter", comedy, "POST", "/indexes/movies/facet-search", `{"facetName":"lang","filter":"lang = fr"}`)
	search("similar", comedy, "POST", "/indexes/movies/similar", `{"id":1,"embedder":"default"}`, 2)
	search("similar GET", comedy, "GET", "/indexes/movies/similar?id=3&embedder=default", "", 1, 2)

	// The token's filter is validated like the request's.
	r := keysRaw(t, srv, "POST", "/indexes/movies/search", unfilterable, `{}`)
	if r.status != 400 || r.code() != "invalid_search_filter" || !strings.Contains(r.msg(), "Attribute `secret` is not filterable.") {
		t.Errorf("unfilterable token filter: %d %v", r.status, r.body)
	}
	r = keysRaw(t, srv, "POST", "/multi-search", unfilterable, `{"queries":[{"indexUid":"movies","filter":"genre = comedy"}]}`)
	if r.status != 400 || r.code() != "invalid_search_filter" || !strings.HasPrefix(r.msg(), "Inside `.queries[0]`: Attribute `secret` is not filterable.") {
		t.Errorf("unfilterable token filter in multi-search: %d %v", r.status, r.body)
	}
	r = keysRaw(t, srv, "POST", "/indexes/movies/similar", unfilterable, `{"id":1,"embedder":"default"}`)
	if r.status != 400 || r.code() != "invalid_similar_filter" || !strings.Contains(r.msg(), "Attribute `secret` is not filterable.") {
		t.Errorf("unfilterable token filter in similar: %d %v", r.status, r.body)
	}
}

// GET /keys is a PaginationView: results, offset, limit, total.
func TestKeyListKeyOrder(t *testing.T) {
	srv, _ := keysClient(t)
	if keys := topKeys(t, srv, "GET", "/keys", "Bearer "+testMaster, ""); !keyOrder(keys, "results", "offset", "limit", "total") {
		t.Errorf("keys %v", keys)
	}
}
