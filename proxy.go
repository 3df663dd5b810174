package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/proxy"
)

// Proxy mode (DESIGN §9): Cluster.Handler serves Meilisearch's REST API on
// top of the Cluster, so that any official SDK talks to a sharded fleet
// through one URL. The handler lives in internal/proxy and reaches the
// Cluster only through its proxy.Backend interface, which proxyBackend
// below implements: every route is a translation onto a Cluster method (or
// its raw-bytes twin); routing, quorum, merging and settings logic stay in
// this package. This file holds the public entry, its options and that
// adapter.

// HandlerOption configures Cluster.Handler.
type HandlerOption func(*handlerConfig)

// handlerConfig is the proxy's configuration, which the options set.
type handlerConfig = proxy.Config

// DefaultMaxBodyBytes is the request body limit of the handler, the same
// as Meilisearch's default http payload limit (100 MiB).
const DefaultMaxBodyBytes = 100 << 20

// WithMasterKey makes every route but /health require
// "Authorization: Bearer <key>": a missing header answers 401
// missing_authorization_header, another token 403 invalid_api_key (the
// comparison takes constant time). Without it the API is open, like a
// Meilisearch started without a master key. The key is the handler's own;
// nodes are reached with the Cluster's node keys.
func WithMasterKey(key string) HandlerOption { return func(c *handlerConfig) { c.MasterKey = key } }

// WithAdminKey sets the key that /_miroir/* (topology, shards, readiness)
// require. Without it those routes take the master key (and are open
// when there is none).
func WithAdminKey(key string) HandlerOption { return func(c *handlerConfig) { c.AdminKey = key } }

// WithAuthPassthrough forwards the caller's own bearer token to the nodes
// instead of the Cluster's node keys, so that Meilisearch API keys and
// tenant tokens keep their permissions: the nodes judge them. The master
// key (WithMasterKey), when it is the caller's token, is still accepted by
// the handler itself and then the node keys are used. Every node must share
// the fleet's master key, so that a key has the same value everywhere.
func WithAuthPassthrough() HandlerOption { return func(c *handlerConfig) { c.Passthrough = true } }

// WithMaxBodyBytes bounds request bodies, after decompression (default
// DefaultMaxBodyBytes); larger bodies answer 413 payload_too_large.
func WithMaxBodyBytes(n int64) HandlerOption {
	return func(c *handlerConfig) {
		if n > 0 {
			c.MaxBody = n
		}
	}
}

// WithContentCoding adds a Content-Encoding to the built-in gzip and
// deflate: request bodies with Content-Encoding name are decoded by decode,
// and answers to requests that accept name (Accept-Encoding) are encoded by
// encode (nil: never chosen for answers). Meilisearch also speaks brotli
// ("br"), which needs a package from outside the standard library, e.g.
// github.com/andybalholm/brotli:
//
//	miroir.WithContentCoding("br",
//		func(r io.Reader) (io.ReadCloser, error) { return io.NopCloser(brotli.NewReader(r)), nil },
//		func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) })
func WithContentCoding(name string, decode func(io.Reader) (io.ReadCloser, error), encode func(io.Writer) io.WriteCloser) HandlerOption {
	return func(c *handlerConfig) {
		if c.Codings == nil {
			c.Codings = map[string]proxy.Coding{}
		}
		c.Codings[strings.ToLower(name)] = proxy.Coding{Decode: decode, Encode: encode}
	}
}

// WithMetricsHandler serves m (e.g. promhttp.HandlerFor over a registry
// holding the contrib/prometheus collector) at GET /_miroir/metrics,
// behind the admin key like the other /_miroir/* routes. Without it the
// route answers 404.
func WithMetricsHandler(m http.Handler) HandlerOption {
	return func(c *handlerConfig) { c.Metrics = m }
}

