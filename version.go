package miroir

import "context"

// Document versions (DESIGN §12, issue 12).
//
// A write's version is its cluster task uid: a hybrid logical clock
// (milliseconds since the Unix epoch × 1000, in a lane this instance holds
// on the fleet, lanes.go), below 2^53, strictly increasing per instance and
// unique across the instances of a fleet, that names the task that wrote
// the document. It is reserved before the write is sent (preallocate),
// injected into every document as _miroir_v, and the cluster task
// registers under it. Between two copies of one document, the higher
// _miroir_v is the last write.

// observe advances the allocator past v (a version read from the fleet),
// so that this instance's next write is newer than any write it has seen.
func (m *taskManager) observe(v int64) { m.c.lanes.observe(v) }

// observe moves the last uid allocated up to v when a slot this instance
// holds has room above it. A v beyond every slot held (an instance whose
// clock runs more than a window ahead) is not followed: writes then order
// by the writers' clocks, and allocation never stalls.
func (m *laneManager) observe(v int64) {
	if v <= 0 || v >= maxTaskUID {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if v <= m.last {
		return
	}
	for _, s := range m.owned {
		if _, ok := s.next(v + 1); ok {
			m.last = v
			return
		}
	}
}

// writeVersionFor returns the version of the next cluster task of the
// write ctx is about to send: the reserved uid of a deferred call's task
// (register takes it next), or a new uid. The cluster task registers
// under it (ClusterTask.UID preset).
func (c *Cluster) writeVersionFor(ctx context.Context) (int64, error) {
	return c.tasks.preallocate(ctx)
}

// injectedVersion is what the Batcher injects for version v: v, or
// nothing for the benchmark that measures a write without the field.
func (c *Cluster) injectedVersion(v int64) int64 {
	if c.unversioned {
		return 0
	}
	return v
}
