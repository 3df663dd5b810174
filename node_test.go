package miroir

// One node as the Cluster sees it (node.go): background health checks,
// passive marking on failed requests, recovery, and the per-node options
// (key, HTTP client, timeout, retries).

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// auditCountingServer serves a meilitest node's handler on its own
// address, counting /health requests.
type auditCountingServer struct {
	inner *meilitest.Server
	count func()
}

func (a *auditCountingServer) start(t testing.TB) string {
	h := a.inner.Handler()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			a.count()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

type acRoundTripper func(*http.Request) (*http.Response, error)

func (f acRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHealthCheckSkipsAndRecovers(t *testing.T) {
	docs := genDocs(200, 23)
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 1), rf: 1, shards: 7, timing: noProbes, opts: []Option{WithHealthCheck(15*time.Millisecond, 2*time.Second, 2, 1)}})
	f.load(t, "items", testSettings(false), docs)
	f.srv[0].Stop()
	eventually(t, "condition", func() bool { return !f.c.node(0).isHealthy() })
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		rep := &Report{}
		resp, err := f.c.index("items").Search(WithReport(ctx, rep), "", &meilisearch.SearchRequest{Limit: 1})
		if err != nil || resp.EstimatedTotalHits != int64(len(docs)) {
			t.Fatalf("search with a node known down: %v", err)
		}
		if slices.Contains(rep.NodesContacted, f.c.node(0).ID) {
			t.Fatalf("a node known down was contacted: %v", rep.NodesContacted)
		}
	}
	if err := f.srv[0].Start(); err != nil {
		t.Fatal(err)
	}
	// Back: healthy, and readable once this instance re-read the stale
	// marks (issue 12).
	eventually(t, "condition", func() bool { return f.c.node(0).isHealthy() && !f.c.node(0).marksUnread.Load() })
	used := false
	for i := 0; i < 4; i++ {
		rep := &Report{}
		if _, err := f.c.index("items").Search(WithReport(ctx, rep), "", &meilisearch.SearchRequest{Limit: 1}); err != nil {
			t.Fatal(err)
		}
		used = used || slices.Contains(rep.NodesContacted, f.c.node(0).ID)
		if len(rep.Fallbacks) > 0 {
			t.Fatalf("fallback after recovery: %+v", rep.Fallbacks)
		}
	}
	if !used {
		t.Fatal("the recovered node never served again")
	}
}

