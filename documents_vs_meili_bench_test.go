package miroir

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// The write path against meilisearch-go (issue 15): the same call with the
// same input through a Cluster of canned nodes and through meilisearch-go
// to one canned node, alternating in one loop, so the reported ratio is
// the library's own cost. A canned node answers document writes at once
// with a 202 task summary (after reading the body, as a node does) and
// hands every other request to a meilitest node, so index creation and
// verification work as usual.
//
//	go test -run '^$' -bench AddDocumentsVsMeiliGo -benchtime 15x .
//
// Each iteration is one pair of calls; more pairs make the medians
// steadier on a busy machine.

// benchBook is the struct payload: a typical catalogue document.
type benchBook struct {
	ID          int      `json:"id"`
	Title       string   `json:"title"`
	Author      string   `json:"author"`
	Year        int      `json:"year"`
	Price       float64  `json:"price"`
	InStock     bool     `json:"inStock"`
	Tags        []string `json:"tags"`
	Description string   `json:"description"`
}

var benchWords = strings.Fields("le café crème naïve façade über straße search engine fast relevant typo tolerant " +
	"sharding replica quorum document index mirror lorem ipsum dolor sit amet consectetur adipiscing elit")

// makeBooks builds n books whose JSON is about size bytes each.
func makeBooks(n, size int) []benchBook {
	books := make([]benchBook, n)
	for i := range books {
		var d strings.Builder
		for k := 0; d.Len() < size-200; k++ {
			if k > 0 {
				d.WriteByte(' ')
			}
			d.WriteString(benchWords[(i*7+k*13)%len(benchWords)])
		}
		books[i] = benchBook{
			ID: i, Title: "book " + strconv.Itoa(i) + " " + benchWords[i%len(benchWords)],
			Author: benchWords[(i*3)%len(benchWords)] + " " + benchWords[(i*5)%len(benchWords)],
			Year:   1900 + i%120, Price: float64(i%1000) + 0.99, InStock: i%3 == 0,
			Tags:        []string{benchWords[i%7], benchWords[i%11], "tag-" + strconv.Itoa(i%50)},
			Description: d.String(),
		}
	}
	return books
}

// benchPayload is one set of documents in every input form.
type benchPayload struct {
	structs []benchBook
	maps    []map[string]any
	raw     []byte
	ndjson  []byte
	csv     []byte
}

func makePayload(tb testing.TB, n, size int) *benchPayload {
	p := &benchPayload{structs: makeBooks(n, size)}
	var err error
	if p.raw, err = json.Marshal(p.structs); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(p.raw, &p.maps); err != nil {
		tb.Fatal(err)
	}
	var nd bytes.Buffer
	enc := json.NewEncoder(&nd)
	for _, s := range p.structs {
		if err := enc.Encode(s); err != nil {
			tb.Fatal(err)
		}
	}
	p.ndjson = nd.Bytes()
	var cb bytes.Buffer
	cw := csv.NewWriter(&cb)
	_ = cw.Write([]string{"id:number", "title", "author", "year:number", "price:number", "inStock:boolean", "tags", "description"})
	for _, s := range p.structs {
		_ = cw.Write([]string{strconv.Itoa(s.ID), s.Title, s.Author, strconv.Itoa(s.Year),
			strconv.FormatFloat(s.Price, 'f', -1, 64), strconv.FormatBool(s.InStock), strings.Join(s.Tags, ","), s.Description})
	}
	cw.Flush()
	p.csv = cb.Bytes()
	return p
}

// cannedNode answers POST/PUT /indexes/{uid}/documents with an immediate
// 202 and passes everything else to next.
func cannedNode(tb testing.TB, next http.Handler) *httptest.Server {
	var uid atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodPost || r.Method == http.MethodPut) && strings.HasPrefix(r.URL.Path, "/indexes/") &&
			strings.HasSuffix(r.URL.Path, "/documents") {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			ix := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/indexes/"), "/documents")
			fmt.Fprintf(w, `{"taskUid":%d,"indexUid":%q,"status":"enqueued","type":"documentAdditionOrUpdate","enqueuedAt":"2025-01-01T00:00:00Z"}`, uid.Add(1), ix)
			return
		}
		next.ServeHTTP(w, r)
	})
	s := httptest.NewServer(h)
	tb.Cleanup(s.Close)
	return s
}

