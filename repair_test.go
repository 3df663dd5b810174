package miroir

// Repair and Verify on replicas set up by hand: documents written straight
// to a node (as a missed, lost or racing write leaves them) and stale
// marks stored as the write path stores them.

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// repairFleet is one group of two nodes, RF 2, 4 shards, instant node
// tasks, no background repair: every shard lives on both nodes.
func repairFleet(t *testing.T, opts ...Option) *testFleet {
	t.Helper()
	return startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 2, shards: 4, instant: true,
		opts: append([]Option{WithRepair(0)}, opts...)})
}

// seedDocs adds n documents {id, title, n} through the Cluster.
func seedDocs(t *testing.T, f *testFleet, uid string, n int) {
	t.Helper()
	docs := make([]map[string]any, n)
	for i := range docs {
		docs[i] = map[string]any{"id": i, "title": fmt.Sprintf("doc %d", i), "n": i}
	}
	acWaitOK(t, f.c)(f.c.Index(uid).AddDocuments(testCtx(t), docs, nil))
}

// nodeWrite writes docs straight to node i (no routing, no version
// stamping: the documents carry what the test gives them) and waits.
func nodeWrite(t testing.TB, f *testFleet, i int, uid string, docs []map[string]any) {
	t.Helper()
	st, body := acHTTP(t, f.srv[i].URL(), "POST", "/indexes/"+uid+"/documents?primaryKey=id", docs, "")
	if st != 202 {
		t.Fatalf("node %d write: %d %s", i, st, body)
	}
	f.idle(t)
}

// nodeDelete deletes ids straight on node i and waits.
func nodeDelete(t testing.TB, f *testFleet, i int, uid string, ids ...string) {
	t.Helper()
	st, body := acHTTP(t, f.srv[i].URL(), "POST", "/indexes/"+uid+"/documents/delete-batch", ids, "")
	if st != 202 {
		t.Fatalf("node %d delete: %d %s", i, st, body)
	}
	f.idle(t)
}

// rawDoc is a document as a node stores it for the test's index of 4
// shards: id, _miroir_shard and _miroir_v included.
func rawDoc(id int, title string, v int64) map[string]any {
	return map[string]any{"id": id, "title": title, "n": id, shardField: ShardOf(fmt.Sprint(id), 4), versionField: v}
}

// markStale stores a stale mark of (uid, shard, node) at version v as the
// write path does, and waits until the nodes processed it.
func markStale(t *testing.T, f *testFleet, uid string, shard int, nodeID string, v int64) {
	t.Helper()
	m := staleMark{Index: uid, Shard: shard, Node: nodeID, Version: v, At: time.Now().UTC()}
	acks := f.c.markStore.put(testCtx(t), []staleMark{m})
	stored := false
	for _, a := range acks {
		stored = stored || a >= 0
	}
	if !stored {
		t.Fatal("no node acknowledged the mark")
	}
	f.idle(t)
}

// versionOf returns the _miroir_v of a raw document.
func versionOf(d map[string]any) int64 {
	v, _ := d[versionField].(float64)
	return int64(v)
}

// sameReplicas fails unless every node holds exactly the same documents
// (internal fields included).
func sameReplicas(t *testing.T, f *testFleet, uid string) map[string]map[string]any {
	t.Helper()
	f.idle(t)
	first := f.nodeDocsByID(t, 0, uid)
	for i := 1; i < len(f.srv); i++ {
		got := f.nodeDocsByID(t, i, uid)
		if !reflect.DeepEqual(first, got) {
			for id, d := range first {
				if !reflect.DeepEqual(d, got[id]) {
					t.Errorf("document %s: node 0 %v, node %d %v", id, d, i, got[id])
				}
			}
			for id, d := range got {
				if _, ok := first[id]; !ok {
					t.Errorf("document %s: only on node %d: %v", id, i, d)
				}
			}
			t.FailNow()
		}
	}
	return first
}

