package meilitest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Webhooks, as Meilisearch's routes/webhooks.rs: POST /webhooks creates one
// (201), GET lists or shows them, PATCH merges url and headers (a null
// header value removes that header, a null headers object clears them),
// DELETE answers 204. Webhooks are identified by a random UUID v4; at most
// 20 webhooks and 200 headers each; Authorization header values are
// redacted in every answer ("Bearer " kept, then a few characters and
// "XXX...", like hide_secret).
//
// Notifications: when a task finishes (succeeded, failed or canceled),
// meilitest POSTs it asynchronously to every webhook URL, as Meilisearch
// does after each batch: body the finished tasks as NDJSON (one TaskView
// per line; meilitest's batches hold one task), gzip-compressed, with
// Content-Type application/x-ndjson, Content-Encoding gzip and the
// webhook's headers. Failures are ignored, as in Meilisearch. Close waits
// for notifications in flight (each has a 5 s timeout).

type webhook struct {
	url     string
	headers map[string]string
}

const (
	maxWebhooks       = 20
	maxWebhookHeaders = 200
	nilUUID           = "00000000-0000-0000-0000-000000000000"
)

var webhookClient = &http.Client{Timeout: 5 * time.Second}

// redactAuthorization hides the value of Authorization headers as
// meilisearch-types Webhook::redact_authorization_header does.
func redactAuthorization(headers map[string]string) map[string]string {
	out := make(map[string]string, len(headers))
	for k, v := range headers {
		if strings.EqualFold(k, "authorization") {
			if rest, ok := strings.CutPrefix(v, "Bearer "); ok {
				v = "Bearer " + hideSecret(rest)
			} else {
				v = hideSecret(v)
			}
		}
		out[k] = v
	}
	return out
}

// hideSecret is meilisearch-types hide_secret applied from the start of s.
func hideSecret(s string) string { return maskSecret(s) }

func webhookView(uuid string, wh *webhook) map[string]any {
	return map[string]any{"uuid": uuid, "isEditable": uuid != nilUUID, "url": wh.url, "headers": redactAuthorization(wh.headers)}
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	s.metaMu.Lock()
	uuids := sortedKeys(s.webhooks)
	results := make([]map[string]any, 0, len(uuids))
	for _, u := range uuids {
		results = append(results, webhookView(u, s.webhooks[u]))
	}
	s.metaMu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// webhookUUID parses the {uuid} path segment like uuid::Uuid::from_str.
func webhookUUID(r *http.Request) (string, *apiError) {
	u, err := keyParseUUID(r.PathValue("uuid"))
	if err != nil {
		return "", newError("invalid_webhook_uuid", "Invalid UUID: %v", err)
	}
	return u, nil
}

func (s *Server) handleGetWebhook(w http.ResponseWriter, r *http.Request) {
	u, e := webhookUUID(r)
	if e != nil {
		writeError(w, e)
		return
	}
	s.metaMu.Lock()
	wh := s.webhooks[u]
	s.metaMu.Unlock()
	if wh == nil {
		writeError(w, newError("webhook_not_found", "Webhook `%s` not found.", u))
		return
	}
	writeJSON(w, http.StatusOK, webhookView(u, wh))
}

// webhookBody is a decoded WebhookSettings: url and headers as
// Setting<...> (absent, null or set); a null header value is a removal.
type webhookBody struct {
	urlSet, urlNull         bool
	url                     string
	headersSet, headersNull bool
	headers                 map[string]*string
}

func decodeWebhookBody(r *http.Request) (*webhookBody, error) {
	var raw map[string]any
	if err := decodeJSONBody(r, &raw); err != nil {
		return nil, err
	}
	b := &webhookBody{}
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		switch k {
		case "url":
			if v == nil {
				b.urlNull = true
				continue
			}
			str, e := (vctx{"invalid_webhook_url", ".url"}).str(v)
			if e != nil {
				return nil, e
			}
			b.urlSet, b.url = true, str
		case "headers":
			if v == nil {
				b.headersNull = true
				continue
			}
			c := vctx{"invalid_webhook_headers", ".headers"}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, c.typeErr("an object", v)
			}
			b.headersSet, b.headers = true, map[string]*string{}
			for name, hv := range m {
				if hv == nil {
					b.headers[name] = nil
					continue
				}
				str, e := c.field(name).str(hv)
				if e != nil {
					return nil, e
				}
				b.headers[name] = &str
			}
		case "uuid":
			return nil, newError("immutable_webhook_uuid", "Immutable field `uuid`: expected one of `url`, `headers`")
		case "isEditable":
			return nil, newError("immutable_webhook_is_editable", "Immutable field `isEditable`: expected one of `url`, `headers`")
		default:
			return nil, newError("bad_request", "Unknown field `%s`: expected one of `url`, `headers`", k)
		}
	}
	return b, nil
}

// checkWebhook is check_changed: url present and parseable, header names
// and values valid HTTP, at most 200 headers.
func checkWebhook(u string, wh *webhook) *apiError {
	if wh.url == "" {
		return newError("invalid_webhook_url", "The URL for the webhook `%s` is missing.", u)
	}
	if len(wh.headers) > maxWebhookHeaders {
		return errTooManyHeaders(u)
	}
	for _, name := range sortedKeys(wh.headers) {
		if !validHeaderName(name) {
			return newError("invalid_webhook_headers", "Invalid header name `%s`: invalid HTTP header name", name)
		}
		if !validHeaderValue(wh.headers[name]) {
			return newError("invalid_webhook_headers", "Invalid header value `%s`: failed to parse header value", name)
		}
	}
	if msg := urlParseError(wh.url); msg != "" {
		return newError("invalid_webhook_url", "Invalid URL `%s`: %s", wh.url, msg)
	}
	return nil
}

