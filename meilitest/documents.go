package meilitest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// parsePayload decodes a documents payload by content type into objects.
// Format errors are reported at request time, like Meilisearch does.
func parsePayload(body []byte, mediaType, csvDelimiter string) ([]map[string]any, *apiError) {
	switch mediaType {
	case "application/json":
		return parseJSONDocs(body)
	case "application/x-ndjson":
		return parseNDJSON(body)
	case "text/csv":
		return parseCSV(body, csvDelimiter)
	case "":
		return nil, newError("missing_content_type", "A Content-Type header is missing. Accepted values for the Content-Type header are: `application/json`, `application/x-ndjson`, `text/csv`")
	default:
		return nil, newError("invalid_content_type", "The Content-Type `%s` is invalid. Accepted values for the Content-Type header are: `application/json`, `application/x-ndjson`, `text/csv`", mediaType)
	}
}

func decodeValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing characters")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing characters")
	}
	return v, nil
}

func parseJSONDocs(body []byte) ([]map[string]any, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, newError("missing_payload", "A json payload is missing.")
	}
	v, err := decodeValue(body)
	if err != nil {
		return nil, newError("malformed_payload", "The `json` payload provided is malformed. `Couldn't serialize document value: %v`.", err)
	}
	switch t := v.(type) {
	case map[string]any:
		return []map[string]any{t}, nil
	case []any:
		out := make([]map[string]any, 0, len(t))
		for i, x := range t {
			m, ok := x.(map[string]any)
			if !ok {
				return nil, newError("malformed_payload", "The `json` payload provided is malformed. `Couldn't serialize document value: invalid type: %s at document %d, expected a map`.", jsonKind(x), i)
			}
			out = append(out, m)
		}
		return out, nil
	default:
		return nil, newError("malformed_payload", "The `json` payload provided is malformed. `Couldn't serialize document value: invalid type: %s, expected an array or a map`.", jsonKind(v))
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "sequence"
	default:
		return "map"
	}
}

func parseNDJSON(body []byte) ([]map[string]any, *apiError) {
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), maxPayload)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		v, err := decodeValue(b)
		if err != nil {
			return nil, newError("malformed_payload", "The `ndjson` payload provided is malformed. `Couldn't serialize document value: %v at line %d`.", err, line)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, newError("malformed_payload", "The `ndjson` payload provided is malformed. `Couldn't serialize document value: invalid type: %s at line %d, expected a map`.", jsonKind(v), line)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, newError("malformed_payload", "The `ndjson` payload provided is malformed. `%v`.", err)
	}
	if len(out) == 0 && len(bytes.TrimSpace(body)) == 0 {
		return nil, newError("missing_payload", "A ndjson payload is missing.")
	}
	return out, nil
}

// parseCSV reads Meilisearch's CSV format: a header of `name` or
// `name:type` (string, number, boolean), empty cells are null.
func parseCSV(body []byte, delimiter string) ([]map[string]any, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, newError("missing_payload", "A csv payload is missing.")
	}
	rd := csv.NewReader(bytes.NewReader(body))
	if delimiter != "" {
		rs := []rune(delimiter)
		if len(rs) != 1 || rs[0] > 127 {
			return nil, newError("invalid_document_csv_delimiter", "Invalid value in parameter `csvDelimiter`: expected a string of one character, but found the following string of %d characters: `%s`", len(rs), delimiter)
		}
		rd.Comma = rs[0]
	}
	rd.FieldsPerRecord = 0
	header, err := rd.Read()
	if err != nil {
		return nil, newError("malformed_payload", "The `csv` payload provided is malformed: `%v`.", err)
	}
	names := make([]string, len(header))
	types := make([]string, len(header))
	for i, h := range header {
		name, typ := h, "string"
		if j := strings.LastIndexByte(h, ':'); j >= 0 {
			switch t := h[j+1:]; t {
			case "string", "number", "boolean":
				name, typ = h[:j], t
			}
		}
		names[i], types[i] = name, typ
	}
	var out []map[string]any
	for line := 2; ; line++ {
		rec, err := rd.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, newError("malformed_payload", "The `csv` payload provided is malformed: `%v`.", err)
		}
		doc := make(map[string]any, len(rec))
		for i, cell := range rec {
			if cell == "" {
				doc[names[i]] = nil
				continue
			}
			switch types[i] {
			case "number":
				if _, err := strconv.ParseFloat(cell, 64); err != nil {
					return nil, newError("malformed_payload", "The `csv` payload provided is malformed: `Error parsing number %q at line %d: %v`.", cell, line, err)
				}
				doc[names[i]] = json.Number(strings.TrimSpace(cell))
			case "boolean":
				b, err := strconv.ParseBool(strings.TrimSpace(cell))
				if err != nil {
					return nil, newError("malformed_payload", "The `csv` payload provided is malformed: `Error parsing boolean %q at line %d`.", cell, line)
				}
				doc[names[i]] = b
			default:
				doc[names[i]] = cell
			}
		}
		out = append(out, doc)
	}
	return out, nil
}

