package miroir

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Adaptive replica selection (DESIGN §5, issue 15): when a shard has more
// than one healthy replica in the group a read prefers, the read goes to
// the one expected to answer first. This is C3 (Suresh et al., NSDI'15) as
// Elasticsearch's adaptive replica selection uses it, from what the client
// alone sees: per node, exponentially weighted averages of response time
// and of its deviation, and the requests outstanding right now, ranked as
// rt × (1+outstanding)³ (the cube makes a queue cost more than it adds, so
// that concurrent reads spread before a queue forms); the deviation sets
// the hedge delay (hedge.go).
//
// Two choices keep the old behaviour where it was right:
//   - Nodes whose scores are within a factor of two of the group's best
//     count as equal, and the existing rotation orders them: equal nodes
//     keep the round-robin spread, and the covering set stays as small as
//     the rotation makes it (one node takes every shard it holds).
//   - Selection orders replicas inside a group only; the preferred group
//     still rotates and only health moves a shard out of it. Reaching into
//     another group would grow the covering set (more nodes contacted is
//     itself latency) and cross the groups' boundary (often a zone).
//
// A node that is never picked gets no new samples, so after every full
// read each candidate that was left out drifts 1/32 of the way toward the
// mean of the nodes picked in its group (Elasticsearch halves the gap; a
// slower drift retries a slow node about every 32·ln(slowdown) reads
// instead of every few, which keeps it out of the tail). The retry's
// measurement then replaces the drifted figures, and hedging covers the
// retry: the hedge delay drifted down with the score.

const (
	// loadAlpha weighs a new response time in the average (Elasticsearch's
	// adaptive replica selection uses 0.3).
	loadAlpha = 0.3
	// loadBeta weighs a new deviation in the mean deviation (Jacobson's
	// RTT variance gain, RFC 6298).
	loadBeta = 0.25
	// loadDrift is the share of the gap to the picked nodes' mean a left-out
	// node closes per read.
	loadDrift = 1.0 / 32
	// hedgeDevs is how many mean deviations above the average the 95th
	// percentile estimate (the hedge delay) sits. Latency is right-skewed:
	// on meilitest fleets, 2 deviations (the normal law's 95th percentile)
	// were exceeded by 11% of reads, 3 by 5.5%, 4 by 2.5%.
	hedgeDevs = 3
)

// nodeLoad is what the Cluster knows of one node's read latency and load.
type nodeLoad struct {
	// outstanding counts this Cluster's requests to the node not yet
	// answered (every request: writes load a node too). node.do keeps it.
	outstanding atomic.Int64

	mu      sync.Mutex
	sampled bool    // rt and dev hold at least one sample
	rt      float64 // average read response time, ns
	dev     float64 // mean deviation of rt, ns
	last    float64 // the last response time measured, ns
	// drifted: the averages were lowered by drift from at least twice the
	// picked nodes' mean, so they are a guess, not a measurement.
	drifted bool
}

// sample adds one read's response time.
func (l *nodeLoad) sample(d time.Duration) {
	l.mu.Lock()
	l.last = float64(d)
	l.add(float64(d))
	l.mu.Unlock()
}

// censored adds a read canceled after d because a hedge answered first:
// the node's time is only known to exceed d, so it counts as d or as the
// node's last measured time, whichever is longer. A slow node that loses
// its retry stays as slow as it was measured (and is left alone for as
// long again); a fast node that lost a close race loses little.
func (l *nodeLoad) censored(d time.Duration) {
	l.mu.Lock()
	l.add(max(float64(d), l.last))
	l.mu.Unlock()
}

// add updates the averages with x; l.mu is held.
func (l *nodeLoad) add(x float64) {
	switch {
	case !l.sampled:
		// RFC 6298's first measurement: deviation half the value.
		l.rt, l.dev, l.sampled = x, x/2, true
	case l.drifted:
		// The retry a drift bought: its measurement replaces the guess
		// (averaging it in would bring a slow node back at once).
		l.dev += loadBeta * (math.Abs(x-l.rt) - l.dev)
		l.rt, l.drifted = x, false
	default:
		diff := x - l.rt
		l.rt += loadAlpha * diff
		l.dev += loadBeta * (math.Abs(diff) - l.dev)
	}
}

// averages returns rt and dev, and whether there is any sample.
func (l *nodeLoad) averages() (rt, dev float64, ok bool) {
	l.mu.Lock()
	rt, dev, ok = l.rt, l.dev, l.sampled
	l.mu.Unlock()
	return rt, dev, ok
}

