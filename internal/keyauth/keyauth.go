// Package keyauth is Meilisearch's API key authorisation model: which
// actions a key grants (wildcards expanded as meilisearch-auth does), which
// indexes its patterns allow, when it expires, tenant tokens and their
// search rules, and the order of checks of Meilisearch's authentication
// extractor (ActionPolicy::authenticate).
//
// Two servers use it: meilitest (which stores keys itself) and miroir's
// proxy in pass-through mode (which reads keys from the fleet's nodes).
// Each supplies a Lookup; the rules live here once, so that a key is
// judged the same way by the fake node and by the proxy in front of a
// fleet.
package keyauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Actions are the action names Meilisearch accepts in a key's actions, in
// the order its invalid_api_key_actions message lists them.
var Actions = []string{
	"*", "search", "documents.*", "documents.add", "documents.get", "documents.delete",
	"indexes.*", "indexes.create", "indexes.get", "indexes.update", "indexes.delete", "indexes.swap",
	"tasks.*", "tasks.cancel", "tasks.delete", "tasks.get", "settings.*", "settings.get", "settings.update",
	"stats.*", "stats.get", "metrics.*", "metrics.get", "dumps.*", "dumps.create", "snapshots.*",
	"snapshots.create", "version", "keys.create", "keys.get", "keys.update", "keys.delete",
	"experimental.get", "experimental.update", "export", "network.get", "network.update",
	"chatCompletions", "chats.*", "chats.get", "chats.delete", "chatsSettings.*", "chatsSettings.get",
	"chatsSettings.update", "*.get", "webhooks.get", "webhooks.update", "webhooks.delete",
	"webhooks.create", "webhooks.*", "indexes.compact", "fields.post", "tasks.compact",
	"dynamicSearchRules.get", "dynamicSearchRules.create", "dynamicSearchRules.update",
	"dynamicSearchRules.delete", "dynamicSearchRules.*",
}

// ValidAction reports whether a is an action name Meilisearch accepts.
func ValidAction(a string) bool { return slices.Contains(Actions, a) }

// families expands the wildcard actions (meilisearch-auth store.rs
// put_api_key). "*" grants every action but "*.get"; "*.get" grants the
// read actions. keys.get is not a read action (the Read-Only Admin key
// lists it explicitly), and tasks.* does not grant tasks.compact.
var families = map[string][]string{
	"documents.*":          {"documents.add", "documents.get", "documents.delete"},
	"indexes.*":            {"indexes.create", "indexes.get", "indexes.update", "indexes.delete", "indexes.swap", "indexes.compact"},
	"settings.*":           {"settings.get", "settings.update"},
	"dumps.*":              {"dumps.create"},
	"snapshots.*":          {"snapshots.create"},
	"tasks.*":              {"tasks.get", "tasks.delete", "tasks.cancel"},
	"stats.*":              {"stats.get"},
	"metrics.*":            {"metrics.get"},
	"chats.*":              {"chats.get", "chats.delete"},
	"chatsSettings.*":      {"chatsSettings.get", "chatsSettings.update"},
	"webhooks.*":           {"webhooks.get", "webhooks.update", "webhooks.delete", "webhooks.create"},
	"dynamicSearchRules.*": {"dynamicSearchRules.get", "dynamicSearchRules.create", "dynamicSearchRules.update", "dynamicSearchRules.delete"},
	"*.get": {"search", "documents.get", "indexes.get", "tasks.get", "settings.get", "stats.get",
		"metrics.get", "version", "experimental.get", "network.get", "chats.get", "chatsSettings.get",
		"webhooks.get", "dynamicSearchRules.get"},
}

// Expand returns the set of concrete actions that actions grant.
func Expand(actions []string) map[string]bool {
	g := map[string]bool{}
	for _, a := range actions {
		switch {
		case a == "*":
			for _, v := range Actions {
				if v != "*.get" {
					g[v] = true
				}
			}
		case families[a] != nil:
			for _, v := range families[a] {
				g[v] = true
			}
		default:
			g[a] = true
		}
	}
	return g
}

// PatternMatches is IndexUidPattern::matches_str: a trailing '*' matches
// any suffix (so "*" matches everything), otherwise the uid must be equal.
func PatternMatches(pattern, uid string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(uid, p)
	}
	return pattern == uid
}

// ValidIndexPattern: alphanumerics, '-' and '_', optionally ending with
// '*', at most 400 bytes.
func ValidIndexPattern(p string) bool {
	body := strings.TrimSuffix(p, "*")
	if len(p) > 400 || (body == "" && p != "*") {
		return false
	}
	for _, c := range body {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// DeriveKey is Meilisearch's generate_key_as_hexa: the hex HMAC-SHA256 of
// the lower-case hyphenated uid, keyed by the master key. Every server
// sharing a master key gives one uid the same key value.
func DeriveKey(master, uid string) string {
	m := hmac.New(sha256.New, []byte(master))
	m.Write([]byte(uid))
	return hex.EncodeToString(m.Sum(nil))
}

// ValueMatches reports whether token is the key value, compared as
// Meilisearch does (verify_key_matches): both hex-decoded, so upper-case
// hex works, in constant time.
func ValueMatches(value, token string) bool {
	v, err1 := hex.DecodeString(value)
	t, err2 := hex.DecodeString(token)
	if err1 != nil || err2 != nil {
		return false
	}
	return hmac.Equal(v, t)
}

// Key is what authorisation needs of an API key.
type Key struct {
	UID       string   // lower-case hyphenated uuid
	Value     string   // hex key value
	Actions   []string // as given at creation
	Indexes   []string // index uid patterns as given at creation
	ExpiresAt *time.Time

	grants map[string]bool
}

// NewKey returns a Key with its actions expanded once.
func NewKey(uid, value string, actions, indexes []string, expiresAt *time.Time) *Key {
	return &Key{UID: uid, Value: value, Actions: actions, Indexes: indexes, ExpiresAt: expiresAt, grants: Expand(actions)}
}

// Grants reports whether the key's actions grant action (wildcards
// expanded).
func (k *Key) Grants(action string) bool {
	if k.grants == nil {
		k.grants = Expand(k.Actions)
	}
	return k.grants[action]
}

// Expired reports whether the key is past its expiration date.
func (k *Key) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// AllowsIndex reports whether the key's index patterns allow uid.
func (k *Key) AllowsIndex(uid string) bool {
	for _, p := range k.Indexes {
		if PatternMatches(p, uid) {
			return true
		}
	}
	return false
}

// Authorized is meilisearch-auth is_key_authorized: the key grants action
// (on index when index != "") and has not expired. With no index, having
// the action on any index is enough. action "" is a route without an
// action of its own: only a "*" key may call it.
func (k *Key) Authorized(action, index string, now time.Time) bool {
	if action == "" {
		if !slices.Contains(k.Actions, "*") {
			return false
		}
	} else if !k.Grants(action) {
		return false
	}
	if index != "" && !k.AllowsIndex(index) {
		return false
	}
	return !k.Expired(now)
}

// Error is an authentication failure: Meilisearch answers it with HTTP
// 403 and the code invalid_api_key.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

// Code is Meilisearch's error code of every authentication failure.
const Code = "invalid_api_key"

func errorf(format string, args ...any) *Error { return &Error{Message: fmt.Sprintf(format, args...)} }

// ErrInvalidKey is Meilisearch's "The provided API key is invalid."
func ErrInvalidKey() *Error { return errorf("The provided API key is invalid.") }

// RustList formats names like Rust's {:?} of a Vec<String>.
func RustList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
