package miroirprometheus_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir"
	miroirprometheus "github.com/miroirsearch/miroir/contrib/prometheus"
	"github.com/miroirsearch/miroir/meilitest"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkObserverOverhead: the same search and write through two
// Clusters over the same three nodes, without observer (off) and with the
// collector (on), in one run:
//
//	go test -run '^$' -bench ObserverOverhead -benchmem .
func BenchmarkObserverOverhead(b *testing.B) {
	runOverhead(b, map[string]miroir.Observer{"off": nil, "prometheus": func() miroir.Observer {
		col := miroirprometheus.NewCollector()
		prometheus.NewRegistry().MustRegister(col)
		return col
	}()}, []string{"off", "prometheus"})
}

// runOverhead benchmarks search and write for each named observer (nil:
// none), in order, each configuration writing to an index of its own.
func runOverhead(b *testing.B, observers map[string]miroir.Observer, order []string) {
	srv := meilitest.RunCluster(b, 3, meilitest.WithTaskDuration(0))
	nodes := make([]miroir.Node, len(srv))
	for i, s := range srv {
		nodes[i] = miroir.Node{ID: "n" + strconv.Itoa(i), URL: s.URL()}
	}
	clusters := map[string]*miroir.Cluster{}
	ctx := context.Background()
	for _, name := range order {
		opts := []miroir.Option{miroir.WithShards(16), miroir.WithRetries(miroir.RetryPolicy{}), miroir.WithHealthCheck(0, 0, 0, 0)}
		if o := observers[name]; o != nil {
			opts = append(opts, miroir.WithObserver(o))
		}
		c, err := miroir.New(nodes, opts...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		clusters[name] = c
	}
	load := clusters[order[0]]
	docs := make([]map[string]any, 1000)
	for i := range docs {
		docs[i] = map[string]any{"id": i, "title": "movie " + strconv.Itoa(i%37), "year": 1950 + i%70}
	}
	wait := func(info *meilisearch.TaskInfo, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if _, err := load.WaitForTask(ctx, info.TaskUID, 0); err != nil {
			b.Fatal(err)
		}
	}
	wait(load.Index("items").AddDocuments(ctx, docs, nil))
	for _, name := range order {
		wait(load.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "w-" + name, PrimaryKey: "id"}))
	}
	for _, name := range order {
		idx := clusters[name].Index("items")
		b.Run("search/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := idx.Search(ctx, "movie", &meilisearch.SearchRequest{Limit: 10}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, name := range order {
		idx := clusters[name].Index("w-" + name)
		b.Run("write/"+name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, err := idx.AddDocuments(ctx, []map[string]any{{"id": n, "title": "movie"}}, nil); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.StopTimer()
			for _, s := range srv {
				if err := s.WaitIdle(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
