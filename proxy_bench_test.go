package miroir

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// BenchmarkHandlerOverhead measures what proxy mode adds to a call: each
// iteration makes the same call once on the Cluster directly and once
// through Handler (ServeHTTP on a recorder: request parsing, auth, body
// reading, rendering; no network between client and proxy), over three
// in-process meilitest nodes. It reports both times and their ratio,
// measured in the same run:
//
//	go test -run '^$' -bench HandlerOverhead -benchtime 2000x .
func BenchmarkHandlerOverhead(b *testing.B) {
	c := startFleet(b, fleetSpec{groups: []int{0, 0, 0}, shards: 16, nodeKey: "k", timing: newDefaults, opts: []Option{WithHealthCheck(0, 0, 0, 0)}}).c
	h := c.Handler(WithMasterKey("proxy"))
	ctx := context.Background()

	docs := make([]map[string]any, 2000)
	for i := range docs {
		docs[i] = map[string]any{"id": i, "title": fmt.Sprintf("movie %d about %s", i, []string{"love", "war", "space", "crime"}[i%4]), "year": 1950 + i%70, "genre": []string{"drama", "action"}[i%2]}
	}
	ix := c.Index("bench")
	info, err := ix.AddDocuments(ctx, docs, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond); err != nil {
		b.Fatal(err)
	}
	info, err = ix.UpdateSettings(ctx, &meilisearch.Settings{FilterableAttributes: []string{"genre", "year"}, SortableAttributes: []string{"year"}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond); err != nil {
		b.Fatal(err)
	}

	serve := func(method, path string, body []byte) {
		r := httptest.NewRequest(method, path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer proxy")
		if body != nil {
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 300 {
			b.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body.Bytes())
		}
	}
	search := []byte(`{"q":"space","filter":"genre = action","facets":["genre"],"sort":["year:desc"],"limit":20}`)
	batch := func(i int) []byte {
		d := make([]map[string]any, 10)
		for k := range d {
			d[k] = map[string]any{"id": 100000 + (i*10+k)%5000, "title": "new", "year": 2000}
		}
		out, _ := json.Marshal(d)
		return out
	}
	ops := []struct {
		name    string
		direct  func(i int)
		handler func(i int)
	}{
		{"search", func(int) {
			if _, err := c.searchBody(ctx, "bench", search); err != nil {
				b.Fatal(err)
			}
		}, func(int) { serve("POST", "/indexes/bench/search", search) }},
		{"getDocument", func(i int) {
			var doc json.RawMessage
			if err := ix.GetDocument(ctx, fmt.Sprint(i%2000), nil, &doc); err != nil {
				b.Fatal(err)
			}
		}, func(i int) { serve("GET", fmt.Sprintf("/indexes/bench/documents/%d", i%2000), nil) }},
		{"addDocuments", func(i int) {
			if _, err := c.index("bench").writeBytes(ctx, http.MethodPost, kindJSON, batch(i), 0, docParams{}); err != nil {
				b.Fatal(err)
			}
		}, func(i int) { serve("POST", "/indexes/bench/documents", batch(i)) }},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			op.direct(0) // warm both paths
			op.handler(0)
			var direct, proxied time.Duration
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				op.direct(i)
				t1 := time.Now()
				op.handler(i)
				proxied += time.Since(t1)
				direct += t1.Sub(t0)
			}
			b.ReportMetric(float64(direct.Nanoseconds())/float64(b.N), "direct-ns/call")
			b.ReportMetric(float64(proxied.Nanoseconds())/float64(b.N), "handler-ns/call")
			b.ReportMetric(float64(proxied)/float64(direct), "handler/direct")
		})
	}
}
