package miroir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/meilisearch/meilisearch-go"
)

// node is one Meilisearch node as the Cluster sees it: its identity, a
// typed meilisearch-go client, a raw HTTP path for the hot calls (bytes in,
// bytes out, no re-encoding), and its health.
type node struct {
	idx    int
	Node          // ID, URL, Group
	key    string // API key used toward the node; never logged or returned
	base   string // URL without trailing slash
	client meilisearch.ServiceManager
	http   *retryablehttp.Client
	c      *Cluster

	healthy atomic.Bool
	fails   atomic.Int32 // consecutive failures (active or passive)
	oks     atomic.Int32 // consecutive successes while unhealthy

	load nodeLoad // latency and outstanding requests, replica_select.go
	// marksUnread: the node came back from unhealthy and this instance has
	// not re-read the stale marks since; it serves no reads until then
	// (it may have missed writes, marked by another instance meanwhile).
	marksUnread atomic.Bool
	backGen     atomic.Uint64 // counts the node's comebacks
}

// nodeResponse is a raw node answer.
type nodeResponse struct {
	Status int
	Body   []byte
}

// do sends one request to the node. A non-2xx answer becomes a
// *meilisearch.Error carrying the node's {message, code, type, link}, so
// callers (and user code) inspect node errors as meilisearch-go's. A
// transport failure also marks the node down passively.
func (n *node) do(ctx context.Context, op, method, path string, query url.Values, contentType string, body []byte) (*nodeResponse, error) {
	var rd any
	if body != nil {
		rd = bytes.NewReader(body)
	}
	return n.doBody(ctx, op, method, path, query, contentType, rd)
}

// doBody is do with the body in any form retryablehttp takes: nil, a
// *bytes.Reader, or a retryablehttp.ReaderFunc making a fresh reader per
// attempt (the write path's generated bodies, whose reader reports its
// length, so the request has a Content-Length).
func (n *node) doBody(ctx context.Context, op, method, path string, query url.Values, contentType string, body any) (*nodeResponse, error) {
	u := n.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	if no := n.c.hooks.nodes; no != nil {
		ctx = no.NodeRequestStarted(ctx, n.requestInfo(op, method))
	}
	ctx, cancel := context.WithTimeout(ctx, n.c.opts.nodeTimeout)
	defer cancel()
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if tok := authTokenFrom(ctx); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	} else if n.key != "" {
		req.Header.Set("Authorization", "Bearer "+n.key)
	}
	reportFrom(ctx).contacted(n.ID)
	n.load.outstanding.Add(1)
	defer n.load.outstanding.Add(-1)
	start := time.Now()
	resp, err := n.http.Do(req)
	if err != nil {
		n.finished(ctx, op, method, 0, time.Since(start), err)
		if ctx.Err() == nil || errors.Is(err, context.DeadlineExceeded) {
			n.markFailure()
		}
		return nil, n.transportError(method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		n.finished(ctx, op, method, resp.StatusCode, time.Since(start), err)
		n.markFailure()
		return nil, n.transportError(method, path, err)
	}
	n.markSuccess()
	if resp.StatusCode >= 300 {
		e := n.apiError(method, path, resp.StatusCode, b)
		n.finished(ctx, op, method, resp.StatusCode, time.Since(start), e)
		return &nodeResponse{Status: resp.StatusCode, Body: b}, e
	}
	n.finished(ctx, op, method, resp.StatusCode, time.Since(start), nil)
	return &nodeResponse{Status: resp.StatusCode, Body: b}, nil
}

// requestInfo names one request for a NodeRequestObserver.
func (n *node) requestInfo(op, method string) NodeRequestInfo {
	return NodeRequestInfo{NodeID: n.ID, Group: n.Group, Operation: op, Method: method}
}

// finished tells the Observer a request ended (status 0: no answer).
func (n *node) finished(ctx context.Context, op, method string, status int, d time.Duration, err error) {
	n.c.observe(n.ID, op, d, err)
	if no := n.c.hooks.nodes; no != nil {
		no.NodeRequestFinished(ctx, n.requestInfo(op, method), status, d, err)
	}
}

// doJSON is do with a JSON body marshalled from v (nil: no body) and the
// answer decoded into out (nil: ignored).
func (n *node) doJSON(ctx context.Context, op, method, path string, query url.Values, v any, out any) error {
	var body []byte
	ct := ""
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			return err
		}
		ct = "application/json"
	}
	resp, err := n.do(ctx, op, method, path, query, ct, body)
	if err != nil {
		return err
	}
	if out != nil && len(resp.Body) > 0 {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return fmt.Errorf("miroir: node %s: decoding %s %s: %w", n.ID, method, path, err)
		}
	}
	return nil
}

// apiError turns a node's error answer into a *meilisearch.Error.
func (n *node) apiError(method, path string, status int, body []byte) *meilisearch.Error {
	e := &meilisearch.Error{Endpoint: path, Method: method, Function: "miroir node " + n.ID, StatusCode: status, ResponseToString: string(body)}
	e = e.WithErrCode(meilisearch.APIError)
	var d meilisearch.APIErrorDetails
	if json.Unmarshal(body, &d) == nil && d.Code != "" {
		if m := hideShardField(d.Message); m != d.Message {
			d.Message = m
			e.ResponseToString = hideShardField(e.ResponseToString)
		}
		e.APIError = d
	} else {
		e = e.WithErrCode(meilisearch.APIErrorWithoutMessage)
		e.APIError.Message = strings.TrimSpace(string(body))
	}
	return e
}

// transportError reports a request that got no answer, naming the node.
func (n *node) transportError(method, path string, err error) error {
	e := &meilisearch.Error{Endpoint: path, Method: method, Function: "miroir node " + n.ID}
	e.APIError = meilisearch.APIErrorDetails{
		Message: fmt.Sprintf("node %s unreachable", n.ID),
		Code:    CodeNodeUnreachable,
		Type:    "system",
		Link:    "https://docs.meilisearch.com/errors#" + CodeNodeUnreachable,
	}
	return e.WithErrCode(meilisearch.CommunicationError, err)
}

func (n *node) isHealthy() bool { return n.healthy.Load() }

// markFailure counts a failure; past the threshold the node goes down.
func (n *node) markFailure() {
	n.oks.Store(0)
	if n.fails.Add(1) >= int32(n.c.opts.failThreshold) && n.healthy.CompareAndSwap(true, false) {
		n.c.nodeStateChanged(n, false)
	}
}

// markSuccess counts a success; past the threshold a down node comes back.
func (n *node) markSuccess() {
	n.fails.Store(0)
	if n.healthy.Load() {
		return
	}
	if n.oks.Add(1) >= int32(n.c.opts.okThreshold) && n.healthy.CompareAndSwap(false, true) {
		n.c.nodeStateChanged(n, true)
	}
}

// probe checks /health once.
func (n *node) probe(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, n.c.opts.healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.base+"/health", nil)
	if err != nil {
		return
	}
	resp, err := n.http.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			n.markFailure()
		}
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		n.markSuccess()
	} else {
		n.markFailure()
	}
}

// nodeByID returns the node with id, or nil.
func (c *Cluster) nodeByID(id string) *node {
	for _, n := range c.members() {
		if n.ID == id {
			return n
		}
	}
	return nil
}
