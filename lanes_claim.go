package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Claiming task-uid slots on the fleet (the protocol is described in
// lanes.go): lock index creation on every node, quorum decision, and the
// hw read that makes a won slot usable.

// claimLane claims the slots of lane for the windows ws (in parallel) and
// keeps the ones won. got reports whether the first window was won; err
// is set when a claim could not be decided (no quorum reachable).
func (m *laneManager) claimLane(ctx context.Context, lane int, ws ...int64) (got bool, err error) {
	type result struct {
		won map[string]bool
		err error
	}
	res := make([]result, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			won, err := m.claimSlot(ctx, lane, w)
			res[i] = result{won, err}
		}()
	}
	wg.Wait()
	var won []int64
	need := map[string]bool{}
	for i, r := range res {
		if r.won != nil {
			won = append(won, ws[i])
			for id := range r.won {
				need[id] = true
			}
		}
	}
	if len(won) > 0 {
		if err := m.adopt(ctx, lane, won, need); err != nil {
			return false, err
		}
	}
	if res[0].err != nil {
		return false, res[0].err
	}
	return res[0].won != nil, nil
}

// adopt makes the won windows of lane usable: it reads the lane's hw (a
// released previous holder's last UID) from every node in need (the nodes
// where the claims succeeded) and records the slots.
func (m *laneManager) adopt(ctx context.Context, lane int, ws []int64, need map[string]bool) error {
	reads := m.records.get(ctx, laneRecordID(lane))
	hw := int64(0)
	var missing []string
	for _, r := range reads {
		if !r.Answered {
			if need[r.Node.ID] {
				missing = append(missing, r.Node.ID)
			}
			continue
		}
		for _, d := range r.Docs {
			var rec laneRecord
			if json.Unmarshal(d, &rec) == nil {
				hw = max(hw, rec.HW)
				m.revs.observe(rec.Rev)
			}
		}
	}
	if len(missing) > 0 {
		// Without the hw the slots cannot be used safely; their locks
		// expire with their windows.
		e := noLaneError("the lane's last UID could not be read from node(s) "+strings.Join(missing, ", "), nil)
		e.Nodes = missing
		return e
	}
	m.mu.Lock()
	for _, w := range ws {
		m.owned = append(m.owned, laneSlot{lane: lane, w: w, floor: hw + 1})
	}
	slices.SortFunc(m.owned, func(a, b laneSlot) int {
		if a.w != b.w {
			return int(a.w - b.w)
		}
		return a.lane - b.lane
	})
	m.hwFloor[lane] = max(m.hwFloor[lane], hw)
	until := int64(0)
	for _, s := range m.owned {
		if s.lane == lane {
			until = max(until, (s.w+1)*laneWindowMs)
		}
	}
	rec := laneRecord{UID: laneRecordID(lane), Kind: laneKind, Lane: lane, Instance: m.instance, Until: until, HW: m.hwFloor[lane], Rev: m.revs.next()}
	closed := m.closed
	if !closed {
		m.writes.Add(1)
	}
	m.mu.Unlock()
	if closed {
		return nil
	}
	// The record is a hint for other claimers: written in the background,
	// not waited for (Close waits for it before writing its own).
	go func() {
		defer m.writes.Done()
		wctx, cancel := context.WithTimeout(context.Background(), m.c.opts.nodeTimeout)
		defer cancel()
		m.records.put(wctx, []laneRecord{rec})
	}()
	return nil
}

