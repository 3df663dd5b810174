package miroir

import (
	"net/http"

	"github.com/miroirsearch/miroir/internal/indexuid"
)

// Index uid validation: the one rule for every index uid miroir takes,
// from a library call or a proxy path (proxyBackend.CheckIndexUID),
// checked before the uid reaches a node's URL path. The syntax itself is
// internal/indexuid's, which the proxy's task filters read too.

// reservedRule says what validateIndexUID makes of miroir's own index uid
// (miroir_meta), which is well formed.
type reservedRule bool

const (
	// allowReserved lets miroir_meta through: the call refuses it itself
	// (state answers miroir_reserved_index; GetIndex and GetStats answer
	// index_not_found, as for an index that does not exist).
	allowReserved reservedRule = false
	// refuseReserved answers miroir_reserved_index at once: calls that
	// create, delete, rename, swap or configure an index by name.
	refuseReserved reservedRule = true
)

// validateIndexUID checks uid like Meilisearch (1 to 400 bytes of
// a-z A-Z 0-9 - _; invalid_index_uid otherwise), then miroir's reserved
// name by rule.
func validateIndexUID(uid string, rule reservedRule) error {
	if !indexuid.Valid(uid) {
		return newError(http.StatusBadRequest, "invalid_index_uid",
			"`%s` is not a valid index uid. Index uid can be an integer or a string containing only alphanumeric characters, hyphens (-) and underscores (_), and can not be more than 400 bytes.", uid)
	}
	if rule == refuseReserved && isReservedIndex(uid) {
		return reservedIndexError(uid)
	}
	return nil
}
