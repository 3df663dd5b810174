package miroir

import (
	"context"

	"github.com/meilisearch/meilisearch-go"
	"golang.org/x/sync/errgroup"
)

// Reaching several nodes (or several pieces of work) at once. Every
// scatter of the package goes through parallel: the per-node broadcasts
// (fanout), the covering-set reads (scatter, covering.go), the queries of
// a multi-search, the health probes and the task refreshes. oneNode is the
// other shape: one node, the next one when it does not answer.

// parallel runs fn(0), ..., fn(n-1) concurrently, at most limit at a time
// when limit > 0, and returns their errors index-aligned. A single item
// runs on the caller's goroutine (the common one-node fleet pays no
// goroutine). fn's error does not stop the others: callers decide what a
// partial failure means.
func parallel(n, limit int, fn func(i int) error) []error {
	errs := make([]error, n)
	if n == 1 {
		errs[0] = fn(0)
		return errs
	}
	var g errgroup.Group
	if limit > 0 {
		g.SetLimit(limit)
	}
	for i := range n {
		g.Go(func() error {
			errs[i] = fn(i)
			return nil
		})
	}
	_ = g.Wait() // every fn reports through errs
	return errs
}

// firstError returns the first non-nil error of errs, in their order.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// fanout runs fn on every node of targets in parallel and returns the
// per-node errors (index-aligned with targets).
func (c *Cluster) fanout(ctx context.Context, targets []*node, fn func(ctx context.Context, n *node) error) []error {
	return parallel(len(targets), 0, func(i int) error { return fn(ctx, targets[i]) })
}

// probeAll checks every node's /health once, in parallel.
func (c *Cluster) probeAll(ctx context.Context) {
	c.fanout(ctx, c.members(), func(ctx context.Context, n *node) error {
		n.probe(ctx)
		return nil
	})
}

// oneNode runs fn on the healthy nodes in configuration order (then the
// others) until one answers; a Meilisearch error answer (4xx) is final, a
// transport error or 5xx moves on. The order is fixed, not rotating: each
// node keeps its own createdAt/updatedAt for indexes and keys, and a caller
// comparing two reads (as one Meilisearch allows) must see one node's.
func (c *Cluster) oneNode(ctx context.Context, fn func(n *node) error) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	var last error
	for _, n := range c.nodesByPreference() {
		err := fn(n)
		if err == nil {
			return nil
		}
		last = err
		if ctx.Err() != nil {
			return err
		}
		var me *meilisearch.Error
		if !isTransportError(err) && asMeili(err, &me) && me.StatusCode < 500 {
			return err
		}
	}
	return last
}

// nodesByPreference lists nodes healthy first, then the others, each part
// in configuration order.
func (c *Cluster) nodesByPreference() []*node {
	tp := c.topo()
	out := make([]*node, 0, len(tp.clients))
	for _, n := range tp.members {
		if n.isHealthy() {
			out = append(out, n)
		}
	}
	for _, n := range tp.members {
		if !n.isHealthy() {
			out = append(out, n)
		}
	}
	return out
}
