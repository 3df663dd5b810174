package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/apierr"
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
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	q := r.URL.Query()
	mt := mediaType(r)
	if q.Has("csvDelimiter") && mt != "text/csv" {
		return reply{}, apierr.New(http.StatusBadRequest, "invalid_document_csv_delimiter",
			"The Content-Type `%s` does not support the use of a csv delimiter. The csv delimiter can only be used with the Content-Type `text/csv`.", mt)
	}
	var format string
	switch mt {
	case "application/json":
		format = "json"
	case "application/x-ndjson":
		format = "ndjson"
	case "text/csv":
		format = "csv"
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
		return reply{}, apierr.New(http.StatusBadRequest, "missing_payload", "A %s payload is missing.", format)
	}
	return accepted(h.b.WriteDocuments(r.Context(), uid, DocumentWrite{
		Method:         method,
		Format:         format,
		Body:           body,
		PrimaryKey:     q.Get("primaryKey"),
		SkipCreation:   q.Get("skipCreation") == "true",
		CSVDelimiter:   q.Get("csvDelimiter"),
		HasDelimiter:   q.Has("csvDelimiter"),
		CustomMetadata: q.Get("customMetadata"),
	}))
}

// docOptions reads the customMetadata of a deletion.
func docOptions(r *http.Request) *meilisearch.DocumentOptions {
	return &meilisearch.DocumentOptions{TaskCustomMetadata: r.URL.Query().Get("customMetadata")}
}

func (h *handler) deleteAllDocuments(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	return accepted(h.b.Service().Index(uid).DeleteAllDocuments(r.Context(), docOptions(r)))
}

func (h *handler) deleteDocument(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	return accepted(h.b.Service().Index(uid).DeleteDocument(r.Context(), r.PathValue("id"), docOptions(r)))
}

// deleteBatch deletes documents by id; ids may be strings or integers.
func (h *handler) deleteBatch(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	body, err := h.jsonBody(r, false)
	if err != nil {
		return reply{}, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return reply{}, apierr.New(http.StatusBadRequest, "bad_request", "Json deserialize error: %v", err)
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
		return reply{}, apierr.New(http.StatusBadRequest, "invalid_document_id",
			"Document identifier at index %d: `%s` is invalid. A document identifier can be of type integer or string, only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not be more than 511 bytes.", i, v)
	}
	return accepted(h.b.Service().Index(uid).DeleteDocuments(r.Context(), ids, docOptions(r)))
}

func (h *handler) deleteByFilter(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
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
		return reply{}, apierr.New(http.StatusBadRequest, "bad_request", "Json deserialize error: %v", err)
	}
	if len(req.Filter) == 0 || string(req.Filter) == "null" {
		return reply{}, apierr.New(http.StatusBadRequest, "missing_document_filter", "Missing field `filter`")
	}
	return accepted(h.b.Service().Index(uid).DeleteDocumentsByFilter(r.Context(), req.Filter, docOptions(r)))
}

func (h *handler) editDocuments(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	var req meilisearch.UpdateDocumentByFunctionRequest
	if err := h.decodeBody(r, &req, false); err != nil {
		return reply{}, err
	}
	req.TaskCustomMetadata = r.URL.Query().Get("customMetadata")
	return accepted(h.b.Service().Index(uid).UpdateDocumentsByFunction(r.Context(), &req))
}

// getDocument reads one document from a replica of its shard.
func (h *handler) getDocument(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	q := r.URL.Query()
	dq := &meilisearch.DocumentQuery{RetrieveVectors: q.Get("retrieveVectors") == "true"}
	if f := q.Get("fields"); f != "" {
		dq.Fields = splitList(f)
	}
	var doc json.RawMessage
	if err := h.b.Service().Index(uid).GetDocument(r.Context(), r.PathValue("id"), dq, &doc); err != nil {
		return reply{}, err
	}
	return reply{body: []byte(doc)}, nil
}

// listDocuments is GET /documents: the query parameters become the body
// of a /documents/fetch.
func (h *handler) listDocuments(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
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
	out, err := h.b.FetchDocuments(r.Context(), uid, o.bytes())
	if err != nil {
		return reply{}, err
	}
	return reply{body: out}, nil
}

func (h *handler) fetchDocuments(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	body, err := h.jsonBody(r, true)
	if err != nil {
		return reply{}, err
	}
	if bytes.TrimSpace(body)[0] != '{' {
		return reply{}, apierr.New(http.StatusBadRequest, "bad_request", "Invalid value type: expected an object, but found %s", jsonKindOf(body))
	}
	out, err := h.b.FetchDocuments(r.Context(), uid, body)
	if err != nil {
		return reply{}, err
	}
	return reply{body: out}, nil
}
