package miroir

import "net/http"

// Index uid validation: the one rule for every index uid miroir takes,
// from a library call or a proxy path, checked before the uid reaches a
// node's URL path.

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
	if !wellFormedUID(uid) {
		return newError(http.StatusBadRequest, "invalid_index_uid",
			"`%s` is not a valid index uid. Index uid can be an integer or a string containing only alphanumeric characters, hyphens (-) and underscores (_), and can not be more than 400 bytes.", uid)
	}
	if rule == refuseReserved && uid == metaIndex {
		return reservedIndexError()
	}
	return nil
}

// wellFormedUID reports whether uid has Meilisearch's index uid format.
func wellFormedUID(uid string) bool {
	if len(uid) == 0 || len(uid) > 400 {
		return false
	}
	for i := 0; i < len(uid); i++ {
		c := uid[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// The proxy's files (handler_body.go, handler_tasks_query.go) call the
// validator under their former names until they move to internal/proxy,
// which reaches validateIndexUID through its Backend.

// checkIndexUID is validateIndexUID(uid, refuseReserved).
func checkIndexUID(uid string) error { return validateIndexUID(uid, refuseReserved) }

// validIndexUID matches a well-formed index uid.
var validIndexUID uidMatcher

// uidMatcher is wellFormedUID with a regexp's MatchString.
type uidMatcher struct{}

// MatchString reports whether uid is well formed.
func (uidMatcher) MatchString(uid string) bool { return wellFormedUID(uid) }
