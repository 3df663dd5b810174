package miroir

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// The offset and limit of a documents listing (POST /documents/fetch, and
// what Index.GetDocuments sends), read as Meilisearch reads its
// BrowseQuery: usize values, anything else refused with deserr's type
// error and the parameter's own code.

// documentsPaging reads offset or limit: a non-negative integer (one
// beyond int64 is as good as the largest, more than any index holds);
// anything else, null included, is invalid_document_offset or
// invalid_document_limit.
func documentsPaging(name string, v []byte) (int64, error) {
	n, err := strconv.ParseUint(string(v), 10, 64)
	if err == nil {
		return int64(min(n, math.MaxInt64)), nil
	}
	if numErr, ok := err.(*strconv.NumError); ok && numErr.Err == strconv.ErrRange {
		return math.MaxInt64, nil
	}
	return 0, badParam("invalid_document_"+name, "Invalid value type at `.%s`: expected a positive integer, but found %s", name, deserrFound(v))
}

// deserrFound describes a JSON value as deserr does in a type error: its
// kind and its compact JSON, or "null".
func deserrFound(v []byte) string {
	v = bytes.TrimSpace(v)
	kind := "a number"
	switch {
	case len(v) == 0 || v[0] == 'n':
		return "null"
	case v[0] == '"':
		kind = "a string"
	case v[0] == '[':
		kind = "an array"
	case v[0] == '{':
		kind = "an object"
	case v[0] == 't' || v[0] == 'f':
		kind = "a boolean"
	case v[0] == '-' && !bytes.ContainsAny(v, ".eE"):
		kind = "a negative integer"
	}
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return kind + ": `" + string(v) + "`"
	}
	return kind + ": `" + b.String() + "`"
}
