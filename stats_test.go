package miroir

// Stats (stats.go): per index and global, summed over the fleet without
// double counting replicas.

import (
	"testing"
)

func TestAuditCoreStatsAggregated(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	docs := acDocs(0, 70)
	docs[3]["only_here"] = true
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, docs, nil))
	f.idle(t)
	st, err := ix.GetStats(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.NumberOfDocuments != 70 {
		t.Errorf("numberOfDocuments %d, want 70", st.NumberOfDocuments)
	}
	if st.FieldDistribution["id"] != 70 || st.FieldDistribution["title"] != 70 || st.FieldDistribution["only_here"] != 1 {
		t.Errorf("fieldDistribution %v", st.FieldDistribution)
	}
	if _, ok := st.FieldDistribution["_miroir_shard"]; ok {
		t.Errorf("fieldDistribution shows _miroir_shard")
	}
	if st.IsIndexing {
		t.Errorf("isIndexing on an idle fleet")
	}
	// isIndexing = any.
	f.srv[2].PauseTasks()
	if _, err := ix.AddDocuments(ctx, acDocs(100, 30), nil); err != nil {
		t.Fatal(err)
	}
	st, _ = ix.GetStats(ctx, nil)
	if !st.IsIndexing {
		t.Errorf("isIndexing false while a node has an enqueued task")
	}
	f.srv[2].ResumeTasks()
	gs, err := f.c.GetStats(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := gs.Indexes["docs"]; !ok {
		t.Errorf("global stats lack docs")
	}
}
