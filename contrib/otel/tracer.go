// Package miroirotel traces a miroir Cluster with OpenTelemetry: one span
// per cluster call (a public Cluster or Index method) and, under it, one
// child span per request to a node. It is a miroir.Observer implementing
// the CallObserver and NodeRequestObserver extensions; give it to
// miroir.New with miroir.WithObserver, or with other observers through
// miroir.Observers.
//
//	tr := miroirotel.New(miroirotel.WithTracerProvider(tp))
//	cluster, _ := miroir.New(nodes, miroir.WithObserver(tr))
//
// Spans follow OpenTelemetry's database-client semantic conventions where
// they fit: kind client, name "{operation} {index}", db.system.name
// "meilisearch", db.operation.name, db.collection.name (the index),
// error.type on failure; miroir's own attributes say how the call ended
// (miroir.outcome, miroir.degraded, miroir.degraded_pairs as
// "group/shard", miroir.unavailable_shards) and which node and replica
// group a node request went to (miroir.node, miroir.group,
// http.request.method, http.response.status_code). No attribute carries a
// document id, a query or a key.
package miroirotel

import (
	"context"
	"strconv"
	"time"

	"github.com/miroirsearch/miroir"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of miroir's spans.
const ScopeName = "github.com/miroirsearch/miroir/contrib/otel"

// Option configures a Tracer.
type Option func(*Tracer)

// WithTracerProvider sets the provider spans come from (default: the
// global one, otel.GetTracerProvider()).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(t *Tracer) {
		if tp != nil {
			t.tracer = tp.Tracer(ScopeName)
		}
	}
}

// WithoutNodeSpans keeps only the call spans (a busy fleet's node
// requests are many).
func WithoutNodeSpans() Option { return func(t *Tracer) { t.noNodes = true } }

// Tracer is a miroir.Observer starting spans for cluster calls and their
// node requests. It is safe for concurrent use.
type Tracer struct {
	miroir.NopObserver
	tracer  trace.Tracer
	noNodes bool
}

var (
	_ miroir.CallObserver        = (*Tracer)(nil)
	_ miroir.NodeRequestObserver = (*Tracer)(nil)
)

// New returns a Tracer.
func New(opts ...Option) *Tracer {
	t := &Tracer{}
	for _, o := range opts {
		if o != nil {
			o(t)
		}
	}
	if t.tracer == nil {
		t.tracer = otel.GetTracerProvider().Tracer(ScopeName)
	}
	return t
}

// Attribute keys of miroir's spans beyond the semantic conventions.
const (
	AttrOutcome     = attribute.Key("miroir.outcome")
	AttrDegraded    = attribute.Key("miroir.degraded")
	AttrPairs       = attribute.Key("miroir.degraded_pairs")
	AttrUnavailable = attribute.Key("miroir.unavailable_shards")
	AttrNode        = attribute.Key("miroir.node")
	AttrGroup       = attribute.Key("miroir.group")
)

// Semantic-convention keys used (database client, HTTP, error).
const (
	keyDBSystem     = attribute.Key("db.system.name")
	keyDBOperation  = attribute.Key("db.operation.name")
	keyDBCollection = attribute.Key("db.collection.name")
	keyErrorType    = attribute.Key("error.type")
	keyHTTPMethod   = attribute.Key("http.request.method")
	keyHTTPStatus   = attribute.Key("http.response.status_code")
)

// CallStarted implements miroir.CallObserver: the call's span.
func (t *Tracer) CallStarted(ctx context.Context, call miroir.CallInfo) context.Context {
	name := call.Operation
	attrs := []attribute.KeyValue{keyDBSystem.String("meilisearch"), keyDBOperation.String(call.Operation)}
	if call.Index != "" {
		name += " " + call.Index
		attrs = append(attrs, keyDBCollection.String(call.Index))
	}
	ctx, _ = t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
}

// CallFinished implements miroir.CallObserver: the call's outcome, then
// the end of its span.
func (t *Tracer) CallFinished(ctx context.Context, _ miroir.CallInfo, res miroir.CallResult) {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(AttrOutcome.String(string(res.Outcome)),
		AttrDegraded.Bool(len(res.Degraded) > 0 || len(res.UnavailableShards) > 0))
	if len(res.Degraded) > 0 {
		pairs := make([]string, len(res.Degraded))
		for i, p := range res.Degraded {
			pairs[i] = strconv.Itoa(p.Group) + "/" + strconv.Itoa(p.Shard)
		}
		span.SetAttributes(AttrPairs.StringSlice(pairs))
	}
	if len(res.UnavailableShards) > 0 {
		span.SetAttributes(AttrUnavailable.IntSlice(res.UnavailableShards))
	}
	if res.Err != nil {
		span.SetAttributes(keyErrorType.String(string(res.Outcome)))
		span.SetStatus(codes.Error, res.Err.Error())
	}
	span.End()
}

// nodeSpanKey marks a node request's context holding the span this
// Tracer started for it.
type nodeSpanKey struct{}

// NodeRequestStarted implements miroir.NodeRequestObserver: a child span
// of the call's (node requests outside any span, such as background task
// polling, are not traced).
func (t *Tracer) NodeRequestStarted(ctx context.Context, req miroir.NodeRequestInfo) context.Context {
	if t.noNodes || !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	ctx, span := t.tracer.Start(ctx, req.Operation+" "+req.NodeID, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(keyDBSystem.String("meilisearch"), keyDBOperation.String(req.Operation),
			AttrNode.String(req.NodeID), AttrGroup.Int(req.Group), keyHTTPMethod.String(req.Method)))
	return context.WithValue(ctx, nodeSpanKey{}, span)
}

// NodeRequestFinished implements miroir.NodeRequestObserver.
func (t *Tracer) NodeRequestFinished(ctx context.Context, _ miroir.NodeRequestInfo, status int, _ time.Duration, err error) {
	span, ok := ctx.Value(nodeSpanKey{}).(trace.Span)
	if !ok {
		return
	}
	if status > 0 {
		span.SetAttributes(keyHTTPStatus.Int(status))
	}
	if err != nil {
		et := "unreachable"
		if status > 0 {
			et = strconv.Itoa(status)
		}
		span.SetAttributes(keyErrorType.String(et))
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
