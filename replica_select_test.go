package miroir

// Adaptive replica selection (replica_select.go) and the hedge budget
// (hedge.go), on Clusters over fake URLs whose load figures the tests set:
// a slow replica is avoided, equal replicas keep the rotation, a left-out
// replica drifts back, and the budget caps hedges.

import (
	"testing"
	"time"
)

// setLoad gives node i one sample of d (and so rt d, dev d/2).
func setLoad(c *Cluster, i int, d time.Duration) {
	l := &c.node(i).load
	l.mu.Lock()
	l.rt, l.dev, l.sampled = float64(d), float64(d)/2, true
	l.mu.Unlock()
}

// unmeasure forgets node i's figures.
func unmeasure(c *Cluster, i int) {
	l := &c.node(i).load
	l.mu.Lock()
	l.rt, l.dev, l.sampled = 0, 0, false
	l.mu.Unlock()
}

func TestHedgeDelayUnmeasuredGroup(t *testing.T) {
	// Two groups of 2, RF 1: nobody in g0 was measured, g1n0 was. The
	// first reads of g0's nodes are bound by it, not held for the ceiling.
	c := newCoverCluster(t, 2, 2, 1, 8)
	setLoad(c, 2, 4*time.Millisecond) // p95 4 + 3×2 = 10ms
	if d := c.hedgeDelay(c.node(0)); d != 10*time.Millisecond {
		t.Fatalf("unmeasured group: hedge delay %v, want g1n0's p95, 10ms", d)
	}
	// A measured group peer sets it first, even when slower.
	setLoad(c, 1, 8*time.Millisecond) // p95 20ms
	if d := c.hedgeDelay(c.node(0)); d != 20*time.Millisecond {
		t.Fatalf("measured group peer: hedge delay %v, want its p95, 20ms", d)
	}
	c.node(1).healthy.Store(false)
	if d := c.hedgeDelay(c.node(0)); d != 10*time.Millisecond {
		t.Fatalf("group peer down: hedge delay %v, want 10ms", d)
	}
}

func TestSelectionAvoidsSlowReplica(t *testing.T) {
	// one group of 3, RF 2: every shard has two replicas; g0n1 is slow.
	c := newCoverCluster(t, 1, 3, 2, 32)
	setLoad(c, 0, time.Millisecond)
	setLoad(c, 1, 200*time.Millisecond)
	setLoad(c, 2, time.Millisecond)
	for seq := uint64(0); seq < 6; seq++ {
		cov := c.cover("", nil, seq, nil, true)
		checkCover(t, c, cov, allShards(32))
		for _, cn := range cov.nodes {
			if cn.n.ID == "g0n1" {
				t.Fatalf("seq %d: slow g0n1 serves %v", seq, cn.shards)
			}
		}
	}
	// Deterministic reads (adaptive false) keep the plain rotation.
	used := false
	for seq := uint64(0); seq < 3; seq++ {
		for _, cn := range c.cover("", nil, seq, nil, false).nodes {
			used = used || cn.n.ID == "g0n1"
		}
	}
	if !used {
		t.Fatal("rotation without selection never used g0n1")
	}
	// And so does a Cluster with selection off.
	off, err := New(c.topoNodes(), WithShards(32), WithReplicationFactor(2), WithHealthCheck(0, 0, 0, 0), WithReplicaSelection(false))
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	setLoad(off, 1, 200*time.Millisecond)
	used = false
	for seq := uint64(0); seq < 3; seq++ {
		for _, cn := range off.cover("", nil, seq, nil, true).nodes {
			used = used || cn.n.ID == "g0n1"
		}
	}
	if !used {
		t.Fatal("WithReplicaSelection(false): g0n1 never used")
	}
}

// topoNodes returns the Cluster's nodes as New takes them.
func (c *Cluster) topoNodes() []Node {
	out := make([]Node, c.slots())
	for i, n := range c.members() {
		out[i] = n.Node
		out[i].URL = n.base
	}
	return out
}

