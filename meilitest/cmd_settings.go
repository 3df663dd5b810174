package meilitest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"
)

// Settings routes. Every setting is described once in settingDescs
// (settings.go); the handlers below serve the whole object and each
// sub-route from that table.

// settingsObject is a JSON object that keeps its keys in the given order,
// so GET /settings lists settings in Meilisearch's order.
type settingsObject []settingsField

type settingsField struct {
	key string
	val any
}

func (o settingsObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(f.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.val)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// visibleSettings reports which settings GET /settings shows: those behind
// an experimental feature only once it is enabled, as Meilisearch does.
func (s *Server) visibleSettings() []*settingDesc {
	out := make([]*settingDesc, 0, len(settingDescs))
	for _, d := range settingDescs {
		if d.feature == "" || s.featureEnabled(d.feature) {
			out = append(out, d)
		}
	}
	return out
}

// indexSettings returns the settings of index uid. The value is immutable
// (updates swap the pointer), so it may be read after the lock is released.
func (s *Server) indexSettings(uid string) (*settings, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ix, err := s.readIndex(uid)
	if err != nil {
		return nil, err
	}
	return ix.settings, nil
}

func (s *Server) handleGetSettings(w http.ResponseWriter, r *http.Request) {
	visible := s.visibleSettings()
	st, err := s.indexSettings(r.PathValue("uid"))
	if err != nil {
		writeError(w, err)
		return
	}
	out := make(settingsObject, 0, len(visible))
	for _, d := range visible {
		out = append(out, settingsField{d.name, d.get(st)})
	}
	writeJSON(w, http.StatusOK, out)
}

// routeSetting resolves the {name} of a sub-route, or answers 404 with
// an empty body as Meilisearch does for a path no route takes (each of
// its settings sub-routes is a resource of its own).
func routeSetting(w http.ResponseWriter, r *http.Request) *settingDesc {
	d := settingByRoute(r.PathValue("name"))
	if d == nil {
		w.WriteHeader(http.StatusNotFound)
	}
	return d
}

func (s *Server) handleGetSetting(w http.ResponseWriter, r *http.Request) {
	d := routeSetting(w, r)
	if d == nil {
		return
	}
	st, err := s.indexSettings(r.PathValue("uid"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d.get(st))
}

// checkFeature refuses to set a setting whose experimental feature is off.
func (s *Server) checkFeature(d *settingDesc, v any) *apiError {
	if d.feature == "" || v == nil || s.featureEnabled(d.feature) {
		return nil
	}
	return newError("feature_not_enabled", "Using `%s` in the index settings requires enabling the `%s` experimental feature. See https://github.com/orgs/meilisearch/discussions", d.name, d.feature)
}

func (s *Server) handleUpdateSettings(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	if e := checkIndexUID(uid); e != nil {
		writeError(w, e)
		return
	}
	var body any
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	m, e := vctx{code: "bad_request"}.object(body, settingNames())
	if e != nil {
		writeError(w, e)
		return
	}
	details := map[string]any{}
	var changes []settingChange
	for _, d := range settingDescs {
		v, ok := m[d.name]
		if !ok {
			continue
		}
		if e := s.checkFeature(d, v); e != nil {
			writeError(w, e)
			return
		}
		detail, ch, e := d.change(vctx{code: d.code, loc: "." + d.name}, v)
		if e != nil {
			writeError(w, e)
			return
		}
		details[d.name] = detail
		changes = append(changes, ch)
	}
	s.enqueueSettings(w, r, uid, details, changes)
}

func (s *Server) handleUpdateSetting(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	d := routeSetting(w, r)
	if d == nil {
		return
	}
	if e := checkIndexUID(uid); e != nil {
		writeError(w, e)
		return
	}
	var body any
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if e := s.checkFeature(d, body); e != nil {
		writeError(w, e)
		return
	}
	detail, ch, e := d.change(vctx{code: d.code}, body)
	if e != nil {
		writeError(w, e)
		return
	}
	s.enqueueSettings(w, r, uid, map[string]any{d.name: detail}, []settingChange{ch})
}

func (s *Server) handleResetSettings(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	if e := checkIndexUID(uid); e != nil {
		writeError(w, e)
		return
	}
	details := map[string]any{}
	changes := make([]settingChange, 0, len(settingDescs))
	for _, d := range settingDescs {
		details[d.name] = d.resetDetail
		changes = append(changes, d.resetChange())
	}
	s.enqueueSettings(w, r, uid, details, changes)
}

func (s *Server) handleResetSetting(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	d := routeSetting(w, r)
	if d == nil {
		return
	}
	if e := checkIndexUID(uid); e != nil {
		writeError(w, e)
		return
	}
	s.enqueueSettings(w, r, uid, map[string]any{d.name: d.resetDetail}, []settingChange{d.resetChange()})
}

// enqueueSettings registers a settingsUpdate task. When it runs, it applies
// the changes to a copy of the index's settings and swaps the copy in,
// creating the index if it does not exist, as Meilisearch does. A change
// that fails leaves the index (and its existence) untouched.
func (s *Server) enqueueSettings(w http.ResponseWriter, r *http.Request, uid string, details map[string]any, changes []settingChange) {
	mayCreate := allowIndexCreation(r, uid) // see handleAddDocuments
	sum := s.tasks.enqueue(r, uid, "settingsUpdate", details, func(_ int64, _ map[string]any) *apiError {
		now := time.Now().UTC()
		ix, exists := s.indexes[uid]
		if !exists && !mayCreate {
			return newError("index_not_found", "Index `%s` not found.", uid)
		}
		var st settings
		if exists {
			st = *ix.settings
		} else {
			st = *defaultSettings()
		}
		for _, ch := range changes {
			if e := ch(&st); e != nil {
				return e
			}
		}
		if !exists {
			ix = newIndex(uid, "", now)
			s.indexes[uid] = ix
		}
		ix.settings = &st
		ix.updatedAt = now
		return nil
	})
	writeJSON(w, http.StatusAccepted, sum)
}
