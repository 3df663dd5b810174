package miroir

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Task UID lanes (DESIGN §14): cluster task UIDs unique across every
// instance sharing a fleet, without probability.
//
// A UID is milliseconds since the Unix epoch × 1000 plus a sub-millisecond
// part; the sub-millisecond part modulo uidLanes is the UID's lane. The
// time axis is cut into windows of laneWindow. An instance allocates UIDs
// only inside (lane, window) slots it owns: a slot owns the UIDs of its
// lane whose millisecond lies in its window, above the slot's floor. Two
// different slots share no UID (different lanes: different residues;
// same lane, different windows: disjoint ranges), so UIDs are unique as
// soon as no slot is ever owned by two instances at once.
//
// Owning a slot. Meilisearch has no compare-and-swap on documents, but
// index creation is an atomic test-and-set on each node: the creation of
// a uid that exists fails with index_already_exists. The slot (L, w) is
// the lock index miroir-lane-L-wN (N = w); an instance claims it by
// creating that index on every node, and owns it when its creation
// succeeded on a quorum of the fleet's nodes: more than half of them, or
// exactly half including the tiebreaker (the node with the smallest ID).
// Any two quorums share a node, and on that node only one creation of the
// lock succeeded, so two instances never own one slot. The argument needs
// no clock: it holds whatever the instances' clocks say, with nodes down,
// slow or partitioned; a claim that cannot reach a quorum fails and says
// so (miroir_no_uid_lane), it never guesses.
//
// Renewal and expiry. Slots end by themselves: an instance keeps owning
// its lane by claiming the lane's next window ahead of time (it owns the
// current and the next window), and a crashed instance's lane becomes free
// when its windows are over (at most two windows later). An instance that
// loses the next window of its lane (another claimed it) moves to a free
// lane; its UIDs keep increasing (the allocator never goes below its last
// UID). A burst beyond a lane's 2 UIDs per millisecond runs ahead of the
// clock inside the owned windows, never past them.
//
// Release. Close frees the lane at once: on each node, it writes the last
// UID it allocated (the lane record's hw, in miroir_meta) and, once the
// node accepted that write, deletes its lock indexes there. A node
// processes its tasks in the order they were enqueued, so on every node
// where a lock was released the hw is visible before the lock is gone. A
// later owner of a released slot reads the hw from every node where its
// own creation succeeded, after winning, and starts above it: its quorum
// shares a node with the releaser's (where the lock existed, so where it
// was released), and there the creation succeeded only after the
// deletion, which came after the hw. On a node that did not accept the
// hw, Close deletes only the locks of windows in which no UID was
// allocated (by it, or by a previous holder whose hw it carries); the
// others expire.
//
// Cleanup. Lock indexes of past windows are deleted by any instance once
// the window ended at least one window ago (laneSweep). This is the one
// place where clocks matter: a lock deleted that way could be created
// again by an instance whose clock is behind by more than a window (10
// minutes); instances' clocks are assumed to agree within that.
//
// Lane records (kind "lane" in miroir_meta, id miroir-lane-L) say which
// lanes are taken until when; claimers read them to pick a free lane.
// They are hints, apart from the hw written at release: a stale record
// only makes a claim fail and another lane be tried.

const (
	// uidLanes is the number of lanes: each holds 1000/uidLanes UIDs per
	// millisecond (2), and up to uidLanes instances hold one each at once.
	uidLanes = 500
	// laneWindow is the length of a slot. It is a protocol constant: every
	// instance sharing a fleet must use the same.
	laneWindow   = 10 * time.Minute
	laneWindowMs = int64(laneWindow / time.Millisecond)
	// laneKind is the kind of a lane record in miroir_meta.
	laneKind = "lane"
	// CodeNoUIDLane: no task-uid lane could be claimed (no quorum of the
	// fleet's nodes reachable, or every lane taken); the task is not
	// registered.
	CodeNoUIDLane = "miroir_no_uid_lane"
)

// maxTaskUID keeps UIDs representable in a JavaScript number.
const maxTaskUID = 1<<53 - 1

// lockIndexName is the lock index of slot (lane, w).
func lockIndexName(lane int, w int64) string {
	return "miroir-lane-" + strconv.Itoa(lane) + "-w" + strconv.FormatInt(w, 10)
}

