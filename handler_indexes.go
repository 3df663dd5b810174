package miroir

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Proxy routes: server-wide calls, indexes, keys.

func (h *handler) health(r *http.Request) (reply, error) {
	res, err := h.c.Health(r.Context())
	if err != nil {
		return reply{}, err
	}
	return reply{body: res}, nil
}

func (h *handler) version(r *http.Request) (reply, error) {
	v, err := h.c.Version(r.Context())
	if err != nil {
		return reply{}, err
	}
	return reply{body: v}, nil
}

// statsParams reads showInternalDatabaseSizes and sizeFormat.
func statsParams(r *http.Request) *meilisearch.StatsParams {
	q := r.URL.Query()
	return &meilisearch.StatsParams{ShowInternalDatabaseSizes: q.Get("showInternalDatabaseSizes") == "true", SizeFormat: q.Get("sizeFormat")}
}

func (h *handler) globalStats(r *http.Request) (reply, error) {
	s, err := h.c.GetStats(r.Context(), statsParams(r))
	if err != nil {
		return reply{}, err
	}
	var last *time.Time
	if !s.LastUpdate.IsZero() {
		last = &s.LastUpdate
	}
	return reply{body: struct {
		DatabaseSize     any                               `json:"databaseSize"`
		UsedDatabaseSize any                               `json:"usedDatabaseSize"`
		LastUpdate       *time.Time                        `json:"lastUpdate"`
		Indexes          map[string]meilisearch.StatsIndex `json:"indexes"`
	}{s.DatabaseSize, s.UsedDatabaseSize, last, s.Indexes}}, nil
}

func (h *handler) dump(r *http.Request) (reply, error) {
	return accepted(h.c.CreateDump(r.Context()))
}

func (h *handler) snapshot(r *http.Request) (reply, error) {
	return accepted(h.c.CreateSnapshot(r.Context()))
}

// features serves /experimental-features through the Cluster's own
// transport for meilisearch-go's handle (read one node, update all).
func (h *handler) features(r *http.Request) (reply, error) {
	var body []byte
	if r.Method == http.MethodPatch {
		var err error
		if body, err = h.jsonBody(r, false); err != nil {
			return reply{}, err
		}
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://miroir.invalid/experimental-features", bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	resp, err := featuresTransport{h.c}.RoundTrip(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, body: out}, nil
}

func (h *handler) renderTemplate(r *http.Request) (reply, error) {
	var p meilisearch.RenderTemplateParams
	if err := h.decodeBody(r, &p, false); err != nil {
		return reply{}, err
	}
	res, err := h.c.RenderTemplate(r.Context(), &p)
	if err != nil {
		return reply{}, err
	}
	return reply{body: res}, nil
}

// ---- indexes ----

// queryInt reads a non-negative integer query parameter.
func queryInt(r *http.Request, name, code string, def int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, newError(http.StatusBadRequest, code, "Invalid value in parameter `%s`: could not parse `%s` as a positive integer", name, v)
	}
	return n, nil
}

func (h *handler) listIndexes(r *http.Request) (reply, error) {
	offset, err := queryInt(r, "offset", "invalid_index_offset", 0)
	if err != nil {
		return reply{}, err
	}
	limit, err := queryInt(r, "limit", "invalid_index_limit", 20)
	if err != nil {
		return reply{}, err
	}
	if limit == 0 {
		// IndexesQuery treats 0 as "default"; ask for nothing explicitly.
		res, err := h.c.listIndexes(r.Context(), &meilisearch.IndexesQuery{Offset: offset, Limit: 1})
		if err != nil {
			return reply{}, err
		}
		res.Results, res.Limit = []json.RawMessage{}, 0
		return reply{body: res}, nil
	}
	res, err := h.c.listIndexes(r.Context(), &meilisearch.IndexesQuery{Offset: offset, Limit: limit})
	if err != nil {
		return reply{}, err
	}
	return reply{body: res}, nil
}

