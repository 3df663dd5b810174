package miroir

// Backfill throughput of a topology change (issue 14): a node joins a
// one-node fleet holding an index of N documents of ~250 bytes (S 8, RF
// 1); ChangeTopology copies the shards the new node takes. Reported:
// documents/s and MB/s copied, the time against the baseline measured in
// the same iteration (the same shards copied page by page from node to
// node with plain HTTP, no miroir), and the peak heap of this process
// above its level before the change. The nodes run in a child process
// (as in BenchmarkRepairStaleShard), so the heap is the Cluster's own;
// three sizes show how it grows with the index (not with the documents
// copied: it stays well below them).
//
//	go test -run '^$' -bench 'BenchmarkTopologyBackfill' -benchtime 3x .

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// BenchmarkTopologyBackfill measures one node joining a one-node fleet.
func BenchmarkTopologyBackfill(b *testing.B) {
	for _, n := range []int{20_000, 50_000, 100_000} {
		b.Run(fmt.Sprintf("docs=%d", n), func(b *testing.B) { benchBackfill(b, n) })
	}
}

func benchBackfill(b *testing.B, docs int) {
	var changeT, baseT time.Duration
	var copied, copiedBytes, baseDocs, baseBytes int64
	var peak uint64
	for range b.N {
		b.StopTimer()
		urls := spawnBenchNodes(b)
		n0, n1 := benchJoinPair(urls)
		rec := &topoRecorder{}
		c, err := New([]Node{n0}, append(quick.options(), WithShards(8), WithReplicationFactor(1),
			WithRepair(0), WithRepairRate(0), WithFleetRefresh(50*time.Millisecond), WithObserver(rec))...)
		if err != nil {
			b.Fatal(err)
		}
		acWaitOK(b, c)(c.CreateIndex(testCtx(b), &meilisearch.IndexConfig{Uid: "bench", PrimaryKey: "id"}))
		text := strings.Repeat("lorem ipsum dolor sit amet ", 7)
		for start := 0; start < docs; start += 5000 {
			batch := make([]map[string]any, 0, 5000)
			for i := start; i < min(start+5000, docs); i++ {
				batch = append(batch, map[string]any{"id": fmt.Sprintf("d%d", i), "title": fmt.Sprintf("document %d", i), "text": text, "rank": i % 97})
			}
			acWaitOK(b, c)(c.Index("bench").AddDocuments(testCtx(b), batch, nil))
		}
		before := c.Topology()
		if before.Epoch != 1 {
			// The record is written by the first use of the fleet; wait.
			waitTopoSettled(b, "bench cluster", c, 1)
		}
		taken := benchTaken(n0, n1)

		// Baseline: the same shards copied page by page with plain HTTP
		// into a scratch index on b1, removed afterwards.
		t0 := time.Now()
		d, by := naiveShardCopy(b, urls[0], urls[1], "bench", "scratch", taken)
		baseT += time.Since(t0)
		baseDocs += d
		baseBytes += by
		benchNodeTask(b, urls[1], "DELETE", "/indexes/scratch", nil)

		b.StartTimer()
		t0 = time.Now()
		p := heapPeak(func() {
			if err := c.ChangeTopology(testCtx(b), []Node{n0, n1}); err != nil {
				b.Fatalf("ChangeTopology: %v", err)
			}
		})
		changeT += time.Since(t0)
		b.StopTimer()
		peak = max(peak, p)
		last, ok := rec.last(2)
		if !ok || last.Phase != PhaseDone {
			b.Fatalf("no final progress report: %+v", last)
		}
		if last.DocumentsCopied != d {
			b.Logf("documents copied %d, documents on the shards b1 took %d", last.DocumentsCopied, d)
		}
		copied += last.DocumentsCopied
		copiedBytes += last.BytesCopied
		c.Close()
	}
	sec := changeT.Seconds()
	b.ReportMetric(float64(copied)/sec, "docs/s")
	b.ReportMetric(float64(copiedBytes)/sec/(1<<20), "MB/s")
	b.ReportMetric(float64(baseDocs)/baseT.Seconds(), "naive-docs/s")
	b.ReportMetric(float64(baseBytes)/baseT.Seconds()/(1<<20), "naive-MB/s")
	b.ReportMetric(float64(changeT)/float64(baseT), "change/naive")
	b.ReportMetric(float64(copied)/float64(b.N), "docs-copied")
	b.ReportMetric(float64(copiedBytes)/float64(b.N)/(1<<20), "copied-MB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.Logf("docs=%d: change %v (%.0f docs/s, %.2f MB/s), naive copy %v, change/naive %.2f, peak heap %.1f MB",
		docs, changeT/time.Duration(b.N), float64(copied)/sec, float64(copiedBytes)/sec/(1<<20),
		baseT/time.Duration(b.N), float64(changeT)/float64(baseT), float64(peak)/(1<<20))
}

