package miroir

// Hedged reads (hedge.go) change no result: with a hedge fired on nearly
// every node read (delay 1µs, budget 100%) and one slow node, so that
// hedges both win and lose, searches equal the reference node's and
// document reads return the document. Report and HedgeObserver count the
// hedges.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/miroirsearch/miroir/meilitest"
)

// hedgeCounter is an Observer that also implements HedgeObserver.
type hedgeCounter struct {
	NopObserver
	mu         sync.Mutex
	sent, won  int
	slowSent   map[string]int // hedges sent because of each slow node
	nodeReads  map[string]int // search requests per node
	nodeOK     map[string]int // search requests per node that got an answer
	searchReqs int
}

func newHedgeCounter() *hedgeCounter {
	return &hedgeCounter{slowSent: map[string]int{}, nodeReads: map[string]int{}, nodeOK: map[string]int{}}
}

func (h *hedgeCounter) HedgeSent(_, slow, _ string) {
	h.mu.Lock()
	h.sent++
	h.slowSent[slow]++
	h.mu.Unlock()
}

func (h *hedgeCounter) HedgeWon(string, string) {
	h.mu.Lock()
	h.won++
	h.mu.Unlock()
}

func (h *hedgeCounter) NodeRequest(id, op string, _ time.Duration, err error) {
	if op != "search" {
		return
	}
	h.mu.Lock()
	h.searchReqs++
	h.nodeReads[id]++
	if err == nil {
		h.nodeOK[id]++
	}
	h.mu.Unlock()
}

func (h *hedgeCounter) counts() (sent, won, reqs int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent, h.won, h.searchReqs
}

func TestHedgedReadsSameResults(t *testing.T) {
	docs := auditDocs(auditN, 11)
	_, ref := startRef(t, meilitest.WithTaskDuration(0))
	auditLoad(t, ref, "a", auditSettingsA(), docs)
	obs := newHedgeCounter()
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 3), rf: 2, shards: 7, ids: "node-", instant: true, timing: noProbes,
		opts: []Option{WithHedgeDelay(time.Microsecond, time.Microsecond), WithHedgeBudget(1), WithObserver(obs)}})
	c := f.c
	auditLoad(t, c, "a", auditSettingsA(), docs)
	// node-1 (group 0) answers 20ms late: its hedges win, the others race.
	f.srv[1].SetLatency(20 * time.Millisecond)
	queries := auditQueries()
	var rep Report
	ctx := WithReport(context.Background(), &rep)
	for i, q := range queries {
		if q.distinct != "" {
			q.ignore = auditTotals
		}
		want := auditReference(t, ref.Index("a"), q)
		if i%3 == 0 {
			auditRun(t, "a/"+q.name, want, c.Index("a"), q)
		} else {
			auditRunForced(t, "a/"+q.name, want, c.Index("a"), q)
		}
		// And through a reported call.
		if _, err := c.Index("a").SearchRaw(ctx, q.q, q.mk()); err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
	}
	sent, won, _ := obs.counts()
	if sent == 0 || won == 0 || won > sent {
		t.Fatalf("hedges sent %d, won %d: the test did not hedge", sent, won)
	}
	if rep.Hedges == 0 || rep.HedgesWon > rep.Hedges {
		t.Fatalf("Report: hedges %d, won %d", rep.Hedges, rep.HedgesWon)
	}
	if obs.slowSent["node-1"] == 0 {
		t.Fatalf("no hedge for the slow node: %v", obs.slowSent)
	}
	// Document reads by id, hedged the same way.
	sent0, _, _ := obs.counts()
	for i := 0; i < 40; i++ {
		want := docs[i*7%len(docs)]
		id := fmt.Sprint(want["id"])
		var got map[string]any
		if err := c.Index("a").GetDocument(context.Background(), id, nil, &got); err != nil {
			t.Fatalf("GetDocument(%s): %v", id, err)
		}
		if fmt.Sprint(got["id"]) != id || auditCanon(got["title"]) != auditCanon(want["title"]) {
			t.Fatalf("GetDocument(%s) = %v, want %v", id, got, want)
		}
		if _, ok := got[shardField]; ok {
			t.Fatalf("GetDocument(%s) leaks %s", id, shardField)
		}
	}
	if sent1, _, _ := obs.counts(); sent1 == sent0 {
		t.Fatal("40 document reads with a 1µs hedge delay sent no hedge")
	}
	// A missing document is still document_not_found, hedged or not.
	err := c.Index("a").GetDocument(context.Background(), "no-such-doc", nil, &map[string]any{})
	if acAPICode(err) != "document_not_found" {
		t.Fatalf("missing document: %v", err)
	}
}

func TestHedgingOffSendsNoHedge(t *testing.T) {
	obs := newHedgeCounter()
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 2, shards: 4, instant: true, timing: noProbes,
		opts: []Option{WithHedging(false), WithHedgeDelay(time.Microsecond, time.Microsecond), WithObserver(obs)}})
	f.load(t, "items", testSettings(false), genDocs(50, 3))
	f.srv[0].SetLatency(5 * time.Millisecond)
	for i := 0; i < 10; i++ {
		q := *e2eQueries[i%len(e2eQueries)]
		if _, err := f.c.index("items").Search(context.Background(), "", &q); err != nil {
			t.Fatal(err)
		}
	}
	if sent, _, _ := obs.counts(); sent != 0 {
		t.Fatalf("WithHedging(false): %d hedges sent", sent)
	}
}
