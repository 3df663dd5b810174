package miroir

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/meilisearch/meilisearch-go"
)

// Proxy routes: documents. Writes go through the Cluster's write path from
// the raw bytes (JSON, NDJSON or CSV, chosen by Content-Type), so that the
// body is routed without being decoded into Go values.

const acceptDocuments = "`application/json`, `application/x-ndjson`, `text/csv`"

func (h *handler) addDocuments(r *http.Request) (reply, error) {
	return h.writeDocuments(r, http.MethodPost)
}

func (h *handler) updateDocuments(r *http.Request) (reply, error) {
	return h.writeDocuments(r, http.MethodPut)
}

// writeDocuments adds (POST) or partially updates (PUT) documents.
func (h *handler) writeDocuments(r *http.Request, method string) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	q := r.URL.Query()
	mt := mediaType(r)
	if q.Has("csvDelimiter") && mt != "text/csv" {
		return reply{}, newError(http.StatusBadRequest, "invalid_document_csv_delimiter",
			"The Content-Type `%s` does not support the use of a csv delimiter. The csv delimiter can only be used with the Content-Type `text/csv`.", mt)
	}
	var kind payloadKind
	var format string
	switch mt {
	case "application/json":
		kind, format = kindJSON, "json"
	case "application/x-ndjson":
		kind, format = kindNDJSON, "ndjson"
	case "text/csv":
		kind, format = kindCSV, "csv"
	case "":
		return reply{}, missingContentType(acceptDocuments)
	default:
		return reply{}, invalidContentType(mt, acceptDocuments)
	}
	body, err := h.readBody(r)
	if err != nil {
		return reply{}, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return reply{}, newError(http.StatusBadRequest, "missing_payload", "A %s payload is missing.", format)
	}
	p := docParams{
		primaryKey:   q.Get("primaryKey"),
		skipCreation: q.Get("skipCreation") == "true",
		csvDelimiter: q.Get("csvDelimiter"),
		hasDelimiter: q.Has("csvDelimiter"),
		metadata:     q.Get("customMetadata"),
	}
	return accepted(one(h.c.index(uid).writeBytes(r.Context(), method, kind, body, 0, p)))
}

// docOptions reads the customMetadata of a deletion.
func docOptions(r *http.Request) *meilisearch.DocumentOptions {
	return &meilisearch.DocumentOptions{TaskCustomMetadata: r.URL.Query().Get("customMetadata")}
}

func (h *handler) deleteAllDocuments(r *http.Request) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	return accepted(h.c.index(uid).DeleteAllDocuments(r.Context(), docOptions(r)))
}

func (h *handler) deleteDocument(r *http.Request) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	return accepted(h.c.index(uid).DeleteDocument(r.Context(), r.PathValue("id"), docOptions(r)))
}

// deleteBatch deletes documents by id; ids may be strings or integers.
func (h *handler) deleteBatch(r *http.Request) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	body, err := h.jsonBody(r, false)
	if err != nil {
		return reply{}, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return reply{}, newError(http.StatusBadRequest, "bad_request", "Json deserialize error: %v", err)
	}
	ids := make([]string, len(raw))
	for i, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			ids[i] = s
			continue
		}
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			ids[i] = strconv.FormatInt(n, 10)
			continue
		}
		return reply{}, newError(http.StatusBadRequest, "invalid_document_id",
			"Document identifier at index %d: `%s` is invalid. A document identifier can be of type integer or string, only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not be more than 511 bytes.", i, v)
	}
	return accepted(h.c.index(uid).DeleteDocuments(r.Context(), ids, docOptions(r)))
}

