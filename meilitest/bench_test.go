package meilitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"strings"
	"testing"
)

// These benchmarks measure meilitest's own cost over HTTP, so that cluster
// benchmarks running on meilitest fleets know the floor the fake sets:
//
//	go test -run '^$' -bench 'HTTP100k' -benchtime 3x ./meilitest/

var benchWords = func() []string {
	rng := rand.New(rand.NewSource(7))
	w := make([]string, 5000)
	for i := range w {
		var sb strings.Builder
		for j := 0; j < 4+rng.Intn(6); j++ {
			sb.WriteByte(byte('a' + rng.Intn(26)))
		}
		w[i] = sb.String()
	}
	return w
}()

// smallDocs returns n small documents (id, title of 3-8 words, price, tag)
// as JSON batches of batch documents.
func smallDocs(n, batch int) [][]byte {
	rng := rand.New(rand.NewSource(1))
	var out [][]byte
	for start := 0; start < n; start += batch {
		docs := make([]map[string]any, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			var t []string
			for j := 0; j < 3+rng.Intn(6); j++ {
				t = append(t, benchWords[rng.Intn(len(benchWords))])
			}
			docs = append(docs, map[string]any{"id": i, "title": strings.Join(t, " "), "price": rng.Intn(1000), "tag": benchWords[rng.Intn(20)]})
		}
		b, _ := json.Marshal(docs)
		out = append(out, b)
	}
	return out
}

func post(b *testing.B, url string, body []byte) {
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		b.Fatalf("POST %s: %d", url, resp.StatusCode)
	}
}

func BenchmarkIndexHTTP100k(b *testing.B) {
	batches := smallDocs(100_000, 10_000)
	size := 0
	for _, x := range batches {
		size += len(x)
	}
	b.SetBytes(int64(size))
	for b.Loop() {
		srv, err := NewServer(WithTaskDuration(0))
		if err != nil {
			b.Fatal(err)
		}
		for _, body := range batches {
			post(b, srv.URL()+"/indexes/bench/documents", body)
		}
		if err := srv.WaitIdle(context.Background()); err != nil {
			b.Fatal(err)
		}
		srv.Close()
	}
	b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "docs/s")
}

func BenchmarkSearchHTTP100k(b *testing.B) {
	srv, err := NewServer(WithTaskDuration(0))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	post(b, srv.URL()+"/indexes/bench/settings/filterable-attributes", []byte(`["tag","price"]`))
	for _, body := range smallDocs(100_000, 10_000) {
		post(b, srv.URL()+"/indexes/bench/documents", body)
	}
	if err := srv.WaitIdle(context.Background()); err != nil {
		b.Fatal(err)
	}
	queries := map[string]string{
		"placeholder":   `{"q":""}`,
		"one-word":      fmt.Sprintf(`{"q":%q}`, benchWords[3]),
		"two-words":     fmt.Sprintf(`{"q":"%s %s"}`, benchWords[3], benchWords[10]),
		"typo":          fmt.Sprintf(`{"q":%q}`, "x"+benchWords[3][1:]),
		"filter+facets": fmt.Sprintf(`{"q":%q,"filter":"price < 500","facets":["tag"]}`, benchWords[3]),
	}
	post(b, srv.URL()+"/indexes/bench/search", []byte(`{"q":"warm"}`)) // build caches
	for name, q := range queries {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				post(b, srv.URL()+"/indexes/bench/search", []byte(q))
			}
		})
	}
}