func (h *handler) createIndex(r *http.Request) (reply, error) {
	var req struct {
		UID        *string `json:"uid"`
		PrimaryKey *string `json:"primaryKey"`
	}
	if err := h.decodeBody(r, &req, false); err != nil {
		return reply{}, err
	}
	if req.UID == nil {
		return reply{}, newError(http.StatusBadRequest, "missing_index_uid", "Missing field `uid`")
	}
	if !grantFrom(r.Context()).AllowIndexCreation(*req.UID) {
		return reply{}, invalidKey()
	}
	cfg := &meilisearch.IndexConfig{Uid: *req.UID}
	if req.PrimaryKey != nil {
		cfg.PrimaryKey = *req.PrimaryKey
	}
	return accepted(h.c.CreateIndex(r.Context(), cfg))
}

func (h *handler) getIndex(r *http.Request) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	raw, err := h.c.getRawIndex(r.Context(), uid)
	if err != nil {
		return reply{}, err
	}
	return reply{body: raw}, nil
}

func (h *handler) updateIndex(r *http.Request) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	var req meilisearch.UpdateIndexRequestParams
	if err := h.decodeBody(r, &req, false); err != nil {
		return reply{}, err
	}
	return accepted(h.c.index(uid).UpdateIndex(r.Context(), &req))
}

func (h *handler) deleteIndex(r *http.Request) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	return accepted(h.c.DeleteIndex(r.Context(), uid))
}

func (h *handler) indexStats(r *http.Request) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	s, err := h.c.index(uid).GetStats(r.Context(), statsParams(r))
	if err != nil {
		return reply{}, err
	}
	return reply{body: s}, nil
}

func (h *handler) compact(r *http.Request) (reply, error) {
	uid, err := pathUID(r)
	if err != nil {
		return reply{}, err
	}
	return accepted(h.c.index(uid).Compact(r.Context()))
}

func (h *handler) swapIndexes(r *http.Request) (reply, error) {
	var req []*meilisearch.SwapIndexesParams
	if err := h.decodeBody(r, &req, false); err != nil {
		return reply{}, err
	}
	// The uids go into node paths: check them first. A key must allow
	// every index of every swap (checked swap by swap, as Meilisearch does
	// once each swap's length is known to be right).
	g := grantFrom(r.Context())
	for i, p := range req {
		if p == nil {
			continue
		}
		for _, uid := range p.Indexes {
			if err := checkUID(uid); err != nil {
				return reply{}, newError(http.StatusBadRequest, "invalid_index_uid", "Inside `.[%d].indexes`: %s", i, apiErrorDetails(err).Message)
			}
		}
		if len(p.Indexes) != 2 {
			break // the Cluster reports the swap's length
		}
		for _, uid := range p.Indexes {
			if !g.IndexAuthorized(uid) {
				return reply{}, invalidKey()
			}
		}
	}
	return accepted(h.c.SwapIndexes(r.Context(), req))
}

// ---- keys ----