// TestRepairStaleReplica: a stale replica that lacks documents, holds
// older versions, and holds documents the in-sync replica lacks takes the
// in-sync replica's state exactly, all fields included (displayedAttributes
// restricted), and its marks are cleared.
func TestRepairStaleReplica(t *testing.T) {
	f := repairFleet(t)
	ix := f.create(t, "movies", "id")
	seedDocs(t, f, "movies", 60)
	acWaitOK(t, f.c)(ix.UpdateDisplayedAttributes(testCtx(t), &[]string{"title"}))
	f.idle(t)
	good := f.nodeDocsByID(t, 0, "movies")
	v := versionOf(good["0"])
	if v <= 0 {
		t.Fatalf("no version on the written documents: %v", good["0"])
	}
	// Node 1 missed writes: 5 documents gone, 4 older, 3 deleted on the
	// fleet that it still holds.
	nodeDelete(t, f, 1, "movies", "1", "2", "3", "4", "5")
	var older []map[string]any
	for _, id := range []int{10, 11, 12, 13} {
		older = append(older, rawDoc(id, "stale title", v-1000))
	}
	nodeWrite(t, f, 1, "movies", older)
	nodeWrite(t, f, 1, "movies", []map[string]any{rawDoc(100, "deleted", v-5), rawDoc(101, "deleted", v-5), rawDoc(102, "deleted", v-5)})
	// The marks name the writes node 1 missed, made after the seed.
	for s := range 4 {
		markStale(t, f, "movies", s, f.nodes[1].ID, v+1)
	}

	vr, err := f.c.Verify(testCtx(t), "movies")
	if err != nil {
		t.Fatal(err)
	}
	var missing, older2, extra int
	for _, sv := range vr.Shards {
		if sv.Error != "" {
			t.Fatalf("shard %d: %s", sv.Shard, sv.Error)
		}
		for _, rv := range sv.Replicas {
			if rv.Node == f.nodes[0].ID && rv.Differs() {
				t.Errorf("in-sync replica differs: %+v", rv)
			}
			if rv.Node == f.nodes[1].ID {
				if !rv.Stale {
					t.Errorf("shard %d: node 1 not reported stale", sv.Shard)
				}
				missing, older2, extra = missing+rv.Missing, older2+rv.Older, extra+rv.Extra
			}
		}
	}
	if missing != 5 || older2 != 4 || extra != 3 || vr.Consistent() {
		t.Fatalf("Verify: missing %d older %d extra %d consistent %v, want 5 4 3 false", missing, older2, extra, vr.Consistent())
	}

	rep, err := f.c.Repair(testCtx(t), "movies")
	if err != nil {
		t.Fatalf("Repair: %v (%+v)", err, rep)
	}
	if rep.Copied != 9 || rep.Deleted != 3 {
		t.Fatalf("Repair copied %d deleted %d, want 9 and 3 (%+v)", rep.Copied, rep.Deleted, rep.Replicas)
	}
	for _, r := range rep.Replicas {
		if !r.InSync || r.Error != "" || (r.Node == f.nodes[1].ID) != r.WasStale {
			t.Errorf("replica after repair: %+v", r)
		}
	}
	docs := sameReplicas(t, f, "movies")
	if len(docs) != 60 || docs["10"]["title"] != "doc 10" || versionOf(docs["10"]) != v || docs["10"]["n"] != float64(10) {
		t.Fatalf("after repair: %d documents, doc 10 %v", len(docs), docs["10"])
	}
	for s := range 4 {
		if f.c.isStale("movies", s, 1) {
			t.Errorf("shard %d of node 1 still stale", s)
		}
	}
	f.idle(t)
	if marks, err := f.c.readMarks(testCtx(t), "movies"); err != nil || len(marks) != 0 {
		t.Fatalf("marks after repair: %v %v", marks, err)
	}
	if vr, err := f.c.Verify(testCtx(t), "movies"); err != nil || !vr.Consistent() {
		t.Fatalf("Verify after repair: %+v %v", vr, err)
	}
	// Idempotent: a second repair has nothing to do.
	if rep, err := f.c.Repair(testCtx(t), "movies"); err != nil || rep.Copied+rep.Deleted != 0 {
		t.Fatalf("second Repair: %+v %v", rep, err)
	}
}

