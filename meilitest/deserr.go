package meilitest

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Helpers for request bodies read the way Meilisearch reads them with
// deserr: the first error stops, in the order of the body, and messages
// follow deserr's JsonError wording.

// deserrFound is deserr's description of a value it did not expect: its
// kind and compact JSON, or just "null".
func deserrFound(raw json.RawMessage) string {
	if keyIsNull(raw) {
		return "null"
	}
	return keyJSONKind(raw) + ": `" + keyCompactJSON(raw) + "`"
}

// deserrTypeError is deserr's IncorrectValueKind message; path is the
// location without its backquotes ("" at the root).
func deserrTypeError(code, path, want string, raw json.RawMessage) *apiError {
	at := ""
	if path != "" {
		at = " at `" + path + "`"
	}
	return newError(code, "Invalid value type%s: expected %s, but found %s", at, want, deserrFound(raw))
}

// deserrUnknownField is deserr's UnknownKey message, "did you mean" hint
// included.
func deserrUnknownField(code, path, key string, accepted []string) *apiError {
	inside := ""
	if path != "" {
		inside = " inside `" + path + "`"
	}
	return newError(code, "Unknown field `%s`%s: %sexpected one of %s", key, inside, deserrDidYouMean(key, accepted), keyBackquoteList(accepted))
}

// deserrMissingField is deserr's MissingField message.
func deserrMissingField(code, path, field string) *apiError {
	if path == "" {
		return newError(code, "Missing field `%s`", field)
	}
	return newError(code, "Missing field `%s` inside `%s`", field, path)
}

// deserrDidYouMean is deserr's did_you_mean: the closest accepted name by
// Damerau-Levenshtein distance, within a typo budget set by the received
// name's length in bytes, or "".
func deserrDidYouMean(received string, accepted []string) string {
	var allowed int
	switch n := len(received); {
	case n <= 3:
		return ""
	case n <= 7:
		allowed = 1
	case n <= 12:
		allowed = 2
	case n <= 17:
		allowed = 3
	case n <= 24:
		allowed = 4
	default:
		allowed = 5
	}
	best, bestDist := "", -1
	for _, a := range accepted {
		d := damerauLevenshtein(received, a)
		if d <= allowed && (bestDist < 0 || d < bestDist) {
			best, bestDist = a, d
		}
	}
	if bestDist < 0 {
		return ""
	}
	return fmt.Sprintf("did you mean `%s`? ", best)
}

// damerauLevenshtein is the unrestricted Damerau-Levenshtein distance
// (transpositions of non-adjacent edits allowed), over characters.
func damerauLevenshtein(a, b string) int {
	ar, br := []rune(a), []rune(b)
	n, m := len(ar), len(br)
	if n == 0 {
		return m
	}
	if m == 0 {
		return n
	}
	inf := n + m
	d := make([][]int, n+2)
	for i := range d {
		d[i] = make([]int, m+2)
	}
	d[0][0] = inf
	for i := 0; i <= n; i++ {
		d[i+1][0], d[i+1][1] = inf, i
	}
	for j := 0; j <= m; j++ {
		d[0][j+1], d[1][j+1] = inf, j
	}
	last := map[rune]int{}
	for i := 1; i <= n; i++ {
		lastMatch := 0
		for j := 1; j <= m; j++ {
			k, l := last[br[j-1]], lastMatch
			cost := 1
			if ar[i-1] == br[j-1] {
				cost, lastMatch = 0, j
			}
			d[i+1][j+1] = min(d[i][j]+cost, d[i+1][j]+1, d[i][j+1]+1, d[k][l]+(i-k-1)+1+(j-l-1))
		}
		last[ar[i-1]] = i
	}
	return d[n+1][m+1]
}

// jsonField is one key of a JSON object, in body order.
type jsonField struct {
	key string
	raw json.RawMessage
}

// jsonObjectFields returns the fields of raw in body order, or false when
// raw is not an object. A repeated key keeps its first place and its last
// value, as serde_json's order-preserving map does.
func jsonObjectFields(raw json.RawMessage) ([]jsonField, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	var out []jsonField
	at := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		if i, ok := at[k]; ok {
			out[i].raw = v
			continue
		}
		at[k] = len(out)
		out = append(out, jsonField{k, v})
	}
	return out, true
}

// jsonArray returns the elements of raw, or false when it is not an array.
func jsonArray(raw json.RawMessage) ([]json.RawMessage, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '[' {
		return nil, false
	}
	var out []json.RawMessage
	if json.Unmarshal(t, &out) != nil {
		return nil, false
	}
	return out, true
}
