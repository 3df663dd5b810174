package miroir

import (
	"context"
	"slices"
	"time"
)

// The background repair (DESIGN §12 rule 4): every WithRepair interval,
// this instance's unfinished cluster tasks are refreshed (a node task that
// failed after its 202 becomes a mark), then each index with stale replicas in this instance's view has its stale
// shards repaired, throttled to WithRepairRate documents per second. It
// does not compare in-sync replicas (that is Verify and Repair, on
// demand): a replica becomes stale only through a mark, so only marked
// shards need work.

// Defaults of the background repair.
const (
	// DefaultRepairInterval is how often the background repair looks
	// for stale replicas (WithRepair).
	DefaultRepairInterval = 30 * time.Second
	// DefaultRepairRate is the background repair's throttle, in documents
	// copied or deleted per second; listing ids counts one document per
	// ten ids (WithRepairRate).
	DefaultRepairRate = 1000
)

func (c *Cluster) repairLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.opts.repairInterval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.closed:
		case <-ctx.Done():
		}
		cancel()
	}()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
			c.repairStale(ctx)
		}
	}
}

// repairStale runs one background pass: the stale shards of every index
// this instance knows stale replicas of, under one throttle.
func (c *Cluster) repairStale(ctx context.Context) {
	// Node tasks that failed after their 202 become marks only when their
	// cluster task is refreshed: do it for every index, so a failure
	// nobody waits for still makes its replica stale within an interval.
	c.refreshUnfinished(ctx, "")
	if c.topo().change != nil {
		// A topology change's driver fills the new replicas and tracks
		// its copies (topology_change.go); a second copier would race it.
		return
	}
	pace := newPacer(c.opts.repairRate)
	for _, uid := range c.indexesWithStaleReplicas() {
		st, err := c.state(ctx, uid)
		if err != nil {
			c.opts.logger.Warn("miroir: background repair: loading index", "index", uid, "err", err)
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, repairTimeout)
		rep, err := c.repairIndex(pctx, st, false, pace)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.opts.logger.Warn("miroir: background repair", "index", uid, "err", err)
		} else if rep != nil && rep.Copied+rep.Deleted > 0 {
			c.opts.logger.Info("miroir: background repair", "index", uid, "copied", rep.Copied, "deleted", rep.Deleted)
		}
	}
}

// indexesWithStaleReplicas lists, sorted, the indexes with stale replicas
// in this instance's view of the marks.
func (c *Cluster) indexesWithStaleReplicas() []string {
	c.marks.mu.Lock()
	uids := make([]string, 0, len(c.marks.idx))
	for uid := range c.marks.idx {
		uids = append(uids, uid)
	}
	c.marks.mu.Unlock()
	out := uids[:0]
	for _, uid := range uids {
		if len(c.staleReplicas(uid)) > 0 {
			out = append(out, uid)
		}
	}
	slices.Sort(out)
	return out
}
