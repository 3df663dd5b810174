package miroir

import (
	"context"
	"time"
)

// Document versions (DESIGN §12, issue 12).
//
// A write's version is its cluster task uid: a hybrid logical clock
// (milliseconds since the Unix epoch × 1000, plus the instance's lane and
// a counter), below 2^53, strictly increasing per instance and unique
// across the instances of a fleet, that names the task that wrote the
// document. It is reserved before the write is sent, injected into every
// document as _miroir_v, and the cluster task registers under it. Between
// two copies of one document, the higher _miroir_v is the last write.

// observe advances the allocator past v (a version read from the fleet),
// so that this instance's next write is newer than any write it has seen,
// whatever its clock says.
func (m *taskManager) observe(v int64) {
	if v <= 0 || v >= maxTaskUID {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// The largest uid of this instance's lane not above v: the next uid
	// (last + uidLanes, or the clock's when later) is then above v.
	d := (v - m.lane) % uidLanes
	if d < 0 {
		d += uidLanes
	}
	if last := v - d; last > m.last {
		m.last = last
	}
}

// writeVersionFor returns the version of the write ctx is about to send:
// the reserved uid of a deferred call's task (register takes it next), or
// a new uid. The cluster task of the write registers under it
// (ClusterTask.UID preset, see taskManager.register).
func (c *Cluster) writeVersionFor(ctx context.Context) int64 {
	if c.writeVersion != nil {
		return c.writeVersion() // a benchmark's source (0: no version)
	}
	if uid := peekReservation(ctx); uid != 0 {
		return uid
	}
	return c.tasks.freshUID(ctx)
}

// freshUID allocates a uid no task in the store has: a store shared by
// several processes may already hold one (two processes on the same lane
// in the same millisecond). The check is made before the uid is used as
// a version, since a version cannot be taken back once sent.
func (m *taskManager) freshUID(ctx context.Context) int64 {
	uid := m.nextUID()
	for range 8 {
		if old, err := m.store.Get(ctx, uid); err != nil || old == nil {
			break
		}
		uid = m.nextUID()
	}
	return uid
}

// peekReservation returns the unused reserved uid of ctx (0: none),
// without using it.
func peekReservation(ctx context.Context) int64 {
	r, _ := ctx.Value(reservedKey{}).(*reservation)
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.used {
		return 0
	}
	return r.uid
}

// versionTime is the wall-clock time a version was allocated at (its
// millisecond part).
func versionTime(v int64) time.Time { return time.UnixMilli(v / 1000).UTC() }
