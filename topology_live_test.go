package miroir

import (
	"context"
	"encoding/json"
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
	type tc struct {
		name      string
		groups    []int
		rf, newRF int
		target    func(f *testFleet, extra []Node) []Node
	}
	add := func(f *testFleet, extra []Node) []Node { return append(slices.Clone(f.nodes), extra[0]) }
	cases := []tc{
		{"add/rf1", []int{0, 0, 0}, 1, 0, add},
		{"add/rf2", []int{0, 0, 0}, 2, 0, add},
		{"remove", []int{0, 0, 0}, 1, 0, func(f *testFleet, _ []Node) []Node { return f.nodes[:2] }},
		{"add-group", []int{0, 0}, 1, 0, func(f *testFleet, extra []Node) []Node {
			return append(slices.Clone(f.nodes), Node{ID: "g1a", URL: extra[0].URL, Group: 1}, Node{ID: "g1b", URL: extra[1].URL, Group: 1})
		}},
		{"remove-group", []int{0, 0, 1, 1}, 1, 0, func(f *testFleet, _ []Node) []Node { return f.nodes[:2] }},
		{"rf1to2", []int{0, 0, 0}, 1, 2, func(f *testFleet, _ []Node) []Node { return f.nodes }},
	}
	for _, k := range cases {
		rf := k.rf
		t.Run(k.name, func(t *testing.T) {
			refresh := WithFleetRefresh(20 * time.Millisecond)
			f := startFleet(t, fleetSpec{groups: k.groups, rf: rf, shards: 16, instant: true, opts: []Option{refresh}})
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
			var extra []Node
			for i := range 2 {
				srv := meilitest.RunT(t, meilitest.WithTaskDuration(0))
				extra = append(extra, Node{ID: fmt.Sprintf("x%d", i), URL: srv.URL(), Group: 0})
			}
			target := k.target(f, extra)
			driver := f.c
			if k.newRF > 0 {
				driver = f.newCluster(t, WithShards(16), WithReplicationFactor(k.newRF), refresh)
			}
			cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			start := time.Now()
			if err := driver.ChangeTopology(cctx, target); err != nil {
				t.Fatalf("ChangeTopology: %v", err)
			}
			t.Logf("change took %s", time.Since(start))
			close(stop)
			wg.Wait()
			old := f.newCluster(t, WithShards(16), WithReplicationFactor(rf), refresh)
			if top := old.Topology(); top.Change != nil {
				t.Fatalf("a change is still recorded: %+v", top.Change)
			}
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
			top := f.c.Topology()
			held := map[string][]int{}
			for _, n := range top.Nodes {
				held[n.URL] = n.Shards
			}
			urls := []string{}
			for _, n := range append(slices.Clone(f.nodes), extra...) {
				urls = append(urls, n.URL)
			}
			copies := map[string]int{}
			for _, u := range urls {
				var got meilisearch.DocumentsResult
				err := meilisearch.New(u).Index("docs").GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 100000, Fields: []string{"id"}}, &got)
				if err != nil {
					continue // a node that never held the index
				}
				for _, d := range got.Results {
					var id string
					_ = json.Unmarshal(d["id"], &id)
					copies[id]++
					if !slices.Contains(held[u], ShardOf(id, 16)) {
						t.Fatalf("node %s holds %s of shard %d, not one of its shards %v", u, id, ShardOf(id, 16), held[u])
					}
				}
			}
			for id, n := range copies {
				if n != top.ReplicationFactor*top.Groups {
					t.Fatalf("document %s has %d copies, want %d", id, n, top.ReplicationFactor*top.Groups)
				}
			}
			t.Logf("%s: %d acknowledged, epoch %d", k.name, len(acked), f.c.Topology().Epoch)
		})
	}
}
