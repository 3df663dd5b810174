package proxy

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/apierr"
)

// Proxy routes: API keys, served from the fleet (every node holds the same
// keys).

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
	res, err := h.b.Service().GetKeys(r.Context(), &meilisearch.KeysQuery{Offset: offset, Limit: limit})
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
		return reply{}, apierr.New(http.StatusBadRequest, "missing_api_key_actions", "Missing field `actions`")
	}
	if req.Indexes == nil {
		return reply{}, apierr.New(http.StatusBadRequest, "missing_api_key_indexes", "Missing field `indexes`")
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
	res, err := h.b.Service().CreateKey(r.Context(), k)
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
	return apierr.New(http.StatusBadRequest, "invalid_api_key_expires_at", "`%s` is not a valid date. It should follow the RFC 3339 format to represents a date or datetime in the future or specified as a null value. e.g. 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'.", s)
}

func (h *handler) getKey(r *http.Request) (reply, error) {
	k, err := h.b.Service().GetKey(r.Context(), r.PathValue("key"))
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
		return reply{}, apierr.New(http.StatusBadRequest, "bad_request", "Json deserialize error: %v", err)
	}
	k := &meilisearch.Key{}
	for name, v := range fields {
		switch name {
		case "name":
			_ = json.Unmarshal(v, &k.Name)
		case "description":
			_ = json.Unmarshal(v, &k.Description)
		case "uid", "actions", "indexes", "expiresAt", "key", "createdAt", "updatedAt":
			return reply{}, apierr.New(http.StatusBadRequest, "immutable_api_key_"+apierr.Snake(name), "Immutable field `%s`: expected one of `description`, `name`", name)
		default:
			return reply{}, apierr.New(http.StatusBadRequest, "bad_request", "Unknown field `%s`: expected one of `description`, `name`", name)
		}
	}
	res, err := h.b.Service().UpdateKey(r.Context(), r.PathValue("key"), k)
	if err != nil {
		return reply{}, err
	}
	return reply{body: viewKey(res)}, nil
}

func (h *handler) deleteKey(r *http.Request) (reply, error) {
	_, err := h.b.Service().DeleteKey(r.Context(), r.PathValue("key"))
	h.keys.forget() // a deleted key stops working here at once
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusNoContent}, nil
}
