package proxy

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/apierr"
	"github.com/miroirsearch/miroir/internal/caller"
)

// Proxy routes: server-wide calls, indexes, dynamic search rules.

func (h *handler) health(r *http.Request) (reply, error) {
	res, err := h.b.Service().Health(r.Context())
	if err != nil {
		return reply{}, err
	}
	return reply{body: res}, nil
}

func (h *handler) version(r *http.Request) (reply, error) {
	v, err := h.b.Service().Version(r.Context())
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
	s, err := h.b.Service().GetStats(r.Context(), statsParams(r))
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
	return accepted(h.b.Service().CreateDump(r.Context()))
}

func (h *handler) snapshot(r *http.Request) (reply, error) {
	return accepted(h.b.Service().CreateSnapshot(r.Context()))
}

// features serves /experimental-features (read one node, update all).
func (h *handler) features(r *http.Request) (reply, error) {
	var body []byte
	if r.Method == http.MethodPatch {
		var err error
		if body, err = h.jsonBody(r, false); err != nil {
			return reply{}, err
		}
	}
	status, out := h.b.ExperimentalFeatures(r.Context(), r.Method, body)
	return reply{status: status, body: out}, nil
}

func (h *handler) renderTemplate(r *http.Request) (reply, error) {
	var p meilisearch.RenderTemplateParams
	if err := h.decodeBody(r, &p, false); err != nil {
		return reply{}, err
	}
	res, err := h.b.Service().RenderTemplate(r.Context(), &p)
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
		return 0, apierr.New(http.StatusBadRequest, code, "Invalid value in parameter `%s`: could not parse `%s` as a positive integer", name, v)
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
		res, err := h.b.ListIndexes(r.Context(), offset, 1)
		if err != nil {
			return reply{}, err
		}
		res.Results, res.Limit = []json.RawMessage{}, 0
		return reply{body: res}, nil
	}
	res, err := h.b.ListIndexes(r.Context(), offset, limit)
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
		return reply{}, apierr.New(http.StatusBadRequest, "missing_index_uid", "Missing field `uid`")
	}
	if !caller.Grant(r.Context()).AllowIndexCreation(*req.UID) {
		return reply{}, invalidKey()
	}
	cfg := &meilisearch.IndexConfig{Uid: *req.UID}
	if req.PrimaryKey != nil {
		cfg.PrimaryKey = *req.PrimaryKey
	}
	return accepted(h.b.Service().CreateIndex(r.Context(), cfg))
}

func (h *handler) getIndex(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	raw, err := h.b.GetIndex(r.Context(), uid)
	if err != nil {
		return reply{}, err
	}
	return reply{body: raw}, nil
}

func (h *handler) updateIndex(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	var req meilisearch.UpdateIndexRequestParams
	if err := h.decodeBody(r, &req, false); err != nil {
		return reply{}, err
	}
	return accepted(h.b.Service().Index(uid).UpdateIndex(r.Context(), &req))
}

func (h *handler) deleteIndex(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	return accepted(h.b.Service().DeleteIndex(r.Context(), uid))
}

func (h *handler) indexStats(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	s, err := h.b.Service().Index(uid).GetStats(r.Context(), statsParams(r))
	if err != nil {
		return reply{}, err
	}
	return reply{body: s}, nil
}

func (h *handler) compact(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	return accepted(h.b.Service().Index(uid).Compact(r.Context()))
}

func (h *handler) swapIndexes(r *http.Request) (reply, error) {
	var req []*meilisearch.SwapIndexesParams
	if err := h.decodeBody(r, &req, false); err != nil {
		return reply{}, err
	}
	// The uids go into node paths: check them first. A key must allow
	// every index of every swap (checked swap by swap, as Meilisearch does
	// once each swap's length is known to be right).
	g := caller.Grant(r.Context())
	for i, p := range req {
		if p == nil {
			continue
		}
		for _, uid := range p.Indexes {
			if err := h.b.CheckIndexUID(uid); err != nil {
				return reply{}, apierr.New(http.StatusBadRequest, "invalid_index_uid", "Inside `.[%d].indexes`: %s", i, apierr.Message(err))
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
	return accepted(h.b.Service().SwapIndexes(r.Context(), req))
}

// ---- dynamic search rules (read-only through miroir) ----

func (h *handler) listSearchRules(r *http.Request) (reply, error) {
	var p *meilisearch.SearchRulesParams
	body, err := h.jsonBody(r, true)
	if err != nil {
		return reply{}, err
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return reply{}, apierr.New(http.StatusBadRequest, "bad_request", "Json deserialize error: %v", err)
	}
	res, err := h.b.Service().ListSearchRules(r.Context(), p)
	if err != nil {
		return reply{}, err
	}
	return reply{body: res}, nil
}

func (h *handler) getSearchRule(r *http.Request) (reply, error) {
	res, err := h.b.Service().GetSearchRule(r.Context(), r.PathValue("uid"))
	if err != nil {
		return reply{}, err
	}
	return reply{body: res}, nil
}
