package keyauth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strings"
	"time"
)

// Tenant tokens: HS256/384/512 JWTs signed with an API key's value, with
// the claims apiKeyUid, searchRules and an optional exp (Meilisearch's
// authenticate_tenant_token).

// Token is a decoded, not yet verified, tenant token.
type Token struct {
	KeyUID string       // apiKeyUid, lower-case hyphenated
	Rules  *SearchRules // searchRules
	Exp    *int64       // exp, Unix seconds

	newHash func() hash.Hash
	signed  string // header.payload
	sig     []byte
}

func decodeErr(format string, args ...any) *Error {
	return errorf("Could not decode tenant token, "+format+".", args...)
}

// ParseToken decodes tok. isJWT is false when tok is not shaped like a JWT
// at all (not three dot-separated parts): the caller then treats it as an
// API key. A JWT that fails to decode is an error.
func ParseToken(tok string) (t *Token, isJWT bool, err error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false, nil
	}
	hdrRaw, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	payload, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, true, decodeErr("Base64 error: Invalid last symbol or padding")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hdrRaw, &hdr); err != nil {
		return nil, true, decodeErr("JSON error: %v", err)
	}
	t = &Token{signed: parts[0] + "." + parts[1], sig: sig}
	switch hdr.Alg {
	case "HS256":
		t.newHash = sha256.New
	case "HS384":
		t.newHash = sha512.New384
	case "HS512":
		t.newHash = sha512.New
	default:
		return nil, true, decodeErr("InvalidAlgorithm")
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, true, decodeErr("JSON error: %v", err)
	}
	rawRules, ok := claims["searchRules"]
	if !ok {
		return nil, true, decodeErr("JSON error: missing field `searchRules`")
	}
	if t.Rules, err = ParseSearchRules(rawRules); err != nil {
		return nil, true, decodeErr("JSON error: %v", err)
	}
	rawUID, ok := claims["apiKeyUid"]
	if !ok {
		return nil, true, decodeErr("JSON error: missing field `apiKeyUid`")
	}
	var uidStr string
	if err := json.Unmarshal(rawUID, &uidStr); err != nil {
		return nil, true, decodeErr("JSON error: %v", err)
	}
	if t.KeyUID, err = ParseUUID(uidStr); err != nil {
		return nil, true, decodeErr("JSON error: %v", err)
	}
	if rawExp, ok := claims["exp"]; ok && string(bytes.TrimSpace(rawExp)) != "null" {
		var e int64
		if err := json.Unmarshal(rawExp, &e); err != nil {
			return nil, true, decodeErr("JSON error: %v", err)
		}
		t.Exp = &e
	}
	return t, true, nil
}

// Verify checks the token's signature with secret (the parent key's
// value) and its expiry.
func (t *Token) Verify(secret string, now time.Time) error {
	m := hmac.New(t.newHash, []byte(secret))
	m.Write([]byte(t.signed))
	if !hmac.Equal(m.Sum(nil), t.sig) {
		return decodeErr("InvalidSignature")
	}
	if t.Exp != nil && now.Unix() > *t.Exp {
		return errorf("Tenant token expired. Was valid up to `%d` and we're now `%d`.", *t.Exp, now.Unix())
	}
	return nil
}

// SearchRules is a tenant token's searchRules claim: a list of index
// patterns, or a map from index pattern to rules (null or {"filter": ...}).
type SearchRules struct {
	set []string
	m   map[string]*indexRule // nil when the claim is a list
}

type indexRule struct {
	filter    any
	hasFilter bool
}

// Names lists the rules' index patterns, sorted.
func (sr *SearchRules) Names() []string {
	var out []string
	if sr.m == nil {
		out = append(out, sr.set...)
	} else {
		for p := range sr.m {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Allows reports whether some pattern of the rules matches index.
func (sr *SearchRules) Allows(index string) bool {
	for _, p := range sr.Names() {
		if PatternMatches(p, index) {
			return true
		}
	}
	return false
}

// FilterFor is SearchRules::get_index_search_rules: among the map's
// patterns matching index the most specific wins (exact before wildcard,
// then the longest), and its filter applies. ok is false when there is no
// filter to add.
func (sr *SearchRules) FilterFor(index string) (filter any, ok bool) {
	if sr.m == nil {
		return nil, false
	}
	best, bestExact, bestLen := "", false, -1
	for p := range sr.m {
		if !PatternMatches(p, index) {
			continue
		}
		exact := !strings.HasSuffix(p, "*")
		if exact && !bestExact || exact == bestExact && (len(p) > bestLen || len(p) == bestLen && p < best) {
			best, bestExact, bestLen = p, exact, len(p)
		}
	}
	if bestLen < 0 {
		return nil, false
	}
	rule := sr.m[best]
	if rule == nil || !rule.hasFilter {
		return nil, false
	}
	return rule.filter, true
}

// ParseSearchRules decodes a searchRules claim.
func ParseSearchRules(raw json.RawMessage) (*SearchRules, error) {
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil && list != nil {
		return &SearchRules{set: list}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errors.New("data did not match any variant of untagged enum SearchRules")
	}
	sr := &SearchRules{m: map[string]*indexRule{}}
	for p, v := range m {
		if string(bytes.TrimSpace(v)) == "null" {
			sr.m[p] = nil
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(v, &obj); err != nil {
			return nil, errors.New("data did not match any variant of untagged enum SearchRules")
		}
		rule := &indexRule{}
		if f, ok := obj["filter"]; ok && string(bytes.TrimSpace(f)) != "null" {
			dec := json.NewDecoder(bytes.NewReader(f))
			dec.UseNumber()
			if err := dec.Decode(&rule.filter); err != nil {
				return nil, err
			}
			rule.hasFilter = true
		}
		sr.m[p] = rule
	}
	return sr, nil
}

// FuseFilters is Meilisearch's fuse_filters: with one side missing the
// other is kept as is; otherwise both become one array filter (whose
// elements are ANDed), the request's first, an array's elements spliced in
// (an inner array stays an OR group) and any other value as one element.
func FuseFilters(request, token any) any {
	if request == nil {
		return token
	}
	if token == nil {
		return request
	}
	spread := func(v any) []any {
		if a, ok := v.([]any); ok {
			return a
		}
		return []any{v}
	}
	out := append([]any{}, spread(request)...)
	return append(out, spread(token)...)
}

// ParseUUID accepts the forms Rust's uuid::Uuid::from_str accepts (simple,
// hyphenated, braced, urn) and returns the lower-case hyphenated form.
func ParseUUID(s string) (string, error) {
	t := s
	switch {
	case strings.HasPrefix(strings.ToLower(t), "urn:uuid:"):
		t = t[len("urn:uuid:"):]
	case strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}"):
		t = t[1 : len(t)-1]
	}
	var hexs string
	switch len(t) {
	case 32:
		hexs = t
	case 36:
		if t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
			return "", fmt.Errorf("invalid group separators in `%s`", s)
		}
		hexs = t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:36]
	default:
		return "", fmt.Errorf("invalid length: expected length 32 for simple format, found %d", len(t))
	}
	raw, err := hex.DecodeString(hexs)
	if err != nil || len(raw) != 16 {
		for i, c := range hexs {
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return "", fmt.Errorf("invalid character: found `%c` at %d", c, i+1)
			}
		}
		return "", fmt.Errorf("invalid uuid `%s`", s)
	}
	return FormatUUID(raw), nil
}

// FormatUUID formats 16 bytes as a lower-case hyphenated uuid.
func FormatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
