package miroir

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Per-index call order (issue 10: calls not awaited).
//
// One Meilisearch node processes an index's tasks in the order they were
// enqueued, so a client may fire "delete the index, add documents" or
// "change the settings, add documents, delete by filter" without waiting
// for each task. miroir keeps that promise with a chain of tickets per
// index: a call that changes an index takes the next ticket at once, and
// reaches the nodes only after the calls before it have released theirs.
//
//   - A document write or deletion releases its ticket as soon as its node
//     requests are acknowledged: the nodes' own queues keep the order from
//     there, and the write of a document never overtakes an earlier write
//     of it on some replica and not on another.
//   - A barrier (index deletion, rename, swap, primary-key change, a
//     settings transaction) releases its ticket only when it is finished:
//     what comes after depends on its outcome (the index exists again or
//     not, the fleet's settings, miroir_meta), which miroir caches.
//
// A call that finds an unfinished barrier ahead of it does not wait for it
// inside the caller's request: it registers its cluster task at once,
// enqueued, as Meilisearch would, and runs when its turn comes (deferred);
// its outcome completes that task. Calls that cannot be deferred (streamed
// readers, split into several tasks) wait their turn instead.

// ticket is one call's place in the order of its indexes.
type ticket struct {
	c       *Cluster
	uids    []string
	prev    []chan struct{} // released by the calls just before, one per index
	ch      chan struct{}   // closed by release
	barrier bool
	// blocked: an unfinished barrier was ahead when the ticket was taken.
	blocked bool
	// deferred: the call runs in the background (sequenced); counted in
	// its indexes' indexOrder.deferred until released.
	deferred bool
	once     sync.Once
}

// indexOrder is the chain of one index: its last ticket, how many
// barriers are unfinished, how many deferred calls wait.
type indexOrder struct {
	tail     chan struct{}
	barriers int
	deferred int
}

// maxDeferred bounds the calls an index may hold deferred: beyond it a
// call waits for its turn in the caller's request, so a caller writing in
// a tight loop behind a long settings change is slowed down instead of
// piling up payloads in memory.
const maxDeferred = 256

// enter takes the next ticket of every index in uids (a swap takes one in
// both). barrier marks a call whose ticket is released only when it is
// finished. canDefer asks for a deferred turn when a barrier is ahead
// (granted while the indexes hold fewer than maxDeferred).
func (c *Cluster) enter(barrier, canDefer bool, uids ...string) *ticket {
	t := &ticket{c: c, uids: uids, ch: make(chan struct{}), barrier: barrier}
	c.orderMu.Lock()
	defer c.orderMu.Unlock()
	if c.orders == nil {
		c.orders = map[string]*indexOrder{}
	}
	room := true
	for _, uid := range uids {
		o := c.orders[uid]
		if o == nil {
			o = &indexOrder{}
			c.orders[uid] = o
		}
		if o.tail != nil {
			t.prev = append(t.prev, o.tail)
		}
		if o.barriers > 0 {
			t.blocked = true
		}
		room = room && o.deferred < maxDeferred
		o.tail = t.ch
		if barrier {
			o.barriers++
		}
	}
	if t.blocked && canDefer && room {
		t.deferred = true
		for _, uid := range uids {
			c.orders[uid].deferred++
		}
	}
	return t
}

// wait blocks until every call before t has released its ticket, ctx ends
// or the Cluster closes.
func (t *ticket) wait(ctx context.Context) error {
	for _, p := range t.prev {
		select {
		case <-p:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.c.closed:
			return fmt.Errorf("%w", ErrClosed)
		}
	}
	return nil
}

// release lets the calls after t go (once; later calls are no-ops), and
// forgets the chain of an index that has nothing left in it.
func (t *ticket) release() {
	t.once.Do(func() {
		close(t.ch)
		c := t.c
		c.orderMu.Lock()
		defer c.orderMu.Unlock()
		for _, uid := range t.uids {
			o := c.orders[uid]
			if o == nil {
				continue
			}
			if t.barrier {
				o.barriers--
			}
			if t.deferred {
				o.deferred--
			}
			if o.tail == t.ch && o.barriers == 0 {
				delete(c.orders, uid)
			}
		}
	})
}

// releaseWhenFinished releases a barrier's ticket once its cluster task is
// finished (polled in the background), or at once when it has no task.
func (t *ticket) releaseWhenFinished(info *meilisearch.TaskInfo) {
	if info == nil {
		t.release()
		return
	}
	c := t.c
	c.tasks.whenFinal(info.TaskUID, t.release) // whoever sees it finished first
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.tasks.finished(info.TaskUID) // releases, and forgets the hook
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-c.closed:
				cancel()
			case <-ctx.Done():
			}
		}()
		delay := 2 * time.Millisecond
		for {
			tk, err := c.tasks.get(ctx, info.TaskUID)
			if err != nil && apiCode(err) == "task_not_found" {
				return // deleted: nothing to wait for
			}
			if err == nil && isFinal(tk.Status) {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, 100*time.Millisecond)
		}
	}()
}

