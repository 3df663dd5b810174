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
	ctx := r.Context()
	var body []byte
	var err error
	if r.Body != nil {
		body, err = io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	var out []byte
	switch {
	case r.URL.Path != "/experimental-features":
		err = newError(http.StatusNotFound, "not_found", "miroir: %s is not served here", r.URL.Path)
	case r.Method == http.MethodGet:
		out, err = t.c.getFeatures(ctx)
	case r.Method == http.MethodPatch:
		out, err = t.c.updateFeatures(ctx, body)
	default:
		err = newError(http.StatusMethodNotAllowed, "not_found", "miroir: %s not allowed", r.Method)
	}
	status := http.StatusOK
	if err != nil {
		status, out = errorBody(err)
	}
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(bytes.NewReader(out)), ContentLength: int64(len(out)), Request: r,
	}, nil
}

// getFeatures reads the experimental features from one healthy node.
func (c *Cluster) getFeatures(ctx context.Context) ([]byte, error) {
	var out []byte
	err := c.oneNode(ctx, func(n *node) error {
		resp, err := n.do(ctx, "getFeatures", http.MethodGet, "/experimental-features", nil, "", nil)
		if err == nil {
			out = resp.Body
		}
		return err
	})
	return out, err
}

// updateFeatures applies a PATCH /experimental-features body to every
// node and returns the first node's answer.
func (c *Cluster) updateFeatures(ctx context.Context, body []byte) ([]byte, error) {
	return c.keyBroadcast(ctx, "updateFeatures", http.MethodPatch, "/experimental-features", json.RawMessage(body), "")
}
