package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/apierr"
	"github.com/miroirsearch/miroir/internal/caller"
	"github.com/miroirsearch/miroir/internal/keyauth"
	"golang.org/x/sync/singleflight"
)

// Proxy mode authentication (DESIGN §9).
//
// With WithMasterKey the handler accepts its master key itself. In
// pass-through mode (WithAuthPassthrough) it also accepts API keys and
// tenant tokens, judged by the handler exactly as one Meilisearch node
// judges them (internal/keyauth: the route's action, the index patterns,
// expiry, a tenant token's signature and search rules), with the key read
// from the fleet with the node keys. Nothing runs before that check, so a
// token never gets a cluster-local answer (a settings transaction, a task
// listing) that a node would have refused. Once judged, the caller's own
// work (searches, document reads and writes, key calls) reaches the nodes
// with the caller's token, which the nodes judge again and which applies a
// tenant token's search rules; miroir's bookkeeping uses the node keys.

func missingAuth() error {
	return apierr.New(http.StatusUnauthorized, "missing_authorization_header", "The Authorization header is missing. It must use the bearer authorization method.")
}

func invalidKey() error {
	return apierr.New(http.StatusForbidden, "invalid_api_key", "The provided API key is invalid.")
}

// bearer reads the Authorization header as Meilisearch's extractor does:
// no header, or a scheme other than "Bearer" (case-sensitive), is a
// missing header; "Bearer" without a space and token is an invalid key.
func bearer(r *http.Request) (tok string, err error) {
	h, ok := r.Header["Authorization"]
	if !ok || len(h) == 0 {
		return "", missingAuth()
	}
	scheme, tok, hasTok := strings.Cut(h[0], " ")
	if scheme != "Bearer" {
		return "", missingAuth()
	}
	if !hasTok {
		return "", invalidKey()
	}
	return tok, nil
}

// keyMatches compares tok with a key digest in constant time (the
// digests have a fixed length, so neither content nor length leaks).
func keyMatches(tok string, digest *[32]byte) bool {
	d := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(d[:], digest[:]) == 1
}

// authorize checks r's credentials for the route and returns the context
// the Cluster call runs with: in pass-through mode it carries the caller's
// token and grant.
func (h *handler) authorize(r *http.Request, o routeOpts) (context.Context, error) {
	ctx := r.Context()
	switch o.level {
	case authPublic:
		return ctx, nil
	case authAdmin:
		if !h.hasAdm {
			return ctx, nil
		}
		tok, err := bearer(r)
		if err != nil {
			return nil, err
		}
		if !keyMatches(tok, &h.admin) {
			return nil, invalidKey()
		}
		return ctx, nil
	}
	if h.cfg.MasterKey == "" && (!h.cfg.Passthrough || r.Header.Get("Authorization") == "") {
		return ctx, nil // an open API, like Meilisearch without a master key
	}
	tok, err := bearer(r)
	if err != nil {
		return nil, err
	}
	if h.cfg.MasterKey != "" && keyMatches(tok, &h.master) {
		return ctx, nil
	}
	if !h.cfg.Passthrough {
		return nil, invalidKey()
	}
	index := ""
	if o.indexParam {
		index = r.PathValue("uid")
	}
	g, err := keyauth.Authenticate(h.keys.lookup(ctx), o.action, index, tok, time.Now())
	if err != nil {
		var ke *keyauth.Error
		if errors.As(err, &ke) {
			return nil, apierr.New(http.StatusForbidden, keyauth.Code, "%s", ke.Message)
		}
		return nil, err
	}
	return caller.WithGrant(caller.WithToken(ctx, tok), g), nil
}

// keyCacheTTL bounds how long the handler trusts a key it read from the
// fleet. Meilisearch keys cannot change what they grant (only their name
// and description), so the only staleness is a deletion made elsewhere
// (directly on the nodes, or through another instance): for this long the
// handler may still accept the deleted key for calls it answers itself
// (settings changes, task reads); calls reaching the nodes are refused by
// them at once. Deleting a key through this handler forgets it at once.
const keyCacheTTL = 2 * time.Second

// keyCache reads API keys from the fleet (GET /keys/{key} on one node,
// with the node keys: Backend.AuthKey) for the pass-through check, and
// keeps them briefly.
type keyCache struct {
	b Backend

	mu      sync.Mutex
	entries map[string]keyCacheEntry // by "v:"+sha256(value) or "u:"+uid
	loads   singleflight.Group
}

type keyCacheEntry struct {
	key *keyauth.Key // nil: no such key (not cached)
	at  time.Time
}

// forget drops every cached key (after a key deletion).
func (kc *keyCache) forget() {
	kc.mu.Lock()
	kc.entries = nil
	kc.mu.Unlock()
}

// get returns the key that identifier (a key value or uid) names.
func (kc *keyCache) get(ctx context.Context, cacheKey, identifier string) (*keyauth.Key, error) {
	kc.mu.Lock()
	e, ok := kc.entries[cacheKey]
	kc.mu.Unlock()
	if ok && time.Since(e.at) < keyCacheTTL {
		return e.key, nil
	}
	v, err, _ := kc.loads.Do(cacheKey, func() (any, error) {
		k, err := kc.b.AuthKey(ctx, identifier)
		if err != nil {
			var me *meilisearch.Error
			if errors.As(err, &me) && me.StatusCode >= 400 && me.StatusCode < 500 {
				return (*keyauth.Key)(nil), nil // no such key
			}
			return nil, err
		}
		var exp *time.Time
		if !k.ExpiresAt.IsZero() {
			t := k.ExpiresAt
			exp = &t
		}
		ak := keyauth.NewKey(k.UID, k.Key, k.Actions, k.Indexes, exp)
		kc.mu.Lock()
		if kc.entries == nil {
			kc.entries = map[string]keyCacheEntry{}
		}
		kc.entries[cacheKey] = keyCacheEntry{key: ak, at: time.Now()}
		kc.mu.Unlock()
		return ak, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*keyauth.Key), nil
}

// lookup is the keyauth.Lookup of one request.
func (kc *keyCache) lookup(ctx context.Context) keyLookup { return keyLookup{kc, ctx} }

type keyLookup struct {
	kc  *keyCache
	ctx context.Context
}

func (l keyLookup) KeyByValue(tok string) (*keyauth.Key, error) {
	d := sha256.Sum256([]byte(strings.ToLower(tok)))
	k, err := l.kc.get(l.ctx, "v:"+string(d[:]), tok)
	if err != nil || k == nil || !keyauth.ValueMatches(k.Value, tok) {
		return nil, err
	}
	return k, nil
}

func (l keyLookup) KeyByUID(uid string) (*keyauth.Key, error) {
	k, err := l.kc.get(l.ctx, "u:"+uid, uid)
	if err != nil || k == nil || k.UID != uid {
		return nil, err
	}
	return k, nil
}

// TenantSecret is the parent key's value: the handler does not know the
// fleet's master key, so a token naming a key that does not exist is
// invalid (Meilisearch would first report a bad signature; both are 403
// invalid_api_key).
func (l keyLookup) TenantSecret(uid string) (string, bool, error) {
	k, err := l.KeyByUID(uid)
	if err != nil || k == nil {
		return "", false, err
	}
	return k.Value, true, nil
}