// TestRepairConvergesInSyncReplicas: two in-sync replicas that differ
// converge by the rule: the highest _miroir_v wins, present wins over
// absent (nothing is deleted from an in-sync replica).
func TestRepairConvergesInSyncReplicas(t *testing.T) {
	f := repairFleet(t)
	f.create(t, "books", "id")
	seedDocs(t, f, "books", 20)
	v := versionOf(f.nodeDocsByID(t, 0, "books")["0"])
	nodeWrite(t, f, 0, "books", []map[string]any{rawDoc(1, "newer on 0", v+10)})
	nodeWrite(t, f, 1, "books", []map[string]any{rawDoc(2, "newer on 1", v+20), rawDoc(50, "only on 1", v+30)})
	nodeDelete(t, f, 0, "books", "3")

	vr, err := f.c.Verify(testCtx(t), "books")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][3]int{}
	for _, sv := range vr.Shards {
		for _, rv := range sv.Replicas {
			c := got[rv.Node]
			got[rv.Node] = [3]int{c[0] + rv.Missing, c[1] + rv.Older, c[2] + rv.Extra}
		}
	}
	// Node 0 lacks 50 and 3, holds 2 older; node 1 holds 1 older.
	want := map[string][3]int{f.nodes[0].ID: {2, 1, 0}, f.nodes[1].ID: {0, 1, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Verify missing/older/extra per node: %v, want %v", got, want)
	}
	rep, err := f.c.Repair(testCtx(t), "books")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied != 4 || rep.Deleted != 0 {
		t.Fatalf("Repair copied %d deleted %d, want 4 and 0", rep.Copied, rep.Deleted)
	}
	docs := sameReplicas(t, f, "books")
	if len(docs) != 21 || docs["1"]["title"] != "newer on 0" || docs["2"]["title"] != "newer on 1" || docs["3"] == nil {
		t.Fatalf("after repair: %d documents: 1 %v, 2 %v, 3 %v", len(docs), docs["1"], docs["2"], docs["3"])
	}
}

// TestRepairLeavesRacingWrite: a document only a stale replica holds, in
// a version newer than the repair's start (a write racing the repair, the
// others have not processed it yet), is not deleted; the replica is ahead,
// not behind, so its marks are cleared.
func TestRepairLeavesRacingWrite(t *testing.T) {
	f := repairFleet(t)
	f.create(t, "racing", "id")
	seedDocs(t, f, "racing", 10)
	s := ShardOf("77", 4)
	markStale(t, f, "racing", s, f.nodes[1].ID, newVersion(t, f.c))
	nodeDelete(t, f, 1, "racing", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
	future := (time.Now().Add(time.Hour).UnixMilli()) * 1000
	nodeWrite(t, f, 1, "racing", []map[string]any{rawDoc(77, "racing", future)})
	rep, err := f.c.Repair(testCtx(t), "racing")
	if err != nil {
		t.Fatalf("Repair: %v", err)
	}
	if rep.Deleted != 0 {
		t.Fatalf("report %+v", rep)
	}
	docs := f.nodeDocsByID(t, 1, "racing")
	if _, ok := docs["77"]; !ok {
		t.Fatal("the racing write was deleted")
	}
	for i := range 10 {
		if ShardOf(fmt.Sprint(i), 4) == s && docs[fmt.Sprint(i)] == nil {
			t.Fatalf("document %d of shard %d not copied back", i, s)
		}
	}
	if f.c.isStale("racing", s, 1) {
		t.Fatal("the replica stays stale although it holds every write it missed")
	}
}

// TestRepairPartialUpdateOnMissingBase: a stale replica that missed a
// document's addition and then got a partial update of it holds the
// update's version with only the updated fields; repair replaces it with
// the whole document although the versions are equal.
func TestRepairPartialUpdateOnMissingBase(t *testing.T) {
	testPartialUpdateOnMissingBase(t, false)
}

// TestRepairPartialUpdateDuringPass: the same, with the partial update
// made while the repair runs (its version at or after the pass's start):
// the stale replica is as wrong, and its marks must not be cleared over
// it (the fault campaign found replicas differing after a clean Repair).
func TestRepairPartialUpdateDuringPass(t *testing.T) {
	testPartialUpdateOnMissingBase(t, true)
}

func testPartialUpdateOnMissingBase(t *testing.T, duringPass bool) {
	// Two groups of one node: a write reaches quorum with either alone.
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, shards: 4, instant: true, opts: []Option{WithRepair(0)}})
	f.create(t, "partial", "id")
	seedDocs(t, f, "partial", 5)
	f.stop(t, 1)
	acWaitOK(t, f.c)(f.c.Index("partial").AddDocuments(testCtx(t), []map[string]any{{"id": 42, "title": "base", "n": 1}}, nil))
	if err := f.srv[1].Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "n1 up", func() bool { return f.healthy(1) })
	f.idle(t)
	s := ShardOf("42", 4)
	// The update reaches both replicas; node 1 builds it on nothing.
	v := newVersion(t, f.c)
	if duringPass {
		// Later than any version the pass takes for its start.
		v = time.Now().Add(time.Hour).UnixMilli() * 1000
	}
	nodeWrite(t, f, 0, "partial", []map[string]any{{"id": 42, "title": "base", "n": 2, shardField: s, versionField: v}})
	nodeWrite(t, f, 1, "partial", []map[string]any{{"id": 42, "n": 2, shardField: s, versionField: v}})
	if !f.c.isStale("partial", s, 1) {
		if _, err := f.c.readMarks(testCtx(t), "partial"); err != nil || !f.c.isStale("partial", s, 1) {
			t.Fatalf("node 1 not stale after missing a write (%v)", err)
		}
	}
	if _, err := f.c.Repair(testCtx(t), "partial"); err != nil {
		t.Fatal(err)
	}
	if d := sameReplicas(t, f, "partial")["42"]; d["title"] != "base" || d["n"] != float64(2) {
		t.Fatalf("document 42 after repair: %v", d)
	}
}