func errTooManyHeaders(u string) *apiError {
	return newError("invalid_webhook_headers", "Too many headers for the webhook `%s`. Please limit the number of headers to 200. Hint: To remove an already defined header set its value to `null`", u)
}

// urlParseError approximates the url crate's parse errors for the cases a
// test meets; "" means the URL is acceptable.
func urlParseError(raw string) string {
	p, err := url.Parse(raw)
	if err != nil || p.Scheme == "" {
		return "relative URL without a base"
	}
	if (p.Scheme == "http" || p.Scheme == "https") && p.Host == "" {
		return "empty host"
	}
	return ""
}

func validHeaderName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	b, err := decodeWebhookBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	u := newUUIDv4()
	if b.headersSet && len(b.headers) > maxWebhookHeaders {
		writeError(w, errTooManyHeaders(u))
		return
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if len(s.webhooks) >= maxWebhooks {
		writeError(w, newError("invalid_webhooks", "Defining too many webhooks would crush the server. Please limit the number of webhooks to 20. You may use a third-party proxy server to dispatch events to more than 20 endpoints."))
		return
	}
	if !b.urlSet {
		writeError(w, newError("invalid_webhook_url", "The URL for the webhook `%s` is missing.", u))
		return
	}
	wh := &webhook{url: b.url, headers: map[string]string{}}
	for k, v := range b.headers {
		if v != nil {
			wh.headers[k] = *v
		} else {
			wh.headers[k] = ""
		}
	}
	if e := checkWebhook(u, wh); e != nil {
		writeError(w, e)
		return
	}
	if s.webhooks == nil {
		s.webhooks = map[string]*webhook{}
	}
	s.webhooks[u] = wh
	writeJSON(w, http.StatusCreated, webhookView(u, wh))
}

func (s *Server) handleUpdateWebhook(w http.ResponseWriter, r *http.Request) {
	u, e := webhookUUID(r)
	if e != nil {
		writeError(w, e)
		return
	}
	b, err := decodeWebhookBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if u == nilUUID {
		writeError(w, errImmutableWebhook(u))
		return
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	old := s.webhooks[u]
	if old == nil {
		writeError(w, newError("webhook_not_found", "Webhook `%s` not found.", u))
		return
	}
	wh := &webhook{url: old.url, headers: map[string]string{}}
	for k, v := range old.headers {
		wh.headers[k] = v
	}
	switch {
	case b.urlNull:
		writeError(w, newError("invalid_webhook_url", "The URL for the webhook `%s` is missing.", u))
		return
	case b.urlSet:
		wh.url = b.url
	}
	switch {
	case b.headersNull:
		wh.headers = map[string]string{}
	case b.headersSet:
		for k, v := range b.headers {
			if v == nil {
				delete(wh.headers, k)
			} else {
				wh.headers[k] = *v
			}
		}
	}
	if e := checkWebhook(u, wh); e != nil {
		writeError(w, e)
		return
	}
	s.webhooks[u] = wh
	writeJSON(w, http.StatusOK, webhookView(u, wh))
}

func errImmutableWebhook(u string) *apiError {
	return newError("immutable_webhook", "Webhook `%s` is immutable. The webhook defined from the command line cannot be modified using the API.", u)
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	u, e := webhookUUID(r)
	if e != nil {
		writeError(w, e)
		return
	}
	if u == nilUUID {
		writeError(w, errImmutableWebhook(u))
		return
	}
	s.metaMu.Lock()
	_, ok := s.webhooks[u]
	delete(s.webhooks, u)
	s.metaMu.Unlock()
	if !ok {
		writeError(w, newError("webhook_not_found", "Webhook `%s` not found.", u))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// notifyWebhooks posts a finished task to every webhook, asynchronously.
func (s *Server) notifyWebhooks(v taskJSON) {
	s.metaMu.Lock()
	targets := make([]webhook, 0, len(s.webhooks))
	for _, u := range sortedKeys(s.webhooks) {
		wh := s.webhooks[u]
		h := make(map[string]string, len(wh.headers))
		for k, val := range wh.headers {
			h[k] = val
		}
		targets = append(targets, webhook{url: wh.url, headers: h})
	}
	s.metaMu.Unlock()
	if len(targets) == 0 {
		return
	}
	line, err := json.Marshal(v)
	if err != nil {
		return
	}
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	_, _ = zw.Write(append(line, '\n'))
	_ = zw.Close()
	payload := body.Bytes()
	for _, t := range targets {
		s.hookWG.Add(1)
		go func(t webhook) {
			defer s.hookWG.Done()
			req, err := http.NewRequest(http.MethodPost, t.url, bytes.NewReader(payload))
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/x-ndjson")
			req.Header.Set("Content-Encoding", "gzip")
			for k, val := range t.headers {
				req.Header.Set(k, val)
			}
			resp, err := webhookClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
		}(t)
	}
}
