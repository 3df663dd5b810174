package miroir

// Report and Observer (report.go): what a call tells about the nodes it
// reached, degraded writes and unavailable shards.

import (
	"context"
	"slices"
	"sort"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func TestAuditCoreReportAndObserver(t *testing.T) {
	obs := &acObserver{}
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0, 0}, rf: 2, shards: 16, timing: oneRetry, opts: []Option{WithObserver(obs)}})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 5), nil))

	// A one-document write contacts exactly the shard's write targets.
	rep := &Report{}
	info, err := ix.AddDocuments(WithReport(ctx, rep), []map[string]any{{"id": "only-one"}}, nil)
	acWaitOK(t, f.c)(info, err)
	want := slices.Clone(f.c.Topology().Replicas(acShard("only-one", 16), 0))
	sort.Strings(want)
	if !slices.Equal(rep.NodesContacted, want) {
		t.Errorf("NodesContacted %v, want %v", rep.NodesContacted, want)
	}
	if rep.TaskUID != info.TaskUID {
		t.Errorf("Report.TaskUID %d, want %d", rep.TaskUID, info.TaskUID)
	}
	if rep.IsDegraded() || len(rep.Degraded) != 0 {
		t.Errorf("healthy write reported degraded: %+v", rep)
	}
	// A search contacts nodes too.
	rep2 := &Report{}
	if _, err := ix.Search(WithReport(ctx, rep2), "title", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	if len(rep2.NodesContacted) == 0 || !slices.IsSorted(rep2.NodesContacted) {
		t.Errorf("search NodesContacted %v", rep2.NodesContacted)
	}
	// Node state changes and per-node requests reach the observer.
	f.stop(t, 2)
	eventually(t, "observer NodeStateChanged(n2,false)", func() bool {
		obs.mu.Lock()
		defer obs.mu.Unlock()
		return slices.Contains(obs.states, "n2=false")
	})
	f.start(t, 2)
	eventually(t, "observer NodeStateChanged(n2,true)", func() bool {
		obs.mu.Lock()
		defer obs.mu.Unlock()
		return slices.Contains(obs.states, "n2=true")
	})
	obs.mu.Lock()
	n := obs.requests
	obs.mu.Unlock()
	if n == 0 {
		t.Errorf("Observer.NodeRequest never called")
	}
}

// TestAuditReadReportNodesAndFallbacksEmpty: a complete search over a
// healthy fleet reports the nodes it contacted and no degradation.
func TestAuditReadReportComplete(t *testing.T) {
	t.Parallel()
	// Hedging off: a hedge goes to the other group's replica by design, and
	// on a busy machine a node's part can outlast the hedge delay (CI saw
	// both groups contacted); this test is about the preferred group.
	c := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 1, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithHedging(false)}}).c
	auditLoad(t, c, "r", nil, auditDocs(40, 2))
	if _, err := c.Index("r").Search(context.Background(), "river", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	var rep Report
	if _, err := c.Index("r").Search(WithReport(context.Background(), &rep), "river", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	if rep.IsDegraded() || len(rep.Fallbacks) != 0 || len(rep.UnavailableShards) != 0 {
		t.Errorf("healthy fleet: report fallbacks %v unavailable %v degraded %v", rep.Fallbacks, rep.UnavailableShards, rep.Degraded)
	}
	if len(rep.NodesContacted) == 0 || !slices.IsSorted(rep.NodesContacted) {
		t.Errorf("NodesContacted %v", rep.NodesContacted)
	}
	// one group serves the whole query (its nodes hold every shard)
	groups := map[int]bool{}
	for _, id := range rep.NodesContacted {
		for _, n := range c.Topology().Nodes {
			if n.ID == id {
				groups[n.Group] = true
			}
		}
	}
	if len(groups) != 1 {
		t.Errorf("healthy 2-group fleet: one search contacted groups %v, want one preferred group", groups)
	}
}
