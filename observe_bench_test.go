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
// through Clusters over the same three nodes, with no observer, with
// NopObserver (the four base events only), and with an observer taking
// every extension (call start and end, node request start and end) that
// does almost nothing itself, so what is measured is the core's hooks.
// The adapters' own cost is measured in their modules
// (contrib/prometheus, contrib/otel: BenchmarkObserverOverhead there).
//
//	go test -run '^$' -bench ObserverOverhead -benchmem .
func BenchmarkObserverOverhead(b *testing.B) {
	f := startFleet(b, fleetSpec{groups: groupsOf(1, 3), shards: 16, instant: true, timing: noProbes})
	f.load(b, "items", testSettings(false), genDocs(1000, 5))
	configs := []struct {
		name string
		obs  Observer
	}{{"none", nil}, {"nop", NopObserver{}}, {"hooks", &countingObserver{}}}
	clusters := make([]*Cluster, len(configs))
	for i, cfg := range configs {
		opts := append(noProbes.options(), WithShards(16))
		if cfg.obs != nil {
			opts = append(opts, WithObserver(cfg.obs))
		}
		clusters[i] = f.newCluster(b, opts...)
		// Each configuration writes to an index of its own, so that
		// none writes to an index grown by another's writes.
		f.createIndex(b, "w-"+cfg.name, "id")
	}
	ctx := context.Background()
	for i, cfg := range configs {
		idx := clusters[i].index("items")
		b.Run("search/"+cfg.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := idx.Search(ctx, "river", &meilisearch.SearchRequest{Limit: 10}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for i, cfg := range configs {
		idx := clusters[i].index("w-" + cfg.name)
		b.Run("write/"+cfg.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				doc := []map[string]any{{"id": "w" + strconv.Itoa(n), "title": "river"}}
				if _, err := idx.AddDocuments(ctx, doc, nil); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.StopTimer()
			f.idle(b) // the nodes' indexing must not load the next run
		})
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
