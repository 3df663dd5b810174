package miroir

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// coreFleet is a Cluster over in-process meilitest nodes.
type coreFleet struct {
	c     *Cluster
	srv   []*meilitest.Server
	nodes []Node
}

// newCoreFleet starts len(groups) nodes, node i in group groups[i], and a
// Cluster over them with fast health checks and no retries.
func newCoreFleet(t testing.TB, groups []int, rf, shards int, opts ...Option) *coreFleet {
	t.Helper()
	return newCoreFleetWith(t, groups, rf, shards, nil, opts...)
}

// newCoreFleetWith is newCoreFleet with options for the nodes.
func newCoreFleetWith(t testing.TB, groups []int, rf, shards int, nodeOpts []meilitest.Option, opts ...Option) *coreFleet {
	t.Helper()
	srv := meilitest.RunCluster(t, len(groups), nodeOpts...)
	nodes := make([]Node, len(groups))
	for i, g := range groups {
		nodes[i] = Node{ID: fmt.Sprintf("n%d", i), URL: srv[i].URL(), Group: g}
	}
	base := []Option{
		WithShards(shards), WithReplicationFactor(rf),
		WithRetries(RetryPolicy{}), WithNodeTimeout(3 * time.Second),
		// A stopped node refuses connections at once; the long probe timeout
		// and threshold 2 keep a busy machine (slow probes) from marking a
		// running node down.
		WithHealthCheck(20*time.Millisecond, 2*time.Second, 2, 1),
	}
	c, err := New(nodes, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &coreFleet{c: c, srv: srv, nodes: nodes}
}

func coreCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wait waits for a cluster task and fails the test unless it has want.
func (f *coreFleet) wait(t testing.TB, info *meilisearch.TaskInfo, want meilisearch.TaskStatus) *meilisearch.Task {
	t.Helper()
	task, err := f.c.WaitForTask(coreCtx(t), info.TaskUID, 5*time.Millisecond)
	if err != nil {
		t.Fatalf("WaitForTask(%d): %v", info.TaskUID, err)
	}
	if task.Status != want {
		t.Fatalf("task %d (%s): status %s, want %s (error %+v)", info.TaskUID, task.Type, task.Status, want, task.Error)
	}
	return task
}

// coreWaitUntil polls cond until it holds or the deadline passes.
func coreWaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop stops node i and waits until the Cluster marks it down.
func (f *coreFleet) stop(t testing.TB, i int) {
	t.Helper()
	f.srv[i].Stop()
	coreWaitUntil(t, "node down", func() bool { return !f.c.nodes[i].isHealthy() })
}

// start restarts node i and waits until the Cluster marks it up.
func (f *coreFleet) start(t testing.TB, i int) {
	t.Helper()
	if err := f.srv[i].Start(); err != nil {
		t.Fatal(err)
	}
	coreWaitUntil(t, "node up", func() bool { return f.c.nodes[i].isHealthy() })
}

// direct returns a plain meilisearch-go client for node i.
func (f *coreFleet) direct(i int) meilisearch.ServiceManager {
	return meilisearch.New(f.srv[i].URL())
}

type coreMovie struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	Year  int    `json:"year"`
}

func coreMovies(n int) []coreMovie {
	out := make([]coreMovie, n)
	for i := range out {
		out[i] = coreMovie{ID: i, Title: fmt.Sprintf("movie %d", i), Year: 1950 + i%70}
	}
	return out
}

func coreItoa(i int) string { return fmt.Sprint(i) }