// Handler returns an http.Handler serving Meilisearch's REST API over the
// fleet (proxy mode): health, version, stats, indexes, documents (JSON,
// NDJSON, CSV), search, facet search, similar documents, multi-search,
// settings, tasks and keys, plus /_miroir/topology, /_miroir/shards,
// /_miroir/ready and, with WithMetricsHandler, /_miroir/metrics. Answers
// have Meilisearch's shapes, status codes and errors; a write or read that
// was degraded carries X-Miroir-Degraded. Each request is logged as one
// structured line (Info) through the Cluster's logger (WithLogger):
// method, route pattern, status, duration, index, degraded; never a body,
// a query string or a key.
// Mount it at the root of a server or under a prefix with
// http.StripPrefix.
func (c *Cluster) Handler(opts ...HandlerOption) http.Handler {
	cfg := handlerConfig{MaxBody: DefaultMaxBodyBytes}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return proxy.New(proxyBackend{c}, cfg)
}

// ---- the Cluster as the proxy's Backend ----

// proxyBackend is the Cluster as internal/proxy's Backend (DESIGN §9):
// each method is a thin translation onto the Cluster, so that the proxy
// never reaches the Cluster's internals.
type proxyBackend struct{ c *Cluster }

var _ proxy.Backend = proxyBackend{}

// shardView is one shard in /_miroir/shards, under the name the root's
// handler tests decode it with.
type shardView = proxy.ShardView

// Service returns the Cluster, a meilisearch.ServiceManager.
func (b proxyBackend) Service() meilisearch.ServiceManager { return b.c }

// ListIndexes is listIndexes with the caller's offset and limit.
func (b proxyBackend) ListIndexes(ctx context.Context, offset, limit int64) (*proxy.IndexList, error) {
	res, err := b.c.listIndexes(ctx, &meilisearch.IndexesQuery{Offset: offset, Limit: limit})
	if err != nil {
		return nil, err
	}
	return (*proxy.IndexList)(res), nil
}

// GetIndex is getRawIndex.
func (b proxyBackend) GetIndex(ctx context.Context, uid string) ([]byte, error) {
	return b.c.getRawIndex(ctx, uid)
}

// WriteDocuments is Index.writeBytes of one payload, without batching.
func (b proxyBackend) WriteDocuments(ctx context.Context, uid string, w proxy.DocumentWrite) (*meilisearch.TaskInfo, error) {
	var kind payloadKind
	switch w.Format {
	case "json":
		kind = kindJSON
	case "ndjson":
		kind = kindNDJSON
	case "csv":
		kind = kindCSV
	default:
		return nil, fmt.Errorf("miroir: unknown document format %q", w.Format)
	}
	p := docParams{
		primaryKey:   w.PrimaryKey,
		skipCreation: w.SkipCreation,
		csvDelimiter: w.CSVDelimiter,
		hasDelimiter: w.HasDelimiter,
		metadata:     w.CustomMetadata,
	}
	return one(b.c.index(uid).writeBytes(ctx, w.Method, kind, w.Body, 0, p))
}

// FetchDocuments is documentsBody.
func (b proxyBackend) FetchDocuments(ctx context.Context, uid string, body []byte) ([]byte, error) {
	return b.c.documentsBody(ctx, uid, body)
}

// Search is searchBody.
func (b proxyBackend) Search(ctx context.Context, uid string, body []byte) ([]byte, error) {
	return b.c.searchBody(ctx, uid, body)
}

// FacetSearch is facetSearchBody.
func (b proxyBackend) FacetSearch(ctx context.Context, uid string, body []byte) ([]byte, error) {
	return b.c.facetSearchBody(ctx, uid, body)
}

// Similar is similarBody.
func (b proxyBackend) Similar(ctx context.Context, uid string, body []byte) ([]byte, error) {
	return b.c.similarBody(ctx, uid, body)
}

// MultiSearch is multiSearchBody.
func (b proxyBackend) MultiSearch(ctx context.Context, body []byte) ([]byte, error) {
	return b.c.multiSearchBody(ctx, body)
}