// keyView is an API key in Meilisearch's shape (null name, description
// and expiresAt when unset).
type keyView struct {
	Name        *string    `json:"name"`
	Description *string    `json:"description"`
	Key         string     `json:"key"`
	UID         string     `json:"uid"`
	Actions     []string   `json:"actions"`
	Indexes     []string   `json:"indexes"`
	ExpiresAt   *time.Time `json:"expiresAt"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
}

func viewKey(k *meilisearch.Key) keyView {
	v := keyView{Name: nullString(k.Name), Description: nullString(k.Description), Key: k.Key, UID: k.UID,
		Actions: k.Actions, Indexes: k.Indexes, CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt}
	if v.Actions == nil {
		v.Actions = []string{}
	}
	if v.Indexes == nil {
		v.Indexes = []string{}
	}
	if !k.ExpiresAt.IsZero() {
		t := k.ExpiresAt
		v.ExpiresAt = &t
	}
	return v
}

func (h *handler) listKeys(r *http.Request) (reply, error) {
	offset, err := queryInt(r, "offset", "invalid_api_key_offset", 0)
	if err != nil {
		return reply{}, err
	}
	limit, err := queryInt(r, "limit", "invalid_api_key_limit", 20)
	if err != nil {
		return reply{}, err
	}
	res, err := h.c.GetKeys(r.Context(), &meilisearch.KeysQuery{Offset: offset, Limit: limit})
	if err != nil {
		return reply{}, err
	}
	out := struct {
		Results []keyView `json:"results"`
		Offset  int64     `json:"offset"`
		Limit   int64     `json:"limit"`
		Total   int64     `json:"total"`
	}{Results: make([]keyView, 0, len(res.Results)), Offset: res.Offset, Limit: res.Limit, Total: res.Total}
	for i := range res.Results {
		out.Results = append(out.Results, viewKey(&res.Results[i]))
	}
	return reply{body: out}, nil
}

func (h *handler) createKey(r *http.Request) (reply, error) {
	var req struct {
		Name        *string  `json:"name"`
		Description *string  `json:"description"`
		UID         *string  `json:"uid"`
		Actions     []string `json:"actions"`
		Indexes     []string `json:"indexes"`
		ExpiresAt   *keyTime `json:"expiresAt"`
	}
	if err := h.decodeBody(r, &req, false); err != nil {
		return reply{}, err
	}
	if req.Actions == nil {
		return reply{}, newError(http.StatusBadRequest, "missing_api_key_actions", "Missing field `actions`")
	}
	if req.Indexes == nil {
		return reply{}, newError(http.StatusBadRequest, "missing_api_key_indexes", "Missing field `indexes`")
	}
	k := &meilisearch.Key{Actions: req.Actions, Indexes: req.Indexes}
	if req.Name != nil {
		k.Name = *req.Name
	}
	if req.Description != nil {
		k.Description = *req.Description
	}
	if req.UID != nil {
		k.UID = *req.UID
	}
	if req.ExpiresAt != nil {
		k.ExpiresAt = req.ExpiresAt.t
	}
	res, err := h.c.CreateKey(r.Context(), k)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, body: viewKey(res)}, nil
}

// keyTime is a key's expiresAt: RFC 3339, or a date, or a date-time
// without zone (UTC), as Meilisearch accepts.
type keyTime struct{ t time.Time }

func (k *keyTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			k.t = t.UTC()
			return nil
		}
	}
	return newError(http.StatusBadRequest, "invalid_api_key_expires_at", "`%s` is not a valid date. It should follow the RFC 3339 format to represents a date or datetime in the future or specified as a null value. e.g. 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'.", s)
}

func (h *handler) getKey(r *http.Request) (reply, error) {
	k, err := h.c.GetKey(r.Context(), r.PathValue("key"))
	if err != nil {
		return reply{}, err
	}
	return reply{body: viewKey(k)}, nil
}

func (h *handler) updateKey(r *http.Request) (reply, error) {
	body, err := h.jsonBody(r, false)
	if err != nil {
		return reply{}, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return reply{}, newError(http.StatusBadRequest, "bad_request", "Json deserialize error: %v", err)
	}
	k := &meilisearch.Key{}
	for name, v := range fields {
		switch name {
		case "name":
			_ = json.Unmarshal(v, &k.Name)
		case "description":
			_ = json.Unmarshal(v, &k.Description)
		case "uid", "actions", "indexes", "expiresAt", "key", "createdAt", "updatedAt":
			return reply{}, newError(http.StatusBadRequest, "immutable_api_key_"+snake(name), "Immutable field `%s`: expected one of `description`, `name`", name)
		default:
			return reply{}, newError(http.StatusBadRequest, "bad_request", "Unknown field `%s`: expected one of `description`, `name`", name)
		}
	}
	res, err := h.c.UpdateKey(r.Context(), r.PathValue("key"), k)
	if err != nil {
		return reply{}, err
	}
	return reply{body: viewKey(res)}, nil
}

func (h *handler) deleteKey(r *http.Request) (reply, error) {
	_, err := h.c.DeleteKey(r.Context(), r.PathValue("key"))
	h.keys.forget() // a deleted key stops working here at once
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusNoContent}, nil
}

// ---- dynamic search rules (read-only through miroir) ----

func (h *handler) listSearchRules(r *http.Request) (reply, error) {
	var p *meilisearch.SearchRulesParams
	body, err := h.jsonBody(r, true)
	if err != nil {
		return reply{}, err
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return reply{}, newError(http.StatusBadRequest, "bad_request", "Json deserialize error: %v", err)
	}
	res, err := h.c.ListSearchRules(r.Context(), p)
	if err != nil {
		return reply{}, err
	}
	return reply{body: res}, nil
}

func (h *handler) getSearchRule(r *http.Request) (reply, error) {
	res, err := h.c.GetSearchRule(r.Context(), r.PathValue("uid"))
	if err != nil {
		return reply{}, err
	}
	return reply{body: res}, nil
}
