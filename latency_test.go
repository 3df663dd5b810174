package miroir

// Tail latency with one slow replica (issue 15): 2 groups × 3 nodes, RF 2,
// one node answering late (meilitest SetLatency). With replica selection
// and hedging off, the searches whose covering set includes the slow node
// wait for it; on, the slow node is avoided after its first answer and
// its occasional retries are hedged. The test asserts what cannot depend
// on machine speed (which nodes the searches reached, hedges within the
// budget); BenchmarkTailLatency measures p50/p99 for the README table:
//
//	go test -run '^$' -bench TailLatency -benchtime 3x .   (medians of 3 rounds)

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// tailFleet is the fleet of the tail latency test, loaded with docs.
func tailFleet(tb testing.TB, ndocs int) *testFleet {
	f := startFleet(tb, fleetSpec{groups: groupsOf(2, 3), rf: 2, shards: 16, instant: true, timing: noProbes})
	f.load(tb, "items", testSettings(false), genDocs(ndocs, 77))
	return f
}

// tailCluster is a new Cluster over f's nodes with selection and hedging
// on or off, and its observer.
func tailCluster(tb testing.TB, f *testFleet, on bool) (*Cluster, *hedgeCounter) {
	obs := newHedgeCounter()
	opts := append([]Option{WithShards(16), WithReplicationFactor(2), WithObserver(obs),
		WithReplicaSelection(on), WithHedging(on)}, noProbes.options()...)
	return f.newCluster(tb, opts...), obs
}

// tailResult is what n searches through one Cluster saw.
type tailResult struct {
	lat      []time.Duration // per search, after warmup, sorted
	slowHits int             // searches after warmup that contacted the slow node
	hedges   int             // hedged node requests (Report)
	won      int
}

func (r tailResult) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))]
}

// tailSearch runs search i on c, recording it in r unless it is part of
// the warmup.
func (r *tailResult) search(tb testing.TB, c *Cluster, i, warm int, slowID string) {
	tb.Helper()
	var rep Report
	ctx := WithReport(context.Background(), &rep)
	q := *e2eQueries[i%len(e2eQueries)]
	start := time.Now()
	if _, err := c.index("items").Search(ctx, "", &q); err != nil {
		tb.Fatalf("search %d: %v", i, err)
	}
	d := time.Since(start)
	r.hedges += rep.Hedges
	r.won += rep.HedgesWon
	if i < warm {
		return
	}
	r.lat = append(r.lat, d)
	if slices.Contains(rep.NodesContacted, slowID) {
		r.slowHits++
	}
}

// runTail runs n searches one after the other (warm of them first, not
// counted in lat and slowHits).
func runTail(tb testing.TB, c *Cluster, n, warm int, slowID string) tailResult {
	tb.Helper()
	var r tailResult
	for i := 0; i < n; i++ {
		r.search(tb, c, i, warm, slowID)
	}
	slices.Sort(r.lat)
	return r
}

// checkHedgeBudget fails when the hedges exceed c's token bucket: its
// burst plus the budget's share of the primary node reads.
func checkHedgeBudget(tb testing.TB, label string, c *Cluster, obs *hedgeCounter) {
	tb.Helper()
	sent, won, reqs := obs.counts()
	primary := reqs - sent
	if limit := float64(hedgeBurst) + c.opts.hedgeRatio*float64(primary); float64(sent) > limit {
		tb.Errorf("%s: %d hedges for %d primary node reads, above the budget %.1f", label, sent, primary, limit)
	}
	if won > sent {
		tb.Errorf("%s: %d hedges won of %d sent", label, won, sent)
	}
}

func TestTailLatencySlowReplicaAvoided(t *testing.T) {
	f := tailFleet(t, 300)
	const slow = 4 // n4, group 1
	slowID := f.nodes[slow].ID
	// 300ms: far above a search even under -race on a busy machine, so
	// that the slow node stays clearly slower than its peers.
	f.srv[slow].SetLatency(300 * time.Millisecond)

	// Off: a third of all searches (two thirds of group 1's) wait for it.
	off, offObs := tailCluster(t, f, false)
	r := runTail(t, off, 45, 5, slowID)
	if frac := float64(r.slowHits) / float64(len(r.lat)); frac < 0.2 {
		t.Errorf("selection off: %d of %d searches reached the slow node, want about a third", r.slowHits, len(r.lat))
	}
	if r.pct(0.99) < 300*time.Millisecond {
		t.Errorf("selection off: p99 %v below the slow node's added 300ms", r.pct(0.99))
	}
	if sent, _, _ := offObs.counts(); sent != 0 {
		t.Errorf("hedging off: %d hedges", sent)
	}

	// On: after a warmup, the slow node is left out but for rare retries
	// (and hedges sent to it and canceled), far from a third.
	on, onObs := tailCluster(t, f, true)
	r = runTail(t, on, 200, 40, slowID)
	if frac := float64(r.slowHits) / float64(len(r.lat)); frac >= 0.15 {
		t.Errorf("selection on: %d of %d searches after warmup reached the slow node, want under 15%%", r.slowHits, len(r.lat))
	}
	checkHedgeBudget(t, "selection on", on, onObs)
	onObs.mu.Lock()
	reads := fmt.Sprint(onObs.nodeReads)
	onObs.mu.Unlock()
	t.Logf("on: slow node reached by %d of %d searches, hedges %d (won %d), node reads %s, p50 %v p99 %v",
		r.slowHits, len(r.lat), r.hedges, r.won, reads, r.pct(0.5), r.pct(0.99))
}

