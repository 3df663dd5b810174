package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir"
	"github.com/miroirsearch/miroir/meilitest"
)

// TestChangeTopologyAddNode grows a 2-node fleet by one node with the
// command while another instance keeps serving: the command reports the
// change done, every instance follows epoch 2, the new node holds its
// shards' documents and no node holds another's, a search still counts
// every document once, and status and nodes show the new topology. A
// target the library refuses is reported as refused, nothing moved.
func TestChangeTopologyAddNode(t *testing.T) {
	var urls []string
	for range 3 {
		urls = append(urls, meilitest.RunT(t).URL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const shards, total = 8, 300
	// The application's instance; it keeps refreshing (its heartbeat
	// counts while the change waits for every live instance).
	app, err := miroir.New([]miroir.Node{{ID: "node-1", URL: urls[0]}, {ID: "node-2", URL: urls[1]}},
		miroir.WithShards(shards), miroir.WithRepair(0), miroir.WithFleetRefresh(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	wait := func(info *meilisearch.TaskInfo, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		task, err := app.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
		if err != nil || task.Status != meilisearch.TaskStatusSucceeded {
			t.Fatalf("task %d: %v %+v", info.TaskUID, err, task)
		}
	}
	wait(app.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "books", PrimaryKey: "id"}))
	var docs []map[string]any
	for i := range total {
		docs = append(docs, map[string]any{"id": i, "title": fmt.Sprint("book ", i)})
	}
	wait(app.Index("books").AddDocuments(ctx, docs, nil))

	dir := t.TempDir()
	target := filepath.Join(dir, "grown.nodes")
	text := fmt.Sprintf("# two nodes and a new one\nnode-1=%s\nnode-2=%s@0\nnode-3=%s\n", urls[0], urls[1], urls[2])
	if err := os.WriteFile(target, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "MEILI_URLS" {
			return urls[0] + "," + urls[1]
		}
		return ""
	}
	cmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"-shards", fmt.Sprint(shards), "-refresh", "20ms"}, args...), env, &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, errs := cmd("change-topology", "-nodes", target)
	if code != 0 || !strings.Contains(out, "done: the fleet is at epoch 2: 3 nodes, 1 group(s), RF 1") {
		t.Fatalf("change-topology: exit %d\n%s%s", code, out, errs)
	}
	// Not a terminal: plain lines, no redrawing.
	if strings.Contains(out, "\r") {
		t.Fatalf("carriage return in plain output:\n%q", out)
	}

	// The application's instance follows the record.
	for deadline := time.Now().Add(30 * time.Second); ; {
		topo := app.Topology()
		if topo.Epoch == 2 && len(topo.Nodes) == 3 && topo.Change == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the application's instance did not follow: %+v", topo)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res, err := app.Index("books").Search(ctx, "", &meilisearch.SearchRequest{Limit: total + 10})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, h := range res.Hits {
		var d struct {
			ID int `json:"id"`
		}
		if err := h.DecodeInto(&d); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprint(d.ID)
		if seen[key] {
			t.Fatalf("document %s twice", key)
		}
		seen[key] = true
	}
	if len(seen) != total || res.EstimatedTotalHits != total {
		t.Fatalf("after the change: %d distinct hits, estimated %d; want %d", len(seen), res.EstimatedTotalHits, total)
	}
	// RF 1: every document on exactly one node, the new one holding some.
	var held int64
	for i, u := range urls {
		st, err := meilisearch.New(u).Index("books").GetStats(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 && st.NumberOfDocuments == 0 {
			t.Fatal("the new node holds no document")
		}
		held += st.NumberOfDocuments
	}
	if held != total {
		t.Fatalf("the nodes hold %d documents together, want %d (each on its shard's one replica)", held, total)
	}

	code, out, errs = cmd("status")
	if code != 0 || !strings.Contains(out, "topology: epoch 2, the fleet's record") || !strings.Contains(out, "node-3") ||
		!strings.Contains(out, "topology change: none in progress") || !strings.Contains(out, fmt.Sprint(total, " documents")) {
		t.Fatalf("status: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = cmd("nodes")
	if want := fmt.Sprintf("node-3=%s@0\n", urls[2]); code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "# epoch 2") {
		t.Fatalf("nodes: exit %d, want a line %q\n%s%s", code, want, out, errs)
	}
	// The printed list is a valid target: the same again changes nothing.
	if err := os.WriteFile(target, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs = cmd("change-topology", "-nodes", target); code != 0 || !strings.Contains(out, "epoch 2") {
		t.Fatalf("change-topology to the current nodes: exit %d\n%s%s", code, out, errs)
	}

	// Three nodes cannot hold RF 5: refused before anything moves.
	code, out, errs = cmd("change-topology", "-nodes", target, "-rf", "5")
	if code != 2 || !strings.Contains(errs, "the target was refused, nothing moved") {
		t.Fatalf("RF 5 on 3 nodes: exit %d\n%s%s", code, out, errs)
	}
	if topo := app.Topology(); topo.Epoch != 2 || topo.Change != nil {
		t.Fatalf("a refused target changed the topology: %+v", topo)
	}
}

// TestChangeTopologyInterrupted: a change stopped while it cannot copy
// (the new node refuses documents, so it cannot end before the stop)
// exits 3 and says how to resume; the change stays recorded: status shows
// it, nodes -target prints its target, index creation is refused; once
// the node accepts documents, the same command again completes it.
func TestChangeTopologyInterrupted(t *testing.T) {
	var urls []string
	var srv []*meilitest.Server
	for range 3 {
		s := meilitest.RunT(t)
		srv = append(srv, s)
		urls = append(urls, s.URL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	app, err := miroir.New([]miroir.Node{{ID: "node-1", URL: urls[0]}, {ID: "node-2", URL: urls[1]}},
		miroir.WithShards(4), miroir.WithRepair(0), miroir.WithFleetRefresh(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	wait := func(info *meilisearch.TaskInfo, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if task, err := app.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond); err != nil || task.Status != meilisearch.TaskStatusSucceeded {
			t.Fatalf("task %d: %v %+v", info.TaskUID, err, task)
		}
	}
	wait(app.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "books", PrimaryKey: "id"}))
	var docs []map[string]any
	for i := range 200 {
		docs = append(docs, map[string]any{"id": i})
	}
	wait(app.Index("books").AddDocuments(ctx, docs, nil))
	target := filepath.Join(t.TempDir(), "grown.nodes")
	if err := os.WriteFile(target, []byte(fmt.Sprintf("node-1=%s\nnode-2=%s\nnode-3=%s\n", urls[0], urls[1], urls[2])), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(string) string { return "" }
	base := []string{"-nodes", urls[0] + "," + urls[1], "-shards", "4", "-refresh", "20ms"}
	cmd := func(ctx context.Context, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append(base, args...), env, &out, &errb)
		return code, out.String(), errb.String()
	}

	heal := srv[2].FailRequests(func(r *http.Request) bool {
		return r.Method == http.MethodPost && r.URL.Path == "/indexes/books/documents"
	}, http.StatusInternalServerError, "internal")
	// Ctrl-C once the change shows on the application's instance.
	stopped, interrupt := context.WithCancel(ctx)
	defer interrupt()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for stopped.Err() == nil {
			if app.Topology().Change != nil {
				interrupt()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	code, out, errs := cmd(stopped, "change-topology", "-nodes", target)
	interrupt()
	<-watched
	// The command says the change is recorded when its own instance had
	// followed the record before the stop (the record is followed once
	// processed, and the application's instance may read it first), and
	// that it may be otherwise; either way the same command resumes it.
	if code != exitInterrupted || !strings.Contains(strings.ToLower(errs), "run the same command again") {
		t.Fatalf("interrupted: exit %d\n%s%s", code, out, errs)
	}

	// Recorded: every instance sees it, index creation waits for its end.
	if ch := app.Topology().Change; ch == nil || ch.Epoch != 2 || ch.Phase == miroir.PhaseDone {
		t.Fatalf("the application's instance sees no change in progress: %+v", ch)
	}
	if _, err := app.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "films", PrimaryKey: "id"}); !errors.Is(err, miroir.ErrTopologyChangeInProgress) {
		t.Fatalf("index creation during the change: %v", err)
	}
	if code, out, errs := cmd(ctx, "status"); code != 0 || !strings.Contains(out, "topology change in progress: epoch 1 -> 2") ||
		!strings.Contains(out, "node-3       group 0  "+urls[2]) {
		t.Fatalf("status during the change: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cmd(ctx, "nodes", "-target"); code != 0 || !strings.Contains(out, "node-3="+urls[2]+"@0\n") {
		t.Fatalf("nodes -target: exit %d\n%s%s", code, out, errs)
	}

	// Another target meanwhile is refused, with the running one's target
	// printed to resume it with.
	other := filepath.Join(filepath.Dir(target), "other.nodes")
	if err := os.WriteFile(other, []byte(fmt.Sprintf("node-1=%s\nnode-3=%s\n", urls[0], urls[2])), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := cmd(ctx, "change-topology", "-nodes", other); code != exitError ||
		!strings.Contains(errs, "another topology change is in progress") || !strings.Contains(errs, "node-2="+urls[1]+"@0\n") {
		t.Fatalf("another target during the change: exit %d\n%s%s", code, out, errs)
	}

	heal()
	if code, out, errs := cmd(ctx, "change-topology", "-nodes", target); code != 0 || !strings.Contains(out, "epoch 2: 3 nodes") {
		t.Fatalf("resumed: exit %d\n%s%s", code, out, errs)
	}
	for deadline := time.Now().Add(30 * time.Second); app.Topology().Epoch != 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the application's instance did not follow: %+v", app.Topology())
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, err := app.Index("books").GetStats(ctx, nil)
	if err != nil || st.NumberOfDocuments != 200 {
		t.Fatalf("after the resumed change: %v %+v", err, st)
	}
}

// TestChangeTopologyReplicationFactor: from two nodes at RF 1 to three at
// RF 3 (every node holds every document): an RF the current group is too
// small for, so the command's driving Cluster is built over the fleet's
// and the target's nodes. The target is a JSON file.
func TestChangeTopologyReplicationFactor(t *testing.T) {
	var urls []string
	for range 3 {
		urls = append(urls, meilitest.RunT(t).URL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	app, err := miroir.New([]miroir.Node{{ID: "node-1", URL: urls[0]}, {ID: "node-2", URL: urls[1]}},
		miroir.WithShards(4), miroir.WithRepair(0), miroir.WithFleetRefresh(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	wait := func(info *meilisearch.TaskInfo, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if task, err := app.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond); err != nil || task.Status != meilisearch.TaskStatusSucceeded {
			t.Fatalf("task %d: %v %+v", info.TaskUID, err, task)
		}
	}
	wait(app.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "books", PrimaryKey: "id"}))
	var docs []map[string]any
	for i := range 100 {
		docs = append(docs, map[string]any{"id": i})
	}
	wait(app.Index("books").AddDocuments(ctx, docs, nil))
	target := filepath.Join(t.TempDir(), "rf3.json")
	js := fmt.Sprintf(`[{"id":"node-1","url":%q},{"id":"node-2","url":%q},{"id":"node-3","url":%q,"group":0}]`, urls[0], urls[1], urls[2])
	if err := os.WriteFile(target, []byte(js), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(ctx, []string{"-nodes", urls[0] + "," + urls[1], "-shards", "4", "-refresh", "20ms", "change-topology", "-nodes", target, "-rf", "3"},
		func(string) string { return "" }, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "done: the fleet is at epoch 2: 3 nodes, 1 group(s), RF 3") {
		t.Fatalf("RF 1 -> 3: exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, u := range urls {
		st, err := meilisearch.New(u).Index("books").GetStats(ctx, nil)
		if err != nil || st.NumberOfDocuments != 100 {
			t.Fatalf("node %s after RF 3: %v %+v, want all 100 documents", u, err, st)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); app.Topology().ReplicationFactor != 3; {
		if time.Now().After(deadline) {
			t.Fatalf("the application's instance did not follow: %+v", app.Topology())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
