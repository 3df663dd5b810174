package meilitest

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

var validIndexUID = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,400}$`)

func checkIndexUID(uid string) *apiError {
	if !validIndexUID.MatchString(uid) {
		return newError("invalid_index_uid", "`%s` is not a valid index uid. Index uid can be an integer or a string containing only alphanumeric characters, hyphens (-) and underscores (_), and can not be more than 400 bytes.", uid)
	}
	return nil
}

// indexJSON is an index as GET /indexes/{uid} returns it.
type indexJSON struct {
	UID        string    `json:"uid"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	PrimaryKey *string   `json:"primaryKey"`
}

func (ix *index) view() indexJSON {
	v := indexJSON{UID: ix.uid, CreatedAt: ix.createdAt, UpdatedAt: ix.updatedAt}
	if ix.primaryKey != "" {
		pk := ix.primaryKey
		v.PrimaryKey = &pk
	}
	return v
}

// maxQueryInt caps usize query parameters (offset, limit): any larger
// value already reaches past every list, and the cap keeps offset+limit
// from overflowing an int.
const maxQueryInt = math.MaxInt / 4

// queryInt reads a usize query parameter (offset, limit) as Meilisearch's
// Param<usize> does, def when it is absent; see queryUint.
func queryInt(r *http.Request, name string, def int, code string) (int, *apiError) {
	n, ok, e := queryUint(r.URL.Query(), name, math.MaxUint64, code)
	if e != nil || !ok {
		return def, e
	}
	return int(min(n, maxQueryInt)), nil
}

// queryUint reads an unsigned integer query parameter as Meilisearch's
// Param<T> does. A parameter given with an empty value is an error, not the
// default, and so is a value above max: Meilisearch's task and batch
// parameters (limit, from, uids) are u32. ok is false when the parameter
// is absent.
func queryUint(q url.Values, name string, max uint64, code string) (n uint64, ok bool, e *apiError) {
	vs, present := q[name]
	if !present {
		return 0, false, nil
	}
	v := vs[0]
	n, ok = parseParamUint(v, max)
	if !ok {
		return 0, false, newError(code, "Invalid value in parameter `%s`: could not parse `%s` as a positive integer", name, v)
	}
	return n, true, nil
}

// parseParamUint is Rust's FromStr for an unsigned integer no larger than
// max: decimal digits after at most one leading '+', nothing else.
func parseParamUint(v string, max uint64) (uint64, bool) {
	n, err := strconv.ParseUint(strings.TrimPrefix(v, "+"), 10, 64)
	if err != nil || n > max {
		return 0, false
	}
	return n, true
}

func (s *Server) handleListIndexes(w http.ResponseWriter, r *http.Request) {
	offset, e := queryInt(r, "offset", 0, "invalid_index_offset")
	if e != nil {
		writeError(w, e)
		return
	}
	limit, e := queryInt(r, "limit", 20, "invalid_index_limit")
	if e != nil {
		writeError(w, e)
		return
	}
	s.mu.RLock()
	all := make([]indexJSON, 0, len(s.indexes))
	for uid, ix := range s.indexes {
		if indexAuthorized(r, uid) { // a key sees only its indexes
			all = append(all, ix.view())
		}
	}
	s.mu.RUnlock()
	sort.Slice(all, func(i, j int) bool { return all[i].UID < all[j].UID })
	total := len(all)
	page := all[min(offset, total):min(offset+limit, total)]
	writeJSON(w, http.StatusOK, pageJSON[indexJSON, int]{Results: page, Offset: offset, Limit: limit, Total: total})
}