// claimSlot tries to own slot (lane, w): it creates the lock index on the
// nodes not asked yet and polls the creations until a quorum succeeded
// (won: the nodes where they did), or a quorum can no longer succeed
// (lost: nil). err is set when the outcome depends on nodes that cannot be
// reached, or ctx ended; the claim is then kept and a retry continues it.
func (m *laneManager) claimSlot(ctx context.Context, lane int, w int64) (map[string]bool, error) {
	tp := m.c.topo()
	key := slotKey{lane, w}
	m.mu.Lock()
	st := m.claims[key]
	if st == nil {
		st = &claimState{tasks: map[string]int64{}, won: map[string]bool{}, lost: map[string]bool{}}
		m.claims[key] = st
	}
	m.mu.Unlock()
	name := lockIndexName(lane, w)
	var mu sync.Mutex
	unreachable := map[string]error{}
	var ask []*node
	for _, n := range tp.members {
		if _, asked := st.tasks[n.ID]; !asked && !st.won[n.ID] && !st.lost[n.ID] {
			ask = append(ask, n)
		}
	}
	m.c.fanout(ctx, ask, func(ctx context.Context, n *node) error {
		var info meilisearch.TaskInfo
		err := n.doJSON(ctx, "claimLane", http.MethodPost, "/indexes", nil, map[string]string{"uid": name}, &info)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			st.tasks[n.ID] = info.TaskUID
		case isTransportError(err) || ctx.Err() != nil:
			unreachable[n.ID] = err
		default:
			st.lost[n.ID] = true // refused (e.g. the key may not create indexes)
		}
		return err
	})
	delay := 2 * time.Millisecond
	for {
		pending := map[string]bool{}
		var polled []*node
		for _, n := range tp.members {
			if _, asked := st.tasks[n.ID]; asked && !st.won[n.ID] && !st.lost[n.ID] {
				polled = append(polled, n)
			}
		}
		m.c.fanout(ctx, polled, func(ctx context.Context, n *node) error {
			var t meilisearch.Task
			err := n.doJSON(ctx, "getTask", http.MethodGet, "/tasks/"+strconv.FormatInt(st.tasks[n.ID], 10), nil, nil, &t)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				unreachable[n.ID] = err
			case t.Status == meilisearch.TaskStatusSucceeded:
				st.won[n.ID] = true
			case isFinal(t.Status):
				st.lost[n.ID] = true
			default:
				pending[n.ID] = true
				delete(unreachable, n.ID)
			}
			return err
		})
		q := m.c.fleetQuorum
		switch {
		case q(func(n *node) bool { return st.won[n.ID] }):
			m.forgetClaim(key)
			return st.won, nil
		case !q(func(n *node) bool { return !st.lost[n.ID] }):
			m.forgetClaim(key)
			m.dropMinority(ctx, name, st)
			return nil, nil
		case !q(func(n *node) bool { return st.won[n.ID] || pending[n.ID] }):
			// Only the nodes that cannot be reached could decide.
			var errs []error
			var ids []string
			for _, n := range tp.members {
				if e, ok := unreachable[n.ID]; ok {
					ids = append(ids, n.ID)
					errs = append(errs, fmt.Errorf("node %s: %w", n.ID, e))
				}
			}
			e := noLaneError(fmt.Sprintf("it needs %s; unreachable: %s", m.c.quorumText(), strings.Join(ids, ", ")), errors.Join(errs...))
			e.Nodes = ids
			return nil, e
		}
		select {
		case <-ctx.Done():
			return nil, noLaneError("the fleet did not process the lane claim in time", ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

func (m *laneManager) forgetClaim(key slotKey) {
	m.mu.Lock()
	delete(m.claims, key)
	m.mu.Unlock()
}

// dropMinority deletes the lock a lost claim created on a minority of
// nodes: those nodes are outside the winner's quorum (the winner's
// creation failed there), so the winner does not need them, and without
// them nobody can gather a quorum either (quorums intersect).
func (m *laneManager) dropMinority(ctx context.Context, name string, st *claimState) {
	var targets []*node
	for _, n := range m.c.members() {
		if st.won[n.ID] {
			targets = append(targets, n)
		}
	}
	m.c.fanout(ctx, targets, func(ctx context.Context, n *node) error {
		return n.doJSON(ctx, "releaseLane", http.MethodDelete, "/indexes/"+name, nil, nil, nil)
	})
}

// fleetQuorum reports whether the nodes for which in returns true are a
// quorum: more than half of the fleet's nodes, or exactly half including
// the tiebreaker (the smallest node ID). Any two quorums intersect.
func (c *Cluster) fleetQuorum(in func(n *node) bool) bool {
	ms := c.members()
	tb := tiebreaker(ms)
	k, tie := 0, false
	for _, n := range ms {
		if in(n) {
			k++
			if n.ID == tb {
				tie = true
			}
		}
	}
	return 2*k > len(ms) || (2*k == len(ms) && tie)
}

// tiebreaker is the node whose vote decides between two halves.
func (c *Cluster) tiebreaker() string { return tiebreaker(c.members()) }

func tiebreaker(ms []*node) string {
	id := ms[0].ID
	for _, n := range ms[1:] {
		id = min(id, n.ID)
	}
	return id
}

// quorumText says what a quorum of this fleet is, for error messages.
func (c *Cluster) quorumText() string {
	n := len(c.members())
	if n%2 == 0 {
		return fmt.Sprintf("%d of the %d nodes, or %d including node %s", n/2+1, n, n/2, c.tiebreaker())
	}
	return fmt.Sprintf("%d of the %d nodes", n/2+1, n)
}

func noLaneError(why string, cause error) *Error {
	e := newError(http.StatusServiceUnavailable, CodeNoUIDLane, "miroir: cannot allocate a cluster task uid: no task-uid lane could be claimed on the fleet: %s", why)
	e.Type = "system"
	e.Err = cause
	return e
}
