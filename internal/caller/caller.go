// Package caller carries who a call is made for through its context: in
// proxy pass-through mode, the caller's own token (which node requests
// doing the caller's work carry) and the grant the proxy derived from it
// (the indexes the caller may see or create). The proxy attaches them; the
// Cluster reads them. Library calls carry neither: they act with the node
// keys and see everything.
package caller

import (
	"context"

	"github.com/miroirsearch/miroir/internal/keyauth"
)

type tokenKey struct{}

// WithToken makes node requests doing the caller's work carry tok instead
// of the node key; "" restores the node key.
func WithToken(ctx context.Context, tok string) context.Context {
	return context.WithValue(ctx, tokenKey{}, tok)
}

// Token returns the caller's token ("" for none: the node key).
func Token(ctx context.Context) string {
	s, _ := ctx.Value(tokenKey{}).(string)
	return s
}

type grantKey struct{}

// WithGrant records what the caller's API key or tenant token allows.
func WithGrant(ctx context.Context, g *keyauth.Grant) context.Context {
	return context.WithValue(ctx, grantKey{}, g)
}

// Grant returns the caller's grant; nil (everything) for library calls
// and the master key.
func Grant(ctx context.Context) *keyauth.Grant {
	g, _ := ctx.Value(grantKey{}).(*keyauth.Grant)
	return g
}
