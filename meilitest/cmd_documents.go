package meilitest

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (s *Server) handleAddDocuments(w http.ResponseWriter, r *http.Request) {
	s.writeDocuments(w, r, false)
}

func (s *Server) handleUpdateDocuments(w http.ResponseWriter, r *http.Request) {
	s.writeDocuments(w, r, true)
}

// writeDocuments enqueues an addition (replace) or a partial update.
// Payload format errors answer at once; id and primary key errors fail the
// task, as in Meilisearch.
func (s *Server) writeDocuments(w http.ResponseWriter, r *http.Request, partial bool) {
	uid := r.PathValue("uid")
	if e := checkIndexUID(uid); e != nil {
		writeError(w, e)
		return
	}
	q := r.URL.Query()
	mt := mediaType(r)
	if q.Has("csvDelimiter") && mt != "text/csv" {
		writeError(w, newError("invalid_document_csv_delimiter", "The Content-Type `%s` does not support the use of a csv delimiter. The csv delimiter can only be used with the Content-Type `text/csv`.", mt))
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	docs, e := parsePayload(body, mt, q.Get("csvDelimiter"))
	if e != nil {
		writeError(w, e)
		return
	}
	pkParam := q.Get("primaryKey")
	// skipCreation: documents whose id is not in the index yet are skipped,
	// only existing ones are replaced or updated.
	skipCreation := q.Get("skipCreation") == "true"
	details := map[string]any{"receivedDocuments": len(docs), "indexedDocuments": nil}
	// A key that may not create the index fails the task when the index
	// is missing (Meilisearch's allow_index_creation, fixed at enqueue).
	mayCreate := allowIndexCreation(r, uid)
	sum := s.tasks.enqueue(r, uid, "documentAdditionOrUpdate", details, func(_ int64, d map[string]any) *apiError {
		now := time.Now().UTC()
		ix, ok := s.indexes[uid]
		created := false
		if !ok {
			if !mayCreate {
				return newError("index_not_found", "Index `%s` not found.", uid)
			}
			ix = newIndex(uid, "", now)
			created = true
		}
		pk := ix.primaryKey
		if pk == "" {
			pk = pkParam
		} else if pkParam != "" && pkParam != pk {
			return newError("index_primary_key_already_exists", "Index `%s`: Index already has a primary key: `%s`.", uid, pk)
		}
		if pk == "" && len(docs) > 0 {
			var e *apiError
			if pk, e = inferPrimaryKey(docs[0]); e != nil {
				return e
			}
		}
		ids := make([]string, len(docs))
		for i, doc := range docs {
			v, ok := lookupPath(doc, pk)
			if !ok {
				b, _ := json.Marshal(doc)
				return newError("missing_document_id", "Document doesn't have a `%s` attribute: `%s`.", pk, b)
			}
			id, valid := documentID(v)
			if !valid {
				return invalidIDError(v)
			}
			ids[i] = id
		}
		if created {
			s.indexes[uid] = ix
		}
		if pk != "" {
			ix.primaryKey = pk
		}
		indexed := 0
		for i, doc := range docs {
			old, exists := ix.docs[ids[i]]
			if skipCreation && !exists {
				continue
			}
			indexed++
			if exists && partial {
				merged := maps.Clone(old.fields)
				maps.Copy(merged, doc)
				ix.put(ids[i], merged)
				continue
			}
			ix.put(ids[i], doc)
		}
		ix.updatedAt = now
		d["indexedDocuments"] = indexed
		return nil
	}, withPayload(docs))
	writeJSON(w, http.StatusAccepted, sum)
}

func (s *Server) handleGetDocument(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ix, err := s.readIndex(r.PathValue("uid"))
	if err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("id")
	d, ok := ix.docs[id]
	if !ok {
		writeError(w, newError("document_not_found", "Document `%s` not found.", id))
		return
	}
	var fields []string
	if v := r.URL.Query().Get("fields"); v != "" {
		fields = splitList(v)
	}
	writeJSON(w, http.StatusOK, withVectors(ix.settings, displayed(ix.settings, d.fields, fields), d.fields, r.URL.Query().Get("retrieveVectors") == "true"))
}

// documentsQuery is the body of POST /documents/fetch and the query of GET.
type documentsQuery struct {
	Offset          *int     `json:"offset"`
	Limit           *int     `json:"limit"`
	Fields          []string `json:"fields"`
	Filter          any      `json:"filter"`
	IDs             []any    `json:"ids"`
	RetrieveVectors bool     `json:"retrieveVectors"`
	Sort            []string `json:"sort"`
}

// splitSortParam splits the GET sort parameter on commas outside
// parentheses, so _geoPoint(1, 2):asc stays whole.
func splitSortParam(v string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || (v[i] == ',' && depth == 0) {
			if p := strings.TrimSpace(v[start:i]); p != "" {
				out = append(out, p)
			}
			start = i + 1
			continue
		}
		switch v[i] {
		case '(':
			depth++
		case ')':
			depth--
		}
	}
	return out
}

