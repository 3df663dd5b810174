package miroir

import (
	"context"

	"github.com/miroirsearch/miroir/internal/caller"
	"github.com/miroirsearch/miroir/internal/keyauth"
)

// What a call knows about its caller in proxy pass-through mode: the
// caller's own token, which node requests doing the caller's work carry,
// and the grant the proxy derived from it (the indexes the caller may see
// or create). Library calls carry neither: they act with the node keys
// and see everything. The proxy attaches both (internal/caller, the
// context keys both sides share) after it has judged the token itself;
// only the caller's own work (its searches, document reads and writes,
// key calls) runs under the token, so that the nodes judge it again and
// apply a tenant token's search rules; miroir's bookkeeping runs under
// withNodeKeys.

func authTokenFrom(ctx context.Context) string { return caller.Token(ctx) }

// withNodeKeys returns ctx without the caller's token: miroir's own
// requests (index state and miroir_meta, verification, settings
// transactions, task polling, field lists) always go with the node keys,
// whatever the caller's token may do, so that a restricted token never
// fails on miroir's bookkeeping nor reaches miroir's internal index.
func withNodeKeys(ctx context.Context) context.Context {
	if authTokenFrom(ctx) == "" {
		return ctx
	}
	return caller.WithToken(ctx, "")
}

// grantFrom returns the caller's grant; nil (everything) for library calls
// and the master key.
func grantFrom(ctx context.Context) *keyauth.Grant { return caller.Grant(ctx) }
