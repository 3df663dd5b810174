package meilitest

import (
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
)

// Meilisearch accepts gzip, deflate (zlib) and brotli request bodies and
// compresses responses by Accept-Encoding; meilisearch-go's
// WithContentEncoding relies on both directions.

// decompress wraps a request body per its Content-Encoding.
func decompress(encoding string, r io.Reader) (io.Reader, func(), error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return r, func() {}, nil
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case "deflate":
		zr, err := zlib.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case "br":
		return brotli.NewReader(r), func() {}, nil
	default:
		return nil, nil, newError("invalid_content_type", "Unsupported Content-Encoding `%s`.", encoding)
	}
}

// compressWriter encodes the response body with the negotiated encoding.
type compressWriter struct {
	http.ResponseWriter
	enc      string
	w        io.WriteCloser
	wroteHdr bool
}

func (c *compressWriter) WriteHeader(status int) {
	if c.wroteHdr {
		return
	}
	c.wroteHdr = true
	h := c.Header()
	h.Del("Content-Length")
	if status != http.StatusNoContent && status >= 200 {
		h.Set("Content-Encoding", c.enc)
		h.Add("Vary", "Accept-Encoding")
		c.w = getEncoder(c.enc, c.ResponseWriter)
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *compressWriter) Write(b []byte) (int, error) {
	if !c.wroteHdr {
		c.WriteHeader(http.StatusOK)
	}
	if c.w == nil {
		return c.ResponseWriter.Write(b)
	}
	return c.w.Write(b)
}

func (c *compressWriter) close() {
	if c.w != nil {
		_ = c.w.Close()
		putEncoder(c.enc, c.w)
		c.w = nil
	}
}

// Encoders are pooled: a compressor's state is hundreds of kilobytes, and
// Go's HTTP client asks for gzip on every request, so a fresh one per
// response dominated the cost of small answers (health probes, task
// polls), and the -race run of every test that talks to meilitest.
var encoders = map[string]*sync.Pool{
	"gzip":    {New: func() any { return gzip.NewWriter(nil) }},
	"deflate": {New: func() any { return zlib.NewWriter(nil) }},
	"br":      {New: func() any { return brotli.NewWriter(nil) }},
}

// resetter is what the pooled encoders share: a new destination.
type resetter interface {
	io.WriteCloser
	Reset(io.Writer)
}

func getEncoder(enc string, w io.Writer) io.WriteCloser {
	p := encoders[enc]
	if p == nil {
		return nil
	}
	e := p.Get().(resetter)
	e.Reset(w)
	return e
}

func putEncoder(enc string, e io.WriteCloser) {
	if p := encoders[enc]; p != nil {
		if r, ok := e.(resetter); ok {
			r.Reset(nil) // drop the response writer
			p.Put(r)
		}
	}
}

// negotiateEncoding picks the first encoding of Accept-Encoding meilitest
// can produce, or "".
func negotiateEncoding(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(q) == "q=0" {
			continue
		}
		switch n := strings.ToLower(strings.TrimSpace(name)); n {
		case "gzip", "deflate", "br":
			return n
		}
	}
	return ""
}