// sortDocuments orders docs by the sort rules (stable: ties keep docid order).
func sortDocuments(docs []*document, specs []sortSpec) {
	if len(specs) == 0 {
		return
	}
	sort.SliceStable(docs, func(i, j int) bool {
		for _, sp := range specs {
			if sp.geo {
				continue
			}
			c := compareSort(docSortValue(docs[i].fields, sp.field, sp.asc), docSortValue(docs[j].fields, sp.field, sp.asc), sp.asc)
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
}

func (s *Server) handleListDocuments(w http.ResponseWriter, r *http.Request) {
	q := documentsQuery{}
	offset, e := queryInt(r, "offset", 0, "invalid_document_offset")
	if e != nil {
		writeError(w, e)
		return
	}
	limit, e := queryInt(r, "limit", 20, "invalid_document_limit")
	if e != nil {
		writeError(w, e)
		return
	}
	q.Offset, q.Limit = &offset, &limit
	v := r.URL.Query()
	if f := v.Get("fields"); f != "" {
		q.Fields = splitList(f)
	}
	if f := v.Get("filter"); f != "" {
		q.Filter = f
	}
	if f := v.Get("ids"); f != "" {
		for _, id := range splitList(f) {
			q.IDs = append(q.IDs, id)
		}
	}
	q.RetrieveVectors = v.Get("retrieveVectors") == "true"
	if f := v.Get("sort"); f != "" {
		q.Sort = splitSortParam(f)
	}
	s.listDocuments(w, r.PathValue("uid"), q)
}

func (s *Server) handleFetchDocuments(w http.ResponseWriter, r *http.Request) {
	// offset and limit are read raw (the outer fields hide the embedded
	// ones) so that a value of another kind gets deserr's own error.
	var b struct {
		documentsQuery
		Offset json.RawMessage `json:"offset"`
		Limit  json.RawMessage `json:"limit"`
	}
	if err := decodeJSON(r, &b, true); err != nil {
		writeError(w, err)
		return
	}
	q := b.documentsQuery
	var e *apiError
	if q.Offset, e = fetchPaging("invalid_document_offset", ".offset", b.Offset); e != nil {
		writeError(w, e)
		return
	}
	if q.Limit, e = fetchPaging("invalid_document_limit", ".limit", b.Limit); e != nil {
		writeError(w, e)
		return
	}
	s.listDocuments(w, r.PathValue("uid"), q)
}

// fetchPaging reads the offset or limit of a /documents/fetch body, a
// usize in Meilisearch: absent is nil (the default); anything but a
// non-negative integer, null included, is deserr's type error.
func fetchPaging(code, path string, raw json.RawMessage) (*int, *apiError) {
	if raw == nil {
		return nil, nil
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
	if err != nil || n < 0 {
		return nil, deserrTypeError(code, path, "a positive integer", raw)
	}
	return &n, nil
}

func (s *Server) listDocuments(w http.ResponseWriter, uid string, q documentsQuery) {
	offset, limit := 0, 20
	if q.Offset != nil {
		offset = *q.Offset
	}
	if q.Limit != nil {
		limit = *q.Limit
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ix, err := s.readIndex(uid)
	if err != nil {
		writeError(w, err)
		return
	}
	expr, perr := parseFilter(q.Filter)
	if perr != nil {
		writeError(w, newError("invalid_document_filter", "%s", perr.Error()))
		return
	}
	if expr != nil {
		if ferr := checkFilterable(expr, ix.settings); ferr != nil {
			writeError(w, newError("invalid_document_filter", "%s", ferr.Error()))
			return
		}
	}
	var want map[string]bool
	if q.IDs != nil {
		want = map[string]bool{}
		for _, v := range q.IDs {
			if n, ok := v.(json.Number); ok {
				want[n.String()] = true
			} else if s, ok := v.(string); ok {
				want[s] = true
			}
		}
	}
	all := ix.documents()
	if want != nil && len(q.Sort) == 0 {
		// Like Meilisearch, which turns the ids into internal ids, a
		// fetch by ids costs the ids, not the index: only their
		// documents are visited, in document order.
		sel := make([]*document, 0, len(want))
		for id := range want {
			if d, ok := ix.docs[id]; ok {
				sel = append(sel, d)
			}
		}
		sort.Slice(sel, func(i, j int) bool { return sel[i].seq < sel[j].seq })
		all = sel
	}
	if len(q.Sort) > 0 {
		// Documents are sorted like search results, on sortable attributes
		// only; the sort ranking rule is not required here.
		st := *ix.settings
		st.RankingRules = []string{"sort"}
		specs, e := parseSort(&st, q.Sort)
		if e != nil {
			e.Code = "invalid_document_sort"
			e.Link = "https://docs.meilisearch.com/errors#invalid_document_sort"
			writeError(w, e)
			return
		}
		all = append([]*document(nil), all...)
		sortDocuments(all, specs)
	}
	results := make([]map[string]any, 0, min(limit, 1000))
	total := 0
	for _, d := range all {
		if want != nil && !want[d.id] {
			continue
		}
		if expr != nil && !expr.matches(d.fields) {
			continue
		}
		if total >= offset && len(results) < limit {
			results = append(results, withVectors(ix.settings, displayed(ix.settings, d.fields, q.Fields), d.fields, q.RetrieveVectors))
		}
		total++
	}
	writeJSON(w, http.StatusOK, pageJSON[map[string]any, int]{Results: results, Offset: offset, Limit: limit, Total: total})
}

func (s *Server) handleDeleteDocument(w http.ResponseWriter, r *http.Request) {
	uid, id := r.PathValue("uid"), r.PathValue("id")
	s.enqueueDeletion(w, r, uid, []string{id}, map[string]any{"providedIds": 1, "deletedDocuments": nil})
}

func (s *Server) handleDeleteBatch(w http.ResponseWriter, r *http.Request) {
	var ids []any
	if err := decodeJSONBody(r, &ids); err != nil {
		writeError(w, err)
		return
	}
	strs := make([]string, 0, len(ids))
	for _, v := range ids {
		switch t := v.(type) {
		case string:
			strs = append(strs, t)
		case json.Number:
			strs = append(strs, t.String())
		default:
			writeError(w, newError("invalid_document_id", "Invalid value type: expected a string or an integer, found %s", jsonKind(v)))
			return
		}
	}
	s.enqueueDeletion(w, r, r.PathValue("uid"), strs, map[string]any{"providedIds": len(strs), "deletedDocuments": nil})
}

func (s *Server) enqueueDeletion(w http.ResponseWriter, r *http.Request, uid string, ids []string, details map[string]any) {
	sum := s.tasks.enqueue(r, uid, "documentDeletion", details, func(_ int64, d map[string]any) *apiError {
		ix, err := s.readIndex(uid)
		if err != nil {
			return err.(*apiError)
		}
		n := 0
		for _, id := range ids {
			if ix.remove(id) {
				n++
			}
		}
		ix.updatedAt = time.Now().UTC()
		d["deletedDocuments"] = n
		return nil
	})
	writeJSON(w, http.StatusAccepted, sum)
}

func (s *Server) handleDeleteByFilter(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Filter any `json:"filter"`
	}
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if body.Filter == nil {
		writeError(w, newError("missing_document_filter", "Missing field `filter`"))
		return
	}
	expr, perr := parseFilter(body.Filter)
	if perr != nil {
		writeError(w, newError("invalid_document_filter", "%s", perr.Error()))
		return
	}
	if isNilValue(expr) { // "", blanks, [] parse to no filter at all
		writeError(w, newError("invalid_document_filter", "Sending an empty filter is forbidden."))
		return
	}
	orig, _ := json.Marshal(body.Filter)
	uid := r.PathValue("uid")
	details := map[string]any{"providedIds": 0, "deletedDocuments": nil, "originalFilter": string(orig)}
	sum := s.tasks.enqueue(r, uid, "documentDeletion", details, func(_ int64, d map[string]any) *apiError {
		ix, err := s.readIndex(uid)
		if err != nil {
			return err.(*apiError)
		}
		if expr != nil {
			if ferr := checkFilterable(expr, ix.settings); ferr != nil {
				return newError("invalid_document_filter", "%s", ferr.Error())
			}
		}
		n := 0
		for _, doc := range ix.documents() {
			if expr == nil || expr.matches(doc.fields) {
				ix.remove(doc.id)
				n++
			}
		}
		ix.updatedAt = time.Now().UTC()
		d["deletedDocuments"] = n
		return nil
	})
	writeJSON(w, http.StatusAccepted, sum)
}

func (s *Server) handleDeleteAllDocuments(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	sum := s.tasks.enqueue(r, uid, "documentDeletion", map[string]any{"providedIds": 0, "deletedDocuments": nil, "originalFilter": nil}, func(_ int64, d map[string]any) *apiError {
		ix, err := s.readIndex(uid)
		if err != nil {
			return err.(*apiError)
		}
		d["deletedDocuments"] = ix.clear()
		ix.updatedAt = time.Now().UTC()
		return nil
	})
	writeJSON(w, http.StatusAccepted, sum)
}

// handleEditDocuments runs a Rhai function over the documents matching the
// filter (all when none), under the experimental editDocumentsByFunction
// feature. See rhai.go for the supported subset.
func (s *Server) handleEditDocuments(w http.ResponseWriter, r *http.Request) {
	if !s.featureEnabled("editDocumentsByFunction") {
		writeError(w, newError("feature_not_enabled", "Using the documents edit route requires enabling the `edit documents by function` experimental feature. See https://github.com/orgs/meilisearch/discussions/762"))
		return
	}
	var body struct {
		Function *string `json:"function"`
		Filter   any     `json:"filter"`
		Context  any     `json:"context"`
	}
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if body.Function == nil {
		writeError(w, newError("missing_document_edition_function", "Missing field `function`"))
		return
	}
	if body.Context != nil {
		if _, ok := body.Context.(map[string]any); !ok {
			writeError(w, newError("invalid_document_context", "Invalid value type at `.context`: expected an object, but found %s", jsonKind(body.Context)))
			return
		}
	}
	expr, perr := parseFilter(body.Filter)
	if perr != nil {
		writeError(w, newError("invalid_document_filter", "%s", perr.Error()))
		return
	}
	var origFilter any
	if body.Filter != nil {
		b, _ := json.Marshal(body.Filter)
		origFilter = string(b)
	}
	uid := r.PathValue("uid")
	fn := *body.Function
	details := map[string]any{"editedDocuments": nil, "deletedDocuments": nil, "function": fn, "context": body.Context, "originalFilter": origFilter}
	sum := s.tasks.enqueue(r, uid, "documentEdition", details, func(_ int64, d map[string]any) *apiError {
		ix, err := s.readIndex(uid)
		if err != nil {
			return err.(*apiError)
		}
		if expr != nil {
			if ferr := checkFilterable(expr, ix.settings); ferr != nil {
				return newError("invalid_document_filter", "%s", ferr.Error())
			}
		}
		prog, perr := parseRhai(fn)
		if perr != nil {
			return newError("edit_documents_by_function_error", "%s", perr.Error())
		}
		type change struct {
			id     string
			fields map[string]any // nil: delete
		}
		var changes []change
		for _, doc := range ix.documents() {
			if expr != nil && !expr.matches(doc.fields) {
				continue
			}
			out, rerr := runEdition(prog, doc.fields, body.Context)
			if rerr != nil {
				return newError("edit_documents_by_function_error", "Error while running the function on document `%s`: %v", doc.id, rerr)
			}
			if out != nil {
				if pk, ok := lookupPath(out, ix.primaryKey); !ok || func() bool { id, valid := documentID(pk); return !valid || id != doc.id }() {
					return newError("edit_documents_by_function_error", "Document `%s` had its primary key (`%s`) modified by the function; changing the primary key is not allowed.", doc.id, ix.primaryKey)
				}
				if equalJSON(out, doc.fields) {
					continue
				}
			}
			changes = append(changes, change{doc.id, out})
		}
		edited, deleted := 0, 0
		for _, c := range changes {
			if c.fields == nil {
				ix.remove(c.id)
				deleted++
				continue
			}
			ix.put(c.id, c.fields)
			edited++
		}
		ix.updatedAt = time.Now().UTC()
		d["editedDocuments"] = edited
		d["deletedDocuments"] = deleted
		return nil
	})
	writeJSON(w, http.StatusAccepted, sum)
}

// equalJSON compares two documents by their JSON encoding.
func equalJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
