package miroir

// The cost of repairing one stale shard (issue 12): 100k documents, 1%
// of them differing on the stale replica. Repair must send O(differences)
// documents; the baseline is copying the whole shard page by page.
//
//	go test -run '^$' -bench 'BenchmarkRepairStaleShard' -benchtime 5x .

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	benchShardDocs = 100_000
	benchDiffering = benchShardDocs / 100
)

// benchRepairFleet is one shard on two nodes (RF 2), holding
// benchShardDocs documents of ~250 bytes written through the Cluster in
// batches (so versions vary as in a real index).
func benchRepairFleet(b *testing.B, wire *wireCounter) *testFleet {
	b.Helper()
	hc := &http.Client{Transport: wire}
	f := startFleet(b, fleetSpec{groups: []int{0, 0}, rf: 2, shards: 1, instant: true,
		opts: []Option{WithRepair(0), WithHTTPClient(hc)}})
	f.create(b, "bench", "id")
	text := strings.Repeat("lorem ipsum dolor sit amet ", 7)
	const batch = 10_000
	for start := 0; start < benchShardDocs; start += batch {
		docs := make([]map[string]any, batch)
		for i := range docs {
			id := start + i
			docs[i] = map[string]any{"id": id, "title": fmt.Sprintf("document %d", id), "text": text, "rank": id % 97}
		}
		acWaitOK(b, f.c)(f.c.Index("bench").AddDocuments(testCtx(b), docs, nil))
	}
	f.idle(b)
	return f
}

// damage makes node 1 differ on benchDiffering documents (half missing,
// half older) and marks it stale.
func damage(b *testing.B, f *testFleet) {
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
	nodeDelete(b, f, 1, "bench", gone...)
	nodeWrite(b, f, 1, "bench", older)
	// The mark names a write made after every document of the shard.
	m := staleMark{Index: "bench", Shard: 0, Node: f.nodes[1].ID, Version: f.c.tasks.nextUID(), At: time.Now()}
	f.c.markStore.put(testCtx(b), []staleMark{m})
	f.idle(b)
}

// heapPeak samples the heap in use while fn runs and returns its peak
// above the level before fn (the in-process nodes' own heap included).
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
// differs (repair) with copying the whole shard (copy-whole-shard, the
// baseline): time per op, documents sent per differing document, and
// the peak heap above the fleet's own.
func BenchmarkRepairStaleShard(b *testing.B) {
	wire := &wireCounter{base: http.DefaultTransport.(*http.Transport).Clone()}
	f := benchRepairFleet(b, wire)
	b.Run("repair", func(b *testing.B) {
		var sent, peak uint64
		var bytes int64
		for range b.N {
			b.StopTimer()
			damage(b, f)
			before := wire.n.Load()
			b.StartTimer()
			var rep *RepairReport
			p := heapPeak(func() {
				var err error
				rep, err = f.c.Repair(testCtx(b), "bench")
				if err != nil {
					b.Fatal(err)
				}
			})
			peak = max(peak, p)
			sent += uint64(rep.Copied + rep.Deleted)
			bytes += wire.n.Load() - before
		}
		b.ReportMetric(float64(sent)/float64(b.N)/benchDiffering, "sent/differing")
		b.ReportMetric(float64(bytes)/float64(b.N)/(1<<20), "wire-MB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	})
	b.Run("copy-whole-shard", func(b *testing.B) {
		var sent, peak uint64
		src, dst := f.c.nodes[0], f.c.nodes[1]
		before := wire.n.Load()
		for range b.N {
			p := heapPeak(func() {
				n, err := copyWholeShard(testCtx(b), src, dst, "bench", "id", 0)
				if err != nil {
					b.Fatal(err)
				}
				sent += uint64(n)
			})
			peak = max(peak, p)
		}
		b.ReportMetric(float64(sent)/float64(b.N)/benchDiffering, "sent/differing")
		b.ReportMetric(float64(wire.n.Load()-before)/float64(b.N)/(1<<20), "wire-MB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	})
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

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.n.Add(int64(k))
	return k, err
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