// TestRepairAllStale: when every replica of a shard missed some write,
// they are merged by their marks: a document a replica lacks because it
// missed the write is copied to it; a document a replica lacks although
// it did not miss the write of the newest copy was deleted there, and is
// deleted from the others.
func TestRepairAllStale(t *testing.T) {
	f := repairFleet(t)
	f.create(t, "allstale", "id")
	seedDocs(t, f, "allstale", 10)
	v := versionOf(f.nodeDocsByID(t, 0, "allstale")["0"])
	// Node 0 missed write v+1 (document 100); node 1 missed write v+2
	// (the deletion of document 5), in the same shard.
	s := ShardOf("5", 4)
	id := 100
	for ShardOf(fmt.Sprint(id), 4) != s {
		id++
	}
	nodeWrite(t, f, 1, "allstale", []map[string]any{rawDoc(id, "missed by 0", v+1)})
	nodeDelete(t, f, 0, "allstale", "5")
	markStale(t, f, "allstale", s, f.nodes[0].ID, v+1)
	markStale(t, f, "allstale", s, f.nodes[1].ID, v+2)
	rep, err := f.c.Repair(testCtx(t), "allstale")
	if err != nil {
		t.Fatalf("Repair: %v (%+v)", err, rep)
	}
	if rep.Copied != 1 || rep.Deleted != 1 {
		t.Fatalf("copied %d deleted %d, want 1 and 1", rep.Copied, rep.Deleted)
	}
	docs := sameReplicas(t, f, "allstale")
	if docs["5"] != nil || docs[fmt.Sprint(id)] == nil || len(docs) != 10 {
		t.Fatalf("after repair: %d documents, 5 %v, %d %v", len(docs), docs["5"], id, docs[fmt.Sprint(id)])
	}
	if f.c.isStale("allstale", s, 0) || f.c.isStale("allstale", s, 1) {
		t.Fatal("marks left after the merge")
	}
}

// TestRepairWithoutSource: a shard whose reachable replicas are all stale
// while another is unreachable cannot be repaired (the unreachable one
// may hold the only copy of a write); its marks stay and Repair says why.
func TestRepairWithoutSource(t *testing.T) {
	f := repairFleet(t)
	f.create(t, "nosrc", "id")
	seedDocs(t, f, "nosrc", 10)
	markStale(t, f, "nosrc", 2, f.nodes[0].ID, newVersion(t, f.c))
	f.stop(t, 1)
	rep, err := f.c.Repair(testCtx(t), "nosrc")
	if apiCode(err) != CodeRepairIncomplete {
		t.Fatalf("Repair: %v, want %s", err, CodeRepairIncomplete)
	}
	n := 0
	for _, r := range rep.Replicas {
		if r.Shard == 2 && r.Node == f.nodes[0].ID {
			n++
			if r.InSync || r.Error == "" {
				t.Errorf("%+v", r)
			}
		}
	}
	if n != 1 || !f.c.isStale("nosrc", 2, 0) {
		t.Fatalf("shard 2 lines %d, stale %v", n, f.c.isStale("nosrc", 2, 0))
	}
}