// benchFleet is a Cluster of n canned nodes next to one canned node for
// meilisearch-go, both with the index "books" (primary key id) in place.
type benchFleet struct {
	c     *Cluster
	ix    *Index
	meili meilisearch.IndexManager
}

func newBenchFleet(tb testing.TB, n int) *benchFleet {
	ctx := context.Background()
	var nodes []Node
	for i, s := range meilitest.RunCluster(tb, n, meilitest.WithTaskDuration(0)) {
		nodes = append(nodes, Node{ID: fmt.Sprint("n", i), URL: cannedNode(tb, s.Handler()).URL})
	}
	c, err := New(nodes, WithShards(64), WithReplicationFactor(1), WithHealthCheck(time.Second, time.Second, 0, 0))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	f := &benchFleet{c: c, ix: c.index("books")}
	pk := "id"
	if _, err := f.ix.AddDocuments(ctx, []byte(`[{"id":0}]`), &meilisearch.DocumentOptions{PrimaryKey: &pk}); err != nil {
		tb.Fatal(err) // creates the index and fixes its primary key
	}
	one, _ := startRef(tb, meilitest.WithTaskDuration(0))
	f.meili = meilisearch.New(cannedNode(tb, one.Handler()).URL).Index("books")
	return f
}

// benchCall is one write call through either side.
type benchCall func(ctx context.Context, ix meilisearch.IndexManager) error

// benchForms are the input forms of the comparison; every call is the
// same method with the same argument on both sides. The payload is made
// on first use.
func benchForms(payload func() *benchPayload) []struct {
	name string
	call benchCall
} {
	ret := func(_ *meilisearch.TaskInfo, err error) error { return err }
	return []struct {
		name string
		call benchCall
	}{
		{"structs", func(ctx context.Context, ix meilisearch.IndexManager) error {
			return ret(ix.AddDocuments(ctx, payload().structs, nil))
		}},
		{"maps", func(ctx context.Context, ix meilisearch.IndexManager) error {
			return ret(ix.AddDocuments(ctx, payload().maps, nil))
		}},
		{"raw-json", func(ctx context.Context, ix meilisearch.IndexManager) error {
			return ret(ix.AddDocuments(ctx, payload().raw, nil))
		}},
		{"ndjson", func(ctx context.Context, ix meilisearch.IndexManager) error {
			return ret(ix.AddDocumentsNdjson(ctx, payload().ndjson, nil))
		}},
		{"csv", func(ctx context.Context, ix meilisearch.IndexManager) error {
			return ret(ix.AddDocumentsCsv(ctx, payload().csv, nil))
		}},
		{"update-structs", func(ctx context.Context, ix meilisearch.IndexManager) error {
			return ret(ix.UpdateDocuments(ctx, payload().structs, nil))
		}},
		// A streamed reader: miroir routes it in bounded batches,
		// meilisearch-go reads it whole first.
		{"ndjson-reader", func(ctx context.Context, ix meilisearch.IndexManager) error {
			return ret(ix.AddDocumentsNdjsonFromReader(ctx, bytes.NewReader(payload().ndjson), nil))
		}},
	}
}

// sample is what one call cost.
type sample struct {
	wall, cpu     time.Duration
	bytes, allocs uint64
}