// TestAuditReadHealthChecks: issue 4 "a background health check per node
// (interval and thresholds as options) plus passive marking on request
// failures, with recovery; the covering set skips unhealthy nodes; Close
// stops the checks"; DESIGN §4 health: "healthy when every shard has a
// healthy replica somewhere".
func TestAuditReadHealthChecks(t *testing.T) {
	t.Parallel()
	obs := newAuditObserver()
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 2, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithObserver(obs), WithHealthCheck(10*time.Millisecond, 2*time.Second, 2, 2)}})
	c, srvs := f.c, f.srv
	docs := auditDocs(60, 1)
	auditLoad(t, c, "h", nil, docs)
	ctx := context.Background()
	if _, err := c.Health(ctx); err != nil {
		t.Fatalf("Health with every node up: %v", err)
	}
	healthy := func(id string) bool {
		for _, n := range c.Topology().Nodes {
			if n.ID == id {
				return n.Healthy
			}
		}
		t.Fatalf("no node %s", id)
		return false
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	srvs[1].Stop()
	waitFor("node-1 marked unhealthy by the health check", func() bool { return !healthy("node-1") })
	if !c.IsHealthy() {
		t.Errorf("IsHealthy false with one of two replicas down (RF=2)")
	}
	if _, err := c.Health(ctx); err != nil {
		t.Errorf("Health with every shard still served: %v", err)
	}
	// the covering set skips the unhealthy node
	for i := 0; i < 4; i++ {
		var rep Report
		res, err := c.Index("h").Search(WithReport(ctx, &rep), "", &meilisearch.SearchRequest{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(rep.NodesContacted, "node-1") {
			t.Errorf("search %d contacted unhealthy node-1: %v", i, rep.NodesContacted)
		}
		if len(res.Hits) != len(docs) {
			t.Errorf("search %d: %d hits, want %d", i, len(res.Hits), len(docs))
		}
		if !slices.IsSorted(rep.NodesContacted) || len(rep.NodesContacted) == 0 {
			t.Errorf("search %d: NodesContacted %v not a sorted, non-empty list", i, rep.NodesContacted)
		}
	}
	srvs[2].Stop()
	waitFor("node-2 marked unhealthy", func() bool { return !healthy("node-2") })
	missing := auditShardsOnly(c.Topology(), "node-1", "node-2")
	if len(missing) > 0 {
		if c.IsHealthy() {
			t.Errorf("IsHealthy with shards %v on no healthy node", missing)
		}
		_, err := c.Health(ctx)
		var me *Error
		if !errors.As(err, &me) || me.Code != CodeShardUnavailable {
			t.Errorf("Health with shards %v unavailable: %v", missing, err)
		}
	}
	if err := srvs[1].Start(); err != nil {
		t.Fatal(err)
	}
	if err := srvs[2].Start(); err != nil {
		t.Fatal(err)
	}
	waitFor("nodes recovered", func() bool { return healthy("node-1") && healthy("node-2") })
	if !c.IsHealthy() {
		t.Errorf("IsHealthy false after recovery")
	}
	if _, err := c.Health(ctx); err != nil {
		t.Errorf("Health after recovery: %v", err)
	}
	log := obs.stateLog()
	for _, want := range []string{"node-1=false", "node-1=true", "node-2=false", "node-2=true"} {
		if !slices.Contains(log, want) {
			t.Errorf("Observer.NodeStateChanged log %v lacks %s", log, want)
		}
	}
}

// TestAuditReadPassiveMarking: without background checks, a request
// failure marks the node unhealthy (passive marking) and later reads skip
// it.
func TestAuditReadPassiveMarking(t *testing.T) {
	t.Parallel()
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 2, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithHealthCheck(0, 0, 1, 1), WithRetries(RetryPolicy{})}})
	c, srvs := f.c, f.srv
	docs := auditDocs(40, 1)
	auditLoad(t, c, "h", nil, docs)
	srvs[0].Stop()
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		res, err := c.Index("h").Search(ctx, "", &meilisearch.SearchRequest{Limit: 100})
		if err != nil {
			t.Fatalf("search %d with one replica down: %v", i, err)
		}
		if len(res.Hits) != len(docs) {
			t.Errorf("search %d: %d hits, want %d", i, len(res.Hits), len(docs))
		}
	}
	for _, n := range c.Topology().Nodes {
		if n.ID == "node-0" && n.Healthy {
			t.Errorf("node-0 still healthy after failed requests to it")
		}
	}
	var rep Report
	if _, err := c.Index("h").Search(WithReport(ctx, &rep), "", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(rep.NodesContacted, "node-0") {
		t.Errorf("search contacted node-0 after it was marked down: %v", rep.NodesContacted)
	}
}