// GetSettings is getSettingsRaw.
func (b proxyBackend) GetSettings(ctx context.Context, uid, route string) ([]byte, error) {
	return b.c.getSettingsRaw(ctx, uid, route)
}

// UpdateSettings is updateSettingsRaw.
func (b proxyBackend) UpdateSettings(ctx context.Context, uid, route, method string, body []byte) (*meilisearch.TaskInfo, error) {
	return b.c.updateSettingsRaw(ctx, uid, route, method, body)
}

// SettingVerb reads the settings table.
func (b proxyBackend) SettingVerb(route string) (string, bool) {
	d := settingByRoute(route)
	if d == nil {
		return "", false
	}
	return d.update, true
}

// ExperimentalFeatures is serveFeatures, as the Cluster's meilisearch-go
// features handle also answers.
func (b proxyBackend) ExperimentalFeatures(ctx context.Context, method string, body []byte) (int, []byte) {
	if body == nil {
		body = []byte{} // a request's body, read, is never nil
	}
	return b.c.serveFeatures(ctx, method, body)
}

// ListTasks is listClusterTasks.
func (b proxyBackend) ListTasks(ctx context.Context, f proxy.TaskFilter, p proxy.TaskPaging) (*proxy.TaskList, error) {
	res, err := b.c.listClusterTasks(ctx, taskFilterOf(f), taskPaging{limit: p.Limit, from: p.From, fromGiven: p.FromGiven, reverse: p.Reverse})
	if err != nil {
		return nil, err
	}
	out := &proxy.TaskList{Tasks: make([]*proxy.Task, len(res.tasks)), Limit: res.limit, Total: res.total, From: res.from, Next: res.next}
	for i, t := range res.tasks {
		out.Tasks[i] = proxyTask(t)
	}
	return out, nil
}

// GetTask is getClusterTask.
func (b proxyBackend) GetTask(ctx context.Context, uid int64) (*proxy.Task, error) {
	t, err := b.c.getClusterTask(ctx, uid)
	if err != nil {
		return nil, err
	}
	return proxyTask(t), nil
}

// TaskDocuments is taskDocuments.
func (b proxyBackend) TaskDocuments(ctx context.Context, uid int64) ([][]byte, error) {
	return b.c.taskDocuments(ctx, uid)
}

// CancelTasks is cancelTasks.
func (b proxyBackend) CancelTasks(ctx context.Context, f proxy.TaskFilter) (*meilisearch.TaskInfo, error) {
	return b.c.cancelTasks(ctx, taskFilterOf(f))
}

// DeleteTasks is deleteTasks.
func (b proxyBackend) DeleteTasks(ctx context.Context, f proxy.TaskFilter) (*meilisearch.TaskInfo, error) {
	return b.c.deleteTasks(ctx, taskFilterOf(f))
}

// taskFilterOf is the Cluster's form of a parsed task query (the grant is
// read from the call's context where the filter is used).
func taskFilterOf(f proxy.TaskFilter) taskFilter {
	return taskFilter{
		uids: f.UIDs, canceledBy: f.CanceledBy, indexUIDs: f.IndexUIDs, statuses: f.Statuses, types: f.Types,
		beforeEnq: f.BeforeEnqueuedAt, afterEnq: f.AfterEnqueuedAt, beforeSt: f.BeforeStartedAt,
		afterSt: f.AfterStartedAt, beforeFin: f.BeforeFinishedAt, afterFin: f.AfterFinishedAt,
		given: f.Given, original: f.Original,
	}
}

// proxyTask is a cluster task with its details exactly as one Meilisearch
// node shows them: the raw details, none for a task without (such as a
// snapshot), the typed ones for a record stored before raw details
// existed.
func proxyTask(t *ClusterTask) *proxy.Task {
	out := &proxy.Task{Base: t.viewBase()}
	switch {
	case string(t.RawDetails) == "null":
	case len(t.RawDetails) > 0:
		out.Details = t.RawDetails
	default:
		out.Details, _ = json.Marshal(t.Details)
	}
	return out
}