// measure runs call once, on a freshly collected heap so that neither
// side pays for the other's garbage (nor for its own: that favours the
// side allocating more, meilisearch-go, whose bytes per document are
// reported beside). cpu is the process's CPU time (user
// and system, all goroutines: the canned nodes' share is the same on both
// sides for the same bytes), which other processes on the machine do not
// inflate the way they inflate wall time.
func measure(tb testing.TB, call func() error) sample {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	c0 := cpuTime()
	t0 := time.Now()
	if err := call(); err != nil {
		tb.Fatal(err)
	}
	d := time.Since(t0)
	c := cpuTime() - c0
	runtime.ReadMemStats(&m1)
	return sample{d, c, m1.TotalAlloc - m0.TotalAlloc, m1.Mallocs - m0.Mallocs}
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAddDocumentsVsMeiliGo reports, per input form, document size
// and fleet size (S 64, RF 1), miroir's time over meilisearch-go's for the
// same call ("x-meili", the target is <= 1.3; "x-meili-cpu" for CPU time)
// and the bytes and allocations per document on both sides. The version
// sub-benchmarks compare AddDocuments with and without the _miroir_v
// injection (issue 12) on the same Cluster ("x-unversioned").
func BenchmarkAddDocumentsVsMeiliGo(b *testing.B) {
	ctx := context.Background()
	fleets := map[int]*benchFleet{}
	fleet := func(n int) *benchFleet { // made on first use, for the whole run
		if fleets[n] == nil {
			fleets[n] = newBenchFleet(b, n)
		}
		return fleets[n]
	}
	for _, sz := range []struct {
		name       string
		docs, size int
	}{{"1KB", 10000, 1000}, {"10KB", 1000, 10000}} {
		var p *benchPayload
		payload := func() *benchPayload {
			if p == nil {
				p = makePayload(b, sz.docs, sz.size)
			}
			return p
		}
		for _, nn := range []int{3, 8} {
			for _, form := range benchForms(payload) {
				b.Run(fmt.Sprintf("%s/%s/%dnodes", form.name, sz.name, nn), func(b *testing.B) {
					f := fleet(nn)
					compareWrite(b, sz.docs, "meili",
						func() error { return form.call(ctx, f.meili) },
						func() error { return form.call(ctx, f.ix) })
				})
			}
		}
		for _, form := range benchForms(payload)[:3] {
			if form.name != "structs" && form.name != "raw-json" {
				continue
			}
			b.Run(fmt.Sprintf("version/%s/%s/3nodes", form.name, sz.name), func(b *testing.B) {
				f := fleet(3)
				defer func() { f.c.unversioned = false }()
				// Before issue 12: no _miroir_v. After: each write's
				// reserved task uid injected into every document.
				compareWrite(b, sz.docs, "unversioned",
					func() error { f.c.unversioned = true; return form.call(ctx, f.ix) },
					func() error { f.c.unversioned = false; return form.call(ctx, f.ix) })
			})
		}
		p = nil // let the payload go before the next size
	}
}

// compareWrite runs base and cand b.N times each, in pairs (after one
// warm-up call of each), alternating which goes first so that neither
// always runs on a cooler machine. It reports the median over the pairs
// of cand/base wall time ("x-<baseName>": a pair runs under the same
// machine load, and the median ignores a pair hit by a burst of another
// process) and of cand/base CPU time ("x-<baseName>-cpu"), the mean wall
// times, and both sides' memory per document.
func compareWrite(b *testing.B, docs int, baseName string, base, cand func() error) {
	if err := base(); err != nil {
		b.Fatal(err)
	}
	if err := cand(); err != nil {
		b.Fatal(err)
	}
	var bs, cs sample
	var wall, cpu []float64
	b.ResetTimer()
	for i := range b.N {
		var x, y sample
		if i%2 == 0 {
			x = measure(b, base)
			y = measure(b, cand)
		} else {
			y = measure(b, cand)
			x = measure(b, base)
		}
		bs = sample{bs.wall + x.wall, bs.cpu + x.cpu, bs.bytes + x.bytes, bs.allocs + x.allocs}
		cs = sample{cs.wall + y.wall, cs.cpu + y.cpu, cs.bytes + y.bytes, cs.allocs + y.allocs}
		wall = append(wall, float64(y.wall)/float64(x.wall))
		cpu = append(cpu, float64(y.cpu)/float64(max(x.cpu, 1)))
	}
	n := float64(b.N * docs)
	b.ReportMetric(median(wall), "x-"+baseName)
	b.ReportMetric(median(cpu), "x-"+baseName+"-cpu")
	b.ReportMetric(float64(cs.wall.Microseconds())/1e3/float64(b.N), "miroir-ms")
	b.ReportMetric(float64(bs.wall.Microseconds())/1e3/float64(b.N), baseName+"-ms")
	b.ReportMetric(float64(cs.bytes)/n, "miroir-B/doc")
	b.ReportMetric(float64(cs.allocs)/n, "miroir-allocs/doc")
	b.ReportMetric(float64(bs.bytes)/n, baseName+"-B/doc")
	b.ReportMetric(float64(bs.allocs)/n, baseName+"-allocs/doc")
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (m + xs[len(xs)/2-1]) / 2
	}
	return m
}
