package miroir

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/uuid"
)

// API keys (DESIGN §4): created, updated and deleted on every node with an
// explicit uid, so that every node derives the same key value from the
// fleet's shared master key; read from one healthy node. Keys are
// synchronous in Meilisearch (no task).

// keyRequest is Meilisearch's POST /keys body (expiresAt null or
// ISO-8601, as meilisearch-go sends it).
type keyRequest struct {
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	UID         string   `json:"uid,omitempty"`
	Actions     []string `json:"actions,omitempty"`
	Indexes     []string `json:"indexes,omitempty"`
	ExpiresAt   *string  `json:"expiresAt"`
}

// CreateKey creates the key on every node. Without request.UID a UUIDv4 is
// generated, so every node stores the key under the same uid and (with the
// shared master key) the same value.
func (c *Cluster) CreateKey(ctx context.Context, request *meilisearch.Key) (*meilisearch.Key, error) {
	if request == nil {
		request = &meilisearch.Key{}
	}
	kr := keyRequest{Name: request.Name, Description: request.Description, UID: request.UID, Actions: request.Actions, Indexes: request.Indexes}
	if kr.UID == "" {
		kr.UID = uuid.V4()
	}
	if !request.ExpiresAt.IsZero() {
		s := request.ExpiresAt.Format("2006-01-02T15:04:05Z")
		kr.ExpiresAt = &s
	}
	raw, err := c.keyBroadcast(ctx, "createKey", http.MethodPost, "/keys", kr, "api_key_already_exists")
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return c.GetKey(ctx, kr.UID)
	}
	var k meilisearch.Key
	return &k, json.Unmarshal(raw, &k)
}

// UpdateKey updates the name and description of the key on every node.
func (c *Cluster) UpdateKey(ctx context.Context, keyOrUID string, request *meilisearch.Key) (*meilisearch.Key, error) {
	if request == nil {
		request = &meilisearch.Key{}
	}
	body := meilisearch.KeyUpdate{Name: request.Name, Description: request.Description}
	raw, err := c.keyBroadcast(ctx, "updateKey", http.MethodPatch, "/keys/"+url.PathEscape(keyOrUID), body, "")
	if err != nil {
		return nil, err
	}
	var k meilisearch.Key
	return &k, json.Unmarshal(raw, &k)
}

// DeleteKey deletes the key on every node.
func (c *Cluster) DeleteKey(ctx context.Context, keyOrUID string) (bool, error) {
	if _, err := c.keyBroadcast(ctx, "deleteKey", http.MethodDelete, "/keys/"+url.PathEscape(keyOrUID), nil, "api_key_not_found"); err != nil {
		return false, err
	}
	return true, nil
}

// GetKey reads a key from one healthy node.
func (c *Cluster) GetKey(ctx context.Context, identifier string) (_ *meilisearch.Key, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "getKey", "")
		defer func() { cs.end(err) }()
	}
	var k meilisearch.Key
	err = c.oneNode(ctx, func(n *node) error {
		return n.doJSON(ctx, "getKey", http.MethodGet, "/keys/"+url.PathEscape(identifier), nil, nil, &k)
	})
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// GetKeys lists keys from one healthy node.
func (c *Cluster) GetKeys(ctx context.Context, param *meilisearch.KeysQuery) (_ *meilisearch.KeysResults, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "getKeys", "")
		defer func() { cs.end(err) }()
	}
	q := url.Values{}
	if param != nil {
		if param.Limit != 0 {
			q.Set("limit", strconv.FormatInt(param.Limit, 10))
		}
		if param.Offset != 0 {
			q.Set("offset", strconv.FormatInt(param.Offset, 10))
		}
	}
	var res meilisearch.KeysResults
	err = c.oneNode(ctx, func(n *node) error {
		return n.doJSON(ctx, "getKeys", http.MethodGet, "/keys", q, nil, &res)
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// GenerateTenantToken signs a tenant token locally, with meilisearch-go's
// own algorithm. The parent key is options.APIKey, else the Cluster's
// WithAPIKey key, else the first node's key; with one master key shared by
// the fleet, a key created through the Cluster has the same value on every
// node, so the token works on all of them.
func (c *Cluster) GenerateTenantToken(apiKeyUID string, searchRules map[string]any, options *meilisearch.TenantTokenOptions) (string, error) {
	tp := c.topo()
	opts := meilisearch.TenantTokenOptions{}
	if options != nil {
		opts = *options
	}
	if opts.APIKey == "" {
		opts.APIKey = c.opts.apiKey
	}
	if opts.APIKey == "" {
		opts.APIKey = tp.clients[0].key
	}
	return tp.clients[0].client.GenerateTenantToken(apiKeyUID, searchRules, &opts)
}
