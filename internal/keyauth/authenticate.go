package keyauth

import (
	"slices"
	"sort"
	"time"
)

// Lookup finds keys for Authenticate. A nil key with a nil error means
// there is none; an error is a failure to look (the request then fails
// with it, not as unauthorised).
type Lookup interface {
	// KeyByValue returns the key whose value is token (compared as
	// ValueMatches does).
	KeyByValue(token string) (*Key, error)
	// KeyByUID returns the key with uid.
	KeyByUID(uid string) (*Key, error)
	// TenantSecret returns the secret tenant tokens naming uid are signed
	// with: the value the key with that uid has (or would have). ok is
	// false when it cannot be known, which makes the token invalid.
	TenantSecret(uid string) (secret string, ok bool, err error)
}

// Grant is what an authenticated API key or tenant token may do beyond
// the route's own check: the indexes it may see, create or search, and
// the filters its search rules add. The zero Grant (no key) is the master
// key's: everything.
type Grant struct {
	Key   *Key         // nil: master key or an open server
	Rules *SearchRules // tenant token search rules, nil without a token
	// AllowCreate: the key grants indexes.create on some index
	// (AuthFilter::allow_index_creation, with IndexAuthorized).
	AllowCreate bool
}

// Unrestricted reports whether the grant sees every index (the master
// key, or a key and token whose patterns include "*").
func (g *Grant) Unrestricted() bool {
	if g == nil || g.Key == nil {
		return true
	}
	return slices.Contains(g.Key.Indexes, "*") && (g.Rules == nil || slices.Contains(g.Rules.Names(), "*"))
}

// IndexAuthorized reports whether the grant may see index uid: both the
// key's index patterns and the tenant token's search rules allow it.
// Listings (indexes, stats, tasks) show only these indexes.
func (g *Grant) IndexAuthorized(uid string) bool {
	if g == nil || g.Key == nil {
		return true
	}
	return g.Key.AllowsIndex(uid) && (g.Rules == nil || g.Rules.Allows(uid))
}

// AllowIndexCreation reports whether the grant may create index uid,
// explicitly or by writing to a missing index.
func (g *Grant) AllowIndexCreation(uid string) bool {
	if g == nil || g.Key == nil {
		return true
	}
	return g.AllowCreate && g.IndexAuthorized(uid)
}

// SearchFilter returns the filter the tenant token's search rules add to
// searches of index (ok false: none).
func (g *Grant) SearchFilter(index string) (filter any, ok bool) {
	if g == nil || g.Rules == nil {
		return nil, false
	}
	return g.Rules.FilterFor(index)
}

// Authenticate is Meilisearch's ActionPolicy::authenticate for a bearer
// token that is not the master key: action is the route's action ("" for
// a route only "*" keys may call), index the route's {index_uid} path
// parameter ("" for none). Only the search action accepts tenant tokens.
// Failures are *Error (HTTP 403 invalid_api_key) in Meilisearch's order
// of checks, or the Lookup's own error.
func Authenticate(l Lookup, action, index, token string, now time.Time) (*Grant, error) {
	var key *Key
	var rules *SearchRules
	if action == "search" {
		t, isJWT, err := ParseToken(token)
		if err != nil {
			return nil, err
		}
		if isJWT {
			secret, ok, err := l.TenantSecret(t.KeyUID)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, ErrInvalidKey()
			}
			if err := t.Verify(secret, now); err != nil {
				return nil, err
			}
			if key, err = l.KeyByUID(t.KeyUID); err != nil {
				return nil, err
			}
			if key == nil {
				return nil, ErrInvalidKey()
			}
			rules = t.Rules
		}
	}
	if key == nil {
		var err error
		if key, err = l.KeyByValue(token); err != nil {
			return nil, err
		}
		if key == nil {
			return nil, ErrInvalidKey()
		}
	}
	if index != "" {
		if rules != nil && !rules.Allows(index) {
			return nil, errorf("The provided tenant token cannot acces the index `%s`, allowed indexes are %s.", index, RustList(rules.Names()))
		}
		if !key.AllowsIndex(index) {
			if rules != nil {
				return nil, errorf("The API key used to generate this tenant token cannot acces the index `%s`.", index)
			}
			names := append([]string(nil), key.Indexes...)
			sort.Strings(names)
			return nil, errorf("The API key cannot acces the index `%s`, authorized indexes are %s.", index, RustList(names))
		}
	}
	if !key.Authorized(action, index, now) {
		return nil, ErrInvalidKey()
	}
	return &Grant{Key: key, Rules: rules, AllowCreate: key.Authorized("indexes.create", "", now)}, nil
}

// RelatedToOneIndex is Meilisearch's Kind::related_to_one_index: the
// task types that concern exactly one index; the others (swaps, dumps,
// snapshots, task cancelations and deletions, exports, upgrades) concern
// the whole database.
func RelatedToOneIndex(typ string) bool { return oneIndexKinds[typ] }

var oneIndexKinds = map[string]bool{
	"documentAdditionOrUpdate": true, "documentEdition": true, "documentDeletion": true,
	"settingsUpdate": true, "indexCreation": true, "indexDeletion": true, "indexUpdate": true,
	"indexCompaction": true,
}

// TaskVisible reports whether the grant may see a task of type typ on
// index indexUID ("" for none), as Meilisearch's
// get_task_ids_from_authorized_indexes decides: a grant restricted to some
// indexes sees only the tasks of one index it may see.
func (g *Grant) TaskVisible(typ, indexUID string) bool {
	if g.Unrestricted() {
		return true
	}
	return oneIndexKinds[typ] && indexUID != "" && g.IndexAuthorized(indexUID)
}
