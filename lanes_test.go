package miroir

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// Tests of the task-uid lanes (lanes.go). Each Cluster stands for a
// separate process: several Clusters over the same nodes share nothing
// but the fleet.

// laneFleet starts n nodes named n0, n1, ... (n0 is the tiebreaker).
func laneFleet(t testing.TB, n int) ([]*meilitest.Server, []Node) {
	t.Helper()
	srv := meilitest.RunCluster(t, n)
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i] = Node{ID: fmt.Sprintf("n%d", i), URL: srv[i].URL()}
	}
	return srv, nodes
}

// laneCluster is a Cluster over nodes (closed when the test ends).
func laneCluster(t testing.TB, nodes []Node, opts ...Option) *Cluster {
	t.Helper()
	base := []Option{WithShards(4), WithRetries(RetryPolicy{}), WithNodeTimeout(3 * time.Second), WithHealthCheck(0, 0, 0, 0)}
	c, err := New(nodes, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// testClock is a clock shifted by a settable offset.
type testClock struct{ off atomic.Int64 }

func (k *testClock) now() time.Time      { return time.Now().Add(time.Duration(k.off.Load())) }
func (k *testClock) set(d time.Duration) { k.off.Store(int64(d)) }

// owned returns the slots a Cluster owns.
func owned(c *Cluster) []laneSlot {
	c.lanes.mu.Lock()
	defer c.lanes.mu.Unlock()
	return slices.Clone(c.lanes.owned)
}

// lockIndexes lists the lock indexes on node srv, once it processed the
// tasks enqueued so far.
func lockIndexes(t testing.TB, srv *meilitest.Server) []slotKey {
	t.Helper()
	nodeIdle(t, srv)
	res, err := meilisearch.New(srv.URL()).ListIndexes(context.Background(), &meilisearch.IndexesQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []slotKey
	for _, ix := range res.Results {
		if l, w, ok := parseLockIndex(ix.UID); ok {
			out = append(out, slotKey{l, w})
		}
	}
	return out
}

// nodeIdle waits until srv has no enqueued or processing task.
func nodeIdle(t testing.TB, srv *meilitest.Server) {
	t.Helper()
	cl := meilisearch.New(srv.URL())
	eventually(t, "node idle", func() bool {
		res, err := cl.GetTasks(context.Background(), &meilisearch.TasksQuery{Statuses: []meilisearch.TaskStatus{meilisearch.TaskStatusEnqueued, meilisearch.TaskStatusProcessing}, Limit: 1})
		return err == nil && res.Total == 0
	})
}

// crash makes Close leave c's slots held, as a process that died would.
func crash(c *Cluster) {
	c.lanes.mu.Lock()
	c.lanes.closed = true
	c.lanes.mu.Unlock()
	c.Close()
}

func TestLaneSlotsShareNoUID(t *testing.T) {
	w := windowOf(time.Now().UnixMilli())
	a, b, next := laneSlot{lane: 3, w: w}, laneSlot{lane: 4, w: w}, laneSlot{lane: 3, w: w + 1}
	seen := map[int64]string{}
	for _, s := range []laneSlot{a, b, next} {
		from := s.lo()
		for range 5000 {
			u, ok := s.next(from)
			if !ok {
				t.Fatalf("slot %+v exhausted", s)
			}
			if u%uidLanes != int64(s.lane) || u < s.lo() || u >= s.hi() || u > maxTaskUID {
				t.Fatalf("uid %d outside slot %+v", u, s)
			}
			if other, dup := seen[u]; dup {
				t.Fatalf("uid %d in two slots (%s, %+v)", u, other, s)
			}
			seen[u] = fmt.Sprint(s)
			from = u + 1
		}
	}
	// A floor (a released holder's last UID) is respected.
	f := laneSlot{lane: 3, w: w, floor: a.lo() + 12345}
	if u, _ := f.next(0); u < f.floor || u%uidLanes != 3 {
		t.Fatalf("uid %d below floor %d", u, f.floor)
	}
	// The last window before 2^53 still fits; beyond, nothing.
	last := laneSlot{lane: uidLanes - 1, w: maxTaskUID / 1000 / laneWindowMs}
	if u, ok := last.next(last.lo()); !ok || u > maxTaskUID {
		t.Fatalf("last window: %d %v", u, ok)
	}
	if _, ok := (laneSlot{lane: 0, w: last.w + 1}).next(0); ok {
		t.Fatal("a slot past 2^53 gave a uid")
	}
}

func TestLaneUIDsIncreaseUniqueAndTimeBased(t *testing.T) {
	_, nodes := laneFleet(t, 3)
	c := laneCluster(t, nodes)
	ctx := testCtx(t)
	before := time.Now().UnixMilli() * 1000
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev := int64(0)
			for range 2000 {
				u, err := c.lanes.nextUID(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if u <= prev || u >= 1<<53 {
					t.Errorf("uid %d after %d", u, prev)
				}
				prev = u
				mu.Lock()
				if seen[u] {
					t.Errorf("uid %d twice", u)
				}
				seen[u] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slots := owned(c)
	if len(slots) == 0 {
		t.Fatal("no slot owned")
	}
	for u := range seen {
		if !slices.ContainsFunc(slots, func(s laneSlot) bool { return u%uidLanes == int64(s.lane) && u >= s.lo() && u < s.hi() }) {
			t.Fatalf("uid %d in no owned slot %+v", u, slots)
		}
		if u < before {
			t.Fatalf("uid %d before the clock (%d)", u, before)
		}
	}
}

// TestLaneConcurrentClaimersNeverShareASlot starts many instances at once
// that all compete for the same three lanes: no slot is ever owned by two
// of them, every UID they allocate is distinct, and the ones that found
// every lane taken say so.
func TestLaneConcurrentClaimersNeverShareASlot(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			_, nodes := laneFleet(t, n)
			ctx := testCtx(t)
			const instances = 10
			cs := make([]*Cluster, instances)
			for i := range cs {
				cs[i] = laneCluster(t, nodes, withLaneRange(10, 13))
			}
			uids := make([][]int64, instances)
			errs := make([]error, instances)
			var wg sync.WaitGroup
			for i, c := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 50 {
						u, err := c.lanes.nextUID(ctx)
						if err != nil {
							errs[i] = err
							return
						}
						uids[i] = append(uids[i], u)
					}
				}()
			}
			wg.Wait()
			holder := map[slotKey]int{}
			winners := 0
			for i, c := range cs {
				for _, s := range owned(c) {
					k := slotKey{s.lane, s.w}
					if j, dup := holder[k]; dup {
						t.Fatalf("slot %+v owned by instances %d and %d", k, j, i)
					}
					holder[k] = i
				}
				if errs[i] == nil {
					winners++
				} else if apiCode(errs[i]) != CodeNoUIDLane {
					t.Fatalf("instance %d: %v", i, errs[i])
				}
			}
			// Each of the 3 lanes has two claimable slots (the current
			// window and the next, which counts as a claim on its own), so
			// at most 6 instances can win; uniqueness is the checks above.
			if winners == 0 || winners > 6 {
				t.Fatalf("%d instances allocated uids with 3 lanes (6 slots)", winners)
			}
			seen := map[int64]int{}
			for i, us := range uids {
				for _, u := range us {
					if j, dup := seen[u]; dup {
						t.Fatalf("uid %d allocated by instances %d and %d", u, j, i)
					}
					seen[u] = i
				}
			}
		})
	}
}

