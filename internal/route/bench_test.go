package route

import (
	"encoding/json"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

var words = strings.Fields("le café crème naïve façade über straße 東京 タワー search engine fast relevant typo tolerant " +
	"sharding replica quorum document index mirror réplica Ελληνικά данные поиск ñandú emoji 🚀 lorem ipsum dolor sit amet")

// genDoc writes one realistic document: nested objects, arrays, numbers,
// unicode and escapes. descWords tunes the size (~300 B at 12, ~1 KB at 90).
func genDoc(dst []byte, i, descWords int) []byte {
	w := func(k int) string { return words[(i*7+k*13)%len(words)] }
	dst = append(dst, `{"id":"doc-`...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, `","title":"`+w(1)+" "+w(2)+" "+w(3)+`","description":"`...)
	for k := 0; k < descWords; k++ {
		if k > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, w(k+4)...)
	}
	dst = append(dst, ` \"quoted\"\n","price":`...)
	dst = strconv.AppendFloat(dst, float64(i%1000)+0.99, 'f', 2, 64)
	dst = append(dst, `,"rating":4.5,"inStock":`...)
	dst = strconv.AppendBool(dst, i%3 == 0)
	dst = append(dst, `,"tags":["`+w(5)+`","`+w(6)+`","`+w(7)+`"],"brand":{"name":"`+w(8)+`","country":"FR","dims":{"w":12,"h":3.5,"unit":null}},"createdAt":"2024-05-17T10:00:00Z","views":`...)
	dst = strconv.AppendInt(dst, int64(i*31%100000), 10)
	return append(dst, '}')
}

func genArray(n, descWords int) []byte {
	body := []byte{'['}
	for i := 0; i < n; i++ {
		if i > 0 {
			body = append(body, ',')
		}
		body = genDoc(body, i, descWords)
	}
	return append(body, ']')
}

// targets3 maps 64 shards onto 3 nodes (RF 1), like a 3-node fleet.
func targets3() [][]int {
	t := make([][]int, 64)
	for s := range t {
		t[s] = []int{s % 3}
	}
	return t
}

var benchSizes = []struct {
	name  string
	words int
}{{"300B", 12}, {"1KB", 100}}

// routeAll routes every document of body (a JSON array) into bat.
func routeAll(b *testing.B, body []byte, rt *Router, bat *Batcher, tg [][]int) {
	bat.Reset()
	rd := ArrayBytes(body)
	for {
		r, err := rt.Next(rd, false)
		if err == io.EOF {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
		bat.Add(r.Doc, r.Shard, tg[r.Shard])
	}
}

// baselineAll is what a naive router pays: decode each document into
// map[string]any, add the field, encode it, append it to its node's batch.
func baselineAll(b *testing.B, raws []json.RawMessage, bufs [][]byte) {
	for n := range bufs {
		bufs[n] = append(bufs[n][:0], '[')
	}
	for _, raw := range raws {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			b.Fatal(err)
		}
		shard := Shard([]byte(m["id"].(string)), 64)
		m[ShardField] = shard
		out, err := json.Marshal(m)
		if err != nil {
			b.Fatal(err)
		}
		n := shard % 3
		if len(bufs[n]) > 1 {
			bufs[n] = append(bufs[n], ',')
		}
		bufs[n] = append(bufs[n], out...)
	}
}