// sequenced runs a call that changes the indexes uids in their order. run
// performs the call and returns its cluster task (registered by run).
//
// When nothing unfinished is ahead, run is called now, in the caller's
// request, and its answer and error are the call's. When an unfinished
// barrier is ahead and placeholder is non-nil, the call is deferred:
// placeholder is registered now (enqueued) and returned, and run is called
// in the background when its turn comes, with a context whose registration
// completes that same task (its error, if any, fails it). With a nil
// placeholder the caller waits for its turn.
func (c *Cluster) sequenced(ctx context.Context, uids []string, barrier bool, placeholder *ClusterTask, run func(ctx context.Context) (*meilisearch.TaskInfo, error)) (*meilisearch.TaskInfo, error) {
	return c.sequencedChecked(ctx, uids, barrier, placeholder, nil, run)
}

// sequencedChecked is sequenced with check, run in the caller's request
// before a call is deferred: what one node refuses at once (a malformed
// payload) is refused at once, deferred or not; check may also complete
// the placeholder (its document count).
//
// It is the cluster call (observe.go) of every write it runs, named after
// the placeholder's task type.
func (c *Cluster) sequencedChecked(ctx context.Context, uids []string, barrier bool, placeholder *ClusterTask, check func() error, run func(ctx context.Context) (*meilisearch.TaskInfo, error)) (info *meilisearch.TaskInfo, err error) {
	if c.hooks.calls != nil {
		var cs *callState
		ctx, cs = c.beginCall(ctx, writeOpName(placeholder), oneIndex(uids))
		defer func() { cs.end(err) }()
	}
	if err := c.checkOpen(); err != nil {
		return nil, err // a closed Cluster defers nothing
	}
	t := c.enter(barrier, placeholder != nil, uids...)
	finish := func(info *meilisearch.TaskInfo, err error) {
		if barrier && err == nil {
			t.releaseWhenFinished(info)
		} else {
			t.release()
		}
	}
	if !t.deferred {
		if err := t.wait(ctx); err != nil {
			t.release()
			return nil, err
		}
		info, err := run(ctx)
		finish(info, err)
		return info, err
	}
	if check != nil {
		if err := check(); err != nil {
			t.release()
			return nil, err
		}
	}
	placeholder.Local = true
	info, err = c.tasks.register(ctx, placeholder)
	if err != nil {
		t.release()
		return nil, err
	}
	uid := info.TaskUID
	bg := context.WithoutCancel(ctx)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := t.wait(bg); err != nil {
			c.tasks.finishReserved(uid, err)
			t.release()
			return
		}
		if !c.tasks.claimReserved(uid) {
			t.release() // canceled while it waited
			return
		}
		res, err := run(withReservedTask(bg, uid))
		if err != nil {
			c.tasks.finishReserved(uid, err)
		}
		finish(res, err)
	}()
	return info, nil
}

// reservedKey carries the UID a deferred call's registration must reuse.
type reservedKey struct{}

type reservation struct {
	uid  int64
	used bool
	mu   sync.Mutex
}

func withReservedTask(ctx context.Context, uid int64) context.Context {
	return context.WithValue(ctx, reservedKey{}, &reservation{uid: uid})
}

// takeReservation returns the reserved UID of a deferred call's first
// registration (0: none, or already used: later registrations of the same
// call get UIDs of their own).
func takeReservation(ctx context.Context) int64 {
	r, _ := ctx.Value(reservedKey{}).(*reservation)
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.used {
		return 0
	}
	r.used = true
	return r.uid
}

// mergeCancel returns a context with the values of vals (the caller's
// grant and token of a deferred call) and the cancellation of done (the
// background work's lifetime).
func mergeCancel(vals, done context.Context) context.Context {
	if vals == nil {
		return done
	}
	return valuesFrom{done, vals}
}

type valuesFrom struct {
	context.Context
	vals context.Context
}

func (v valuesFrom) Value(key any) any { return v.vals.Value(key) }

// inTurn runs a call that changes index uid and cannot be deferred (a
// streamed reader, a write split into several tasks) when its turn comes,
// in the caller's request.
// It is the cluster call op (observe.go).
func inTurn[T any](ctx context.Context, c *Cluster, op, uid string, run func(ctx context.Context) (T, error)) (v T, err error) {
	if c.hooks.calls != nil {
		var cs *callState
		ctx, cs = c.beginCall(ctx, op, uid)
		defer func() { cs.end(err) }()
	}
	if err := c.checkOpen(); err != nil {
		var zero T
		return zero, err
	}
	t := c.enter(false, false, uid)
	defer t.release()
	if err := t.wait(ctx); err != nil {
		var zero T
		return zero, err
	}
	return run(ctx)
}

// writeOpName names a sequenced call for observers: its task type.
func writeOpName(placeholder *ClusterTask) string {
	if placeholder == nil || placeholder.Type == "" {
		return "write"
	}
	return string(placeholder.Type)
}

// oneIndex is the index label of a call on uids: "" for several.
func oneIndex(uids []string) string {
	if len(uids) == 1 {
		return uids[0]
	}
	return ""
}