func TestSelectionKeepsRotationAmongEquals(t *testing.T) {
	// RF = group size: one node serves every shard; nodes within a factor
	// of two of each other still take turns.
	c := newCoverCluster(t, 1, 3, 3, 16)
	setLoad(c, 0, 1000*time.Microsecond)
	setLoad(c, 1, 1300*time.Microsecond)
	setLoad(c, 2, 1900*time.Microsecond)
	used := map[string]int{}
	for seq := uint64(0); seq < 9; seq++ {
		cov := c.cover("", nil, seq, nil, true)
		if len(cov.nodes) != 1 {
			t.Fatalf("seq %d: %d nodes, want 1", seq, len(cov.nodes))
		}
		used[cov.nodes[0].n.ID]++
	}
	if used["g0n0"] != 3 || used["g0n1"] != 3 || used["g0n2"] != 3 {
		t.Fatalf("equal nodes not rotated: %v", used)
	}
	// Outstanding requests count, cubed: one in flight on g0n0 puts it
	// 8× behind, out of its band.
	c.node(0).load.outstanding.Add(1)
	defer c.node(0).load.outstanding.Add(-1)
	for seq := uint64(0); seq < 3; seq++ {
		if id := c.cover("", nil, seq, nil, true).nodes[0].n.ID; id == "g0n0" {
			t.Fatalf("seq %d: busy g0n0 picked", seq)
		}
	}
}

func TestSelectionDriftsLeftOutNodeBack(t *testing.T) {
	c := newCoverCluster(t, 1, 2, 2, 8)
	setLoad(c, 0, time.Millisecond)
	setLoad(c, 1, 100*time.Millisecond)
	reads := 0
	for ; reads < 1000; reads++ {
		cov := c.cover("", nil, uint64(reads), nil, true)
		if cov.nodes[0].n.ID == "g0n1" {
			break
		}
	}
	// 100× slower: back in the band of two after about 32·ln(99) reads.
	if reads < 100 || reads > 200 {
		t.Fatalf("slow node retried after %d reads, want about 145", reads)
	}
	// Its figures are a guess: the retry is hedged at its peer's p95
	// (1 + 3×0.5 ms), as a healthy node's read would be.
	if d := c.hedgeDelay(c.node(1)); d != 2500*time.Microsecond {
		t.Fatalf("retry's hedge delay %v, want g0n0's p95 2.5ms", d)
	}
	// The retry's measurement replaces the drifted guess: one slow answer
	// puts the node back where it was.
	c.node(1).load.sample(100 * time.Millisecond)
	if rt, _, _ := c.node(1).load.averages(); rt != float64(100*time.Millisecond) {
		t.Fatalf("after the retry: rt %v, want the 100ms measured", time.Duration(rt))
	}
	// Partial covers (retries, hedges) do not drift anything.
	setLoad(c, 1, 100*time.Millisecond)
	for seq := uint64(0); seq < 50; seq++ {
		c.cover("", []int{0, 1}, seq, nil, true)
	}
	if rt, _, _ := c.node(1).load.averages(); rt != float64(100*time.Millisecond) {
		t.Fatalf("partial covers drifted g0n1 to %v", time.Duration(rt))
	}
}

func TestNodeLoadAverages(t *testing.T) {
	var l nodeLoad
	if _, ok := l.p95(); ok {
		t.Fatal("unmeasured node has a p95")
	}
	for range 50 {
		l.sample(10 * time.Millisecond)
	}
	rt, dev, _ := l.averages()
	if time.Duration(rt) != 10*time.Millisecond || dev > float64(time.Microsecond) {
		t.Fatalf("steady 10ms: rt %v dev %v", time.Duration(rt), time.Duration(dev))
	}
	if p, _ := l.p95(); p < float64(10*time.Millisecond) || p > float64(11*time.Millisecond) {
		t.Fatalf("steady 10ms: p95 %v", time.Duration(p))
	}
	l.sample(110 * time.Millisecond)
	rt, dev, _ = l.averages()
	if near := func(x float64, want time.Duration) bool { return x > float64(want)-1e3 && x < float64(want)+1e3 }; !near(rt, 40*time.Millisecond) || !near(dev, 25*time.Millisecond) {
		t.Fatalf("after a 110ms sample: rt %v dev %v, want 40ms and 25ms", time.Duration(rt), time.Duration(dev))
	}
}

