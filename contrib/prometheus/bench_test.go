package miroirprometheus_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir"
	miroirprometheus "github.com/miroirsearch/miroir/contrib/prometheus"
	"github.com/miroirsearch/miroir/meilitest"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkObserverOverhead: the same search and write through two
// Clusters over the same three nodes, without observer (off) and with the
// collector (prometheus), alternating in one run:
//
//	go test -run '^$' -bench ObserverOverhead -benchtime 300x .
func BenchmarkObserverOverhead(b *testing.B) {
	col := miroirprometheus.NewCollector()
	prometheus.NewRegistry().MustRegister(col)
	runOverhead(b, []string{"off", "prometheus"}, []miroir.Observer{nil, col})
}

// runOverhead benchmarks a search and a write through one Cluster per
// named observer (nil: none) over the same three meilitest nodes, each
// writing to an index of its own. Every iteration runs the call once per
// Cluster in rotating order, so that machine load hits them alike; each
// one's time per call, ratio to the first's and allocations per call are
// reported.
func runOverhead(b *testing.B, names []string, observers []miroir.Observer) {
	srv := meilitest.RunCluster(b, 3, meilitest.WithTaskDuration(0))
	nodes := make([]miroir.Node, len(srv))
	for i, s := range srv {
		nodes[i] = miroir.Node{ID: "n" + strconv.Itoa(i), URL: s.URL()}
	}
	ctx := context.Background()
	clusters := make([]*miroir.Cluster, len(names))
	for i, obs := range observers {
		opts := []miroir.Option{miroir.WithShards(16), miroir.WithRetries(miroir.RetryPolicy{}), miroir.WithHealthCheck(0, 0, 0, 0)}
		if obs != nil {
			opts = append(opts, miroir.WithObserver(obs))
		}
		c, err := miroir.New(nodes, opts...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		clusters[i] = c
	}
	// A Cluster of its own loads the fleet, as in the root's benchmark:
	// the measured Clusters all meet the indexes as created by another
	// instance.
	load, err := miroir.New(nodes, miroir.WithShards(16), miroir.WithHealthCheck(0, 0, 0, 0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(load.Close)
	wait := func(info *meilisearch.TaskInfo, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if _, err := load.WaitForTask(ctx, info.TaskUID, 0); err != nil {
			b.Fatal(err)
		}
	}
	docs := make([]map[string]any, 1000)
	for i := range docs {
		docs[i] = map[string]any{"id": i, "title": "movie " + strconv.Itoa(i%37), "year": 1950 + i%70}
	}
	wait(load.Index("items").AddDocuments(ctx, docs, nil))
	search := make([]func() error, len(names))
	write := make([]func() error, len(names))
	for i, name := range names {
		wait(load.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "w-" + name, PrimaryKey: "id"}))
		items, w := clusters[i].Index("items"), clusters[i].Index("w-"+name)
		search[i] = func() error {
			_, err := items.Search(ctx, "movie", &meilisearch.SearchRequest{Limit: 10})
			return err
		}
		n := 0
		write[i] = func() error {
			n++
			_, err := w.AddDocuments(ctx, []map[string]any{{"id": n, "title": "movie"}}, nil)
			return err
		}
	}
	b.Run("search", func(b *testing.B) { alternate(b, names, search) })
	b.Run("write", func(b *testing.B) {
		alternate(b, names, write)
		b.StopTimer()
		for _, s := range srv {
			if err := s.WaitIdle(ctx); err != nil {
				b.Fatal(err)
			}
		}
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
