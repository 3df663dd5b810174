package miroir

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/miroirsearch/miroir/internal/merge"
)

// Raw JSON building blocks. miroir passes what nodes and callers send on
// as bytes where it can (no decode and re-encode): objects are taken
// apart into raw members and rebuilt member by member, and the details
// objects of tasks are built from raw values.

// rawMember is one top-level member of a JSON object, raw.
type rawMember struct {
	key   string
	value []byte
}

// appendMember appends the member key: value to b, an object being
// built (b holds at least its opening brace).
func appendMember(b []byte, key string, value []byte) []byte {
	if len(b) > 1 {
		b = append(b, ',')
	}
	b = merge.AppendString(b, key)
	b = append(b, ':')
	return append(b, value...)
}

// rawNull is JSON null.
var rawNull = json.RawMessage("null")

// rawInt is n as a JSON number.
func rawInt(n int64) json.RawMessage { return strconv.AppendInt(nil, n, 10) }

// rawJSON is v encoded (null when it cannot be).
func rawJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return rawNull
	}
	return b
}

// isTypeError reports whether a decoding error is only a value of an
// unexpected type (the rest of the value is decoded).
func isTypeError(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te)
}
