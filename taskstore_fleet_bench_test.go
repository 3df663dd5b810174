package miroir_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir"
)

// BenchmarkFleetTaskStoreRatio measures what the fleet task store
// (WithFleetTaskStore) costs against the default in-memory store. Two
// fleets of three in-process nodes, one Cluster each (one per store), run
// the same operation alternately in one loop, so machine load hits both:
//
//   - write: one one-document AddDocuments;
//   - write8: eight concurrent one-document writes on eight indexes (writes
//     to one index keep their order, so only writes to different indexes
//     overlap; their store writes are batched by the group commit);
//   - get: GetTask of a finished task.
//
// x-time is the median ratio of the fleet side's wall time over the memory
// side's; node-req/op and node-tasks/op are the fleet side's node requests
// and node tasks per call minus the memory side's (per write of write8).
//
//	go test -run '^$' -bench FleetTaskStoreRatio -benchtime 300x .
func BenchmarkFleetTaskStoreRatio(b *testing.B) {
	for _, op := range []string{"write", "write8", "get"} {
		b.Run(op, func(b *testing.B) {
			ctx := context.Background()
			mem, fleet := newBenchSide(b, false), newBenchSide(b, true)
			var uidMem, uidFleet int64
			if op == "get" {
				uidMem, uidFleet = mem.finishedTask(b), fleet.finishedTask(b)
			}
			run := func(s *benchSide, uid int64, i int) time.Duration {
				start := time.Now()
				switch op {
				case "write":
					if _, err := s.c.Index(benchIndex(0)).AddDocuments(ctx, ftDocs(i, 1), nil); err != nil {
						b.Fatal(err)
					}
				case "write8":
					var wg sync.WaitGroup
					for w := range 8 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							if _, err := s.c.Index(benchIndex(w)).AddDocuments(ctx, ftDocs(i, 1), nil); err != nil {
								b.Error(err)
							}
						}()
					}
					wg.Wait()
				case "get":
					if _, err := s.c.GetTask(ctx, uid); err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(start)
			}
			mem.reset(b)
			fleet.reset(b)
			ratios := make([]float64, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				m := run(mem, uidMem, i)
				f := run(fleet, uidFleet, i)
				ratios = append(ratios, float64(f)/float64(m))
			}
			b.StopTimer()
			sort.Float64s(ratios)
			calls := float64(b.N)
			if op == "write8" {
				calls *= 8
			}
			mr, mt := mem.counts(b)
			fr, ft := fleet.counts(b)
			b.ReportMetric(ratios[len(ratios)/2], "x-time")
			b.ReportMetric(float64(fr-mr)/calls, "node-req/op")
			b.ReportMetric(float64(ft-mt)/calls, "node-tasks/op")
		})
	}
}

// benchSide is one fleet and its Cluster, counting the node requests and
// node tasks since reset.
type benchSide struct {
	c     *miroir.Cluster
	urls  []string
	reqs  atomic.Int64
	tasks int64
}

func newBenchSide(b *testing.B, fleet bool) *benchSide {
	srv, nodes := ftFleet(b, 3)
	var opts []miroir.Option
	if fleet {
		opts = append(opts, miroir.WithFleetTaskStore())
	}
	s := &benchSide{c: ftInstance(b, nodes, opts...)}
	ctx := context.Background()
	for w := range 8 {
		ftWait(b, s.c, ftMust(b)(s.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: benchIndex(w), PrimaryKey: "id"})), meilisearch.TaskStatusSucceeded)
	}
	for _, n := range srv {
		s.urls = append(s.urls, n.URL())
		b.Cleanup(n.FailRequests(func(r *http.Request) bool {
			if r.URL.Path != "/health" {
				s.reqs.Add(1)
			}
			return false
		}, 500, "internal"))
	}
	return s
}

// finishedTask writes one document and waits for its task.
func (s *benchSide) finishedTask(b *testing.B) int64 {
	uid := ftMust(b)(s.c.Index(benchIndex(0)).AddDocuments(context.Background(), ftDocs(0, 1), nil))
	ftWait(b, s.c, uid, meilisearch.TaskStatusSucceeded)
	return uid
}

func (s *benchSide) nodeTasks(b *testing.B) int64 {
	var n int64
	for _, u := range s.urls {
		res, err := meilisearch.New(u).GetTasks(context.Background(), &meilisearch.TasksQuery{Limit: 1})
		if err != nil {
			b.Fatal(err)
		}
		n += res.Total
	}
	return n
}

func (s *benchSide) reset(b *testing.B) {
	s.tasks = s.nodeTasks(b)
	s.reqs.Store(0)
}

// counts returns the node requests and node tasks since reset.
func (s *benchSide) counts(b *testing.B) (reqs, tasks int64) {
	reqs = s.reqs.Load()
	return reqs, s.nodeTasks(b) - s.tasks
}

func benchIndex(w int) string { return fmt.Sprintf("docs%d", w) }