// drift moves the averages a step toward rt, dev when they are above.
func (l *nodeLoad) drift(rt, dev float64) {
	l.mu.Lock()
	if l.sampled && l.rt > rt {
		l.drifted = l.drifted || l.rt >= 2*rt
		l.rt += (rt - l.rt) * loadDrift
		if l.dev > dev {
			// Faster than the mean: by the time the node is retried, its
			// hedge delay is its peers' deviation above its drifted mean,
			// so a still slow node's retry is hedged in time.
			l.dev += (dev - l.dev) * loadDrift * 4
		}
	}
	l.mu.Unlock()
}

// score is the C3 rank of the node now: lower answers sooner. 0 means no
// sample yet, which ranks first so that the node gets measured. It ranks
// the mean, not the tail: on a noisy machine the peers' deviations make
// their tails look as bad as a steadily slow node's, their means do not.
func (l *nodeLoad) score() float64 { return l.scoreBut(0) }

// scoreBut is score not counting mine of the node's outstanding requests.
func (l *nodeLoad) scoreBut(mine int64) float64 {
	rt, _, ok := l.averages()
	if !ok {
		return 0
	}
	q := 1 + float64(max(l.outstanding.Load()-mine, 0))
	return rt * q * q * q
}

// p95 is the node's estimated 95th percentile response time, ns (0 when
// not sampled), and whether it is a measurement: not when the node was
// never sampled, nor when drift lowered its figures (a guess).
func (l *nodeLoad) p95() (float64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rt + hedgeDevs*l.dev, l.sampled && !l.drifted
}

// hedgeDelay is how long a read of n waits before it is hedged: n's
// estimated 95th percentile, but no more than twice the best estimate
// among n's healthy group peers, clamped to [floor, ceiling]. The peers'
// bound matters for a node known slower than they are, read anyway (a
// retry after a drift, or a shard whose other replica looks worse still):
// its own percentile would hedge only once it had answered, the peers'
// hedges it about when they would have answered. A node not measured yet,
// or whose figures drift lowered (a guess: its retry), takes the best
// estimate of its measured peers, or, when none of its group was measured,
// of any healthy node measured: nothing sure known of it, it is expected
// to answer as they do, and a retry of a node still slow costs a read no
// more than a hedged read of a healthy one (the ceiling would hold the
// first reads of a node slow from the start for as long). The ceiling
// when no node was measured.
func (c *Cluster) hedgeDelay(n *node) time.Duration {
	tp := c.topo()
	floor, ceiling := c.opts.hedgeFloor, c.opts.hedgeCap
	own, ok := n.load.p95()
	if !ok {
		if own == 0 {
			own = float64(ceiling)
		}
		if p, peer := c.bestPeerP95(n); peer {
			own = min(own, p)
		}
		return min(max(time.Duration(own), floor), ceiling)
	}
	for _, ni := range tp.byGroup[n.Group] {
		o := tp.clients[ni]
		if o == n || !o.isHealthy() {
			continue
		}
		if p, ok := o.load.p95(); ok && 2*p < own {
			own = 2 * p
		}
	}
	return min(max(time.Duration(own), floor), ceiling)
}

// bestPeerP95 is the lowest 95th percentile estimate among n's healthy
// measured group peers, else among every healthy measured node, and
// whether there was any.
func (c *Cluster) bestPeerP95(n *node) (float64, bool) {
	tp := c.topo()
	best, found := 0.0, false
	consider := func(members []int) {
		for _, ni := range members {
			o := tp.clients[ni]
			if o == n || !o.isHealthy() {
				continue
			}
			if p, ok := o.load.p95(); ok && (!found || p < best) {
				best, found = p, true
			}
		}
	}
	consider(tp.byGroup[n.Group])
	if !found {
		for _, members := range tp.byGroup {
			consider(members)
		}
	}
	return best, found
}

// adaptiveReads says whether reads have a choice of replica to make: some
// shard has two copies (RF > 1 or RG > 1) and selection or hedging is on.
func (c *Cluster) adaptiveReads() bool {
	return c.topo().copies() > 1 && (c.opts.selectReplicas || c.opts.hedging)
}

