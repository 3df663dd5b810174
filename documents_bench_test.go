package miroir

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// benchDocs builds n JSON documents of about 1 KB.
func benchDocs(n int) []byte {
	pad := strings.Repeat("lorem ipsum dolor sit amet ", 34)
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"title":"book %d","year":%d,"tags":["a","b"],"description":%q}`, i, i, 1900+i%120, pad)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// BenchmarkWriteE2E compares one AddDocuments call of 1000 ~1 KB documents
// through a Cluster of three in-process nodes (routing, injection, three
// parallel requests, cluster task) with meilisearch-go sending the same
// bytes to one node. Nodes index asynchronously; the benchmark measures the
// call, as an application sees it.
func BenchmarkWriteE2E(b *testing.B) {
	body := benchDocs(1000)
	ctx := context.Background()
	b.Run("meilisearch-go-1-node", func(b *testing.B) {
		srv, _ := startRef(b, meilitest.WithTaskDuration(0))
		ix := meilisearch.New(srv.URL()).Index("books")
		b.SetBytes(int64(len(body)))
		b.ResetTimer()
		for b.Loop() {
			if _, err := ix.AddDocuments(ctx, body, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		_ = srv.WaitIdle(ctx)
	})
	b.Run("miroir-3-nodes", func(b *testing.B) {
		fl := startFleet(b, fleetSpec{groups: []int{0, 0, 0}, shards: 64, instant: true, timing: newDefaults, opts: []Option{WithHealthCheck(time.Second, time.Second, 0, 0)}})
		c, srv := fl.c, fl.srv
		ix := c.index("books")
		if _, err := ix.AddDocuments(ctx, body, nil); err != nil { // creates the index
			b.Fatal(err)
		}
		b.SetBytes(int64(len(body)))
		b.ResetTimer()
		for b.Loop() {
			if _, err := ix.AddDocuments(ctx, body, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		for _, s := range srv {
			_ = s.WaitIdle(ctx)
		}
	})
}
