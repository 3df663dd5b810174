package miroir

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/miroirsearch/miroir/internal/merge"
)

// Covering sets (DESIGN §2): which node answers for which shard in one
// read.
//
// The preferred group is seq mod RG (round-robin across calls). Inside a
// group the nodes are ranked by a rotation that also advances with seq,
// and every shard goes to its healthy replica of best rank: with RF equal
// to the group size one node serves every shard, and over successive
// calls each replica takes its turn. A shard with no healthy replica in
// the preferred group falls back, on its own, to the next groups (g+1,
// g+2, ... mod RG); a shard with none anywhere is unavailable.

// coverNode is one node of a covering set and the shards it answers for.
type coverNode struct {
	n      *node
	shards []int // ascending
	// filter: the node holds shards assigned elsewhere in this read, so
	// its request must carry `_miroir_shard IN [shards]`.
	filter bool
}

// shardFilter returns the filter restricting the node to its shards, or
// "" when it needs none.
func (cn *coverNode) shardFilter() string {
	if !cn.filter {
		return ""
	}
	b := make([]byte, 0, 24+4*len(cn.shards))
	b = append(b, shardField...)
	b = append(b, " IN ["...)
	for i, s := range cn.shards {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(s), 10)
	}
	return string(append(b, ']'))
}

// covering is the plan of one read.
type covering struct {
	nodes       []coverNode // by node index
	unavailable []int
	fallbacks   []Fallback
}

// cover assigns shards (nil: every shard) of index uid to healthy nodes
// that are not excluded and whose replica is in sync (readable). seq
// picks the preferred group and the rotation; adaptive lets replica
// selection (replica_select.go) order the replicas of a group.
func (c *Cluster) cover(uid string, shards []int, seq uint64, excluded []bool, adaptive bool) *covering {
	tp := c.topo()
	t := tp
	rg := uint64(t.groups())
	pref := int(seq % rg)
	assigned := make([][]int, len(tp.clients))
	cov := &covering{}
	// rank of a node inside its group for this read
	ranks := c.replicaRanks(tp, seq, adaptive, excluded)
	rank := func(_, ni int) int {
		if ranks == nil {
			return 0
		}
		return ranks[ni]
	}
	pick := func(s int) {
		skippedStale := false // a stale replica was passed over: say so
		for k := 0; k < int(rg); k++ {
			g := (pref + k) % int(rg)
			best, bestRank := -1, 0
			for _, ni := range t.replicas(s, g) {
				if isExcluded(excluded, ni) || !c.readable(uid, s, ni) {
					skippedStale = skippedStale || c.isStale(uid, s, ni)
					continue
				}
				if r := rank(g, ni); best < 0 || r < bestRank {
					best, bestRank = ni, r
				}
			}
			if best < 0 {
				continue
			}
			assigned[best] = append(assigned[best], s)
			if k > 0 || skippedStale {
				cov.fallbacks = append(cov.fallbacks, Fallback{Shard: s, Preferred: pref, Group: g, Node: tp.clients[best].ID, Stale: skippedStale})
			}
			return
		}
		// A shard just cut over whose new replicas this instance still
		// holds stale: its old replicas receive every write until retire.
		for _, ni := range t.fallback(s) {
			if !isExcluded(excluded, ni) && c.readable(uid, s, ni) {
				assigned[ni] = append(assigned[ni], s)
				cov.fallbacks = append(cov.fallbacks, Fallback{Shard: s, Preferred: pref, Group: t.nodes[ni].Group, Node: t.nodes[ni].ID, Stale: true})
				return
			}
		}
		cov.unavailable = append(cov.unavailable, s)
	}
	if shards == nil {
		for s := 0; s < t.shards; s++ {
			pick(s)
		}
		if adaptive {
			c.driftLeftOut(tp, assigned, excluded)
		}
	} else {
		for _, s := range shards {
			pick(s)
		}
	}
	for ni, ss := range assigned {
		if len(ss) == 0 {
			continue
		}
		slices.Sort(ss)
		cov.nodes = append(cov.nodes, coverNode{
			n:      tp.clients[ni],
			shards: ss,
			filter: len(ss) != len(t.shardsOf(ni)),
		})
	}
	return cov
}

// nextSeq advances the round-robin counter.
func (c *Cluster) nextSeq() uint64 { return c.seq.Add(1) - 1 }

// gathered is one node's answer in a scatter-gather.
type gathered[T any] struct {
	cn  coverNode
	val T
}

// retryableNodeError says whether a node's failure should send its shards
// to another replica: no answer at all, a server-side error, or a node
// that lacks the index (the fleet has it, or the read would not have got
// this far: that node lost it).
func retryableNodeError(err error) bool {
	if isTransportError(err) {
		return true
	}
	return errStatus(err) >= 500 || apiCode(err) == "index_not_found"
}

