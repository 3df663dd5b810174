package route

import (
	"bytes"

	"github.com/cespare/xxhash/v2"

	"github.com/miroirsearch/miroir/internal/jsonscan"
)

// MaxIDLen is the longest document id Meilisearch accepts, in bytes.
const MaxIDLen = 511

// idChar marks the bytes allowed in a document id: a-z A-Z 0-9 - _.
var idChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['_'] = true, true
	return t
}()

// ValidID reports whether s is a valid document id given as text (for
// example to DeleteDocument): non-empty, at most 511 bytes, only
// a-zA-Z0-9-_.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idChar[s[i]] {
			return false
		}
	}
	return true
}

func validIDBytes(b []byte) bool {
	if len(b) == 0 || len(b) > MaxIDLen {
		return false
	}
	for _, c := range b {
		if !idChar[c] {
			return false
		}
	}
	return true
}

// Shard is xxh64(id, seed 0) mod shards, the same function as
// miroir.ShardOf, over bytes so the hot path converts nothing.
func Shard(id []byte, shards int) int {
	return int(xxhash.Sum64(id) % uint64(shards))
}

// CanonicalID returns the canonical text of a raw JSON document id: a
// string's unescaped value or an integer's decimal text, so that 42 and
// "42" route alike. Floats (1.0, 1e3, -0), integers outside the int64/uint64
// range, bools, null, objects, arrays, empty strings, strings with other
// characters than a-zA-Z0-9-_ and ids over 511 bytes are rejected with an
// invalid_document_id *DocError (Index -1: no position).
func CanonicalID(raw []byte) (string, error) {
	raw = bytes.Trim(raw, " \t\r\n") // JSON whitespace only
	if len(raw) == 0 {
		return "", docErr(-1, 0, CodeMalformedPayload, "empty document id value")
	}
	end, err := skipValue(raw, 0, 0, false)
	if err == nil && end != len(raw) {
		err = errTrailing
	}
	if err != nil {
		return "", docErr(-1, 0, CodeMalformedPayload, "The document id is not valid JSON: %v", err)
	}
	id, _, ok := canonicalID(raw, nil)
	if !ok {
		return "", docErr(-1, 0, CodeInvalidDocumentID, "%s", invalidIDMessage(compactJSON(raw)))
	}
	return string(id), nil
}

// canonicalID canonicalizes an already-validated JSON value. The result
// aliases raw when no unescaping is needed (the common case), otherwise it
// is built in scratch, which is returned for reuse.
func canonicalID(raw []byte, scratch []byte) (id, scratchOut []byte, ok bool) {
	switch c := raw[0]; {
	case c == '"':
		body := raw[1 : len(raw)-1]
		if bytes.IndexByte(body, '\\') < 0 {
			return body, scratch, validIDBytes(body)
		}
		u, ok := jsonscan.AppendUnescaped(scratch[:0], body)
		if !ok {
			return nil, u, false
		}
		return u, u, validIDBytes(u)
	case c == '-' || (c >= '0' && c <= '9'):
		return raw, scratch, integerID(raw)
	default:
		return nil, scratch, false
	}
}

// integerID reports whether a JSON number token is an integer Meilisearch
// keeps as an integer (serde_json's u64 or i64). JSON has no leading zeros
// or plus sign, so the token already is its canonical decimal text. "-0"
// parses as a float in serde_json and is rejected.
func integerID(tok []byte) bool {
	digits, limit := tok, "18446744073709551615" // u64 max
	if tok[0] == '-' {
		digits, limit = tok[1:], "9223372036854775808" // -(i64 min)
		if len(digits) == 1 && digits[0] == '0' {
			return false
		}
	}
	if len(digits) == 0 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	// Same length: lexicographic order is numeric order.
	return len(digits) < len(limit) || (len(digits) == len(limit) && string(digits) <= limit)
}
