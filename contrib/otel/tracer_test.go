package miroirotel_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir"
	miroirotel "github.com/miroirsearch/miroir/contrib/otel"
	"github.com/miroirsearch/miroir/meilitest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

type fleet struct {
	srv []*meilitest.Server
	c   *miroir.Cluster
	rec *tracetest.SpanRecorder
}

func startFleet(t *testing.T, opts ...miroirotel.Option) *fleet {
	t.Helper()
	srv := meilitest.RunCluster(t, 2, meilitest.WithTaskDuration(0))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := miroirotel.New(append([]miroirotel.Option{miroirotel.WithTracerProvider(tp)}, opts...)...)
	c, err := miroir.New([]miroir.Node{{ID: "n0", URL: srv[0].URL(), Group: 0}, {ID: "n1", URL: srv[1].URL(), Group: 1}},
		miroir.WithShards(4), miroir.WithRetries(miroir.RetryPolicy{}), miroir.WithObserver(tr),
		miroir.WithHealthCheck(20*time.Millisecond, 2*time.Second, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &fleet{srv: srv, c: c, rec: rec}
}

func (f *fleet) write(t *testing.T, docs []map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := f.c.Index("movies").AddDocuments(ctx, docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	task, err := f.c.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
	if err != nil || task.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("task %+v: %v", task, err)
	}
}

func docs(from, n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"id": from + i, "title": "movie"}
	}
	return out
}

// spansNamed returns the ended spans called name.
func (f *fleet) spansNamed(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range f.rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// children returns the ended spans whose parent is s.
func (f *fleet) children(s sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, c := range f.rec.Ended() {
		if c.Parent().SpanID() == s.SpanContext().SpanID() {
			out = append(out, c)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// A search is one client span with one child per node request; the
// children name the nodes the call's Report says it contacted.
func TestSpanTreeOfASearch(t *testing.T) {
	f := startFleet(t)
	f.write(t, docs(0, 20))
	rep := &miroir.Report{}
	ctx := miroir.WithReport(context.Background(), rep)
	if _, err := f.c.Index("movies").Search(ctx, "movie", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	calls := f.spansNamed("search movies")
	if len(calls) != 1 {
		t.Fatalf("%d search spans", len(calls))
	}
	call := calls[0]
	if call.SpanKind() != trace.SpanKindClient || call.Parent().IsValid() {
		t.Fatalf("call span kind %v, parent %v", call.SpanKind(), call.Parent())
	}
	for k, want := range map[attribute.Key]string{"db.system.name": "meilisearch", "db.operation.name": "search",
		"db.collection.name": "movies", miroirotel.AttrOutcome: "ok"} {
		if got := attr(call, k).AsString(); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	kids := f.children(call)
	if len(kids) == 0 {
		t.Fatal("the search span has no node spans")
	}
	var nodes []string
	for _, k := range kids {
		n := attr(k, miroirotel.AttrNode).AsString()
		if !slices.Contains(nodes, n) {
			nodes = append(nodes, n)
		}
		if k.SpanContext().TraceID() != call.SpanContext().TraceID() || attr(k, "http.response.status_code").AsInt64() != 200 {
			t.Errorf("node span %s: trace %v, status %v", k.Name(), k.SpanContext().TraceID(), attr(k, "http.response.status_code"))
		}
		if k.EndTime().After(call.EndTime()) {
			t.Errorf("node span %s ends after its call", k.Name())
		}
	}
	slices.Sort(nodes)
	if !slices.Equal(nodes, rep.NodesContacted) {
		t.Fatalf("node spans on %v, report contacted %v", nodes, rep.NodesContacted)
	}
}

// With a node stopped the write's span says degraded, with its pairs; a
// failed call's span has an error status; node requests outside calls
// (task polling) make no spans.
func TestSpansOfDegradedAndFailedCalls(t *testing.T) {
	f := startFleet(t)
	f.write(t, docs(0, 10))
	f.srv[1].Stop()
	deadline := time.Now().Add(30 * time.Second)
	for f.c.Topology().Nodes[1].Healthy {
		if time.Now().After(deadline) {
			t.Fatal("n1 never marked down")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.write(t, docs(10, 10))
	writes := f.spansNamed("documentAdditionOrUpdate movies")
	if len(writes) != 2 {
		t.Fatalf("%d write spans", len(writes))
	}
	w := writes[1]
	if attr(w, miroirotel.AttrOutcome).AsString() != "degraded" || !attr(w, miroirotel.AttrDegraded).AsBool() {
		t.Fatalf("degraded write span: %v", w.Attributes())
	}
	pairs := attr(w, miroirotel.AttrPairs).AsStringSlice()
	if len(pairs) == 0 {
		t.Fatal("no degraded pairs on the span")
	}
	for _, p := range pairs {
		if p[:2] != "1/" {
			t.Errorf("pair %s is not in group 1", p)
		}
	}
	if w.Status().Code == codes.Error {
		t.Error("a degraded success has an error status")
	}

	if _, err := f.c.Index("books").Search(context.Background(), "x", &meilisearch.SearchRequest{}); err == nil {
		t.Fatal("search of a missing index succeeded")
	}
	failed := f.spansNamed("search books")
	if len(failed) != 1 || failed[0].Status().Code != codes.Error || attr(failed[0], "error.type").AsString() != "error" {
		t.Fatalf("failed search spans: %v", failed)
	}

	// Every node span hangs under a call span.
	calls := map[trace.SpanID]bool{}
	for _, s := range f.rec.Ended() {
		if !s.Parent().IsValid() {
			calls[s.SpanContext().SpanID()] = true
		}
	}
	for _, s := range f.rec.Ended() {
		if s.Parent().IsValid() && !calls[s.Parent().SpanID()] {
			t.Errorf("span %s has a parent that is not a call", s.Name())
		}
		if !s.Parent().IsValid() && attr(s, miroirotel.AttrNode).Type() != attribute.INVALID {
			t.Errorf("node span %s without a call", s.Name())
		}
	}
}

// WithoutNodeSpans keeps the call spans only.
func TestWithoutNodeSpans(t *testing.T) {
	f := startFleet(t, miroirotel.WithoutNodeSpans())
	f.write(t, docs(0, 5))
	for _, s := range f.rec.Ended() {
		if s.Parent().IsValid() {
			t.Fatalf("span %s has a parent", s.Name())
		}
	}
	if len(f.spansNamed("documentAdditionOrUpdate movies")) != 1 {
		t.Fatalf("spans %d", len(f.rec.Ended()))
	}
}
