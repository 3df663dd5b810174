package miroir

// Repair after the real stale causes (the write path leaves the marks):
// the scenario, and deletions that a replica missed.

import (
	"fmt"
	"reflect"
	"testing"
)

// shardDocs returns the documents of shard s node i holds, by id.
func (f *testFleet) shardDocs(t testing.TB, i int, uid string, s int) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for id, d := range f.nodeDocsByID(t, i, uid) {
		if sh, _ := d[shardField].(float64); int(sh) == s {
			out[id] = d
		}
	}
	return out
}

// replicasIdentical fails unless every replica of every shard holds the
// same raw documents (internal fields included); it returns the union.
func replicasIdentical(t testing.TB, f *testFleet, uid string) map[string]map[string]any {
	t.Helper()
	f.idle(t)
	all := map[string]map[string]any{}
	for s := range f.c.topo().shards {
		var first map[string]map[string]any
		var firstNode int
		for k, ni := range f.c.topo().writeTargets(s) {
			got := f.shardDocs(t, ni, uid, s)
			if k == 0 {
				first, firstNode = got, ni
				for id, d := range got {
					all[id] = d
				}
				continue
			}
			if !reflect.DeepEqual(first, got) {
				for id, d := range first {
					if !reflect.DeepEqual(d, got[id]) {
						t.Errorf("shard %d document %s: node %s %v, node %s %v", s, id, f.nodes[firstNode].ID, d, f.nodes[ni].ID, got[id])
					}
				}
				for id, d := range got {
					if first[id] == nil {
						t.Errorf("shard %d document %s: node %s none, node %s %v", s, id, f.nodes[firstNode].ID, f.nodes[ni].ID, d)
					}
				}
				t.FailNow()
			}
		}
	}
	return all
}

// TestRepairAfterRestart is the scenario: 2 groups of 2 nodes, RF
// 1, S 8; a node stopped while 100 documents are added, then started. The
// replica is stale (reads avoid it) until Repair makes it identical;
// deletions it missed are applied, nothing deleted comes back.
func TestRepairAfterRestart(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 2), shards: 8, instant: true, opts: []Option{WithRepair(0)}})
	f.create(t, "movies", "id")
	f.stop(t, 2)
	seedDocs(t, f, "movies", 100)
	f.start(t, 2)
	vr, err := f.c.Verify(testCtx(t), "movies")
	if err != nil {
		t.Fatal(err)
	}
	missing, stale := 0, 0
	for _, sv := range vr.Shards {
		for _, rv := range sv.Replicas {
			if rv.Node == f.nodes[2].ID {
				missing += rv.Missing
				if rv.Stale {
					stale++
				}
			}
		}
	}
	if missing == 0 || stale != len(f.c.topo().shardsOf(2)) {
		t.Fatalf("Verify: node 2 missing %d, stale shards %d of %d", missing, stale, len(f.c.topo().shardsOf(2)))
	}
	rep, err := f.c.Repair(testCtx(t), "movies")
	if err != nil {
		t.Fatalf("Repair: %v", err)
	}
	if rep.Copied != missing || rep.Deleted != 0 {
		t.Fatalf("Repair copied %d deleted %d, want %d and 0", rep.Copied, rep.Deleted, missing)
	}
	if docs := replicasIdentical(t, f, "movies"); len(docs) != 100 {
		t.Fatalf("%d documents after repair", len(docs))
	}
	if st := f.c.staleReplicas("movies"); len(st) != 0 {
		t.Fatalf("still stale: %v", st)
	}

	// Node 3 misses deletions and an update.
	f.stop(t, 3)
	var ids []string
	for i := 0; i < 100; i += 10 {
		ids = append(ids, fmt.Sprint(i))
	}
	acWaitOK(t, f.c)(f.c.Index("movies").DeleteDocuments(testCtx(t), ids, nil))
	acWaitOK(t, f.c)(f.c.Index("movies").UpdateDocuments(testCtx(t), []map[string]any{{"id": 1, "title": "renamed"}}, nil))
	f.start(t, 3)
	if _, err := f.c.Repair(testCtx(t), "movies"); err != nil {
		t.Fatalf("Repair: %v", err)
	}
	docs := replicasIdentical(t, f, "movies")
	if len(docs) != 90 || docs["0"] != nil || docs["1"]["title"] != "renamed" {
		t.Fatalf("after repair: %d documents, 0 %v, 1 %v", len(docs), docs["0"], docs["1"])
	}
	if vr, err := f.c.Verify(testCtx(t), "movies"); err != nil || !vr.Consistent() {
		t.Fatalf("Verify after repair: %+v %v", vr, err)
	}
}
