package miroir

import (
	"context"

	"github.com/miroirsearch/miroir/internal/keyauth"
)

// What a call knows about its caller in proxy pass-through mode: the
// caller's own token, which node requests doing the caller's work carry,
// and the grant the proxy derived from it (the indexes the caller may see
// or create). Library calls carry neither: they act with the node keys
// and see everything.

type authTokenKey struct{}

// withAuthToken makes node requests carry the caller's own token instead of
// the node key (proxy pass-through mode, after the proxy has judged the
// token itself: see handler_auth.go). Only the caller's own work (its
// searches, document reads and writes, key calls) runs under it, so that the
// nodes judge it again and apply a tenant token's search rules; miroir's
// bookkeeping runs under withNodeKeys.
func withAuthToken(ctx context.Context, tok string) context.Context {
	return context.WithValue(ctx, authTokenKey{}, tok)
}

func authTokenFrom(ctx context.Context) string {
	s, _ := ctx.Value(authTokenKey{}).(string)
	return s
}

// withNodeKeys returns ctx without the caller's token: miroir's own
// requests (index state and miroir_meta, verification, settings
// transactions, task polling, field lists) always go with the node keys,
// whatever the caller's token may do, so that a restricted token never
// fails on miroir's bookkeeping nor reaches miroir's internal index.
func withNodeKeys(ctx context.Context) context.Context {
	if authTokenFrom(ctx) == "" {
		return ctx
	}
	return withAuthToken(ctx, "")
}

type grantKey struct{}

// withGrant records what the caller's API key or tenant token allows.
func withGrant(ctx context.Context, g *keyauth.Grant) context.Context {
	return context.WithValue(ctx, grantKey{}, g)
}

// grantFrom returns the caller's grant; nil (everything) for library calls
// and the master key.
func grantFrom(ctx context.Context) *keyauth.Grant {
	g, _ := ctx.Value(grantKey{}).(*keyauth.Grant)
	return g
}
