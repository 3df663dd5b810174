package meilitest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miroirsearch/miroir/internal/keyauth"
)

// The /keys routes (crates/meilisearch/src/routes/api_key.rs). authorize
// has already checked the caller holds the master key or a key granting the
// route's keys.* action.

var createKeyFields = []string{"description", "name", "uid", "actions", "indexes", "expiresAt"}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) {
	for p := range r.URL.Query() {
		if p != "offset" && p != "limit" {
			writeError(w, newError("bad_request", "Unknown parameter `%s`: expected one of `offset`, `limit`", p))
			return
		}
	}
	offset, e := queryInt(r, "offset", 0, "invalid_api_key_offset")
	if e != nil {
		writeError(w, e)
		return
	}
	limit, e := queryInt(r, "limit", 20, "invalid_api_key_limit")
	if e != nil {
		writeError(w, e)
		return
	}
	s.keys.mu.RLock()
	all := s.keys.sortedKeysLocked()
	total := len(all)
	page := make([]keyView, 0, min(limit, total))
	for _, k := range all[min(offset, total):min(offset+limit, total)] {
		page = append(page, k.view())
	}
	s.keys.mu.RUnlock()
	writeJSON(w, http.StatusOK, pageJSON[keyView, int]{Results: page, Offset: offset, Limit: limit, Total: total})
}

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	k, err := parseCreateKey(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ks := s.keys
	ks.mu.Lock()
	if _, exists := ks.keys[k.uid]; exists {
		ks.mu.Unlock()
		writeError(w, newError("api_key_already_exists", "`uid` field value `%s` is already an existing API key.", k.uid))
		return
	}
	now := time.Now().UTC()
	k.createdAt, k.updatedAt = now, now
	ks.insertLocked(k)
	v := k.view()
	ks.mu.Unlock()
	writeJSON(w, http.StatusCreated, v)
}

// parseCreateKey validates a POST /keys body like Meilisearch's
// CreateApiKey deserialiser.
func parseCreateKey(r *http.Request) (*apiKey, error) {
	var body map[string]json.RawMessage
	if err := decodeJSONBody(r, &body); err != nil {
		return nil, err
	}
	if body == nil {
		return nil, newError("bad_request", "Invalid value type: expected an object, but found null")
	}
	for f := range body {
		if !slices.Contains(createKeyFields, f) {
			return nil, newError("bad_request", "Unknown field `%s`: expected one of %s", f, keyBackquoteList(createKeyFields))
		}
	}
	k := &apiKey{}
	var err error
	if k.description, err = keyOptString(body, "description", "invalid_api_key_description"); err != nil {
		return nil, err
	}
	if k.name, err = keyOptString(body, "name", "invalid_api_key_name"); err != nil {
		return nil, err
	}
	if raw, ok := body["uid"]; ok && !keyIsNull(raw) {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, keyTypeError(".uid", "a string", raw, "invalid_api_key_uid")
		}
		if k.uid, err = keyParseUUID(s); err != nil {
			return nil, newError("invalid_api_key_uid", "Invalid value at `.uid`: %v", err)
		}
	} else {
		k.uid = newKeyUID()
	}
	if raw, ok := body["actions"]; ok {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil || list == nil {
			return nil, keyTypeError(".actions", "an array", raw, "invalid_api_key_actions")
		}
		k.actions = make([]string, 0, len(list))
		for i, item := range list {
			var a string
			if json.Unmarshal(item, &a) != nil {
				return nil, keyTypeErrorAt(".actions", i, "a string", item, "invalid_api_key_actions")
			}
			if !keyauth.ValidAction(a) {
				return nil, newError("invalid_api_key_actions", "Unknown value `%s` at `.actions[%d]`: expected one of %s", a, i, keyBackquoteList(validActions))
			}
			k.actions = append(k.actions, a)
		}
	}
	if raw, ok := body["indexes"]; ok {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil || list == nil {
			return nil, keyTypeError(".indexes", "an array", raw, "invalid_api_key_indexes")
		}
		k.indexes = make([]string, 0, len(list))
		for i, item := range list {
			var p string
			if err := json.Unmarshal(item, &p); err != nil {
				var n json.Number
				if json.Unmarshal(item, &n) != nil {
					return nil, keyTypeErrorAt(".indexes", i, "a string", item, "invalid_api_key_indexes")
				}
				p = n.String()
			}
			if !validIndexPattern(p) {
				return nil, newError("invalid_api_key_indexes", "Invalid value at `.indexes[%d]`: `%s` is not a valid index uid pattern. Index uid patterns can be an integer or a string containing only alphanumeric characters, hyphens (-), underscores (_), and optionally end with a star (*).", i, p)
			}
			k.indexes = append(k.indexes, p)
		}
	}
	if raw, ok := body["expiresAt"]; ok && !keyIsNull(raw) {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, keyTypeError(".expiresAt", "a string", raw, "invalid_api_key_expires_at")
		}
		t, ok := parseExpiration(s)
		if !ok {
			return nil, newError("invalid_api_key_expires_at", "Invalid value at `.expiresAt`: `%s` is not a valid date. It should follow the RFC 3339 format to represents a date or datetime in the future or specified as a null value. e.g. 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'.\n", s)
		}
		k.expiresAt = &t
	}
	switch {
	case body["actions"] == nil:
		return nil, newError("missing_api_key_actions", "Missing field `actions`")
	case body["indexes"] == nil:
		return nil, newError("missing_api_key_indexes", "Missing field `indexes`")
	case body["expiresAt"] == nil:
		return nil, newError("missing_api_key_expires_at", "Missing field `expiresAt`")
	}
	return k, nil
}