func (h *handler) deleteByFilter(r *http.Request) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	body, err := h.jsonBody(r, false)
	if err != nil {
		return reply{}, err
	}
	var req struct {
		Filter json.RawMessage `json:"filter"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return reply{}, newError(http.StatusBadRequest, "bad_request", "Json deserialize error: %v", err)
	}
	if len(req.Filter) == 0 || string(req.Filter) == "null" {
		return reply{}, newError(http.StatusBadRequest, "missing_document_filter", "Missing field `filter`")
	}
	return accepted(h.c.index(uid).DeleteDocumentsByFilter(r.Context(), req.Filter, docOptions(r)))
}

func (h *handler) editDocuments(r *http.Request) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	var req meilisearch.UpdateDocumentByFunctionRequest
	if err := h.decodeBody(r, &req, false); err != nil {
		return reply{}, err
	}
	req.TaskCustomMetadata = r.URL.Query().Get("customMetadata")
	return accepted(h.c.index(uid).UpdateDocumentsByFunction(r.Context(), &req))
}

// getDocument reads one document from a replica of its shard.
func (h *handler) getDocument(r *http.Request) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	q := r.URL.Query()
	dq := &meilisearch.DocumentQuery{RetrieveVectors: q.Get("retrieveVectors") == "true"}
	if f := q.Get("fields"); f != "" {
		dq.Fields = splitList(f)
	}
	var doc json.RawMessage
	if err := h.c.index(uid).GetDocument(r.Context(), r.PathValue("id"), dq, &doc); err != nil {
		return reply{}, err
	}
	return reply{body: []byte(doc)}, nil
}

// listDocuments is GET /documents: the query parameters become the body
// of a /documents/fetch.
func (h *handler) listDocuments(r *http.Request) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	q := r.URL.Query()
	var o jsonObject
	for _, n := range []struct{ name, code string }{{"offset", "invalid_document_offset"}, {"limit", "invalid_document_limit"}} {
		if !q.Has(n.name) {
			continue
		}
		v, err := queryInt(r, n.name, n.code, 0)
		if err != nil {
			return reply{}, err
		}
		o.addRaw(n.name, strconv.AppendInt(nil, v, 10))
	}
	if f := q.Get("fields"); f != "" {
		o.add("fields", splitList(f))
	}
	if f := q.Get("filter"); f != "" {
		o.add("filter", f)
	}
	if f := q.Get("ids"); f != "" {
		o.add("ids", splitList(f))
	}
	if f := q.Get("sort"); f != "" {
		o.add("sort", splitList(f))
	}
	if q.Has("retrieveVectors") {
		o.add("retrieveVectors", q.Get("retrieveVectors") == "true")
	}
	out, err := h.c.documentsBody(r.Context(), uid, o.bytes())
	if err != nil {
		return reply{}, err
	}
	return reply{body: out}, nil
}

func (h *handler) fetchDocuments(r *http.Request) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	body, err := h.jsonBody(r, true)
	if err != nil {
		return reply{}, err
	}
	if bytes.TrimSpace(body)[0] != '{' {
		return reply{}, newError(http.StatusBadRequest, "bad_request", "Invalid value type: expected an object, but found %s", jsonKindOf(body))
	}
	out, err := h.c.documentsBody(r.Context(), uid, body)
	if err != nil {
		return reply{}, err
	}
	return reply{body: out}, nil
}

// splitList splits a comma-separated query parameter.
func splitList(v string) []string {
	parts := strings.Split(v, ",")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// jsonKindOf names the kind of a JSON value for error messages.
func jsonKindOf(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '{':
		return "an object"
	}
	return "a number"
}

// jsonObject builds a JSON object member by member, in order.
type jsonObject struct{ b []byte }

func (o *jsonObject) addRaw(key string, v []byte) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	k, _ := json.Marshal(key)
	o.b = append(o.b, k...)
	o.b = append(o.b, ':')
	o.b = append(o.b, v...)
}

func (o *jsonObject) add(key string, v any) {
	b, _ := json.Marshal(v)
	o.addRaw(key, b)
}

func (o *jsonObject) bytes() []byte {
	if len(o.b) == 0 {
		return []byte("{}")
	}
	return append(o.b, '}')
}