// benchJoinPair names the benchmark's nodes: b0 and the first of b1, b2,
// ... that takes half of the 8 shards from b0, as rendezvous does on
// average (b1 alone would take 2), so that the figures are those of a
// typical join.
func benchJoinPair(urls []string) (Node, Node) {
	n0 := Node{ID: "b0", URL: urls[0]}
	for i := 1; ; i++ {
		n1 := Node{ID: fmt.Sprintf("b%d", i), URL: urls[1]}
		if len(benchTaken(n0, n1)) == 4 {
			return n0, n1
		}
	}
}

// benchTaken returns the shards n1 takes from n0 when it joins (S 8, RF 1),
// from the target's rendezvous placement.
func benchTaken(n0, n1 Node) []int {
	target := Topology{Shards: 8, ReplicationFactor: 1, Groups: 1,
		Nodes: []NodeStatus{{ID: n0.ID, URL: n0.URL}, {ID: n1.ID, URL: n1.URL}}}
	var taken []int
	for s := range 8 {
		if r := target.Replicas(s, 0); len(r) == 1 && r[0] == n1.ID {
			taken = append(taken, s)
		}
	}
	return taken
}

// naiveShardCopy copies the documents of shards of index from (node src)
// into index to (node dst), page by page, each page waited for; it
// returns the documents and the bytes sent.
func naiveShardCopy(b *testing.B, src, dst, from, to string, shards []int) (docs, sent int64) {
	b.Helper()
	benchNodeTask(b, dst, "POST", "/indexes", map[string]any{"uid": to, "primaryKey": "id"})
	const page = 1000
	for _, s := range shards {
		for offset := 0; ; offset += page {
			st, body := acHTTP(b, src, "POST", "/indexes/"+from+"/documents/fetch",
				map[string]any{"filter": fmt.Sprintf("%s = %d", shardField, s), "offset": offset, "limit": page}, "")
			if st != 200 {
				b.Fatalf("fetch: %d %s", st, body)
			}
			var res struct {
				Results []json.RawMessage `json:"results"`
			}
			if err := json.Unmarshal(body, &res); err != nil {
				b.Fatal(err)
			}
			if len(res.Results) > 0 {
				raw, err := json.Marshal(res.Results)
				if err != nil {
					b.Fatal(err)
				}
				benchNodeTask(b, dst, "POST", "/indexes/"+to+"/documents", raw)
				docs += int64(len(res.Results))
				sent += int64(len(raw))
			}
			if len(res.Results) < page {
				break
			}
		}
	}
	return docs, sent
}

// benchNodeTask sends a request that enqueues a task straight to a node
// and waits until the task succeeded.
func benchNodeTask(b *testing.B, base, method, path string, body any) {
	b.Helper()
	st, out := acHTTP(b, base, method, path, body, "")
	if st != http.StatusAccepted {
		b.Fatalf("%s %s: %d %s", method, path, st, out)
	}
	var ti struct {
		TaskUID int64 `json:"taskUid"`
	}
	if err := json.Unmarshal(out, &ti); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/tasks/%d", base, ti.TaskUID), nil)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var task struct {
			Status string          `json:"status"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(raw, &task); err != nil {
			b.Fatalf("task %d: %v: %s", ti.TaskUID, err, raw)
		}
		switch task.Status {
		case "succeeded":
			return
		case "failed", "canceled":
			b.Fatalf("%s %s: task %s: %s", method, path, task.Status, bytes.TrimSpace(task.Error))
		}
		time.Sleep(2 * time.Millisecond)
	}
}