// parseExpiration is meilisearch-types parse_expiration_date: RFC 3339,
// or a UTC date-time without offset ("T" or space separated), or a date;
// it must lie in the future.
func parseExpiration(s string) (time.Time, bool) {
	var t time.Time
	var err error
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err = time.Parse(layout, s); err == nil {
			break
		}
	}
	if err != nil || !t.After(time.Now()) {
		return time.Time{}, false
	}
	return t.UTC(), true
}

func (s *Server) handleGetKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("key")
	s.keys.mu.RLock()
	k := s.keys.lookupLocked(id)
	var v keyView
	if k != nil {
		v = k.view()
	}
	s.keys.mu.RUnlock()
	if k == nil {
		writeError(w, keyNotFound(id))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleUpdateKey(w http.ResponseWriter, r *http.Request) {
	var body map[string]json.RawMessage
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	for f := range body {
		switch f {
		case "name", "description":
		case "uid", "actions", "indexes", "expiresAt", "createdAt", "updatedAt":
			writeError(w, newError("immutable_api_key_"+keySnakeCase(f), "Immutable field `%s`: expected one of `description`, `name`", f))
			return
		default:
			writeError(w, newError("bad_request", "Unknown field `%s`: expected one of `description`, `name`", f))
			return
		}
	}
	var name, desc *string
	var err error
	if desc, err = keyOptString(body, "description", "invalid_api_key_description"); err != nil {
		writeError(w, err)
		return
	}
	if name, err = keyOptString(body, "name", "invalid_api_key_name"); err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("key")
	ks := s.keys
	ks.mu.Lock()
	k := ks.lookupLocked(id)
	if k == nil {
		ks.mu.Unlock()
		writeError(w, keyNotFound(id))
		return
	}
	if _, ok := body["description"]; ok {
		k.description = desc
	}
	if _, ok := body["name"]; ok {
		k.name = name
	}
	k.updatedAt = time.Now().UTC()
	v := k.view()
	ks.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleDeleteKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("key")
	ks := s.keys
	ks.mu.Lock()
	k := ks.lookupLocked(id)
	if k != nil {
		delete(ks.keys, k.uid)
	}
	ks.mu.Unlock()
	if k == nil {
		writeError(w, keyNotFound(id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func keyNotFound(id string) *apiError {
	return newError("api_key_not_found", "API key `%s` not found.", id)
}

// ---- small JSON helpers ----------------------------------------------------

func keyIsNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// keyOptString reads a string-or-null field; absent and null are nil.
func keyOptString(body map[string]json.RawMessage, field, code string) (*string, error) {
	raw, ok := body[field]
	if !ok || keyIsNull(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, keyTypeError("."+field, "a string", raw, code)
	}
	return &s, nil
}

// keyTypeError is deserr's "Invalid value type" message.
func keyTypeError(path, want string, raw json.RawMessage, code string) *apiError {
	return newError(code, "Invalid value type at `%s`: expected %s, but found %s: `%s`", path, want, keyJSONKind(raw), keyCompactJSON(raw))
}

func keyTypeErrorAt(path string, i int, want string, raw json.RawMessage, code string) *apiError {
	return keyTypeError(path+"["+strconv.Itoa(i)+"]", want, raw, code)
}

func keyJSONKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "null"
	}
	switch t[0] {
	case '[':
		return "an array"
	case '{':
		return "an object"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '-':
		return "a negative integer"
	}
	if bytes.ContainsAny(t, ".eE") {
		return "a number"
	}
	return "a positive integer"
}

func keyCompactJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

func keyBackquoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + n + "`"
	}
	return strings.Join(q, ", ")
}

// keySnakeCase turns expiresAt into expires_at for error codes.
func keySnakeCase(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'A' && c <= 'Z' {
			b.WriteByte('_')
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

func newKeyUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return keyFormatUUID(b)
}
