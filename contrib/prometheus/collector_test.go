package miroirprometheus_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir"
	miroirprometheus "github.com/miroirsearch/miroir/contrib/prometheus"
	"github.com/miroirsearch/miroir/meilitest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fleet is two meilitest nodes, one per replica group, under a Cluster
// observed by a Collector registered on its own registry.
type fleet struct {
	srv []*meilitest.Server
	c   *miroir.Cluster
	col *miroirprometheus.Collector
	reg *prometheus.Registry
}

func startFleet(t *testing.T, opts ...miroirprometheus.Option) *fleet {
	t.Helper()
	srv := meilitest.RunCluster(t, 2, meilitest.WithTaskDuration(0))
	col := miroirprometheus.NewCollector(opts...)
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	c, err := miroir.New([]miroir.Node{{ID: "n0", URL: srv[0].URL(), Group: 0}, {ID: "n1", URL: srv[1].URL(), Group: 1}},
		miroir.WithShards(4), miroir.WithRetries(miroir.RetryPolicy{}), miroir.WithObserver(col),
		miroir.WithHealthCheck(20*time.Millisecond, 2*time.Second, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	col.SetCluster(c)
	return &fleet{srv: srv, c: c, col: col, reg: reg}
}

// wait waits for a cluster task to reach want.
func (f *fleet) wait(t *testing.T, info *meilisearch.TaskInfo, err error, want meilisearch.TaskStatus) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	task, err := f.c.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != want {
		t.Fatalf("task %d: %s, want %s (%+v)", info.TaskUID, task.Status, want, task.Error)
	}
}

// stop stops node i and waits until the Cluster marks it down.
func (f *fleet) stop(t *testing.T, i int) {
	t.Helper()
	f.srv[i].Stop()
	deadline := time.Now().Add(30 * time.Second)
	for f.c.Topology().Nodes[i].Healthy {
		if time.Now().After(deadline) {
			t.Fatalf("node %d never marked down", i)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func docs(from, n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"id": from + i, "title": "movie"}
	}
	return out
}

// A scripted workload: writes, searches, a failed settings transaction, a
// stopped node (degraded write), then a node refusing writes (no quorum);
// the collector's call counters follow, by operation, index and outcome.
func TestCollectorWorkload(t *testing.T) {
	f := startFleet(t, miroirprometheus.WithIndexes("movies"))
	ctx := context.Background()
	movies := f.c.Index("movies")
	info, err := movies.AddDocuments(ctx, docs(0, 20), nil)
	f.wait(t, info, err, meilisearch.TaskStatusSucceeded)
	for range 3 {
		if _, err := movies.Search(ctx, "movie", &meilisearch.SearchRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.c.Index("books").Search(ctx, "x", &meilisearch.SearchRequest{}); err == nil {
		t.Fatal("search of a missing index succeeded")
	}
	clear := f.srv[1].FailTasks(func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/settings/ranking-rules")
	}, "internal")
	info, err = movies.UpdateRankingRules(ctx, &[]string{"typo", "words"})
	f.wait(t, info, err, meilisearch.TaskStatusFailed)
	clear()

	f.stop(t, 1)
	info, err = movies.AddDocuments(ctx, docs(20, 5), nil)
	f.wait(t, info, err, meilisearch.TaskStatusSucceeded)
	if _, err := movies.Search(ctx, "movie", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	defer f.srv[0].FailRequests(func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/documents")
	}, http.StatusInternalServerError, "internal")()
	if _, err := movies.AddDocuments(ctx, docs(40, 5), nil); err == nil {
		t.Fatal("a write reaching no node succeeded")
	}

	want := `
# HELP miroir_requests_total Cluster calls, by operation, index and outcome (ok, degraded, no_quorum, unavailable, error).
# TYPE miroir_requests_total counter
miroir_requests_total{index="movies",operation="documentAdditionOrUpdate",outcome="degraded"} 1
miroir_requests_total{index="movies",operation="documentAdditionOrUpdate",outcome="no_quorum"} 1
miroir_requests_total{index="movies",operation="documentAdditionOrUpdate",outcome="ok"} 1
miroir_requests_total{index="movies",operation="search",outcome="ok"} 4
miroir_requests_total{index="movies",operation="settingsUpdate",outcome="ok"} 1
miroir_requests_total{index="other",operation="search",outcome="error"} 1
# HELP miroir_degraded_requests_total Cluster calls that succeeded with reduced redundancy or coverage.
# TYPE miroir_degraded_requests_total counter
miroir_degraded_requests_total{index="movies",operation="documentAdditionOrUpdate"} 1
# HELP miroir_no_quorum_requests_total Writes that failed for lack of quorum.
# TYPE miroir_no_quorum_requests_total counter
miroir_no_quorum_requests_total{index="movies",operation="documentAdditionOrUpdate"} 1
# HELP miroir_settings_rollbacks_total Settings transactions rolled back.
# TYPE miroir_settings_rollbacks_total counter
miroir_settings_rollbacks_total{index="movies"} 1
# HELP miroir_node_healthy 1 when the node is marked healthy, 0 when down.
# TYPE miroir_node_healthy gauge
miroir_node_healthy{node="n0"} 1
miroir_node_healthy{node="n1"} 0
`
	if err := testutil.CollectAndCompare(f.col, strings.NewReader(want),
		"miroir_requests_total", "miroir_degraded_requests_total", "miroir_no_quorum_requests_total",
		"miroir_settings_rollbacks_total", "miroir_node_healthy"); err != nil {
		t.Fatal(err)
	}
	// Every call finished: nothing in flight; every call was timed.
	if got := testutil.ToFloat64(inFlight(t, f.reg, "documentAdditionOrUpdate", "movies")); got != 0 {
		t.Fatalf("in flight %v", got)
	}
	if n := testutil.CollectAndCount(f.col, "miroir_request_duration_seconds"); n != 6 {
		t.Fatalf("%d duration series, want 6 (one per requests_total series)", n)
	}
	// Node figures: n1's requests failed once it stopped.
	if v := testutil.ToFloat64(nodeCounter(t, f.reg, "miroir_node_errors_total", "n1")); v < 1 {
		t.Fatalf("node errors of n1: %v", v)
	}
}

// inFlight returns the in-flight gauge of operation on index.
func inFlight(t *testing.T, reg *prometheus.Registry, op, index string) prometheus.Collector {
	t.Helper()
	return gatheredGauge{reg: reg, name: "miroir_requests_in_flight", labels: map[string]string{"operation": op, "index": index}}
}

func nodeCounter(t *testing.T, reg *prometheus.Registry, name, node string) prometheus.Collector {
	t.Helper()
	return gatheredGauge{reg: reg, name: name, labels: map[string]string{"node": node}, sum: true}
}

// gatheredGauge is one gathered value (summed over series matching labels
// with sum) as a Collector, for testutil.ToFloat64.
type gatheredGauge struct {
	reg    *prometheus.Registry
	name   string
	labels map[string]string
	sum    bool
}

func (g gatheredGauge) Describe(chan<- *prometheus.Desc) {}

func (g gatheredGauge) Collect(ch chan<- prometheus.Metric) {
	mfs, err := g.reg.Gather()
	if err != nil {
		panic(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != g.name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := g.labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue series
				}
			}
			v += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(g.name, "gathered", nil, nil), prometheus.GaugeValue, v)
}

// Events the core emits from other parts (hedged reads, replica marks and
// repair) are counted; a stale replica counts once until it is in sync.
func TestCollectorReplicaAndHedgeEvents(t *testing.T) {
	col := miroirprometheus.NewCollector(miroirprometheus.WithMaxIndexes(1))
	col.HedgeSent("movies", "n0", "n1")
	col.HedgeSent("movies", "n0", "n2")
	col.HedgeWon("movies", "n2")
	col.ReplicaStale("movies", 3, "n1")
	col.ReplicaStale("movies", 3, "n1") // repeated mark
	col.ReplicaStale("movies", 5, "n1")
	col.ReplicaStale("books", 1, "n0") // beyond WithMaxIndexes(1): "other"
	col.ReplicaInSync("movies", 3, "n1")
	col.ReplicaInSync("movies", 9, "n1") // never stale: ignored
	col.RepairCopied("movies", 3, "n1", 12, 2)
	col.DegradedWrite("movies", []miroir.GroupShard{{Group: 1, Shard: 0}, {Group: 1, Shard: 2}})
	col.UnavailableShards("movies", []int{4})
	want := `
# HELP miroir_hedges_sent_total Hedged reads sent to a second replica.
# TYPE miroir_hedges_sent_total counter
miroir_hedges_sent_total{index="movies"} 2
# HELP miroir_hedges_won_total Hedged reads whose hedge answered first.
# TYPE miroir_hedges_won_total counter
miroir_hedges_won_total{index="movies"} 1
# HELP miroir_stale_replicas Replicas currently marked stale (missed a write), per index.
# TYPE miroir_stale_replicas gauge
miroir_stale_replicas{index="movies"} 1
miroir_stale_replicas{index="other"} 1
# HELP miroir_repair_documents_copied_total Documents copied by replica repair.
# TYPE miroir_repair_documents_copied_total counter
miroir_repair_documents_copied_total{index="movies"} 12
# HELP miroir_repair_documents_deleted_total Documents deleted by replica repair.
# TYPE miroir_repair_documents_deleted_total counter
miroir_repair_documents_deleted_total{index="movies"} 2
# HELP miroir_degraded_writes_total (group, shard) pairs of writes that missed their group's quorum.
# TYPE miroir_degraded_writes_total counter
miroir_degraded_writes_total{index="movies"} 2
# HELP miroir_unavailable_shards_total Shards reads could not reach (summed over reads).
# TYPE miroir_unavailable_shards_total counter
miroir_unavailable_shards_total{index="movies"} 1
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want),
		"miroir_hedges_sent_total", "miroir_hedges_won_total", "miroir_stale_replicas",
		"miroir_repair_documents_copied_total", "miroir_repair_documents_deleted_total",
		"miroir_degraded_writes_total", "miroir_unavailable_shards_total"); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.CollectAndLint(col); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
}

// The proxy serves the registry at /_miroir/metrics behind the admin key.
func TestCollectorScrapeThroughProxy(t *testing.T) {
	f := startFleet(t)
	hs := httptest.NewServer(f.c.Handler(miroir.WithMasterKey("m"), miroir.WithAdminKey("a"),
		miroir.WithMetricsHandler(promhttp.HandlerFor(f.reg, promhttp.HandlerOpts{}))))
	defer hs.Close()
	get := func(path, key string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, hs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if st, _ := get("/indexes/movies/search?q=x", "m"); st != http.StatusNotFound {
		t.Fatalf("search of a missing index: %d", st)
	}
	if st, _ := get("/_miroir/metrics", "m"); st != http.StatusForbidden {
		t.Fatalf("metrics with the master key: %d", st)
	}
	st, body := get("/_miroir/metrics", "a")
	if st != http.StatusOK {
		t.Fatalf("metrics: %d %s", st, body)
	}
	for _, want := range []string{
		`miroir_requests_total{index="movies",operation="search",outcome="error"} 1`,
		`miroir_request_duration_seconds_count{index="movies",operation="search",outcome="error"} 1`,
		`miroir_node_healthy{node="n0"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s:\n%s", want, body)
		}
	}
}

// TestCollectorTopologyProgress: the change's progress shows as gauges,
// and they drop to 0 when it ends.
func TestCollectorTopologyProgress(t *testing.T) {
	col := miroirprometheus.NewCollector()
	col.TopologyProgress(miroir.TopologyChange{Epoch: 2, Phase: miroir.PhaseCopy, ShardsMoving: 16, ShardsDone: 5, DocumentsCopied: 1200, BytesCopied: 300000})
	want := `
# HELP miroir_topology_change_documents_copied Documents backfilled to new replicas by that change.
# TYPE miroir_topology_change_documents_copied gauge
miroir_topology_change_documents_copied 1200
# HELP miroir_topology_change_shards_done Shards of that change cut over to their new replicas.
# TYPE miroir_topology_change_shards_done gauge
miroir_topology_change_shards_done 5
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "miroir_topology_change_documents_copied", "miroir_topology_change_shards_done"); err != nil {
		t.Fatal(err)
	}
	col.TopologyProgress(miroir.TopologyChange{Epoch: 2, Phase: miroir.PhaseDone, ShardsMoving: 16, ShardsDone: 16})
	want = `
# HELP miroir_topology_change_shards_moving Shards whose replica set changes in the topology change this instance drives (0: none).
# TYPE miroir_topology_change_shards_moving gauge
miroir_topology_change_shards_moving 0
# HELP miroir_topology_epoch The fleet's recorded topology epoch this instance follows.
# TYPE miroir_topology_epoch gauge
miroir_topology_epoch 2
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "miroir_topology_change_shards_moving", "miroir_topology_epoch"); err != nil {
		t.Fatal(err)
	}
}