// TestLaneExpiryAndTakeover: the lane of an instance that died without
// Close is not taken while its windows last, and is taken when they are
// over; the new owner's UIDs are above the dead one's.
func TestLaneExpiryAndTakeover(t *testing.T) {
	srv, nodes := laneFleet(t, 3)
	ctx := testCtx(t)
	a := laneCluster(t, nodes, withLaneRange(7, 8))
	last, err := a.lanes.nextUID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held := owned(a)
	crash(a)
	if got := lockIndexes(t, srv[0]); len(got) != len(held) {
		t.Fatalf("locks after a crash: %v, held %v", got, held)
	}
	// Same time: the lane is still held.
	b := laneCluster(t, nodes, withLaneRange(7, 8))
	if _, err := b.lanes.nextUID(ctx); apiCode(err) != CodeNoUIDLane {
		t.Fatalf("lane taken while held: %v", err)
	}
	// Two windows later, the dead instance's windows are over.
	var clock testClock
	clock.set(2 * laneWindow)
	c := laneCluster(t, nodes, withLaneRange(7, 8), withClock(clock.now))
	u, err := c.lanes.nextUID(ctx)
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	if u <= last || u%uidLanes != 7 {
		t.Fatalf("takeover uid %d after %d", u, last)
	}
	for _, s := range owned(c) {
		if slices.ContainsFunc(held, func(h laneSlot) bool { return h.lane == s.lane && h.w == s.w }) {
			t.Fatalf("slot %+v of the dead instance taken over", s)
		}
	}
}