func (s *Server) handleGetIndex(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ix, err := s.readIndex(r.PathValue("uid"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ix.view())
}

func (s *Server) handleCreateIndex(w http.ResponseWriter, r *http.Request) {
	var body struct {
		UID        *string `json:"uid"`
		PrimaryKey *string `json:"primaryKey"`
	}
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if body.UID == nil {
		writeError(w, newError("missing_index_uid", "Missing field `uid`"))
		return
	}
	uid := *body.UID
	if e := checkIndexUID(uid); e != nil {
		writeError(w, e)
		return
	}
	pk := ""
	if body.PrimaryKey != nil {
		pk = *body.PrimaryKey
	}
	details := map[string]any{"primaryKey": body.PrimaryKey}
	sum := s.tasks.enqueue(r, uid, "indexCreation", details, func(_ int64, _ map[string]any) *apiError {
		if _, ok := s.indexes[uid]; ok {
			return newError("index_already_exists", "Index `%s` already exists.", uid)
		}
		s.indexes[uid] = newIndex(uid, pk, time.Now().UTC())
		return nil
	})
	writeJSON(w, http.StatusAccepted, sum)
}

func (s *Server) handleUpdateIndex(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	var body struct {
		PrimaryKey *string `json:"primaryKey"`
		UID        *string `json:"uid"`
	}
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if body.UID != nil {
		if e := checkIndexUID(*body.UID); e != nil {
			writeError(w, e)
			return
		}
	}
	details := map[string]any{"primaryKey": body.PrimaryKey}
	var opts []func(*task)
	if body.UID != nil {
		details["oldIndexUid"] = uid
		details["newIndexUid"] = *body.UID
		opts = append(opts, withNewIndexUID(*body.UID))
	}
	sum := s.tasks.enqueue(r, uid, "indexUpdate", details, func(self int64, _ map[string]any) *apiError {
		ix, err := s.readIndex(uid)
		if err != nil {
			return err.(*apiError)
		}
		if body.PrimaryKey != nil && *body.PrimaryKey != ix.primaryKey {
			if len(ix.docs) > 0 {
				return newError("index_primary_key_already_exists", "Index `%s`: Index already has a primary key: `%s`.", uid, ix.primaryKey)
			}
			ix.primaryKey = *body.PrimaryKey
		}
		if body.UID != nil && *body.UID != uid {
			if _, ok := s.indexes[*body.UID]; ok {
				return newError("index_already_exists", "Index `%s` already exists.", *body.UID)
			}
			// Meilisearch renames through apply_index_swap, which
			// rewrites the task history as a swap-indexes rename does.
			s.tasks.swapHistory(self, uid, *body.UID)
			delete(s.indexes, uid)
			ix.uid = *body.UID
			s.indexes[ix.uid] = ix
		}
		ix.updatedAt = time.Now().UTC()
		return nil
	}, opts...)
	writeJSON(w, http.StatusAccepted, sum)
}

func (s *Server) handleDeleteIndex(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	sum := s.tasks.enqueue(r, uid, "indexDeletion", map[string]any{"deletedDocuments": nil}, func(_ int64, d map[string]any) *apiError {
		ix, err := s.readIndex(uid)
		if err != nil {
			return err.(*apiError)
		}
		d["deletedDocuments"] = len(ix.docs)
		delete(s.indexes, uid)
		return nil
	})
	writeJSON(w, http.StatusAccepted, sum)
}

func (s *Server) handleCompact(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	sum := s.tasks.enqueue(r, uid, "indexCompaction", map[string]any{}, func(_ int64, _ map[string]any) *apiError {
		_, err := s.readIndex(uid)
		if err != nil {
			return err.(*apiError)
		}
		return nil
	})
	writeJSON(w, http.StatusAccepted, sum)
}

// swapParams is one element of a POST /swap-indexes body.
type swapParams struct {
	Indexes []string `json:"indexes"`
	Rename  bool     `json:"rename"`
}

// parseSwapPayload reads a POST /swap-indexes body as deserr reads
// Meilisearch's Vec<SwapIndexesPayload>: the first error in body order
// wins, with the code of the field it is in. The route then checks each
// swap in turn (swapLengthError, then the API key's indexes, see
// authorizeBody), and the registration the whole request (swapDuplicates).
func parseSwapPayload(raw json.RawMessage) ([]swapParams, *apiError) {
	elems, ok := jsonArray(raw)
	if !ok {
		return nil, deserrTypeError("bad_request", "", "an array", raw)
	}
	out := make([]swapParams, 0, len(elems))
	for i, el := range elems {
		at := "[" + strconv.Itoa(i) + "]"
		fields, ok := jsonObjectFields(el)
		if !ok {
			return nil, deserrTypeError("bad_request", at, "an object", el)
		}
		var sw swapParams
		seen := false
		for _, f := range fields {
			switch f.key {
			case "indexes":
				seen = true
				list, ok := jsonArray(f.raw)
				if !ok {
					return nil, deserrTypeError("invalid_swap_indexes", at+".indexes", "an array", f.raw)
				}
				sw.Indexes = make([]string, 0, len(list))
				for j, u := range list {
					var uid string
					if keyIsNull(u) || json.Unmarshal(u, &uid) != nil {
						return nil, deserrTypeError("invalid_swap_indexes", at+".indexes["+strconv.Itoa(j)+"]", "a string", u)
					}
					if e := checkIndexUID(uid); e != nil {
						return nil, newError("invalid_swap_indexes", "Invalid value at `%s.indexes[%d]`: %s", at, j, e.Message)
					}
					sw.Indexes = append(sw.Indexes, uid)
				}
			case "rename":
				if json.Unmarshal(f.raw, &sw.Rename) != nil || keyIsNull(f.raw) {
					return nil, deserrTypeError("invalid_swap_rename", at+".rename", "a boolean", f.raw)
				}
			default:
				return nil, deserrUnknownField("bad_request", at, f.key, []string{"indexes", "rename"})
			}
		}
		if !seen {
			return nil, deserrMissingField("missing_swap_indexes", at, "indexes")
		}
		out = append(out, sw)
	}
	return out, nil
}

// swapLengthError is the route's SwapIndexPayloadWrongLength, which prints
// the list with Rust's Debug formatting.
func swapLengthError(sw swapParams) *apiError {
	if len(sw.Indexes) == 2 {
		return nil
	}
	return newError("invalid_swap_indexes", "Two indexes must be given for each swap. The list `%s` contains %d indexes.", keyRustList(sw.Indexes), len(sw.Indexes))
}

// swapDuplicates is check_index_swap_validity: no index may appear twice
// in a request; the duplicates come sorted (a BTreeSet).
func swapDuplicates(swaps []swapParams) *apiError {
	seen := map[string]bool{}
	var dup []string
	for _, sw := range swaps {
		for _, u := range sw.Indexes {
			if seen[u] && !slices.Contains(dup, u) {
				dup = append(dup, u)
			}
			seen[u] = true
		}
	}
	sort.Strings(dup)
	switch len(dup) {
	case 0:
		return nil
	case 1:
		return newError("invalid_swap_duplicate_index_found", "Indexes must be declared only once during a swap. `%s` was specified several times.", dup[0])
	}
	return newError("invalid_swap_duplicate_index_found", "Indexes must be declared only once during a swap. %s were specified several times.", keyBackquoteList(dup))
}

func (s *Server) handleSwapIndexes(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := decodeJSONBody(r, &raw); err != nil {
		writeError(w, err)
		return
	}
	body, e := parseSwapPayload(raw)
	if e != nil {
		writeError(w, e)
		return
	}
	for _, sw := range body {
		if e := swapLengthError(sw); e != nil {
			writeError(w, e)
			return
		}
	}
	if e := swapDuplicates(body); e != nil {
		writeError(w, e)
		return
	}
	swaps := make([]any, 0, len(body))
	for _, sw := range body {
		swaps = append(swaps, map[string]any{"indexes": sw.Indexes, "rename": sw.Rename})
	}
	sum := s.tasks.enqueue(r, "", "indexSwap", map[string]any{"swaps": swaps}, func(self int64, _ map[string]any) *apiError {
		if err := s.checkSwaps(body); err != nil {
			return err
		}
		now := time.Now().UTC()
		for _, sw := range body {
			a, b := sw.Indexes[0], sw.Indexes[1]
			s.tasks.swapHistory(self, a, b)
			ia, ib := s.indexes[a], s.indexes[b]
			if sw.Rename {
				delete(s.indexes, a)
				ia.uid = b
				ia.updatedAt = now
				s.indexes[b] = ia
				continue
			}
			ia.uid, ib.uid = b, a
			ia.updatedAt, ib.updatedAt = now, now
			s.indexes[a], s.indexes[b] = ib, ia
		}
		return nil
	})
	writeJSON(w, http.StatusAccepted, sum)
}

// checkSwaps validates a swap task's swaps against the current indexes
// before any is applied, as Meilisearch's scheduler does (process_batch.rs,
// Batch::IndexSwap), so a failing task changes nothing: every missing index
// first (a source, or the target of a plain swap), then every rename whose
// target already exists, since a rename never overwrites an index. Both
// lists come sorted, like the BTreeSets Meilisearch collects them in.
// The caller holds s.mu for writing.
func (s *Server) checkSwaps(swaps []swapParams) *apiError {
	var missing []string
	type rename struct{ from, to string }
	var taken []rename
	for _, sw := range swaps {
		a, b := sw.Indexes[0], sw.Indexes[1]
		if _, ok := s.indexes[a]; !ok {
			missing = append(missing, a)
		}
		_, exists := s.indexes[b]
		switch {
		case exists && sw.Rename:
			taken = append(taken, rename{a, b})
		case !exists && !sw.Rename:
			missing = append(missing, b)
		}
	}
	sort.Strings(missing)
	missing = slices.Compact(missing)
	switch len(missing) {
	case 0:
	case 1:
		return newError("index_not_found", "Index `%s` not found.", missing[0])
	default:
		return newError("index_not_found", "Indexes %s not found.", quoteList(missing))
	}
	sort.Slice(taken, func(i, j int) bool {
		if taken[i].from != taken[j].from {
			return taken[i].from < taken[j].from
		}
		return taken[i].to < taken[j].to
	})
	switch len(taken) {
	case 0:
		return nil
	case 1:
		// The wording, "do your remove" included, is Meilisearch's.
		return newError("index_already_exists", "Cannot rename `%s` to `%s` as the index already exists. Hint: You can remove `%s` first and then do your remove.", taken[0].from, taken[0].to, taken[0].to)
	}
	targets := make([]string, len(taken))
	for i, t := range taken {
		targets[i] = t.to
	}
	return newError("index_already_exists", "The following indexes are being renamed but cannot because their new name conflicts with an already existing index: %s. Renaming doesn't overwrite the other index name.", quoteList(targets))
}

// flattenKeys returns the field names Meilisearch counts in
// fieldDistribution: top-level keys and dotted paths of nested objects.
func flattenKeys(doc map[string]any) map[string]struct{} {
	out := map[string]struct{}{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				name := k
				if prefix != "" {
					name = prefix + "." + k
				}
				out[name] = struct{}{}
				walk(name, x)
			}
		case []any:
			for _, x := range t {
				if m, ok := x.(map[string]any); ok {
					walk(prefix, m)
				}
			}
		}
	}
	walk("", doc)
	return out
}

// approxSize is a cheap stand-in for the document's stored size.
func approxSize(v any) int {
	switch t := v.(type) {
	case map[string]any:
		n := 2
		for k, x := range t {
			n += len(k) + 4 + approxSize(x)
		}
		return n
	case []any:
		n := 2
		for _, x := range t {
			n += 1 + approxSize(x)
		}
		return n
	case string:
		return len(t) + 2
	default:
		return 8
	}
}