// TestAuditReadCloseStopsChecks: "Close stops the checks"; calls after
// Close fail with ErrClosed.
func TestAuditReadCloseStopsChecks(t *testing.T) {
	srv := meilitest.RunT(t)
	var mu sync.Mutex
	probes := 0
	front := &auditCountingServer{inner: srv, count: func() { mu.Lock(); probes++; mu.Unlock() }}
	url := front.start(t)
	c, err := New([]Node{{ID: "x", URL: url}}, WithHealthCheck(5*time.Millisecond, 100*time.Millisecond, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	read := func() int { mu.Lock(); defer mu.Unlock(); return probes }
	deadline := time.Now().Add(20 * time.Second)
	for read() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no background health probes seen")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Close()
	time.Sleep(300 * time.Millisecond) // let an in-flight probe finish
	after := read()
	time.Sleep(200 * time.Millisecond)
	if n := read(); n != after {
		t.Errorf("health probes continued after Close: %d then %d", after, n)
	}
	if _, err := c.Index("x").Search(context.Background(), "a", &meilisearch.SearchRequest{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Search after Close: %v, want ErrClosed", err)
	}
	if _, err := c.Version(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Version after Close: %v, want ErrClosed", err)
	}
}

// TestRecoveryWithoutHealthChecks: with the background check disabled, a
// node marked down passively is tried again by the next writes and comes
// back once it answers.
func TestRecoveryWithoutHealthChecks(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, rf: 1, shards: 4, opts: []Option{WithHealthCheck(0, 0, 1, 1)}})
	ix := f.createIndex(t, "movies", "id")
	ctx := testCtx(t)
	f.srv[1].Stop()
	var rep Report
	f.wait(t, must(ix.AddDocuments(WithReport(ctx, &rep), coreMovies(20), nil)), meilisearch.TaskStatusSucceeded)
	if !rep.IsDegraded() || f.c.node(1).isHealthy() {
		t.Fatalf("degraded %v, n1 healthy %v", rep.IsDegraded(), f.c.node(1).isHealthy())
	}
	if err := f.srv[1].Start(); err != nil {
		t.Fatal(err)
	}
	rep = Report{}
	f.wait(t, must(ix.AddDocuments(WithReport(ctx, &rep), coreMovies(30), nil)), meilisearch.TaskStatusSucceeded)
	if rep.IsDegraded() || !f.c.node(1).isHealthy() {
		t.Fatalf("after restart: degraded %v, n1 healthy %v", rep.Degraded, f.c.node(1).isHealthy())
	}
	if st, _ := f.direct(1).Index("movies").GetStats(ctx, nil); st.NumberOfDocuments != 30 {
		t.Fatalf("n1 holds %d documents", st.NumberOfDocuments)
	}
}

// Node options: per-node key wins over WithAPIKey; the HTTP client is used;
// the node timeout bounds a slow node; retries recover a transient failure.
func TestAuditCoreNodeOptions(t *testing.T) {
	ctx := testCtx(t)
	s0 := meilitest.RunT(t, meilitest.WithMasterKey("key-zero-0123456789"))
	s1 := meilitest.RunT(t, meilitest.WithMasterKey("key-one-0123456789"))
	var trips atomic.Int64
	client := &http.Client{Transport: acRoundTripper(func(r *http.Request) (*http.Response, error) {
		trips.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	c, err := New([]Node{
		{ID: "a", URL: s0.URL(), APIKey: "key-zero-0123456789"},
		{ID: "b", URL: s1.URL()},
	}, append(oneRetry.options(), WithShards(4), WithAPIKey("key-one-0123456789"), WithHTTPClient(client))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	acWaitOK(t, c)(c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "docs", PrimaryKey: "id"}))
	acWaitOK(t, c)(c.Index("docs").AddDocuments(ctx, acDocs(0, 20), nil))
	if trips.Load() == 0 {
		t.Errorf("WithHTTPClient's transport was not used")
	}

	// Node timeout: a node slower than the timeout does not acknowledge.
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, rf: 1, shards: 4, timing: oneRetry, opts: []Option{WithNodeTimeout(300 * time.Millisecond), WithRetries(RetryPolicy{})}})
	ix := f.create(t, "docs", "id")
	f.srv[0].SetLatency(3 * time.Second)
	rep := &Report{}
	info, err := ix.AddDocuments(WithReport(ctx, rep), acDocs(0, 20), nil)
	if err != nil {
		t.Fatalf("write with one slow group: %v", err)
	}
	if len(rep.Degraded) == 0 {
		t.Errorf("slow node past the timeout counted as acknowledged")
	}
	f.srv[0].SetLatency(0)
	_ = info

	// Retries: a transient 503 on a read is retried.
	g := startFleet(t, fleetSpec{groups: []int{0}, rf: 1, shards: 4, timing: oneRetry, opts: []Option{WithRetries(RetryPolicy{Max: 2, WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond})}})
	gix := g.create(t, "docs", "id")
	acWaitOK(t, g.c)(gix.AddDocuments(ctx, acDocs(0, 5), nil))
	var failed atomic.Int64
	g.srv[0].FailRequests(func(r *http.Request) bool {
		return r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/documents/3") && failed.Add(1) == 1
	}, 503, "internal")
	var d map[string]any
	if err := gix.GetDocument(ctx, "3", nil, &d); err != nil {
		t.Errorf("GetDocument after one transient 503 with retries on: %v", err)
	}
	if failed.Load() < 2 {
		t.Errorf("the read was not retried (%d attempts)", failed.Load())
	}
}