// AuthKey is GetKey with the node keys.
func (b proxyBackend) AuthKey(ctx context.Context, identifier string) (*meilisearch.Key, error) {
	return b.c.GetKey(withNodeKeys(ctx), identifier)
}

// CheckIndexUID is validateIndexUID, miroir_meta let through (the calls
// refuse it themselves).
func (b proxyBackend) CheckIndexUID(uid string) error { return validateIndexUID(uid, allowReserved) }

// PrimaryKey reads the index state.
func (b proxyBackend) PrimaryKey(ctx context.Context, uid string) string {
	st, err := b.c.state(ctx, uid)
	if err != nil {
		return ""
	}
	return st.PrimaryKey()
}

// Unsupported is unsupported.
func (b proxyBackend) Unsupported(what, why string) error { return unsupported(what, why) }

// Topology encodes Cluster.Topology.
func (b proxyBackend) Topology() []byte {
	out, _ := json.Marshal(b.c.Topology())
	return out
}

// Shards reads one Topology snapshot.
func (b proxyBackend) Shards() proxy.ShardLayout {
	t := b.c.Topology()
	out := proxy.ShardLayout{Shards: t.Shards, Groups: t.Groups, ReplicationFactor: t.ReplicationFactor,
		Replicas: make([][][]string, t.Shards), Healthy: make(map[string]bool, len(t.Nodes))}
	for _, n := range t.Nodes {
		out.Healthy[n.ID] = n.Healthy
	}
	for _, sr := range t.Stale {
		if out.Stale == nil {
			out.Stale = map[int]map[string][]string{}
		}
		if out.Stale[sr.Shard] == nil {
			out.Stale[sr.Shard] = map[string][]string{}
		}
		out.Stale[sr.Shard][sr.Index] = append(out.Stale[sr.Shard][sr.Index], sr.Node)
	}
	for s := range t.Shards {
		out.Replicas[s] = make([][]string, t.Groups)
		for g := range t.Groups {
			out.Replicas[s][g] = t.Replicas(s, g)
		}
	}
	return out
}

// Ready reads the health marks, without probing.
func (b proxyBackend) Ready() error {
	if err := b.c.checkOpen(); err != nil {
		return err
	}
	if bad := b.c.shardsWithoutHealthyReplica(); len(bad) > 0 {
		return shardUnavailableError(bad)
	}
	return nil
}

// Track attaches a Report and reads it under its lock (a call may still
// be finishing on some node when the answer is written).
func (b proxyBackend) Track(ctx context.Context) (context.Context, func() proxy.Degradation) {
	rep := &Report{}
	return WithReport(ctx, rep), func() proxy.Degradation {
		rep.mu.Lock()
		defer rep.mu.Unlock()
		d := proxy.Degradation{Unavailable: slices.Clone(rep.UnavailableShards)}
		for _, p := range rep.Degraded {
			d.Groups = append(d.Groups, proxy.GroupShard{Group: p.Group, Shard: p.Shard})
		}
		return d
	}
}

// RenderError is errorBody with the status a proxy answers with: a node
// that did not answer (or a closed Cluster) is 503, a deadline 504.
func (b proxyBackend) RenderError(err error) (int, string, []byte) {
	status, body := errorBody(err)
	if status == http.StatusInternalServerError {
		switch {
		case isTransportError(err) || apiCode(err) == CodeNodeUnreachable:
			status = http.StatusServiceUnavailable
		case errors.Is(err, context.DeadlineExceeded):
			status = http.StatusGatewayTimeout
		case errors.Is(err, ErrClosed):
			status = http.StatusServiceUnavailable
		}
	}
	return status, apiCode(err), body
}

// Logger is the Cluster's logger.
func (b proxyBackend) Logger() *slog.Logger { return b.c.opts.logger }
