// Package indexuid is the syntax of a Meilisearch index uid, which both
// the Cluster and its proxy check before a uid reaches a node's URL path.
package indexuid

// Valid reports whether uid is 1 to 400 bytes of ASCII letters, digits,
// hyphens and underscores, as Meilisearch requires.
func Valid(uid string) bool {
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
