package miroir

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/meilisearch/meilisearch-go"
)

// Experimental features (GET/PATCH /experimental-features): meilisearch-go
// reaches them through a handle that sends HTTP requests, so the handle
// gets a transport that answers from the fleet.

// ExperimentalFeatures returns meilisearch-go's experimental features
// handle, wired to the fleet: Get reads one healthy node, Update applies
// the change to every node.
func (c *Cluster) ExperimentalFeatures() *meilisearch.ExperimentalFeatures {
	hc := &http.Client{Transport: featuresTransport{c}}
	return meilisearch.New("http://miroir.invalid", meilisearch.WithCustomClient(hc), meilisearch.DisableRetries()).ExperimentalFeatures()
}

// featuresTransport serves /experimental-features for the meilisearch-go
// handle from the fleet, without any listener.
type featuresTransport struct{ c *Cluster }

// RoundTrip answers one request of the handle as a node would, errors
// included.
func (t featuresTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	var status int
	var out []byte
	if r.URL.Path != "/experimental-features" {
		status, out = errorBody(newError(http.StatusNotFound, "not_found", "miroir: %s is not served here", r.URL.Path))
	} else {
		status, out = t.c.serveFeatures(r.Context(), r.Method, body)
	}
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(bytes.NewReader(out)), ContentLength: int64(len(out)), Request: r,
	}, nil
}

// serveFeatures answers a request on /experimental-features as a node
// would, status and body (errors rendered): GET reads one healthy node,
// PATCH applies body to every node and answers the first node's answer.
// It serves the meilisearch-go handle and the proxy alike.
func (c *Cluster) serveFeatures(ctx context.Context, method string, body []byte) (int, []byte) {
	var out []byte
	var err error
	switch method {
	case http.MethodGet:
		err = c.oneNode(ctx, func(n *node) error {
			resp, err := n.do(ctx, "getFeatures", http.MethodGet, "/experimental-features", nil, "", nil)
			if err == nil {
				out = resp.Body
			}
			return err
		})
	case http.MethodPatch:
		out, err = c.keyBroadcast(ctx, "updateFeatures", http.MethodPatch, "/experimental-features", json.RawMessage(body), "")
	default:
		err = newError(http.StatusMethodNotAllowed, "not_found", "miroir: %s not allowed", method)
	}
	if err != nil {
		return errorBody(err)
	}
	return http.StatusOK, out
}
