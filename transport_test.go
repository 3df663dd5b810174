package miroir

import (
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// TestConcurrentCallsReuseConnections: the default transport keeps enough
// idle connections per node that concurrent calls reuse them. With
// net/http's 2 per host, every round of 8 concurrent searches opened (and
// then closed) about 6 connections per node.
func TestConcurrentCallsReuseConnections(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, shards: 6, instant: true, timing: quick,
		opts: []Option{WithHedging(false)}})
	ix := f.create(t, "docs", "id")
	acWaitOK(t, f.c)(ix.AddDocuments(testCtx(t), acDocs(0, 30), nil))

	var fresh atomic.Int64
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if !i.Reused {
			fresh.Add(1)
		}
	}}
	ctx := httptrace.WithClientTrace(testCtx(t), trace)
	const rounds, concurrent = 10, 8
	round := func() {
		var wg sync.WaitGroup
		for range concurrent {
			wg.Go(func() {
				if _, err := ix.Search(ctx, "title", &meilisearch.SearchRequest{}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	round() // opens the connections the rounds need
	before := fresh.Load()
	for range rounds {
		round()
	}
	// Every search reaches each of the 3 nodes; a handful of new
	// connections is scheduling (a request issued before another's
	// connection went idle), one per node per round is churn.
	n := fresh.Load() - before
	t.Logf("%d rounds of %d concurrent searches: %d new connections", rounds, concurrent, n)
	if n >= rounds*3 {
		t.Errorf("%d rounds of %d concurrent searches opened %d new connections to 3 nodes; want them reused", rounds, concurrent, n)
	}
}
