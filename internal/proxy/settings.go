package proxy

import (
	"net/http"

	"github.com/miroirsearch/miroir/internal/apierr"
)

// Proxy routes: settings. Every update and reset goes through the
// Cluster's settings transaction (Backend.UpdateSettings), reads through
// Backend.GetSettings; the handler only checks the verb and the body's
// shape.

func (h *handler) getSettings(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	b, err := h.b.GetSettings(r.Context(), uid, "")
	if err != nil {
		return reply{}, err
	}
	return reply{body: b}, nil
}

// updateSettings is PATCH (update) or DELETE (reset) /settings.
func (h *handler) updateSettings(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	var body []byte
	if r.Method != http.MethodDelete {
		if body, err = h.jsonBody(r, false); err != nil {
			return reply{}, err
		}
		if k := jsonKindOf(body); k != "an object" {
			return reply{}, apierr.New(http.StatusBadRequest, "bad_request", "Invalid value type: expected an object, but found %s: `%s`", k, truncate(body, 64))
		}
	}
	return accepted(h.b.UpdateSettings(r.Context(), uid, "", r.Method, body))
}

func (h *handler) getSetting(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	if _, ok := h.b.SettingVerb(r.PathValue("name")); !ok {
		return reply{status: http.StatusNotFound}, nil // Meilisearch's router: no such route, no body
	}
	b, err := h.b.GetSettings(r.Context(), uid, r.PathValue("name"))
	if err != nil {
		return reply{}, err
	}
	return reply{body: b}, nil
}

// updateSetting is the update (with the setting's own verb, PUT or PATCH)
// or the reset (DELETE) of one setting.
func (h *handler) updateSetting(r *http.Request) (reply, error) {
	uid, err := h.pathUID(r)
	if err != nil {
		return reply{}, err
	}
	name := r.PathValue("name")
	verb, ok := h.b.SettingVerb(name)
	if !ok {
		return reply{status: http.StatusNotFound}, nil // Meilisearch's router: no such route, no body
	}
	var body []byte
	if r.Method != http.MethodDelete {
		if r.Method != verb {
			return reply{status: http.StatusMethodNotAllowed}, nil // the setting's route takes another verb
		}
		if body, err = h.jsonBody(r, false); err != nil {
			return reply{}, err
		}
	}
	return accepted(h.b.UpdateSettings(r.Context(), uid, name, r.Method, body))
}