// BenchmarkTailLatency measures p50 and p99 of 500 searches on two 2×3
// RF 2 fleets, one healthy and one with a node 200ms late, each through a
// Cluster with replica selection and hedging off and one with them on
// (fresh Clusters: warmup is counted; the p99 after the first 20 searches
// is reported too). The four Clusters take turns, one search each, so
// that machine load hits them alike; the slow fleet's figures are
// reported against the healthy fleet's with the same options. Each
// iteration is a new round of four fresh Clusters; with -benchtime Nx the
// ratios reported are the medians over the N rounds (one round's p99 is
// its fifth slowest search, mostly the machine's scheduling noise).
func BenchmarkTailLatency(b *testing.B) {
	healthy, slowFleet := tailFleet(b, 1000), tailFleet(b, 1000)
	const slow, n, warmup = 4, 500, 20
	slowID := slowFleet.nodes[slow].ID
	slowFleet.srv[slow].SetLatency(200 * time.Millisecond)
	type run struct {
		name string
		c    *Cluster
		obs  *hedgeCounter
		r    tailResult
		warm tailResult // the searches after the first warmup ones
	}
	ratios := map[string][]float64{}
	var table string // the last round's (benchmark logs are cut after a few lines)
	for range b.N {
		var runs []*run
		for _, f := range []*testFleet{healthy, slowFleet} {
			for _, on := range []bool{false, true} {
				name := map[bool]string{false: "healthy", true: "slow"}[f == slowFleet] + map[bool]string{false: "/off", true: "/on"}[on]
				c, obs := tailCluster(b, f, on)
				runs = append(runs, &run{name: name, c: c, obs: obs})
			}
		}
		for i := range n {
			for _, rn := range runs {
				id := slowID
				if rn.c.node(slow).base != slowFleet.srv[slow].URL() {
					id = "" // the healthy fleet has no slow node
				}
				rn.r.search(b, rn.c, i, 0, id)
			}
		}
		var tb strings.Builder
		tb.WriteString("\n| fleet / selection+hedging | p50 | p99 | p99 after 20 searches | searches sending to the slow node | its answers received | hedges (extra node requests) |\n|---|---|---|---|---|---|---|\n")
		for _, rn := range runs {
			warm := tailResult{lat: slices.Clone(rn.r.lat[warmup:])}
			slices.Sort(warm.lat)
			rn.warm = warm
			slices.Sort(rn.r.lat)
			checkHedgeBudget(b, rn.name, rn.c, rn.obs)
			sent, _, reqs := rn.obs.counts()
			rn.obs.mu.Lock()
			answered := rn.obs.nodeOK[slowID]
			rn.obs.mu.Unlock()
			if rn.r.slowHits == 0 {
				answered = 0 // the healthy fleet's n4 is not slow
			}
			fmt.Fprintf(&tb, "| %s | %.2f ms | %.2f ms | %.2f ms | %d / %d | %d | %d of %d node requests (%.1f%%) |\n", rn.name,
				float64(rn.r.pct(0.5))/1e6, float64(rn.r.pct(0.99))/1e6, float64(rn.warm.pct(0.99))/1e6, rn.r.slowHits, n, answered, sent, reqs, 100*float64(sent)/float64(max(reqs, 1)))
		}
		table = tb.String()
		hOff, hOn, sOff, sOn := runs[0].r, runs[1].r, runs[2].r, runs[3].r
		ratios["p50-slow-on/healthy-on"] = append(ratios["p50-slow-on/healthy-on"], float64(sOn.pct(0.5))/float64(hOn.pct(0.5)))
		ratios["p99-slow-on/healthy-on"] = append(ratios["p99-slow-on/healthy-on"], float64(sOn.pct(0.99))/float64(hOn.pct(0.99)))
		ratios["p99-slow-off/healthy-off"] = append(ratios["p99-slow-off/healthy-off"], float64(sOff.pct(0.99))/float64(hOff.pct(0.99)))
		ratios["p99-warm-slow-on/healthy-on"] = append(ratios["p99-warm-slow-on/healthy-on"], float64(runs[3].warm.pct(0.99))/float64(runs[1].warm.pct(0.99)))
		b.Logf("round %d, slow ÷ healthy: on p50 %.3f×, p99 %.3f× (after 20 searches %.3f×); off p99 %.3f×", len(ratios["p50-slow-on/healthy-on"]),
			float64(sOn.pct(0.5))/float64(hOn.pct(0.5)), float64(sOn.pct(0.99))/float64(hOn.pct(0.99)),
			float64(runs[3].warm.pct(0.99))/float64(runs[1].warm.pct(0.99)), float64(sOff.pct(0.99))/float64(hOff.pct(0.99)))
	}
	b.Log(table)
	for unit, rs := range ratios {
		slices.Sort(rs)
		b.ReportMetric(rs[len(rs)/2], unit)
	}
}
