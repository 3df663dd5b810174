package miroir

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/meilisearch/meilisearch-go"
)

// Stale causes (issue 12): which replicas a write left behind, and the
// acknowledgement rule for their marks.
//
//   - at send time (sendBatch): a write target of a shard that gave no
//     202 (transport error, an error answer, or not sent to at all: down
//     or unverified) while another replica of the shard gave one, whether
//     or not the shard met quorum;
//   - after the 202 (refresh): a node task carrying a shard failed or was
//     canceled while another replica's node task of the same cluster task
//     carrying that shard succeeded or had not finished yet.
//
// A write that left replicas stale is acknowledged only once the marks got
// a 202 from a node that is not stale for their shard: nothing
// acknowledged is ever invisible to an instance that reads the marks.

// markMissed stores the marks of the write targets of shards that missed
// a write (acked says which nodes gave a 202) when another target of the
// same shard got it.
func (c *Cluster) markMissed(ctx context.Context, uid string, version int64, shards []int, acked func(ni int) bool) error {
	tp := c.topo()
	var marks []staleMark
	now := nowUTC()
	for _, s := range shards {
		ts := tp.writeTargets(s)
		if !slices.ContainsFunc(ts, acked) {
			continue // the write reached no replica of s: nothing diverged
		}
		for _, ni := range ts {
			if !acked(ni) {
				marks = append(marks, staleMark{Index: uid, Shard: s, Node: tp.clients[ni].ID, Version: version, At: now})
			}
		}
	}
	if len(marks) == 0 {
		return nil
	}
	return c.storeMarks(ctx, marks)
}

// storeMarks writes marks to the fleet and adds them to this instance's
// view. It fails (miroir_no_quorum) when, for some shard, no node that is
// not stale for it acknowledged the marks.
func (c *Cluster) storeMarks(ctx context.Context, marks []staleMark) error {
	// The write they describe already reached some nodes: they are stored
	// even when the caller gives up now.
	ctx = bookkeepingCtx(context.WithoutCancel(ctx))
	acks := c.markStore.put(ctx, marks)
	put := &markPut{tasks: map[int]int64{}, done: map[int]bool{}}
	for ni, tk := range acks {
		if tk >= 0 {
			put.tasks[ni] = tk
		}
	}
	// Judged before the new marks join the view.
	type shardOf struct {
		index string
		shard int
	}
	staleNow := map[shardOf]map[int]bool{}
	for _, m := range marks {
		k := shardOf{m.Index, m.Shard}
		if staleNow[k] == nil {
			staleNow[k] = map[int]bool{}
		}
		staleNow[k][c.nodeIdx(m.Node)] = true
	}
	var bad []int
	for k, st := range staleNow {
		ok := false
		for ni, tk := range acks {
			if tk >= 0 && !st[ni] && !c.isStale(k.index, k.shard, ni) {
				ok = true
				break
			}
		}
		if !ok {
			bad = append(bad, k.shard)
		}
	}
	c.addPendingMarks(marks, put)
	if len(bad) > 0 {
		slices.Sort(bad)
		bad = slices.Compact(bad)
		e := newError(http.StatusServiceUnavailable, CodeNoQuorum,
			"miroir: the write reached some replicas of shards %v but the marks of the replicas it missed could not be stored on any in-sync node, so it is not acknowledged; documents may already be stored on some nodes; retrying the same call is safe", bad)
		e.Type = "system"
		e.Shards = bad
		e.Err = errMarksNotStored
		return e
	}
	return nil
}

// errMarksNotStored is the cause of a write refused because its stale
// marks could not be stored.
var errMarksNotStored = errors.New("miroir: stale marks not stored")

// markFailedNodeTasks stores the marks of the replicas whose node task of
// t failed or was canceled while another replica's node task carrying the
// same shard succeeded or has not finished yet. Called once t is finished;
// an error means the marks could not be stored (the caller keeps t
// unfinished, to try again).
//
// A cluster task is failed as soon as one node task fails (aggregate),
// while the others may still run, and it is not refreshed again: this is
// the only look. A replica whose node task is still enqueued or processing
// may yet apply the write, so the failed replicas are marked now. Should
// it fail too, the mark is only over-cautious: repair finds nothing to
// copy and clears it.
func (c *Cluster) markFailedNodeTasks(ctx context.Context, t *ClusterTask) error {
	if t.Local || t.IndexUID == "" {
		return nil
	}
	got := map[int]bool{}   // shards some replica applied or may still apply
	lost := map[int][]int{} // shard -> nodes whose task carrying it did not
	for _, nt := range t.Nodes {
		if nt.Aux || len(nt.Shards) == 0 {
			continue
		}
		ni := c.nodeIdx(nt.Node)
		if ni < 0 {
			continue
		}
		for _, s := range nt.Shards {
			switch nt.Status {
			case meilisearch.TaskStatusFailed, meilisearch.TaskStatusCanceled:
				lost[s] = append(lost[s], ni)
			default: // succeeded, or still enqueued or processing
				got[s] = true
			}
		}
	}
	var marks []staleMark
	now := nowUTC()
	for s, nis := range lost {
		if !got[s] {
			continue // no replica applied it or may still: they agree
		}
		for _, ni := range nis {
			marks = append(marks, staleMark{Index: t.IndexUID, Shard: s, Node: c.node(ni).ID, Version: t.UID, At: now})
		}
	}
	if len(marks) == 0 {
		return nil
	}
	if err := c.storeMarks(ctx, marks); err != nil {
		return fmt.Errorf("miroir: task %d: %w", t.UID, err)
	}
	return nil
}

// carried returns the shards of shards that node ni holds (what its body
// of a routed write carried).
func (c *Cluster) carried(ni int, shards []int) []int {
	var out []int
	for _, s := range shards {
		if slices.Contains(c.topo().writeTargets(s), ni) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// copyMarksOnSwap stores, under the other name of each pair, the marks of
// indexes that swap names (a rename is a pair whose second name had
// none): a stale replica stays stale under the name its data now has. The
// marks under the old names stay (over-marking is safe: repair finds
// nothing to copy and clears them).
func (c *Cluster) copyMarksOnSwap(ctx context.Context, pairs [][2]string) {
	read := map[string][]staleMark{}
	for _, p := range pairs {
		for _, uid := range p {
			if _, done := read[uid]; done {
				continue
			}
			ms, err := c.readMarks(ctx, uid)
			if err != nil {
				c.opts.logger.Warn("miroir: reading stale marks to move them with a swap", "index", uid, "err", err)
			}
			read[uid] = ms
		}
	}
	var moved []staleMark
	for _, p := range pairs {
		for k, uid := range p {
			for _, m := range read[uid] {
				m.Index = p[1-k]
				moved = append(moved, m)
			}
		}
	}
	if len(moved) == 0 {
		return
	}
	if err := c.storeMarks(ctx, moved); err != nil {
		c.opts.logger.Warn("miroir: storing stale marks moved with a swap", "err", err)
	}
}
