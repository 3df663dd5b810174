package miroir

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// Proxy mode authentication (DESIGN §9) and the pass-through helpers.

func missingAuth() error {
	return newError(http.StatusUnauthorized, "missing_authorization_header", "The Authorization header is missing. It must use the bearer authorization method.")
}

func invalidKey() error {
	return newError(http.StatusForbidden, "invalid_api_key", "The provided API key is invalid.")
}

// bearer returns the token of "Authorization: Bearer <token>".
func bearer(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") {
		return "", false
	}
	tok := strings.TrimSpace(v[7:])
	return tok, tok != ""
}

// keyMatches compares tok with a key digest in constant time (the
// digests have a fixed length, so neither content nor length leaks).
func keyMatches(tok string, digest *[32]byte) bool {
	d := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(d[:], digest[:]) == 1
}

// authorize checks r's credentials for level and returns the context the
// Cluster call runs with (carrying the caller's token in pass-through
// mode).
func (h *handler) authorize(r *http.Request, level authLevel) (context.Context, error) {
	ctx := r.Context()
	switch level {
	case authPublic:
		return ctx, nil
	case authAdmin:
		if !h.hasAdm {
			return ctx, nil
		}
		tok, ok := bearer(r)
		if !ok {
			return nil, missingAuth()
		}
		if !keyMatches(tok, &h.admin) {
			return nil, invalidKey()
		}
		return ctx, nil
	}
	tok, ok := bearer(r)
	if h.cfg.masterKey == "" {
		if h.cfg.passthrough && ok {
			return withAuthToken(ctx, tok), nil
		}
		return ctx, nil
	}
	if !ok {
		return nil, missingAuth()
	}
	if keyMatches(tok, &h.master) {
		return ctx, nil
	}
	if h.cfg.passthrough {
		return withAuthToken(ctx, tok), nil
	}
	return nil, invalidKey()
}

// passthrough reports whether r's call runs with the caller's own token
// (pass-through mode, a token other than the master key).
func passthrough(r *http.Request) bool { return authTokenFrom(r.Context()) != "" }

// withNodeKeys returns ctx without the caller's token: miroir's own
// requests (index state, settings for merging, field lists) go with the
// node keys.
func withNodeKeys(ctx context.Context) context.Context {
	if authTokenFrom(ctx) == "" {
		return ctx
	}
	return withAuthToken(ctx, "")
}

// warm loads, with the node keys, what the Cluster reads for itself
// before serving a call on index uid (its state, its settings for
// merging, and for searches its field list), so that a pass-through call,
// whose token may only allow searching one index (a tenant token) or
// reading its documents, does not fail on miroir's own bookkeeping: the
// Cluster caches these, and the call itself then reaches the nodes with
// the caller's token, which the nodes judge. Errors are ignored here (the
// call reports its own).
func (h *handler) warm(r *http.Request, uid string, search bool) {
	if !passthrough(r) || checkUID(uid) != nil {
		return
	}
	ctx := withNodeKeys(r.Context())
	st, err := h.c.state(ctx, uid)
	if err != nil {
		return
	}
	if _, err := h.c.mergeSettingsFor(ctx, uid); err != nil || !search {
		return
	}
	h.c.searchFields(ctx, st, uid)
}

// checkTaskAccess makes one node judge a pass-through token before a task
// route, which the Cluster answers from its own task store without asking
// any node: the token must allow reading tasks (GET /tasks).
func (h *handler) checkTaskAccess(r *http.Request) error {
	if !passthrough(r) {
		return nil
	}
	ctx := r.Context()
	return h.c.oneNode(ctx, func(n *node) error {
		_, err := n.do(ctx, "authProbe", http.MethodGet, "/tasks", url.Values{"limit": {"1"}}, "", nil)
		return err
	})
}