// scatter runs call on a covering set of index uid, moving the shards of
// nodes that fail (unreachable or 5xx) to other replicas until every
// shard answered or has no replica left. Unavailable shards follow the
// Cluster's policy: Partial reports them (Report, Observer) and answers
// from the rest; FailFast returns ErrShardUnavailable. A node's client
// error (4xx) ends the read with that error. deterministic pins the
// covering set (group 0 first, no rotation) so that repeated reads use
// the same nodes, as paginated listings need.
func scatter[T any](ctx context.Context, c *Cluster, uid string, deterministic bool, call func(ctx context.Context, cn coverNode) (T, error)) ([]gathered[T], error) {
	var seq uint64
	if !deterministic {
		seq = c.nextSeq()
	}
	excluded := make([]bool, c.slots())
	cov := c.cover(uid, nil, seq, excluded, !deterministic)
	// Hedging and load measurement: only where a read has a choice.
	var hs *hedgeScope
	if !deterministic && c.adaptiveReads() {
		hs = &hedgeScope{c: c, uid: uid, seq: seq, excluded: excluded}
	}
	unavailable := cov.unavailable
	fallbacks := cov.fallbacks
	if len(unavailable) > 0 && c.opts.policy == FailFast {
		return nil, c.unavailableShards(ctx, uid, unavailable)
	}
	pending := cov.nodes
	var out []gathered[T]
	for len(pending) > 0 {
		vals := make([]T, len(pending))
		var hedged [][]gathered[T] // per pending node: a hedge's answers
		if hs != nil {
			hedged = make([][]gathered[T], len(pending))
		}
		errs := parallel(len(pending), 0, func(i int) (err error) {
			if hs != nil {
				vals[i], hedged[i], err = hedgeCall(ctx, hs, pending[i], call)
				return err
			}
			vals[i], err = call(ctx, pending[i])
			return err
		})
		var failed []int
		for i, err := range errs {
			switch {
			case err == nil && hedged != nil && hedged[i] != nil:
				out = append(out, hedged[i]...)
			case err == nil:
				out = append(out, gathered[T]{cn: pending[i], val: vals[i]})
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case retryableNodeError(err):
				excluded = exclude(excluded, pending[i].n.idx)
				failed = append(failed, pending[i].shards...)
			default:
				return nil, err
			}
		}
		if len(failed) == 0 {
			break
		}
		slices.Sort(failed)
		next := c.cover(uid, failed, seq, excluded, !deterministic)
		unavailable = append(unavailable, next.unavailable...)
		fallbacks = append(fallbacks, next.fallbacks...)
		if len(next.unavailable) > 0 && c.opts.policy == FailFast {
			return nil, c.unavailableShards(ctx, uid, unavailable)
		}
		pending = next.nodes
	}
	if r := reportFrom(ctx); r != nil {
		for _, f := range fallbacks {
			r.fallback(f)
		}
	}
	if len(unavailable) > 0 {
		slices.Sort(unavailable)
		reportFrom(ctx).unavailable(unavailable)
		if c.hooks.calls != nil {
			callFrom(ctx).noteUnavailable(unavailable)
		}
		if c.opts.observer != nil {
			c.opts.observer.UnavailableShards(uid, slices.Clone(unavailable))
		}
	}
	return out, nil
}

// unavailableShards reports and returns the FailFast error.
func (c *Cluster) unavailableShards(ctx context.Context, uid string, shards []int) error {
	shards = slices.Clone(shards)
	slices.Sort(shards)
	reportFrom(ctx).unavailable(shards)
	if c.hooks.calls != nil {
		callFrom(ctx).noteUnavailable(shards)
	}
	if c.opts.observer != nil {
		c.opts.observer.UnavailableShards(uid, slices.Clone(shards))
	}
	return shardUnavailableError(shards)
}

// combineFilter ANDs the shard restriction with the caller's filter: a
// string filter becomes `(filter) AND restriction`, an array filter gets
// the restriction as one more element.
func combineFilter(user []byte, shard string) []byte {
	user = bytes.TrimSpace(user)
	if len(user) == 0 || string(user) == "null" || string(user) == `""` {
		if shard == "" {
			return nil
		}
		return merge.AppendString(nil, shard)
	}
	if shard == "" {
		return user
	}
	switch user[0] {
	case '"':
		s, ok := merge.Unquote(user)
		if !ok {
			return user
		}
		if strings.TrimSpace(s) == "" {
			return merge.AppendString(nil, shard)
		}
		return merge.AppendString(nil, "("+s+") AND "+shard)
	case '[':
		inner := bytes.TrimSpace(user[1 : len(user)-1])
		out := make([]byte, 0, len(user)+len(shard)+4)
		out = append(out, '[')
		if len(inner) > 0 {
			out = append(out, inner...)
			out = append(out, ',')
		}
		out = merge.AppendString(out, shard)
		return append(out, ']')
	}
	return user
}
