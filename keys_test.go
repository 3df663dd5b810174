package miroir

// API keys and tenant tokens (keys.go): broadcast to every node, the same
// key everywhere, tokens every node accepts.

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

func TestKeysBroadcast(t *testing.T) {
	const master = "a-master-key-of-sixteen-bytes-or-more"
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, shards: 4, nodeKey: master, timing: newDefaults})
	c, srv := f.c, f.srv
	ctx := testCtx(t)
	k, err := c.CreateKey(ctx, &meilisearch.Key{Name: "search", Actions: []string{"search", "documents.get"}, Indexes: []string{"*"}, ExpiresAt: time.Now().Add(time.Hour).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if !meilisearch.IsValidUUID(k.UID) || k.Key == "" {
		t.Fatalf("key %+v", k)
	}
	for i, s := range srv {
		got, err := meilisearch.New(s.URL(), meilisearch.WithAPIKey(master)).GetKey(ctx, k.UID)
		if err != nil || got.Key != k.Key {
			t.Fatalf("node %d: %+v %v", i, got, err)
		}
	}
	if _, err := c.UpdateKey(ctx, k.Key, &meilisearch.Key{Name: "renamed"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetKey(ctx, k.UID); got.Name != "renamed" {
		t.Fatalf("update: %+v", got)
	}
	keys, err := c.GetKeys(ctx, &meilisearch.KeysQuery{Limit: 100})
	if err != nil || !slices.ContainsFunc(keys.Results, func(x meilisearch.Key) bool { return x.UID == k.UID }) {
		t.Fatalf("keys %v", err)
	}
	// A tenant token computed locally is accepted by every node.
	tok, err := c.GenerateTenantToken(k.UID, map[string]any{"*": map[string]any{}}, &meilisearch.TenantTokenOptions{APIKey: k.Key})
	if err != nil {
		t.Fatal(err)
	}
	f.createIndex(t, "movies", "id")
	for i, s := range srv {
		_, err := meilisearch.New(s.URL(), meilisearch.WithAPIKey(tok)).Index("movies").Search(ctx, "x", &meilisearch.SearchRequest{})
		if err != nil {
			t.Fatalf("node %d refuses the tenant token: %v", i, err)
		}
	}
	if ok, err := c.DeleteKey(ctx, k.UID); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := c.GetKey(ctx, k.UID); apiCode(err) != "api_key_not_found" {
		t.Fatalf("deleted key: %v", err)
	}
}

func TestAuditCoreKeysAndTenantTokens(t *testing.T) {
	const master = "audit-master-key-0123456789"
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, shards: 8, nodeKey: master, timing: oneRetry})
	c, srv := f.c, f.srv
	defer c.Close()
	ctx := testCtx(t)
	acWaitOK(t, c)(c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "docs", PrimaryKey: "id"}))
	acWaitOK(t, c)(c.Index("docs").AddDocuments(ctx, acDocs(0, 30), nil))

	key, err := c.CreateKey(ctx, &meilisearch.Key{Name: "search", Actions: []string{"search", "documents.get"}, Indexes: []string{"docs"}})
	if err != nil {
		t.Fatal(err)
	}
	if key.UID == "" || key.Key == "" {
		t.Fatalf("key %+v", key)
	}
	for i := range srv {
		st, body := acHTTP(t, srv[i].URL(), "GET", "/keys/"+key.UID, nil, master)
		if st != 200 || !strings.Contains(string(body), key.Key) {
			t.Errorf("node %d does not hold key %s with value %s: %d %s", i, key.UID, key.Key, st, body)
		}
	}
	// The key value works on every node.
	for i := range srv {
		if st, body := acHTTP(t, srv[i].URL(), "POST", "/indexes/docs/search", map[string]any{"q": "title"}, key.Key); st != 200 {
			t.Errorf("node %d rejects the broadcast key: %d %s", i, st, body)
		}
	}
	// An explicit uid is kept.
	uid := "0f0e0d0c-0b0a-4908-8706-050403020100"
	k2, err := c.CreateKey(ctx, &meilisearch.Key{UID: uid, Name: "fixed", Actions: []string{"search"}, Indexes: []string{"*"}})
	if err != nil || k2.UID != uid {
		t.Fatalf("explicit uid: %+v %v", k2, err)
	}
	// Tenant token computed locally works on every node.
	tok, err := c.GenerateTenantToken(key.UID, map[string]any{"docs": map[string]any{"filter": ""}}, &meilisearch.TenantTokenOptions{APIKey: key.Key, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range srv {
		if st, body := acHTTP(t, srv[i].URL(), "POST", "/indexes/docs/search", map[string]any{"q": "title"}, tok); st != 200 {
			t.Errorf("node %d rejects the tenant token: %d %s", i, st, body)
		}
	}
	// Update and delete are broadcast.
	if _, err := c.UpdateKey(ctx, key.UID, &meilisearch.Key{Name: "renamed", Description: "d"}); err != nil {
		t.Fatal(err)
	}
	for i := range srv {
		_, body := acHTTP(t, srv[i].URL(), "GET", "/keys/"+key.UID, nil, master)
		if !strings.Contains(string(body), `"renamed"`) {
			t.Errorf("node %d: key not renamed: %s", i, body)
		}
	}
	got, err := c.GetKey(ctx, key.UID)
	if err != nil || got.Name != "renamed" {
		t.Errorf("GetKey %+v %v", got, err)
	}
	if ok, err := c.DeleteKey(ctx, key.UID); err != nil || !ok {
		t.Fatalf("DeleteKey %v %v", ok, err)
	}
	for i := range srv {
		if st, _ := acHTTP(t, srv[i].URL(), "GET", "/keys/"+key.UID, nil, master); st != 404 {
			t.Errorf("node %d still has the deleted key (%d)", i, st)
		}
	}
	// With a node unreachable the key calls fail naming it; retrying converges.
	srv[2].Stop()
	keyUID := "11111111-2222-4333-8444-555555555555"
	if _, err := c.CreateKey(ctx, &meilisearch.Key{UID: keyUID, Name: "k", Actions: []string{"search"}, Indexes: []string{"*"}}); err == nil || !strings.Contains(err.Error(), "n2") {
		t.Errorf("CreateKey with n2 down: %v", err)
	}
	if err := srv[2].Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "n2 healthy", func() bool {
		for _, n := range c.Topology().Nodes {
			if n.ID == "n2" {
				return n.Healthy
			}
		}
		return false
	})
	k3, err := c.CreateKey(ctx, &meilisearch.Key{UID: keyUID, Name: "k", Actions: []string{"search"}, Indexes: []string{"*"}})
	if err != nil {
		t.Fatalf("CreateKey retried after the node returned: %v", err)
	}
	for i := range srv {
		st, body := acHTTP(t, srv[i].URL(), "GET", "/keys/"+keyUID, nil, master)
		if st != 200 || !strings.Contains(string(body), k3.Key) {
			t.Errorf("node %d after CreateKey retry: %d %s", i, st, body)
		}
	}
	srv[1].Stop()
	if _, err := c.DeleteKey(ctx, keyUID); err == nil || !strings.Contains(err.Error(), "n1") {
		t.Errorf("DeleteKey with n1 down: %v", err)
	}
	if _, err := c.UpdateKey(ctx, keyUID, &meilisearch.Key{Name: "z"}); err == nil || !strings.Contains(err.Error(), "n1") {
		t.Errorf("UpdateKey with n1 down: %v", err)
	}
}