// parseLockIndex reads a lock index name.
func parseLockIndex(uid string) (lane int, w int64, ok bool) {
	rest, found := strings.CutPrefix(uid, "miroir-lane-")
	if !found {
		return 0, 0, false
	}
	l, ws, found := strings.Cut(rest, "-w")
	if !found {
		return 0, 0, false
	}
	lane, err1 := strconv.Atoi(l)
	w, err2 := strconv.ParseInt(ws, 10, 64)
	return lane, w, err1 == nil && err2 == nil && lane >= 0 && lane < uidLanes
}

func laneRecordID(lane int) string { return "miroir-lane-" + strconv.Itoa(lane) }

// windowOf is the window holding the millisecond ms.
func windowOf(ms int64) int64 { return ms / laneWindowMs }

// laneRecord is the lane record in miroir_meta.
type laneRecord struct {
	UID      string `json:"uid"`
	Kind     string `json:"kind"`
	Lane     int    `json:"lane"`
	Instance string `json:"instance"`
	// Until is the end (Unix ms) of the last window claimed; 0 once
	// released.
	Until int64 `json:"until"`
	// HW is the last UID allocated in the lane (recorded at release,
	// carried over by later claims).
	HW  int64 `json:"hw"`
	Rev int64 `json:"rev"`
}

// laneSlot is one (lane, window) slot this instance owns.
type laneSlot struct {
	lane  int
	w     int64
	floor int64 // lowest UID usable (above a released holder's)
}

// lo is the lowest UID of the slot; hi is one past the highest.
func (s laneSlot) lo() int64 { return max(s.w*laneWindowMs*1000, s.floor) }
func (s laneSlot) hi() int64 { return (s.w + 1) * laneWindowMs * 1000 }

// next is the smallest UID of the slot that is >= from (ok false: none).
func (s laneSlot) next(from int64) (int64, bool) {
	x := max(from, s.lo())
	x += ((int64(s.lane)-x%uidLanes)%uidLanes + uidLanes) % uidLanes
	return x, x < s.hi() && x <= maxTaskUID
}

type slotKey struct {
	lane int
	w    int64
}

// claimState is a claim in progress, kept so that a retry polls the
// creations it made instead of making them again (a retried creation
// that finds its own lock would count as lost).
type claimState struct {
	tasks map[string]int64 // node ID -> creation task
	won   map[string]bool
	lost  map[string]bool
}

// laneManager allocates task UIDs in the slots this instance owns.
type laneManager struct {
	c        *Cluster
	now      func() time.Time
	instance string
	lanes    []int // the lanes this instance may claim (all but in tests)
	records  *fleetRecords
	revs     revClock

	mu       sync.Mutex
	owned    []laneSlot
	last     int64
	closed   bool
	hwFloor  map[int]int64 // per lane, the highest hw read (carried into records)
	sweptFor int64         // window of the last sweep

	sem    chan struct{} // one claim at a time
	claims map[slotKey]*claimState
	writes sync.WaitGroup // lane record writes in flight
}