// replicaRanks returns, per node index of tp (the read's topology), the
// node's rank inside its group for one read (lower is preferred): the
// rotation rank for seq, and with
// adaptive selection its score band before it. excluded and unhealthy
// nodes take no part in the group's best score. nil means every rank is 0.
func (c *Cluster) replicaRanks(tp *topology, seq uint64, adaptive bool, excluded []bool) []int {
	t := tp
	if t.copies() == 1 {
		return nil // one replica per shard: nothing to rank
	}
	rot := seq / uint64(t.groups())
	ranks := make([]int, len(tp.clients))
	adaptive = adaptive && c.opts.selectReplicas && t.copies() > 1
	var scores []float64
	if adaptive {
		scores = make([]float64, len(tp.clients))
	}
	for _, members := range t.byGroup {
		n := len(members)
		best := 0.0
		for i, ni := range members {
			ranks[ni] = (i - int(rot%uint64(n)) + n) % n
			if !adaptive || isExcluded(excluded, ni) || !tp.clients[ni].isHealthy() {
				continue
			}
			s := tp.clients[ni].load.score()
			scores[ni] = s
			if s > 0 && (best == 0 || s < best) {
				best = s
			}
		}
		if !adaptive || best == 0 {
			continue
		}
		for _, ni := range members {
			ranks[ni] += scoreBand(scores[ni], best) * n
		}
	}
	return ranks
}

// scoreBand is floor(log2(s/best)), 0 for a node not measured (or not
// scored), at most 32: nodes in one band are equals.
func scoreBand(s, best float64) int {
	if s <= best {
		return 0
	}
	r := s / best
	if r >= 1<<32 {
		return 32
	}
	return bits.Len64(uint64(r)) - 1
}

// driftLeftOut moves the nodes a full read left out (healthy, not excluded,
// in a group that served shards, assigned nothing) toward the mean of the
// picked nodes of their group, so that they get retried in time.
func (c *Cluster) driftLeftOut(tp *topology, assigned [][]int, excluded []bool) {
	if !c.opts.selectReplicas || tp.copies() < 2 {
		return
	}
	for _, members := range tp.byGroup {
		var rt, dev float64
		picked := 0
		for _, ni := range members {
			if len(assigned[ni]) == 0 {
				continue
			}
			if r, d, ok := tp.clients[ni].load.averages(); ok {
				rt, dev, picked = rt+r, dev+d, picked+1
			}
		}
		if picked == 0 {
			continue
		}
		rt, dev = rt/float64(picked), dev/float64(picked)
		for _, ni := range members {
			if len(assigned[ni]) > 0 || isExcluded(excluded, ni) || !tp.clients[ni].isHealthy() {
				continue
			}
			tp.clients[ni].load.drift(rt, dev)
		}
	}
}

// orderByLoad reorders healthy, the replicas of one shard in preference
// order, so that within each run of one group the nodes come by score band
// (stable: the rotation orders equals). It drifts the left-out replicas of
// the first group toward the first one, as a full read does.
func (c *Cluster) orderByLoad(healthy []*node) {
	if !c.opts.selectReplicas || len(healthy) < 2 {
		return
	}
	start := 0
	for start < len(healthy) {
		end := start + 1
		for end < len(healthy) && healthy[end].Group == healthy[start].Group {
			end++
		}
		run := healthy[start:end]
		// Scores are read once: they move under concurrent reads.
		scores := make([]float64, len(run))
		best := 0.0
		for i, n := range run {
			scores[i] = n.load.score()
			if s := scores[i]; s > 0 && (best == 0 || s < best) {
				best = s
			}
		}
		if best > 0 {
			// Insertion sort by band: a run is at most RF long, and the
			// sort is stable, so the rotation orders equals.
			for i := 1; i < len(run); i++ {
				for j := i; j > 0 && scoreBand(scores[j], best) < scoreBand(scores[j-1], best); j-- {
					run[j], run[j-1] = run[j-1], run[j]
					scores[j], scores[j-1] = scores[j-1], scores[j]
				}
			}
		}
		start = end
	}
	first := healthy[0]
	if rt, dev, ok := first.load.averages(); ok {
		for _, n := range healthy[1:] {
			if n.Group != first.Group {
				break
			}
			n.load.drift(rt, dev)
		}
	}
}

// excludeSlowerThan marks in excluded the nodes expected to answer no
// sooner than n (a score band above n's): a hedge sent there would not
// beat n, so the hedge's covering set takes another replica, in another
// group if need be. A node not measured is never excluded, nor is any
// node when n is not measured.
func (c *Cluster) excludeSlowerThan(excluded []bool, n *node) {
	ref := n.load.scoreBut(1) // not counting the read being hedged
	if ref == 0 {
		return
	}
	for _, o := range c.members() {
		if o != n && o.idx < len(excluded) && scoreBand(o.load.score(), ref) > 0 {
			excluded[o.idx] = true
		}
	}
}