// TestRepairPages: a shard larger than one listing page is walked page
// by page; documents deleted from the replica being listed do not make
// the walk skip any.
func TestRepairPages(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 2, shards: 1, instant: true, opts: []Option{WithRepair(0)}})
	f.create(t, "big", "id")
	n := 2*repairPageSize + 300
	docs := make([]map[string]any, n)
	for i := range docs {
		docs[i] = map[string]any{"id": i, "n": i}
	}
	acWaitOK(t, f.c)(f.c.Index("big").AddDocuments(testCtx(t), docs, nil))
	v := versionOf(f.nodeDocsByID(t, 0, "big")["0"])
	// Node 1 (stale) lost every third document and holds 1500 extras.
	var lost []string
	for i := 0; i < n; i += 3 {
		lost = append(lost, fmt.Sprint(i))
	}
	nodeDelete(t, f, 1, "big", lost...)
	extras := make([]map[string]any, 1500)
	for i := range extras {
		extras[i] = map[string]any{"id": n + i, shardField: 0, versionField: v - 1}
	}
	nodeWrite(t, f, 1, "big", extras)
	markStale(t, f, "big", 0, f.nodes[1].ID, v+1)
	rep, err := f.c.Repair(testCtx(t), "big")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied != len(lost) || rep.Deleted != len(extras) {
		t.Fatalf("copied %d deleted %d, want %d and %d", rep.Copied, rep.Deleted, len(lost), len(extras))
	}
	if got := sameReplicas(t, f, "big"); len(got) != n {
		t.Fatalf("%d documents, want %d", len(got), n)
	}
}

// TestRepairBackground: the background repair (WithRepair) finds a stale
// replica by its marks and repairs it without any call.
func TestRepairBackground(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 2, shards: 4, instant: true,
		opts: []Option{WithRepair(10 * time.Millisecond), WithRepairRate(0)}})
	f.create(t, "bg", "id")
	seedDocs(t, f, "bg", 30)
	nodeDelete(t, f, 1, "bg", "7", "8")
	for s := range 4 {
		markStale(t, f, "bg", s, f.nodes[1].ID, newVersion(t, f.c))
	}
	if _, err := f.c.readMarks(testCtx(t), "bg"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "background repair", func() bool { return len(f.c.staleReplicas("bg")) == 0 })
	if got := sameReplicas(t, f, "bg"); len(got) != 30 {
		t.Fatalf("%d documents after background repair", len(got))
	}
}

// TestRepairRefusals: an unknown index and a closed Cluster answer as
// every call does.
func TestRepairRefusals(t *testing.T) {
	f := repairFleet(t)
	if _, err := f.c.Repair(testCtx(t), "nope"); apiCode(err) != "index_not_found" {
		t.Fatalf("Repair of a missing index: %v", err)
	}
	if _, err := f.c.Verify(testCtx(t), "nope"); apiCode(err) != "index_not_found" {
		t.Fatalf("Verify of a missing index: %v", err)
	}
	c := f.newCluster(t, WithRepair(0))
	c.Close()
	if _, err := c.Repair(testCtx(t), "x"); err == nil {
		t.Fatal("Repair after Close succeeded")
	}
}

// TestFlatMembers: the in-place reader of listed (id, version) objects
// takes flat objects and hands anything else to encoding/json.
func TestFlatMembers(t *testing.T) {
	for _, tc := range []struct {
		in     string
		id, v  string
		wantOK bool
	}{
		{`{"id":12,"_miroir_v":1733000000000001}`, "12", "1733000000000001", true},
		{` { "_miroir_v" : 5 , "id" : "a-b" } `, `"a-b"`, "5", true},
		{`{"id":"x"}`, `"x"`, "", true},
		{`{}`, "", "", true},
		{`{"id":"a\"b","_miroir_v":1}`, "", "", false},
		{`{"id":{"n":1},"_miroir_v":1}`, "", "", false},
		{`{"id":1,"_miroir_v":1`, "", "", false},
		{`[1]`, "", "", false},
	} {
		id, v, ok := flatMembers([]byte(tc.in), "id", versionField)
		if ok != tc.wantOK || string(id) != tc.id || string(v) != tc.v {
			t.Errorf("%s: %q %q %v, want %q %q %v", tc.in, id, v, ok, tc.id, tc.v, tc.wantOK)
		}
	}
}

// newVersion allocates a version (a task uid) from c, as a write would.
func newVersion(t testing.TB, c *Cluster) int64 {
	t.Helper()
	v, err := c.tasks.nextUID(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