// BenchmarkRoute routes 10k documents through validation, shard, inject and
// per-node batching for 3 nodes.
func BenchmarkRoute(b *testing.B) {
	for _, sz := range benchSizes {
		body := genArray(10000, sz.words)
		b.Run(sz.name, func(b *testing.B) {
			tg := targets3()
			rt := &Router{PrimaryKey: "id", Shards: 64}
			bat := NewBatcher(3, FormatJSON)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				routeAll(b, body, rt, bat, tg)
			}
			b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

// BenchmarkRouteFields is BenchmarkRoute with field-name collection on.
func BenchmarkRouteFields(b *testing.B) {
	body := genArray(10000, 12)
	tg := targets3()
	rt := &Router{PrimaryKey: "id", Shards: 64, Fields: map[string]struct{}{}}
	bat := NewBatcher(3, FormatJSON)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		routeAll(b, body, rt, bat, tg)
	}
}

// BenchmarkBaselineDecodeEncode is what a naive router pays: decode each
// document into map[string]any, add the field, encode it, batch it.
func BenchmarkBaselineDecodeEncode(b *testing.B) {
	for _, sz := range benchSizes {
		body := genArray(10000, sz.words)
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			b.Fatal(err)
		}
		b.Run(sz.name, func(b *testing.B) {
			bufs := make([][]byte, 3)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				baselineAll(b, raws, bufs)
			}
			b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

func BenchmarkSplitArray(b *testing.B) {
	body := genArray(10000, 12)
	b.SetBytes(int64(len(body)))
	var dst [][]byte
	for b.Loop() {
		dst, _ = SplitArray(body, dst[:0])
	}
}

func BenchmarkJSONValid(b *testing.B) {
	body := genArray(10000, 12)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		json.Valid(body)
	}
}

// ndjsonSource generates size bytes of NDJSON on the fly, so the input is
// never held in memory.
type ndjsonSource struct {
	left int
	i    int
	buf  []byte // reused backing array
	pend []byte // unread part of buf
}

func (s *ndjsonSource) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(s.pend) == 0 {
			if s.left <= 0 {
				if n == 0 {
					return 0, io.EOF
				}
				return n, nil
			}
			s.buf = append(genDoc(s.buf[:0], s.i, 60), '\n')
			s.pend = s.buf
			s.i++
			s.left -= len(s.pend)
		}
		k := copy(p[n:], s.pend)
		s.pend = s.pend[k:]
		n += k
	}
	return n, nil
}

// streamNDJSON routes size bytes of NDJSON in batches of maxBatch bytes per
// node and returns the peak heap seen and the document count.
func streamNDJSON(tb testing.TB, size, maxBatch int) (peak uint64, docs int) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	tg := targets3()
	rt := &Router{PrimaryKey: "id", Shards: 64}
	bat := NewBatcher(3, FormatNDJSON)
	rd := NewNDJSONReader(&ndjsonSource{left: size})
	sample := func() {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc-min(base, ms.HeapAlloc))
	}
	for {
		r, err := rt.Next(rd, true)
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		bat.AddCopy(r.Doc, r.Shard, tg[r.Shard])
		docs++
		if bat.Full(maxBatch, 0) {
			sample() // the moment memory is at its highest: batches full
			bat.Reset()
		}
	}
	sample()
	return peak, docs
}

// TestStreamBoundedMemory streams 200 MB of NDJSON (generated, never held)
// through reader, router and batcher in 4 MB batches: the heap must stay
// bounded by the batch size, far below the input size.
func TestStreamBoundedMemory(t *testing.T) {
	size := 200 << 20
	if testing.Short() || raceEnabled {
		size = 20 << 20
	}
	peak, docs := streamNDJSON(t, size, 4<<20)
	t.Logf("streamed %d MB (%d docs), peak heap above baseline %.1f MB", size>>20, docs, float64(peak)/(1<<20))
	if peak > 64<<20 {
		t.Fatalf("peak heap %d MB, want < 64 MB", peak>>20)
	}
}

// BenchmarkStreamNDJSON streams 200 MB of NDJSON through reader, router
// and batcher and reports the peak heap above the baseline (target < 64).
func BenchmarkStreamNDJSON(b *testing.B) {
	const size = 200 << 20
	b.SetBytes(size)
	var peak uint64
	for b.Loop() {
		p, _ := streamNDJSON(b, size, 4<<20)
		peak = max(peak, p)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

func TestGenDocValid(t *testing.T) {
	d := genDoc(nil, 5, 12)
	var m map[string]any
	if err := json.Unmarshal(d, &m); err != nil {
		t.Fatal(err, string(d))
	}
	if l := len(genDoc(nil, 5, 100)); l < 900 || l > 1300 {
		t.Fatalf("1KB doc is %d bytes", l)
	}
	if l := len(d); l < 250 || l > 450 {
		t.Fatalf("300B doc is %d bytes", l)
	}
}

// BenchmarkRouteRatio routes 10k documents (validation, shard, injection,
// per-node batches for 3 nodes) and runs the encoding/json decode+encode
// baseline on the same documents, alternating within one run, and reports
// baseline/route: how many times cheaper routing is (the target is 3).
//
//	go test -run '^$' -bench RouteRatio ./internal/route/
func BenchmarkRouteRatio(b *testing.B) {
	for _, sz := range benchSizes {
		body := genArray(10000, sz.words)
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			b.Fatal(err)
		}
		b.Run(sz.name, func(b *testing.B) {
			tg := targets3()
			rt := &Router{PrimaryKey: "id", Shards: 64}
			bat := NewBatcher(3, FormatJSON)
			bufs := make([][]byte, 3)
			var routeT, baseT time.Duration
			for range b.N {
				t0 := time.Now()
				routeAll(b, body, rt, bat, tg)
				t1 := time.Now()
				baselineAll(b, raws, bufs)
				routeT, baseT = routeT+t1.Sub(t0), baseT+time.Since(t1)
			}
			b.ReportMetric(float64(baseT)/float64(routeT), "baseline/route")
		})
	}
}