func TestHedgeDelay(t *testing.T) {
	c := newCoverCluster(t, 1, 3, 2, 8)
	if d := c.hedgeDelay(c.node(0)); d != 500*time.Millisecond {
		t.Fatalf("unmeasured node's hedge delay %v, want the ceiling", d)
	}
	// Not measured, but a peer is: the peer's p95, 4 + 3×2.
	setLoad(c, 2, 4*time.Millisecond)
	if d := c.hedgeDelay(c.node(0)); d != 10*time.Millisecond {
		t.Fatalf("unmeasured node's hedge delay %v with a measured peer, want 10ms", d)
	}
	unmeasure(c, 2)
	setLoad(c, 0, 10*time.Millisecond) // p95 10 + 3×5 = 25ms
	if d := c.hedgeDelay(c.node(0)); d != 25*time.Millisecond {
		t.Fatalf("hedge delay %v, want its p95 25ms", d)
	}
	// A peer twice as fast bounds it: 2 × (4 + 3×2) = 20ms.
	setLoad(c, 1, 4*time.Millisecond)
	if d := c.hedgeDelay(c.node(0)); d != 20*time.Millisecond {
		t.Fatalf("hedge delay %v, want twice the peer's p95, 20ms", d)
	}
	// ... unless the peer is down.
	c.node(1).healthy.Store(false)
	if d := c.hedgeDelay(c.node(0)); d != 25*time.Millisecond {
		t.Fatalf("hedge delay %v with the fast peer down, want 25ms", d)
	}
	// Floor and ceiling.
	for _, tc := range []struct{ floor, ceiling, want time.Duration }{
		{30 * time.Millisecond, time.Second, 30 * time.Millisecond},
		{time.Millisecond, 15 * time.Millisecond, 15 * time.Millisecond},
	} {
		c.opts.hedgeFloor, c.opts.hedgeCap = tc.floor, tc.ceiling
		if d := c.hedgeDelay(c.node(0)); d != tc.want {
			t.Fatalf("floor %v ceiling %v: %v, want %v", tc.floor, tc.ceiling, d, tc.want)
		}
	}
}

func TestScoreBand(t *testing.T) {
	for _, tc := range []struct {
		s, best float64
		want    int
	}{{0, 1, 0}, {1, 1, 0}, {1.99, 1, 0}, {2, 1, 1}, {3.9, 1, 1}, {4, 1, 2}, {1e30, 1, 32}} {
		if got := scoreBand(tc.s, tc.best); got != tc.want {
			t.Errorf("scoreBand(%v, %v) = %d, want %d", tc.s, tc.best, got, tc.want)
		}
	}
}

func TestHedgeBudget(t *testing.T) {
	var b hedgeBudget
	taken := 0
	for b.take(1) {
		taken++
	}
	if taken != hedgeBurst {
		t.Fatalf("burst %d, want %d", taken, hedgeBurst)
	}
	// 5%: one hedge per 20 reads.
	for range 19 {
		b.earn(0.05)
	}
	if b.take(1) {
		t.Fatal("a hedge after 19 reads at 5%")
	}
	b.earn(0.05)
	if !b.take(1) || b.take(1) {
		t.Fatal("20 reads at 5% should buy exactly one hedge")
	}
	// earning never overfills the bucket
	for range 10000 {
		b.earn(0.05)
	}
	if b.take(hedgeBurst+1) || !b.take(hedgeBurst) {
		t.Fatal("the bucket holds more or less than its burst")
	}
}
