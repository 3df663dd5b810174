package miroir

import (
	"context"
	"encoding/json"
	"time"
)

// The instance registry (DESIGN §13): every Cluster keeps a heartbeat
// record (kind "instance") in miroir_meta naming the revision of the
// topology record it follows. A topology change moves on from a phase only
// once every live instance follows that phase's record or its heartbeat
// expired, so no instance lagging behind reads a replica that was emptied
// or writes to one that left — never after a fixed sleep.

const instanceKind = "instance"

// registrationWait bounds how long a new instance's first call waits for
// its heartbeat to be processed.
const registrationWait = 2 * time.Second

// instanceRecord is one instance's heartbeat.
type instanceRecord struct {
	UID  string `json:"uid"`
	Kind string `json:"kind"`
	Rev  int64  `json:"rev"`
	// Instance is the instance's id (the one of its task-uid lanes).
	Instance string `json:"instance"`
	// Seen is the rev of the topology record the instance follows; Epoch
	// and Phase say what it is, for people reading the fleet.
	Seen  int64  `json:"seen"`
	Epoch int64  `json:"epoch"`
	Phase string `json:"phase"`
	// Expires is when the heartbeat stops counting (Unix ms, the
	// writer's clock; the period leaves room for clocks apart).
	Expires int64 `json:"expires"`
}

func instanceRecordID(instance string) string { return "miroir-inst-" + instance }

// heartbeatPeriod is how often an idle instance renews its heartbeat; it
// renews at once when it follows another record.
func (c *Cluster) heartbeatPeriod() time.Duration {
	return max(6*c.opts.fleetRefresh, 50*time.Millisecond)
}

// heartbeatTTL is how long a heartbeat counts: three periods, so a busy
// instance is not taken for a dead one.
func (c *Cluster) heartbeatTTL() time.Duration { return 3 * c.heartbeatPeriod() }

// heartbeat writes this instance's heartbeat when the record it follows
// changed or the last one is a period old; wait waits until the nodes
// processed it. It reports whether some node took it. Instances with no
// refresh loop (WithFleetRefresh(0)) follow no change and do not register.
func (c *Cluster) heartbeat(ctx context.Context, wait bool) bool {
	if c.opts.fleetRefresh <= 0 {
		return false
	}
	seen := c.follow.rev.Load()
	now := time.Now()
	if seen == c.hb.seen && now.Sub(c.hb.at) < c.heartbeatPeriod() {
		return false
	}
	if !c.drainOld(ctx) {
		seen = c.hb.seen // writes routed by an older phase are still running
	}
	t := c.topo()
	rec := instanceRecord{
		UID: instanceRecordID(c.lanes.instance), Kind: instanceKind, Rev: c.lanes.revs.next(),
		Instance: c.lanes.instance, Seen: seen, Epoch: t.epoch, Phase: changePhase(t.change),
		Expires: now.Add(c.heartbeatTTL()).UnixMilli(),
	}
	acks := c.lanes.records.put(bookkeeping(ctx), []instanceRecord{rec})
	if wait {
		// Registration: visible on a quorum before the first call runs,
		// but never held up longer than registrationWait by a node's
		// queue (an import in progress): past it, the heartbeat is only
		// enqueued, and a change recorded meanwhile is seen at the next
		// refresh (DESIGN §13).
		wctx, cancel := context.WithTimeout(ctx, registrationWait)
		ok := c.waitQuorum(wctx, acks)
		cancel()
		if len(ok) > 0 {
			c.hb.seen, c.hb.at = seen, now
			return true
		}
	}
	for _, a := range acks {
		if a.Err == nil && a.Node != nil {
			c.hb.seen, c.hb.at = seen, now
			return true
		}
	}
	return false
}

// unregister removes this instance's heartbeat at Close (best effort: an
// instance that cannot expires).
func (c *Cluster) unregister(ctx context.Context) {
	if c.opts.fleetRefresh <= 0 || c.hb.at.IsZero() {
		return
	}
	c.lanes.records.remove(bookkeeping(ctx), []string{instanceRecordID(c.lanes.instance)})
}

// lagging returns the live instances (other than this one) that do not
// follow a topology record at least as new as rev yet.
func (c *Cluster) lagging(ctx context.Context, rev int64) ([]string, error) {
	reads := c.lanes.records.fetch(bookkeeping(ctx), instanceKind)
	if answered(reads) == 0 {
		return nil, newError(503, CodeTopologyUnknown, "miroir: no node answered the read of the instance registry")
	}
	now := time.Now().UnixMilli()
	var out []string
	for _, raw := range c.lanes.records.newest(reads) {
		var r instanceRecord
		if json.Unmarshal(raw, &r) != nil || r.Kind != instanceKind || r.Instance == c.lanes.instance {
			continue
		}
		if r.Expires > now && r.Seen < rev {
			out = append(out, r.Instance)
		}
	}
	return out, nil
}

// waitFollowed blocks until every live instance follows a record at least
// as new as rev (or ctx ends).
func (c *Cluster) waitFollowed(ctx context.Context, rev int64) error {
	poll := max(c.opts.fleetRefresh/2, 10*time.Millisecond)
	for {
		lag, err := c.lagging(ctx, rev)
		if err == nil && len(lag) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.closed:
			return ErrClosed
		case <-time.After(poll):
		}
	}
}
