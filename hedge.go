package miroir

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Hedged reads (DESIGN §5, issue 15): a per-node read of a scatter (search,
// facet search, federated search) or a document read by id that has not
// answered after the node's hedge delay (its estimated 95th percentile, at
// most twice its best group peer's; its peers' for a node not measured or
// whose figures are a drift's guess; replica_select.go, clamped by
// WithHedgeDelay) is sent once more, for the same shards, to the best
// other healthy replicas (the covering set of those shards without the
// slow node: one node when one holds them all, else several, each with
// its own shard filter). The first complete answer wins and the other
// side's context is canceled. A token bucket caps the extra requests at a
// share of node reads (WithHedgeBudget). Writes are never hedged, nor
// document listings (their pages must come from the same nodes).

// HedgeObserver is an optional extension of Observer: an Observer that
// also implements it is told about hedged reads.
type HedgeObserver interface {
	// HedgeSent: a read of index waiting on slowNodeID was sent to
	// hedgeNodeID too (once per node of the hedge).
	HedgeSent(index, slowNodeID, hedgeNodeID string)
	// HedgeWon: hedgeNodeID's answer was used instead of the slow node's.
	HedgeWon(index, hedgeNodeID string)
}

// hedgeBurst is the hedges the bucket holds: a quiet Cluster may hedge
// this many reads at once before the earned share limits it.
const hedgeBurst = 10

// hedgeBudget is the token bucket of hedges, in thousandths of a hedge.
// It counts what was spent beyond what was earned, so its zero value is
// a full bucket.
type hedgeBudget struct{ spent atomic.Int64 }

// earn credits one node read: ratio of a hedge.
func (b *hedgeBudget) earn(ratio float64) {
	m := int64(ratio * 1000)
	for {
		s := b.spent.Load()
		if s <= 0 {
			return
		}
		if b.spent.CompareAndSwap(s, max(s-m, 0)) {
			return
		}
	}
}

// take spends k hedges if the bucket holds them.
func (b *hedgeBudget) take(k int) bool {
	for {
		s := b.spent.Load()
		n := s + int64(k)*1000
		if n > hedgeBurst*1000 {
			return false
		}
		if b.spent.CompareAndSwap(s, n) {
			return true
		}
	}
}

// hedgeScope is what a hedge needs to know of the read it belongs to.
type hedgeScope struct {
	c        *Cluster
	uid      string
	seq      uint64
	excluded []bool // nodes the read already gave up on; read-only here
}

// hedgeRace is the state shared by a primary request and its hedge.
type hedgeRace[T any] struct {
	mu            sync.Mutex
	primaryDone   bool
	hedgeWon      bool
	cancelPrimary context.CancelFunc
	cancelHedge   context.CancelFunc // set once the hedge starts
	got           []gathered[T]      // the hedge's answers, when complete
	done          chan struct{}      // closed when the hedge (or its refusal) is over
}

// hedgeCall runs call on cn and, past cn's hedge delay, hedges it. It
// returns either the primary's answer or, when the hedge answered first
// or the primary failed and the hedge did not, the hedge's answers (one
// per hedge node). It returns only once the hedge's requests are over.
func hedgeCall[T any](ctx context.Context, h *hedgeScope, cn coverNode, call func(context.Context, coverNode) (T, error)) (T, []gathered[T], error) {
	c := h.c
	ld := &cn.n.load
	c.hedges.earn(c.opts.hedgeRatio)
	start := time.Now()
	if !c.opts.hedging {
		v, err := call(ctx, cn)
		if err == nil {
			ld.sample(time.Since(start))
		}
		return v, nil, err
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	race := &hedgeRace[T]{cancelPrimary: cancel, done: make(chan struct{})}
	t := time.AfterFunc(c.hedgeDelay(cn.n), func() { race.run(ctx, h, cn, call) })
	v, err := call(pctx, cn)
	elapsed := time.Since(start)
	if t.Stop() {
		if err == nil {
			ld.sample(elapsed)
		}
		return v, nil, err
	}
	race.mu.Lock()
	race.primaryDone = true
	lost := race.hedgeWon
	if !lost && err == nil && race.cancelHedge != nil {
		race.cancelHedge()
	}
	race.mu.Unlock()
	<-race.done
	if err == nil && !lost {
		ld.sample(elapsed)
		return v, nil, nil
	}
	if race.got == nil {
		// No hedge, or it failed: the primary's answer stands.
		return v, nil, err
	}
	if lost {
		ld.censored(elapsed)
	}
	rep := reportFrom(ctx)
	for _, g := range race.got {
		rep.hedgeWon()
		if c.opts.hedgeObserver != nil {
			c.opts.hedgeObserver.HedgeWon(h.uid, g.cn.n.ID)
		}
	}
	var zero T
	return zero, race.got, nil
}

// run is the hedge: it covers the primary's shards without the primary's
// node, spends the budget, sends, and when every hedge node answered
// before the primary, cancels the primary.
func (r *hedgeRace[T]) run(ctx context.Context, h *hedgeScope, cn coverNode, call func(context.Context, coverNode) (T, error)) {
	defer close(r.done)
	r.mu.Lock()
	if r.primaryDone {
		r.mu.Unlock()
		return
	}
	hctx, cancel := context.WithCancel(ctx)
	r.cancelHedge = cancel
	r.mu.Unlock()
	defer cancel()

	c := h.c
	excluded := make([]bool, c.slots())
	copy(excluded, h.excluded)
	excluded = exclude(excluded, cn.n.idx)
	c.excludeSlowerThan(excluded, cn.n)
	cov := c.cover(h.uid, cn.shards, h.seq, excluded, true)
	if len(cov.unavailable) > 0 || len(cov.nodes) == 0 || !c.hedges.take(len(cov.nodes)) {
		return
	}
	rep := reportFrom(ctx)
	for _, hn := range cov.nodes {
		rep.hedgeSent()
		if c.opts.hedgeObserver != nil {
			c.opts.hedgeObserver.HedgeSent(h.uid, cn.n.ID, hn.n.ID)
		}
	}
	got := make([]gathered[T], len(cov.nodes))
	errs := parallel(len(cov.nodes), 0, func(i int) error {
		start := time.Now()
		v, err := call(hctx, cov.nodes[i])
		if err == nil {
			cov.nodes[i].n.load.sample(time.Since(start))
			got[i] = gathered[T]{cn: cov.nodes[i], val: v}
		}
		return err
	})
	if firstError(errs) != nil {
		return
	}
	r.mu.Lock()
	r.got = got
	if !r.primaryDone {
		r.hedgeWon = true
		r.cancelPrimary()
	}
	r.mu.Unlock()
}

// hedgeOne is hedgeCall for a read of one shard from node n (a document by
// id): the hedge goes to the best other replica of the shard.
func hedgeOne(ctx context.Context, c *Cluster, uid string, shard int, n *node, call func(context.Context, *node) (*nodeResponse, error)) (*nodeResponse, error) {
	if !c.adaptiveReads() {
		return call(ctx, n)
	}
	// seq = n's group: the hedge prefers n's group, as the read did.
	h := &hedgeScope{c: c, uid: uid, seq: uint64(n.Group)}
	v, got, err := hedgeCall(ctx, h, coverNode{n: n, shards: []int{shard}}, func(ctx context.Context, cn coverNode) (*nodeResponse, error) {
		return call(ctx, cn.n)
	})
	if got != nil {
		return got[0].val, nil
	}
	return v, err
}
