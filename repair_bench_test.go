package miroir

// The cost of repairing one stale shard (issue 12): 100k documents, 1%
// of them differing on the stale replica. Repair must send O(differences)
// documents; the baseline is copying the whole shard page by page.
//
//	go test -run '^$' -bench 'BenchmarkRepairStaleShard' -benchtime 5x .

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

const (
	benchShardDocs = 100_000
	benchDiffering = benchShardDocs / 100
)

// repairBenchFleet is the repair benchmark's fleet: a Cluster in this process
// over nodes served by a child process, so that the heap figures are the
// Cluster's own.
type repairBenchFleet struct {
	c    *Cluster
	urls []string
}

// benchNodesEnv makes the test binary a node server (see init below).
const benchNodesEnv = "MIROIR_REPAIR_BENCH_NODES"

func init() {
	if os.Getenv(benchNodesEnv) == "" {
		return
	}
	// Child process of BenchmarkRepairStaleShard: serve two nodes, print
	// their URLs, live until stdin closes.
	for range 2 {
		s, err := meilitest.NewServer(meilitest.WithTaskDuration(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(s.URL())
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// spawnBenchNodes starts the two nodes of a benchmark in a child process
// (the test binary serving nodes, see benchNodesEnv) and returns their
// URLs; the process ends with the benchmark.
func spawnBenchNodes(b *testing.B) []string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchNodesEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	var urls []string
	for len(urls) < 2 && sc.Scan() {
		urls = append(urls, strings.TrimSpace(sc.Text()))
	}
	if len(urls) < 2 {
		b.Fatalf("node process: %v", sc.Err())
	}
	return urls
}

// benchRepairFleet is one shard on two nodes (RF 2), holding
// benchShardDocs documents of ~250 bytes written through the Cluster in
// batches (so versions vary as in a real index).
func benchRepairFleet(b *testing.B, wire *wireCounter) *repairBenchFleet {
	b.Helper()
	urls := spawnBenchNodes(b)
	nodes := []Node{{ID: "n0", URL: urls[0]}, {ID: "n1", URL: urls[1]}}
	c, err := New(nodes, append([]Option{WithShards(1), WithReplicationFactor(2), WithRepair(0),
		WithHTTPClient(&http.Client{Transport: wire})}, quick.options()...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	f := &repairBenchFleet{c: c, urls: urls}
	acWaitOK(b, c)(c.CreateIndex(testCtx(b), &meilisearch.IndexConfig{Uid: "bench", PrimaryKey: "id"}))
	text := strings.Repeat("lorem ipsum dolor sit amet ", 7)
	const batch = 10_000
	for start := 0; start < benchShardDocs; start += batch {
		docs := make([]map[string]any, batch)
		for i := range docs {
			id := start + i
			docs[i] = map[string]any{"id": id, "title": fmt.Sprintf("document %d", id), "text": text, "rank": id % 97}
		}
		acWaitOK(b, c)(c.Index("bench").AddDocuments(testCtx(b), docs, nil))
	}
	return f
}

// nodeCall sends a request straight to node i and waits for its task.
func (f *repairBenchFleet) nodeCall(b *testing.B, i int, method, path string, body any) {
	b.Helper()
	st, out := acHTTP(b, f.urls[i], method, path, body, "")
	if st != 202 {
		b.Fatalf("node %d %s %s: %d %s", i, method, path, st, out)
	}
	if err := waitRepairTask(testCtx(b), f.c.node(i), out); err != nil {
		b.Fatal(err)
	}
}

// damage makes node 1 differ on benchDiffering documents (half missing,
// half older) and marks it stale.
func damage(b *testing.B, f *repairBenchFleet) {
	b.Helper()
	var gone []string
	var older []map[string]any
	for k := range benchDiffering {
		id := k * (benchShardDocs / benchDiffering)
		if k%2 == 0 {
			gone = append(gone, fmt.Sprint(id))
		} else {
			older = append(older, map[string]any{"id": id, "title": "old", shardField: 0, versionField: 1})
		}
	}
	f.nodeCall(b, 1, "POST", "/indexes/bench/documents/delete-batch", gone)
	f.nodeCall(b, 1, "POST", "/indexes/bench/documents?primaryKey=id", older)
	// The mark names a write made after every document of the shard.
	m := staleMark{Index: "bench", Shard: 0, Node: f.c.node(1).ID, Version: newVersion(b, f.c), At: time.Now()}
	for i, uid := range f.c.markStore.put(testCtx(b), []staleMark{m}) {
		if uid >= 0 {
			if err := waitRepairTask(testCtx(b), f.c.node(i), []byte(fmt.Sprintf(`{"taskUid":%d}`, uid))); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// heapPeak samples the heap in use while fn runs and returns its peak
// above the level before fn.
func heapPeak(fn func()) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > base && m.HeapAlloc-base > peak.Load() {
					peak.Store(m.HeapAlloc - base)
				}
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	return peak.Load()
}

// BenchmarkRepairStaleShard compares Repair of a stale shard where 1%
// differs with copying the whole shard (the baseline), alternating the
// two in one loop so machine load hits both: their times and the ratio,
// documents sent per differing document, bytes on the wire, and the peak
// heap of this process (the Cluster; the nodes run in a child process)
// above its level before the call.
func BenchmarkRepairStaleShard(b *testing.B) {
	wire := &wireCounter{base: http.DefaultTransport.(*http.Transport).Clone()}
	f := benchRepairFleet(b, wire)
	src, dst := f.c.node(0), f.c.node(1)
	var repairT, copyT time.Duration
	var repairSent, copySent, repairPeak, copyPeak uint64
	var repairWire, copyWire int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		damage(b, f)
		b.StartTimer()
		w0, t0 := wire.n.Load(), time.Now()
		p := heapPeak(func() {
			rep, err := f.c.Repair(testCtx(b), "bench")
			if err != nil {
				b.Fatal(err)
			}
			repairSent += uint64(rep.Copied + rep.Deleted)
		})
		repairT += time.Since(t0)
		repairWire += wire.n.Load() - w0
		repairPeak = max(repairPeak, p)

		w0, t0 = wire.n.Load(), time.Now()
		p = heapPeak(func() {
			n, err := copyWholeShard(testCtx(b), src, dst, "bench", "id", 0)
			if err != nil {
				b.Fatal(err)
			}
			copySent += uint64(n)
		})
		copyT += time.Since(t0)
		copyWire += wire.n.Load() - w0
		copyPeak = max(copyPeak, p)
	}
	n := float64(b.N)
	b.ReportMetric(float64(repairT.Milliseconds())/n, "repair-ms")
	b.ReportMetric(float64(copyT.Milliseconds())/n, "copy-ms")
	b.ReportMetric(float64(repairT)/float64(copyT), "repair/copy")
	b.ReportMetric(float64(repairSent)/n/benchDiffering, "repair-sent/differing")
	b.ReportMetric(float64(copySent)/n/benchDiffering, "copy-sent/differing")
	b.ReportMetric(float64(repairWire)/n/(1<<20), "repair-wire-MB")
	b.ReportMetric(float64(copyWire)/n/(1<<20), "copy-wire-MB")
	b.ReportMetric(float64(repairPeak)/(1<<20), "repair-peak-heap-MB")
	b.ReportMetric(float64(copyPeak)/(1<<20), "copy-peak-heap-MB")
}

// copyWholeShard is the baseline: every document of the shard fetched
// from src page by page and sent to dst.
func copyWholeShard(ctx context.Context, src, dst *node, uid, pk string, shard int) (int, error) {
	sent := 0
	for offset := 0; ; offset += repairPageSize {
		ans, err := fetchDocs(ctx, src, uid, fetchBody{Filter: fmt.Sprintf("%s = %d", shardField, shard), Offset: offset, Limit: repairPageSize})
		if err != nil {
			return sent, err
		}
		if len(ans.Results) > 0 {
			if err := putRaw(ctx, dst, uid, pk, ans.Results); err != nil {
				return sent, err
			}
			sent += len(ans.Results)
		}
		if len(ans.Results) < repairPageSize {
			return sent, nil
		}
	}
}

// wireCounter counts the bytes of requests and answers between the
// Cluster and its nodes (bodies only).
type wireCounter struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (w *wireCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.ContentLength > 0 {
		w.n.Add(r.ContentLength)
	}
	resp, err := w.base.RoundTrip(r)
	if err == nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &w.n}
	}
	return resp, err
}

// countingBody counts the bytes read from an answer.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.n.Add(int64(k))
	return k, err
}
