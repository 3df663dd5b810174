package miroir

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// The cost of observing (DESIGN §14): the same search and the same write
// through Clusters over the same three nodes, with no observer (none, the
// baseline), with NopObserver (nop: the four base events) and with an
// observer taking every extension (hooks: call start and end, node
// request start and end) that does almost nothing itself, so that what is
// measured is the core's hooks. Every iteration runs the call once per
// configuration, in rotating order, so that machine load hits them alike;
// the ratios to none and each configuration's allocations per call are
// reported. The adapters' own cost is measured the same way in their
// modules (contrib/prometheus, contrib/otel).
//
//	go test -run '^$' -bench ObserverOverhead -benchtime 300x .
func BenchmarkObserverOverhead(b *testing.B) {
	f := startFleet(b, fleetSpec{groups: groupsOf(1, 3), shards: 16, instant: true, timing: noProbes})
	f.load(b, "items", testSettings(false), genDocs(1000, 5))
	names := []string{"none", "nop", "hooks"}
	observers := []Observer{nil, NopObserver{}, &countingObserver{}}
	search := make([]func() error, len(names))
	write := make([]func() error, len(names))
	ctx := context.Background()
	for i, obs := range observers {
		opts := append(noProbes.options(), WithShards(16))
		if obs != nil {
			opts = append(opts, WithObserver(obs))
		}
		c := f.newCluster(b, opts...)
		// Each configuration writes to an index of its own, so that
		// none writes to an index grown by another's writes.
		f.createIndex(b, "w-"+names[i], "id")
		items, w := c.index("items"), c.index("w-"+names[i])
		search[i] = func() error {
			_, err := items.Search(ctx, "river", &meilisearch.SearchRequest{Limit: 10})
			return err
		}
		n := 0
		write[i] = func() error {
			n++
			_, err := w.AddDocuments(ctx, []map[string]any{{"id": "w" + strconv.Itoa(n), "title": "river"}}, nil)
			return err
		}
	}
	b.Run("search", func(b *testing.B) { alternate(b, names, search) })
	b.Run("write", func(b *testing.B) {
		alternate(b, names, write)
		b.StopTimer()
		f.idle(b) // the nodes' indexing must not load what runs next
	})
}

// alternate runs every op once per iteration in rotating order and
// reports each one's time per call, its ratio to ops[0]'s, and its
// allocations per call (measured apart, after the timed loop).
func alternate(b *testing.B, names []string, ops []func() error) {
	spent := make([]time.Duration, len(ops))
	for i := 0; b.Loop(); i++ {
		for k := range ops {
			j := (i + k) % len(ops)
			t0 := time.Now()
			if err := ops[j](); err != nil {
				b.Fatal(err)
			}
			spent[j] += time.Since(t0)
		}
	}
	b.StopTimer()
	for j, name := range names {
		b.ReportMetric(float64(spent[j].Nanoseconds())/float64(b.N), "ns/"+name)
		if j > 0 {
			b.ReportMetric(float64(spent[j])/float64(spent[0]), name+"/"+names[0])
		}
		b.ReportMetric(testing.AllocsPerRun(20, func() {
			if err := ops[j](); err != nil {
				b.Fatal(err)
			}
		}), "allocs/"+name)
	}
}

// countingObserver implements every extension with a counter each.
type countingObserver struct {
	NopObserver
	calls, nodes atomic.Int64
}

func (o *countingObserver) CallStarted(ctx context.Context, _ CallInfo) context.Context { return ctx }

func (o *countingObserver) CallFinished(context.Context, CallInfo, CallResult) { o.calls.Add(1) }

func (o *countingObserver) NodeRequestStarted(ctx context.Context, _ NodeRequestInfo) context.Context {
	return ctx
}

func (o *countingObserver) NodeRequestFinished(context.Context, NodeRequestInfo, int, time.Duration, error) {
	o.nodes.Add(1)
}