// documentID validates a primary key value and returns its canonical text:
// strings as they are, integers in decimal.
func documentID(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, validDocIDString(t)
	case json.Number:
		s := t.String()
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			if _, err := strconv.ParseUint(s, 10, 64); err != nil {
				return s, false
			}
		}
		return s, true
	default:
		return "", false
	}
}

func validDocIDString(s string) bool {
	if s == "" || len(s) > 511 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func invalidIDError(v any) *apiError {
	b, _ := json.Marshal(v)
	return newError("invalid_document_id", "Document identifier `%s` is invalid. A document identifier can be of type integer or string, only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not be more than 511 bytes.", b)
}

// inferPrimaryKey finds the single top-level attribute whose name ends with
// "id" (case-insensitively), as Meilisearch does on the first document.
func inferPrimaryKey(doc map[string]any) (string, *apiError) {
	var cands []string
	for k := range doc {
		if strings.HasSuffix(strings.ToLower(k), "id") {
			cands = append(cands, k)
		}
	}
	switch len(cands) {
	case 1:
		return cands[0], nil
	case 0:
		return "", newError("index_primary_key_no_candidate_found", "The primary key inference failed as the engine did not find any field ending with `id` in its name. Please specify the primary key manually using the `primaryKey` query parameter.")
	default:
		sortStrings(cands)
		return "", newError("index_primary_key_multiple_candidates_found", "The primary key inference failed as the engine found %d fields ending with `id` in their names: '%s' and '%s'. Please specify the primary key manually using the `primaryKey` query parameter.", len(cands), cands[0], cands[1])
	}
}

// lookupPath returns the value at a dotted path of a document (the
// top-level key may itself contain dots, which Meilisearch allows).
func lookupPath(doc map[string]any, path string) (any, bool) {
	if v, ok := doc[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := doc[path[:i]].(map[string]any); ok {
			if v, ok := lookupPath(sub, path[i+1:]); ok {
				return v, true
			}
		}
	}
	return nil, false
}

// projectDocument returns the fields of doc that match one of the patterns
// ("*", an exact name, a dotted path into nested objects, or a prefix
// pattern "name*"). A nil pattern list means every field.
func projectDocument(doc map[string]any, patterns []string) map[string]any {
	if patterns == nil {
		return doc
	}
	for _, p := range patterns {
		if p == "*" {
			return doc
		}
	}
	out := make(map[string]any, len(patterns))
	for k, v := range doc {
		if matchesAny(k, patterns) {
			out[k] = v
			continue
		}
		// nested selection: keep only the selected sub-fields
		if sub, ok := v.(map[string]any); ok {
			var inner []string
			for _, p := range patterns {
				if strings.HasPrefix(p, k+".") {
					inner = append(inner, p[len(k)+1:])
				}
			}
			if len(inner) > 0 {
				if m := projectDocument(sub, inner); len(m) > 0 {
					out[k] = m
				}
			}
		}
	}
	return out
}

func matchesAny(name string, patterns []string) bool {
	for _, p := range patterns {
		if p == name || p == "*" {
			return true
		}
		if strings.HasSuffix(p, "*") && strings.HasPrefix(name, p[:len(p)-1]) {
			return true
		}
	}
	return false
}

// displayed applies fields to a document the documents routes return.
// displayedAttributes does not apply there: Meilisearch's documents routes
// (routes/indexes/documents.rs, some_documents) render every field of the
// fields ids map and only then select `fields`; only search hides the
// undisplayed attributes.
func displayed(_ *settings, doc map[string]any, fields []string) map[string]any {
	return projectDocument(doc, fields)
}
