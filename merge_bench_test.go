package miroir

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/merge"
)

// Merge cost (DESIGN §10): merging K node responses of L hits each into
// the caller's L hits, against meilisearch-go decoding one response of K×L
// hits (what a client of a single node holding everything pays to read the
// same number of hits). Run:
//
//	go test -run '^$' -bench 'Merge|DecodeBaseline' -benchmem .
//	go test -run '^$' -bench MergeRatio .   (ratios, measured in one run)

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

// BenchmarkMergeRatio runs, per shape and in one benchmark, the baseline
// decode and both merges the same number of times, and reports the
// merges' cost as multiples of the decode (metrics raw/decode and
// typed/decode; the read path's budget is 1.5). Interleaving the three in
// one run keeps the ratio honest on a loaded machine.
func BenchmarkMergeRatio(b *testing.B) {
	for _, s := range benchShapes {
		f := newMergeFixture(s.k, s.l)
		b.Run(fmt.Sprintf("K=%d/L=%d", s.k, s.l), func(b *testing.B) {
			var dec, raw, typed time.Duration
			var buf []byte
			for range b.N {
				t0 := time.Now()
				var resp meilisearch.SearchResponse
				if err := json.Unmarshal(f.one, &resp); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				ms, err := f.merge()
				if err != nil {
					b.Fatal(err)
				}
				buf = ms.appendJSON(buf[:0], "")
				t2 := time.Now()
				ms, err = f.merge()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := ms.response(); err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				dec, raw, typed = dec+t1.Sub(t0), raw+t2.Sub(t1), typed+t3.Sub(t2)
			}
			b.ReportMetric(float64(raw)/float64(dec), "raw/decode")
			b.ReportMetric(float64(typed)/float64(dec), "typed/decode")
		})
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
