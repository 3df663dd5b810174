package proxy

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/miroirsearch/miroir/internal/apierr"
)

// Proxy mode: reading request bodies like Meilisearch (size limit,
// Content-Encoding, Content-Type, JSON shape).

func payloadTooLarge(limit int64) error {
	return apierr.New(http.StatusRequestEntityTooLarge, "payload_too_large",
		"The provided payload reached the size limit. The maximum accepted payload size is %s.", humanBytes(limit))
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// readBody returns the request body, decoded per Content-Encoding, at most
// Config.MaxBody bytes after decoding (413 payload_too_large beyond).
func (h *handler) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	limit := h.cfg.MaxBody
	if r.ContentLength > limit && r.Header.Get("Content-Encoding") == "" {
		return nil, payloadTooLarge(limit)
	}
	var rd io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return nil, malformedEncoding(enc, err)
		}
		defer zr.Close()
		rd = zr
	case "deflate":
		zr, err := zlib.NewReader(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return nil, malformedEncoding(enc, err)
		}
		defer zr.Close()
		rd = zr
	default:
		dec := h.cfg.Codings[enc].Decode
		if dec == nil {
			return nil, apierr.New(http.StatusUnsupportedMediaType, "invalid_content_type",
				"The Content-Encoding `%s` is not supported. Accepted values for the Content-Encoding header are: `gzip`, `deflate`%s.", enc, h.extraEncodings())
		}
		zr, err := dec(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return nil, malformedEncoding(enc, err)
		}
		defer zr.Close()
		rd = zr
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= limit {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(rd, limit+1))
	if err != nil {
		if rd != r.Body {
			return nil, malformedEncoding(r.Header.Get("Content-Encoding"), err)
		}
		return nil, apierr.New(http.StatusBadRequest, "malformed_payload", "The request body could not be read: %v", err)
	}
	if n > limit {
		return nil, payloadTooLarge(limit)
	}
	return buf.Bytes(), nil
}

func (h *handler) extraEncodings() string {
	var s string
	for name := range h.cfg.Codings {
		s += ", `" + name + "`"
	}
	return s
}

func malformedEncoding(enc string, err error) error {
	return apierr.New(http.StatusBadRequest, "malformed_payload", "The request body could not be decoded as `%s`: %v", enc, err)
}

// mediaType is the request's Content-Type without parameters.
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(ct))
	}
	return mt
}

func missingContentType(accepted string) error {
	return apierr.New(http.StatusUnsupportedMediaType, "missing_content_type",
		"A Content-Type header is missing. Accepted values for the Content-Type header are: %s", accepted)
}

func invalidContentType(mt, accepted string) error {
	return apierr.New(http.StatusUnsupportedMediaType, "invalid_content_type",
		"The Content-Type `%s` is invalid. Accepted values for the Content-Type header are: %s", mt, accepted)
}

const acceptJSON = "`application/json`"

// jsonBody reads a JSON request body as Meilisearch does: the
// Content-Type must be application/json, the body present (unless
// allowEmpty, which gives "{}") and valid JSON.
func (h *handler) jsonBody(r *http.Request, allowEmpty bool) ([]byte, error) {
	mt := mediaType(r)
	body, err := h.readBody(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return []byte("{}"), nil
		}
		if mt == "" {
			return nil, missingContentType(acceptJSON)
		}
		return nil, apierr.New(http.StatusBadRequest, "missing_payload", "A json payload is missing.")
	}
	if mt != "application/json" {
		if mt == "" {
			return nil, missingContentType(acceptJSON)
		}
		return nil, invalidContentType(mt, acceptJSON)
	}
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		return nil, apierr.New(http.StatusBadRequest, "bad_request", "Json deserialize error: %v", err)
	}
	return body, nil
}

// decodeBody reads a JSON body into v; unknown fields are refused, as
// Meilisearch does.
func (h *handler) decodeBody(r *http.Request, v any, allowEmpty bool) error {
	body, err := h.jsonBody(r, allowEmpty)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apierr.New(http.StatusBadRequest, "bad_request", "Json deserialize error: %v", err)
	}
	return nil
}

// pathUID returns the validated {uid} of r's path.
func (h *handler) pathUID(r *http.Request) (string, error) {
	uid := r.PathValue("uid")
	return uid, h.b.CheckIndexUID(uid)
}
