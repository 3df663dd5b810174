package miroir

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// TestChangeTopologyUnderWrites: while instance A adds a node, instance B
// keeps writing; every write acknowledged is found once afterwards, by A,
// by B and by a Cluster configured with the old list.
func TestChangeTopologyUnderWrites(t *testing.T) {
	for _, rf := range []int{1, 2} {
		t.Run(fmt.Sprintf("rf%d", rf), func(t *testing.T) {
			refresh := WithFleetRefresh(20 * time.Millisecond)
			f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: rf, shards: 16, instant: true, opts: []Option{refresh}})
			ctx := testCtx(t)
			f.create(t, "docs", "id")
			b := f.newCluster(t, WithShards(16), WithReplicationFactor(rf), refresh)
			var mu sync.Mutex
			acked := map[string]bool{}
			write := func(c *Cluster, from, n int) {
				var docs []map[string]any
				for i := from; i < from+n; i++ {
					docs = append(docs, map[string]any{"id": fmt.Sprint(i), "v": i})
				}
				info, err := c.Index("docs").AddDocuments(ctx, docs, nil)
				if err != nil {
					return
				}
				if tk, err := c.WaitForTask(ctx, info.TaskUID, time.Millisecond); err == nil && tk.Status == meilisearch.TaskStatusSucceeded {
					mu.Lock()
					for _, d := range docs {
						acked[d["id"].(string)] = true
					}
					mu.Unlock()
				}
			}
			write(f.c, 0, 200)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 1000; ; i += 10 {
					select {
					case <-stop:
						return
					default:
					}
					write(b, i, 10)
				}
			}()
			extra := meilitest.RunT(t, meilitest.WithTaskDuration(0))
			target := append(slices.Clone(f.nodes), Node{ID: "n3", URL: extra.URL(), Group: 0})
			cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			start := time.Now()
			if err := f.c.ChangeTopology(cctx, target); err != nil {
				t.Fatalf("ChangeTopology: %v", err)
			}
			t.Logf("change took %s", time.Since(start))
			close(stop)
			wg.Wait()
			old := f.newCluster(t, WithShards(16), WithReplicationFactor(rf), refresh)
			for name, c := range map[string]*Cluster{"driver": f.c, "writer": b, "old list": old} {
				var got meilisearch.DocumentsResult
				if err := c.Index("docs").GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 100000, Fields: []string{"id"}}, &got); err != nil {
					t.Fatal(err)
				}
				seen := map[string]int{}
				for _, d := range got.Results {
					seen[string(d["id"])]++
				}
				mu.Lock()
				for id := range acked {
					if seen[`"`+id+`"`] != 1 {
						t.Errorf("%s: acknowledged %s found %d times", name, id, seen[`"`+id+`"`])
					}
				}
				mu.Unlock()
				if got.Total != int64(len(got.Results)) {
					t.Errorf("%s: total %d, %d listed", name, got.Total, len(got.Results))
				}
			}
			v, err := f.c.Verify(ctx, "docs")
			if err != nil || !v.Consistent() {
				t.Fatalf("verify: %v %+v", err, v)
			}
			t.Logf("rf %d: %d acknowledged", rf, len(acked))
		})
	}
}
