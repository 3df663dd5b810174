package miroir

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/merge"
)

// Merge cost (DESIGN §10): merging K node responses of L hits each into
// the caller's L hits, against meilisearch-go decoding one response of K×L
// hits (what a client of a single node holding everything pays to read the
// same number of hits). Run:
//
//	go test -run '^$' -bench 'Merge|DecodeBaseline' -benchmem .
//	MIROIR_BENCH=1 go test -run TestMergeCostRatio -v .   (ratios table)

// benchHits returns n hit objects with descending scores.
func benchHits(r *rand.Rand, n, shard int, base int) [][]byte {
	out := make([][]byte, n)
	score := 1.0
	for i := range out {
		score -= r.Float64() / float64(n+1)
		d := genDocs(1, uint64(base+i))[0]
		d["id"] = base + i
		d[shardField] = shard
		d["_rankingScore"] = score
		b, _ := json.Marshal(d)
		out[i] = b
	}
	return out
}

func benchResponse(hits [][]byte, total int) []byte {
	var b strings.Builder
	b.WriteString(`{"hits":[`)
	for i, h := range hits {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(h)
	}
	fmt.Fprintf(&b, `],"query":"river","processingTimeMs":3,"limit":%d,"offset":0,"estimatedTotalHits":%d}`, len(hits), total)
	return []byte(b.String())
}

// mergeFixture is K node responses of L hits and the same hits as one
// response.
type mergeFixture struct {
	nodes [][]byte
	one   []byte
	plan  *searchPlan
}

func newMergeFixture(k, l int) *mergeFixture {
	r := rand.New(rand.NewPCG(uint64(k), uint64(l)))
	f := &mergeFixture{}
	var all [][]byte
	for i := 0; i < k; i++ {
		hits := benchHits(r, l, i, i*l)
		all = append(all, hits...)
		f.nodes = append(f.nodes, benchResponse(hits, 10*l))
	}
	f.one = benchResponse(all, 10*l*k)
	q, err := parseSearchQuery([]byte(`{"q":"river","limit":` + strconv.Itoa(l) + `}`))
	if err != nil {
		panic(err)
	}
	f.plan = newSearchPlan(q, mergeSettingsFrom(nil), func() []string { return nil }, 1, "")
	return f
}

func (f *mergeFixture) merge() (*mergedSearch, error) {
	resps := make([]*merge.Response, len(f.nodes))
	for i, b := range f.nodes {
		r, err := merge.ParseResponse(b)
		if err != nil {
			return nil, err
		}
		resps[i] = r
	}
	return f.plan.mergeAnswers(resps, nil)
}

var benchShapes = []struct{ k, l int }{{3, 20}, {8, 20}, {32, 20}, {3, 1000}, {8, 1000}, {32, 1000}}

func benchMergeRaw(f *mergeFixture) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(f.one)))
		var buf []byte
		for b.Loop() {
			ms, err := f.merge()
			if err != nil {
				b.Fatal(err)
			}
			buf = ms.appendJSON(buf[:0], "")
		}
	}
}

func benchMergeTyped(f *mergeFixture) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(f.one)))
		for b.Loop() {
			ms, err := f.merge()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ms.response(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func benchDecode(f *mergeFixture) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(f.one)))
		for b.Loop() {
			var resp meilisearch.SearchResponse
			if err := json.Unmarshal(f.one, &resp); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkMerge(b *testing.B) {
	for _, s := range benchShapes {
		f := newMergeFixture(s.k, s.l)
		b.Run(fmt.Sprintf("K=%d/L=%d/raw", s.k, s.l), benchMergeRaw(f))
		b.Run(fmt.Sprintf("K=%d/L=%d/typed", s.k, s.l), benchMergeTyped(f))
	}
}

func BenchmarkDecodeBaseline(b *testing.B) {
	for _, s := range benchShapes {
		f := newMergeFixture(s.k, s.l)
		b.Run(fmt.Sprintf("K=%d/L=%d", s.k, s.l), benchDecode(f))
	}
}

// TestMergeCostRatio measures merge against the decode baseline in one run
// and fails above 1.5×. It runs only with MIROIR_BENCH=1.
func TestMergeCostRatio(t *testing.T) {
	if os.Getenv("MIROIR_BENCH") == "" {
		t.Skip("set MIROIR_BENCH=1")
	}
	t.Logf("%-14s %14s %14s %14s %8s %8s", "shape", "decode ns/op", "merge raw", "merge typed", "raw ×", "typed ×")
	for _, s := range benchShapes {
		f := newMergeFixture(s.k, s.l)
		base := testing.Benchmark(benchDecode(f))
		raw := testing.Benchmark(benchMergeRaw(f))
		typed := testing.Benchmark(benchMergeTyped(f))
		rr := float64(raw.NsPerOp()) / float64(base.NsPerOp())
		tr := float64(typed.NsPerOp()) / float64(base.NsPerOp())
		t.Logf("K=%-2d L=%-6d %14d %14d %14d %8.2f %8.2f", s.k, s.l, base.NsPerOp(), raw.NsPerOp(), typed.NsPerOp(), rr, tr)
		if rr > 1.5 || tr > 1.5 {
			t.Errorf("K=%d L=%d: merge costs %.2f× / %.2f× the decode baseline (budget 1.5×)", s.k, s.l, rr, tr)
		}
	}
}

func TestMergeFixture(t *testing.T) {
	f := newMergeFixture(3, 20)
	ms, err := f.merge()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ms.response()
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Hits) != 20 || resp.EstimatedTotalHits != 600 {
		t.Fatalf("%d hits of %d", len(resp.Hits), resp.EstimatedTotalHits)
	}
	for _, h := range resp.Hits {
		if h["_rankingScore"] != nil || h[shardField] != nil {
			t.Fatal("ranking score or shard field leaked")
		}
	}
	raw := ms.appendJSON(nil, "")
	var back meilisearch.SearchResponse
	if err := json.Unmarshal(raw, &back); err != nil || len(back.Hits) != 20 {
		t.Fatalf("raw merged answer: %v", err)
	}
}