func newLaneManager(c *Cluster) *laneManager {
	now := c.opts.clock
	if now == nil {
		now = time.Now
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	m := &laneManager{c: c, now: now, instance: hex.EncodeToString(b[:]), hwFloor: map[int]int64{},
		sem: make(chan struct{}, 1), claims: map[slotKey]*claimState{},
		records: newFleetRecords(c, metaIndex, "uid", metaFilterable...)}
	m.revs.now = now
	lo, hi := 0, uidLanes
	if r := c.opts.laneRange; r[1] > r[0] {
		lo, hi = max(r[0], 0), min(r[1], uidLanes)
	}
	for l := lo; l < hi; l++ {
		m.lanes = append(m.lanes, l)
	}
	return m
}

// nextUID allocates a cluster task UID: strictly increasing for this
// instance, below 2^53, unique across the fleet. The first call claims a
// slot (bounded by ctx); it fails with miroir_no_uid_lane when no quorum
// of the fleet's nodes can be reached.
func (m *laneManager) nextUID(ctx context.Context) (int64, error) {
	for attempt := 0; ; attempt++ {
		m.mu.Lock()
		if m.closed || m.c.isClosed() {
			// (Close has begun: a call made now gets no task, so that no
			// new background work starts while Close waits for the old.)
			m.mu.Unlock()
			return 0, fmt.Errorf("%w", ErrClosed)
		}
		if uid, ok := m.pickLocked(); ok {
			m.last = uid
			m.mu.Unlock()
			return uid, nil
		}
		m.mu.Unlock()
		if attempt >= 3 {
			return 0, noLaneError("the slots claimed do not cover the current time", nil)
		}
		if err := m.claim(ctx); err != nil {
			return 0, err
		}
	}
}

// pickLocked returns the smallest UID above the last one (and not below
// the clock) in an owned slot.
func (m *laneManager) pickLocked() (int64, bool) {
	from := max(m.last+1, m.now().UnixMilli()*1000)
	best, found := int64(0), false
	for _, s := range m.owned {
		if x, ok := s.next(from); ok && (!found || x < best) {
			best, found = x, true
		}
	}
	return best, found
}

// claim takes a free slot for the current window (and the next one),
// unless another caller just did.
func (m *laneManager) claim(ctx context.Context) error {
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-m.c.closed:
		return fmt.Errorf("%w", ErrClosed)
	}
	defer func() { <-m.sem }()
	m.mu.Lock()
	_, covered := m.pickLocked()
	m.mu.Unlock()
	if covered {
		return nil
	}
	// Bounded even for a caller without a deadline (a settings
	// transaction's registration): a claim waits for node tasks.
	ctx, cancel := context.WithTimeout(bookkeeping(ctx), max(3*m.c.opts.nodeTimeout, 30*time.Second))
	defer cancel()
	w := windowOf(m.now().UnixMilli())
	free := m.freeLanes(ctx, w)
	if len(free) == 0 {
		return noLaneError(fmt.Sprintf("all %d lanes are held by other instances", len(m.lanes)), nil)
	}
	var lastErr error
	for i, lane := range free {
		if i == 8 {
			break
		}
		got, err := m.claimLane(ctx, lane, w, w+1)
		if err != nil {
			return err // the fleet cannot decide: another lane would not do better
		}
		m.mu.Lock()
		_, covered := m.pickLocked() // (a later window won counts too)
		m.mu.Unlock()
		if got || covered {
			return nil
		}
		lastErr = fmt.Errorf("lane %d was taken by another instance", lane)
	}
	return noLaneError("every lane tried was taken by another instance", lastErr)
}

// freeLanes lists the lanes the lane records show free from window w on,
// shuffled (so that concurrent claimers rarely pick the same), or every
// lane when the records cannot be read.
func (m *laneManager) freeLanes(ctx context.Context, w int64) []int {
	recs := m.readLaneRecords(ctx)
	var free []int
	for _, l := range m.lanes {
		if r, ok := recs[l]; ok && r.Until > w*laneWindowMs {
			continue
		}
		free = append(free, l)
	}
	mrand.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	return free
}

// readLaneRecords reads the lane records (newest copy of each).
func (m *laneManager) readLaneRecords(ctx context.Context) map[int]laneRecord {
	out := map[int]laneRecord{}
	reads := m.records.fetch(ctx, laneKind)
	for _, raw := range m.records.newest(reads) {
		var r laneRecord
		if json.Unmarshal(raw, &r) == nil && r.Kind == laneKind {
			out[r.Lane] = r
			m.revs.observe(r.Rev)
		}
	}
	return out
}

// maintain runs the periodic work: it claims the next window of the lane
// before the current one ends (or of a free lane when that one was
// taken), forgets past slots, and sweeps the locks of windows over for
// more than a window (once per window).
func (m *laneManager) maintain(ctx context.Context) {
	ctx = bookkeeping(ctx)
	w := windowOf(m.now().UnixMilli())
	m.mu.Lock()
	if m.closed || len(m.owned) == 0 {
		m.mu.Unlock()
		return
	}
	m.owned = slices.DeleteFunc(m.owned, func(s laneSlot) bool { return s.w < w })
	hasNext, lane := false, -1
	for _, s := range m.owned {
		if s.w == w+1 {
			hasNext = true
		}
		if s.w == w {
			lane = s.lane
		}
	}
	sweep := m.sweptFor < w
	m.sweptFor = w
	m.mu.Unlock()
	if !hasNext {
		m.extend(ctx, lane, w+1)
	}
	if sweep {
		m.sweep(ctx, w)
	}
}

