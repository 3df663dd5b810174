package miroir

import (
	"context"
	"time"
)

// Keeping this instance's view of the marks fresh (DESIGN §12): every
// WithFleetRefresh interval, and at once when a node comes back from
// unhealthy (it serves no reads here until the marks were read again: it
// may have missed writes another instance marked meanwhile).

// defaultFleetRefresh is how often the marks are re-read by default: the
// longest another instance may keep reading a replica this one marked
// stale, when it never saw the node fail.
const defaultFleetRefresh = 5 * time.Second

// marksLoop re-reads the marks of every index every interval (0: only
// when kicked) until Close.
func (c *Cluster) marksLoop() {
	defer c.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.closed
		cancel()
	}()
	var tick <-chan time.Time
	if d := c.opts.fleetRefresh; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		tick = t.C
	}
	// retry: a failed read while a node waits for it is tried again soon
	// (backing off), whatever the interval.
	var retry <-chan time.Time
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-c.closed:
			return
		case <-tick:
		case <-c.marksKick:
		case <-retry:
		}
		retry = nil
		if c.refreshAllMarks(ctx) || !c.someMarksUnread() {
			backoff = 50 * time.Millisecond
			continue
		}
		retry = time.After(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
}

// someMarksUnread reports whether a node waits for the marks to be read.
func (c *Cluster) someMarksUnread() bool {
	for _, n := range c.members() {
		if n.marksUnread.Load() {
			return true
		}
	}
	return false
}

// refreshAllMarks re-reads every index's marks; once read, the nodes that
// came back before the read started serve reads again. It reports whether
// the read succeeded.
func (c *Cluster) refreshAllMarks(ctx context.Context) bool {
	tp := c.topo()
	gens := make([]uint64, len(tp.clients))
	for i, n := range tp.members {
		gens[i] = n.backGen.Load()
	}
	if _, err := c.refreshMarks(ctx, ""); err != nil {
		c.opts.logger.Warn("miroir: refreshing stale marks", "err", err)
		return false
	}
	for i, n := range tp.members {
		if n.backGen.Load() == gens[i] {
			n.marksUnread.Store(false)
		}
	}
	return true
}

// nodeCameBack makes node n serve no reads until the marks are read
// again, and asks the marks loop to read them now. A fleet with one copy
// of each shard has no stale replica to fear.
func (c *Cluster) nodeCameBack(n *node) {
	if c.topo().copies() < 2 {
		return
	}
	n.backGen.Add(1)
	n.marksUnread.Store(true)
	select {
	case c.marksKick <- struct{}{}:
	default: // a refresh is already asked for
	}
}
