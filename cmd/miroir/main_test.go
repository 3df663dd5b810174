package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir"
	"github.com/miroirsearch/miroir/meilitest"
)

func TestParseNodes(t *testing.T) {
	got, err := parseNodes("http://a:7700, b=http://b:7700@1 ,c=https://c/x")
	if err != nil {
		t.Fatal(err)
	}
	want := []miroir.Node{{ID: "node-1", URL: "http://a:7700"}, {ID: "b", URL: "http://b:7700", Group: 1}, {ID: "c", URL: "https://c/x"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "a:7700", "x=http://a@g"} {
		if _, err := parseNodes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestUsage(t *testing.T) {
	file := t.TempDir() + "/target.nodes"
	if err := os.WriteFile(file, []byte("a=http://a:7700\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{}, {"verify"}, {"frobnicate"}, {"status", "extra"}, {"nodes", "extra"},
		{"change-topology"}, // no target
		{"change-topology", "-nodes", file + ".missing"},            // no such file
		{"change-topology", "-nodes", file, "extra"},                // an argument too many
		{"change-topology", "-nodes", file, "-rf", "-1"},            // RF below 1
		{"-rf", "2", "change-topology", "-nodes", file, "-rf", "3"}, // two RFs
		{"change-topology", "-nodes", file},                         // target, but no current nodes
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, func(string) string { return "" }, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestVerifyRepairStatus: a document slipped onto one in-sync replica
// behind the library's back (what a write that reached one replica leaves)
// is found by verify (exit 1: the other replicas miss it), copied to them
// by repair (present wins over absent, DESIGN §12), and verify passes
// afterwards; status lists the nodes and the index.
func TestVerifyRepairStatus(t *testing.T) {
	var urls []string
	var srv []*meilitest.Server
	for range 3 {
		s := meilitest.RunT(t)
		srv = append(srv, s)
		urls = append(urls, s.URL())
	}
	nodes, _ := parseNodes(strings.Join(urls, ","))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := miroir.New(nodes, miroir.WithShards(4), miroir.WithReplicationFactor(3), miroir.WithRepair(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wait := func(info *meilisearch.TaskInfo, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		task, err := c.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
		if err != nil || task.Status != meilisearch.TaskStatusSucceeded {
			t.Fatalf("task %d: %v %+v", info.TaskUID, err, task)
		}
	}
	wait(c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "books", PrimaryKey: "id"}))
	docs := []map[string]any{}
	for i := range 40 {
		docs = append(docs, map[string]any{"id": i, "title": fmt.Sprint("book ", i)})
	}
	wait(c.Index("books").AddDocuments(ctx, docs, nil))

	env := func(k string) string {
		if k == "MIROIR_NODES" {
			return strings.Join(urls, ",")
		}
		return ""
	}
	cmd := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"-shards", "4", "-rf", "3"}, args...), env, &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := cmd("verify", "books"); code != 0 {
		t.Fatalf("verify of a consistent index: exit %d\n%s", code, out)
	}

	// One document on node 3 alone, with its shard and a version.
	body, _ := json.Marshal([]map[string]any{{"id": 999, "title": "stray", "_miroir_shard": miroir.ShardOf("999", 4), "_miroir_v": 1}})
	resp, err := http.Post(urls[2]+"/indexes/books/documents", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out := cmd("verify", "books")
		if code == 1 && strings.Contains(out, "1 missing") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("verify did not see the stray document: exit %d\n%s", code, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, out := cmd("repair", "books"); code != 0 || !strings.Contains(out, "2 documents copied") {
		t.Fatalf("repair: exit %d\n%s", code, out)
	}
	if code, out := cmd("verify", "books"); code != 0 {
		t.Fatalf("verify after repair: exit %d\n%s", code, out)
	}
	code, out := cmd("status")
	if code != 0 || !strings.Contains(out, "node-3") || !strings.Contains(out, "books") || !strings.Contains(out, "41 documents") || !strings.Contains(out, "stale replicas: none") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}

	// A write while node-2 is down leaves its replicas stale: a fresh
	// instance (the command's) sees the marks, repair clears them.
	srv[1].Stop()
	wait(c.Index("books").AddDocuments(ctx, []map[string]any{{"id": 1000, "title": "late"}}, nil))
	if err := srv[1].Start(); err != nil {
		t.Fatal(err)
	}
	if len(c.Topology().Stale) == 0 {
		t.Fatal("the writing instance sees no stale replica")
	}
	// The marks are records the nodes apply after their 202: another
	// instance sees them once applied.
	for deadline := time.Now().Add(30 * time.Second); ; {
		code, out := cmd("status")
		if code == 0 && strings.Contains(out, "on node-2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed the stale replica: exit %d\n%s", code, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, out := cmd("repair", "books"); code != 0 {
		t.Fatalf("repair of the stale replica: exit %d\n%s", code, out)
	}
	// The clear is a record deletion the nodes apply after their 202 too.
	for deadline := time.Now().Add(30 * time.Second); ; {
		code, out := cmd("status")
		if code == 0 && strings.Contains(out, "stale replicas: none") && strings.Contains(out, "42 documents") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status after repair: exit %d\n%s", code, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