// TestLaneReleasedOnClose: Close frees the lane at once; the next owner of
// the same window starts above the closed instance's last UID.
func TestLaneReleasedOnClose(t *testing.T) {
	srv, nodes := laneFleet(t, 3)
	ctx := testCtx(t)
	// Both instances live in the middle of one window: on the wall clock
	// the second could start in the next window and rightly claim that.
	mid := time.UnixMilli(windowOf(time.Now().UnixMilli())*laneWindowMs + laneWindowMs/2)
	frozen := withClock(func() time.Time { return mid })
	a := laneCluster(t, nodes, withLaneRange(9, 10), frozen)
	var last int64
	for range 300 { // a burst: runs ahead of the clock
		u, err := a.lanes.nextUID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		last = u
	}
	held := owned(a)
	a.Close()
	for i := range srv {
		if got := lockIndexes(t, srv[i]); len(got) != 0 {
			t.Fatalf("node %d keeps locks after Close: %v", i, got)
		}
	}
	b := laneCluster(t, nodes, withLaneRange(9, 10), frozen)
	u, err := b.lanes.nextUID(ctx)
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	if u <= last {
		t.Fatalf("uid %d not above the released %d", u, last)
	}
	if got := owned(b); got[0].w != held[0].w {
		t.Fatalf("released window %d not reused: %+v", held[0].w, got)
	}
}

// TestLaneNeedsAQuorum: without a quorum of the fleet's nodes the claim
// fails and names the unreachable nodes; a two-node fleet claims with its
// tiebreaker (the smallest ID) alone, not with the other node alone.
func TestLaneNeedsAQuorum(t *testing.T) {
	srv, nodes := laneFleet(t, 3)
	ctx := testCtx(t)
	srv[1].Stop()
	srv[2].Stop()
	c := laneCluster(t, nodes)
	_, err := c.lanes.nextUID(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeNoUIDLane || !slices.Contains(e.Nodes, "n1") || !slices.Contains(e.Nodes, "n2") {
		t.Fatalf("no quorum: %v", err)
	}
	if err := srv[1].Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.lanes.nextUID(ctx); err != nil {
		t.Fatalf("with 2 of 3: %v", err)
	}

	srv2, nodes2 := laneFleet(t, 2)
	srv2[1].Stop()
	if _, err := laneCluster(t, nodes2).lanes.nextUID(ctx); err != nil {
		t.Fatalf("two nodes, the tiebreaker up: %v", err)
	}
	if err := srv2[1].Start(); err != nil {
		t.Fatal(err)
	}
	srv2[0].Stop()
	if _, err := laneCluster(t, nodes2).lanes.nextUID(ctx); apiCode(err) != CodeNoUIDLane {
		t.Fatalf("two nodes, the tiebreaker down: %v", err)
	}
}

// TestLaneMaintenance: an instance claims its lane's next window before
// the current one ends, and sweeps the locks of windows long over.
func TestLaneMaintenance(t *testing.T) {
	srv, nodes := laneFleet(t, 3)
	ctx := testCtx(t)
	var clock testClock
	a := laneCluster(t, nodes, withLaneRange(5, 6), withClock(clock.now))
	u1, err := a.lanes.nextUID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w0 := windowOf(clock.now().UnixMilli())
	for step := int64(1); step <= 3; step++ {
		clock.set(time.Duration(step) * laneWindow)
		a.lanes.maintain(ctx)
		if !slices.ContainsFunc(owned(a), func(s laneSlot) bool { return s.w == w0+step+1 }) {
			t.Fatalf("step %d: next window not claimed: %+v", step, owned(a))
		}
		u, err := a.lanes.nextUID(ctx)
		if err != nil || u <= u1 || u%uidLanes != 5 {
			t.Fatalf("step %d: uid %d (%v) after %d", step, u, err, u1)
		}
		u1 = u
	}
	// At window w0+3 the sweep removed the locks of w0 and w0+1.
	for i := range srv {
		for _, k := range lockIndexes(t, srv[i]) {
			if k.w <= w0+1 {
				t.Fatalf("node %d keeps the lock of window %d (now %d)", i, k.w, w0+3)
			}
		}
	}
}