// extend claims window w, on lane when it is given (>= 0), else on a free
// lane.
func (m *laneManager) extend(ctx context.Context, lane int, w int64) {
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-m.sem }()
	if lane >= 0 {
		if got, err := m.claimLane(ctx, lane, w); got || err != nil {
			if err != nil {
				m.c.opts.logger.Warn("miroir: claiming the next task-uid window", "lane", lane, "err", err)
			}
			return
		}
	}
	for i, l := range m.freeLanes(ctx, w) {
		if i == 8 {
			return
		}
		if got, err := m.claimLane(ctx, l, w); got || err != nil {
			return
		}
	}
}

// sweep deletes, on every node, the lock indexes of windows that ended at
// least one window before w began.
func (m *laneManager) sweep(ctx context.Context, w int64) {
	m.c.fanout(ctx, m.c.members(), func(ctx context.Context, n *node) error {
		var page struct {
			Results []struct {
				UID string `json:"uid"`
			} `json:"results"`
		}
		q := map[string][]string{"limit": {strconv.Itoa(1 << 30)}}
		if err := n.doJSON(ctx, "listIndexes", http.MethodGet, "/indexes", q, nil, &page); err != nil {
			return err
		}
		for _, r := range page.Results {
			if _, lw, ok := parseLockIndex(r.UID); ok && lw <= w-2 {
				_ = n.doJSON(ctx, "sweepLane", http.MethodDelete, "/indexes/"+r.UID, nil, nil, nil)
			}
		}
		return nil
	})
}

// loop runs maintain every tenth of a window until the Cluster closes.
func (m *laneManager) loop() {
	defer m.c.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-m.c.closed
		cancel()
	}()
	t := time.NewTicker(laneWindow / 10)
	defer t.Stop()
	for {
		select {
		case <-m.c.closed:
			return
		case <-t.C:
			m.maintain(ctx)
		}
	}
}

// release frees this instance's slots at Close (see the comment at the
// top): on each node, the last UID allocated per lane is written, and once
// the node accepted it the locks are deleted there; on the other nodes,
// only the locks of windows in which nothing was allocated.
func (m *laneManager) release(ctx context.Context) {
	ctx = bookkeeping(ctx)
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	owned, last := slices.Clone(m.owned), m.last
	m.owned = nil
	m.mu.Unlock()
	m.writes.Wait() // claim records first: the release record must come after them on every node
	if len(owned) == 0 {
		return
	}
	var recs []laneRecord
	seen := map[int]bool{}
	for _, s := range owned {
		if !seen[s.lane] {
			seen[s.lane] = true
			m.mu.Lock()
			hw := max(last, m.hwFloor[s.lane])
			m.mu.Unlock()
			recs = append(recs, laneRecord{UID: laneRecordID(s.lane), Kind: laneKind, Lane: s.lane, Instance: m.instance, HW: hw, Rev: m.revs.next()})
		}
	}
	recorded := map[*node]bool{}
	for _, a := range m.records.put(ctx, recs) {
		recorded[a.Node] = a.Err == nil
	}
	m.mu.Lock()
	inherited := maps.Clone(m.hwFloor)
	m.mu.Unlock()
	m.c.fanout(ctx, m.c.members(), func(ctx context.Context, n *node) error {
		for _, s := range owned {
			if !recorded[n] && max(last, inherited[s.lane]) >= s.w*laneWindowMs*1000 {
				// UIDs were allocated in the window (by this instance or a
				// previous holder whose hw it carries) and the hw is not
				// recorded on this node: the lock stays until it expires.
				continue
			}
			if err := n.doJSON(ctx, "releaseLane", http.MethodDelete, "/indexes/"+lockIndexName(s.lane, s.w), nil, nil, nil); err != nil {
				return err
			}
		}
		return nil
	})
}
