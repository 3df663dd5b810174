package miroir

// Every root test builds its fleet with startFleet: meilitest nodes, a
// Cluster over them with the test's topology and options and, for proxy
// mode, the Cluster's Handler on an httptest server. The single node a test
// compares the fleet with (what one Meilisearch answers) comes from
// startRef. Below the builder: waiting for tasks, and looking at the nodes
// directly (what each holds, which requests reached it).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// timing is the retry, node-timeout and health-check profile a fleet
// starts with; fleetSpec.opts come after it and may override any part.
type timing int

const (
	// quick: no retries, 3s per node request, a probe every 20ms. A
	// stopped node refuses connections at once; the long probe timeout and
	// threshold 2 keep a busy machine (slow probes) from marking a running
	// node down.
	quick timing = iota
	// oneRetry: one retry after 5..20ms, 5s per node request, a probe every
	// 100ms (slow probes on a busy machine are not failures).
	oneRetry
	// newDefaults: New's own defaults.
	newDefaults
	// noProbes: New's defaults without retries and without background
	// health checks, so that only failed requests mark a node down.
	noProbes
)

func (tm timing) options() []Option {
	switch tm {
	case quick:
		return []Option{WithRetries(RetryPolicy{}), WithNodeTimeout(3 * time.Second),
			WithHealthCheck(20*time.Millisecond, 2*time.Second, 2, 1)}
	case oneRetry:
		return []Option{WithRetries(RetryPolicy{Max: 1, WaitMin: 5 * time.Millisecond, WaitMax: 20 * time.Millisecond}),
			WithNodeTimeout(5 * time.Second), WithHealthCheck(100*time.Millisecond, 2*time.Second, 2, 1)}
	case noProbes:
		return []Option{WithHealthCheck(0, 0, 0, 0), WithRetries(RetryPolicy{})}
	}
	return nil
}

// fleetSpec describes a test fleet. The zero value is one node, RF 1, 8
// shards, quick timing, no proxy.
type fleetSpec struct {
	groups []int // group of each node: node i is in groups[i]; nil: one node
	rf     int   // replication factor; 0: 1
	shards int   // shard count S; 0: 8
	// ids prefixes the node IDs: node i is ids+i ("n" when empty). Node
	// IDs decide placement, so a test keeps the scheme its expectations
	// (node names in messages, which node holds which shard) were made
	// with.
	ids      string
	nodeKey  string             // master key of every node, and the Cluster's WithAPIKey
	instant  bool               // node tasks finish at once (meilitest.WithTaskDuration(0))
	nodeOpts []meilitest.Option // more options for every node
	timing   timing
	opts     []Option // more Cluster options, after the timing profile
	proxy    bool     // serve the Cluster's Handler(hopts...) at testFleet.url
	hopts    []HandlerOption
	token    string // bearer token testFleet.do sends by default
}

// testFleet is a started fleet; everything stops when the test ends.
type testFleet struct {
	c     *Cluster
	srv   []*meilitest.Server // node i is srv[i], described by nodes[i]
	nodes []Node
	store *MemoryTaskStore // the Cluster's task store (unless opts set another)
	rf    int
	url   string // the proxy's base URL; "" without proxy
	token string
}

// startFleet starts the fleet spec describes.
func startFleet(t testing.TB, spec fleetSpec) *testFleet {
	t.Helper()
	if spec.groups == nil {
		spec.groups = []int{0}
	}
	if spec.rf == 0 {
		spec.rf = 1
	}
	if spec.shards == 0 {
		spec.shards = 8
	}
	if spec.ids == "" {
		spec.ids = "n"
	}
	nodeOpts := spec.nodeOpts
	if spec.instant {
		nodeOpts = append([]meilitest.Option{meilitest.WithTaskDuration(0)}, nodeOpts...)
	}
	if spec.nodeKey != "" {
		nodeOpts = append([]meilitest.Option{meilitest.WithMasterKey(spec.nodeKey)}, nodeOpts...)
	}
	srv := meilitest.RunCluster(t, len(spec.groups), nodeOpts...)
	nodes := make([]Node, len(spec.groups))
	for i, g := range spec.groups {
		nodes[i] = Node{ID: fmt.Sprintf("%s%d", spec.ids, i), URL: srv[i].URL(), Group: g}
	}
	store := NewMemoryTaskStore(0)
	opts := []Option{WithShards(spec.shards), WithReplicationFactor(spec.rf), WithTaskStore(store)}
	if spec.nodeKey != "" {
		opts = append(opts, WithAPIKey(spec.nodeKey))
	}
	opts = append(opts, spec.timing.options()...)
	c, err := New(nodes, append(opts, spec.opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	f := &testFleet{c: c, srv: srv, nodes: nodes, store: store, rf: spec.rf, token: spec.token}
	if spec.proxy {
		hs := httptest.NewServer(c.Handler(spec.hopts...))
		t.Cleanup(hs.Close)
		f.url = hs.URL
	}
	return f
}

// groupsOf returns the groups of n groups of perGroup nodes each, in
// order: groupsOf(2, 2) is {0, 0, 1, 1}.
func groupsOf(n, perGroup int) []int {
	out := make([]int, 0, n*perGroup)
	for g := 0; g < n; g++ {
		for i := 0; i < perGroup; i++ {
			out = append(out, g)
		}
	}
	return out
}

// newCluster starts another Cluster over the same nodes (another
// application instance), with exactly opts; it closes when the test ends.
func (f *testFleet) newCluster(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	c, err := New(f.nodes, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// startRef starts the single node a test compares a fleet with, and a
// client for it (without key: a keyed reference is used over HTTP).
func startRef(t testing.TB, opts ...meilitest.Option) (*meilitest.Server, meilisearch.ServiceManager) {
	t.Helper()
	srv := meilitest.RunT(t, opts...)
	return srv, meilisearch.New(srv.URL())
}

// direct returns a plain meilisearch-go client for node i.
func (f *testFleet) direct(i int) meilisearch.ServiceManager {
	return meilisearch.New(f.srv[i].URL())
}

// healthy reports whether the Cluster sees node i as healthy.
func (f *testFleet) healthy(i int) bool {
	for _, n := range f.c.Topology().Nodes {
		if n.ID == f.nodes[i].ID {
			return n.Healthy
		}
	}
	return false
}

// stop stops node i and waits until the Cluster marks it down.
func (f *testFleet) stop(t testing.TB, i int) {
	t.Helper()
	f.srv[i].Stop()
	eventually(t, f.nodes[i].ID+" marked down", func() bool { return !f.healthy(i) })
}

// start restarts node i and waits until the Cluster marks it up.
func (f *testFleet) start(t testing.TB, i int) {
	t.Helper()
	if err := f.srv[i].Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, f.nodes[i].ID+" marked up", func() bool { return f.healthy(i) })
}

// idle waits until no running node has a task enqueued or processing.
func (f *testFleet) idle(t testing.TB) {
	t.Helper()
	ctx := testCtx(t)
	for _, s := range f.srv {
		if s.Running() {
			if err := s.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// wait waits for a cluster task and fails the test unless it has want.
func (f *testFleet) wait(t testing.TB, info *meilisearch.TaskInfo, want meilisearch.TaskStatus) *meilisearch.Task {
	t.Helper()
	task, err := f.c.WaitForTask(testCtx(t), info.TaskUID, 5*time.Millisecond)
	if err != nil {
		t.Fatalf("WaitForTask(%d): %v", info.TaskUID, err)
	}
	if task.Status != want {
		t.Fatalf("task %d (%s): status %s, want %s (error %+v)", info.TaskUID, task.Type, task.Status, want, task.Error)
	}
	return task
}

// create creates index uid through the Cluster and waits for it.
func (f *testFleet) create(t testing.TB, uid, pk string) meilisearch.IndexManager {
	t.Helper()
	acWaitOK(t, f.c)(f.c.CreateIndex(testCtx(t), &meilisearch.IndexConfig{Uid: uid, PrimaryKey: pk}))
	return f.c.Index(uid)
}

// createIndex is create returning the *Index (for its unexported helpers).
func (f *testFleet) createIndex(t testing.TB, uid, pk string) *Index {
	t.Helper()
	info, err := f.c.CreateIndex(testCtx(t), &meilisearch.IndexConfig{Uid: uid, PrimaryKey: pk})
	if err != nil {
		t.Fatal(err)
	}
	f.wait(t, info, meilisearch.TaskStatusSucceeded)
	return f.c.index(uid)
}

// testCtx bounds a test's calls (generously: a busy machine under -race
// is slow, and only a hung call should reach the bound).
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or 15 seconds pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// acWait returns a function waiting for the task of a call on c.
func acWait(t testing.TB, c *Cluster) func(info *meilisearch.TaskInfo, err error) *meilisearch.Task {
	return func(info *meilisearch.TaskInfo, err error) *meilisearch.Task {
		t.Helper()
		return acWaitTask(t, c, info, err)
	}
}

// acWaitTask fails the test if the call failed, and waits for its task.
func acWaitTask(t testing.TB, c *Cluster, info *meilisearch.TaskInfo, err error) *meilisearch.Task {
	t.Helper()
	if err != nil {
		t.Fatalf("call failed: %v", err)
	}
	if info == nil {
		t.Fatalf("nil TaskInfo")
	}
	task, err := c.WaitForTask(testCtx(t), info.TaskUID, 5*time.Millisecond)
	if err != nil {
		t.Fatalf("WaitForTask(%d): %v", info.TaskUID, err)
	}
	return task
}

// acWaitOK is acWait requiring the task to succeed.
func acWaitOK(t testing.TB, c *Cluster) func(info *meilisearch.TaskInfo, err error) *meilisearch.Task {
	return func(info *meilisearch.TaskInfo, err error) *meilisearch.Task {
		t.Helper()
		return acWaitOKTask(t, c, info, err)
	}
}

// acWaitOKTask is acWaitTask requiring the task to succeed.
func acWaitOKTask(t testing.TB, c *Cluster, info *meilisearch.TaskInfo, err error) *meilisearch.Task {
	t.Helper()
	task := acWaitTask(t, c, info, err)
	if task.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("task %d (%s) status %s, error %+v", task.UID, task.Type, task.Status, task.Error)
	}
	return task
}

// acHTTP sends a request straight to a node and returns status and body.
func acHTTP(t testing.TB, base, method, path string, body any, key string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case []byte:
			rd = bytes.NewReader(b)
		case string:
			rd = strings.NewReader(b)
		default:
			raw, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(raw)
		}
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// nodeDocsByID returns every document node i holds in index uid, by id.
func (f *testFleet) nodeDocsByID(t testing.TB, i int, uid string) map[string]map[string]any {
	t.Helper()
	st, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/"+uid+"/documents?limit=1000000", nil, "")
	if st == 404 {
		return map[string]map[string]any{}
	}
	if st != 200 {
		t.Fatalf("node %d documents: %d %s", i, st, body)
	}
	var res struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, d := range res.Results {
		out[acIDString(d["id"])] = d
	}
	return out
}

// nodeSettings returns the settings of index uid on node i as raw JSON map.
func (f *testFleet) nodeSettings(t testing.TB, i int, uid string) map[string]json.RawMessage {
	t.Helper()
	st, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/"+uid+"/settings", nil, "")
	if st != 200 {
		t.Fatalf("node %d settings: %d %s", i, st, body)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// allSettings returns every node's settings of uid, after the nodes settle.
func (f *testFleet) allSettings(t testing.TB, uid string) []map[string]json.RawMessage {
	t.Helper()
	f.idle(t)
	out := make([]map[string]json.RawMessage, len(f.srv))
	for i := range f.srv {
		out[i] = f.nodeSettings(t, i, uid)
	}
	return out
}

// acRequestSpy records every request a node receives except health
// probes and miroir's own bookkeeping on its reserved indexes (task-uid
// lanes, stale marks: background loops that may run at any moment),
// without interfering with them.
type acRequestSpy struct {
	mu   sync.Mutex
	reqs []string
}

// isBookkeeping reports whether r concerns one of miroir's reserved
// indexes: a path under one, or the creation of one (a lane lock).
func isBookkeeping(r *http.Request) bool {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/indexes/"); ok {
		return isReservedIndex(strings.SplitN(rest, "/", 2)[0])
	}
	if r.Method != http.MethodPost || r.URL.Path != "/indexes" || r.Body == nil {
		return false
	}
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var v struct {
		UID string `json:"uid"`
	}
	return err == nil && json.Unmarshal(body, &v) == nil && isReservedIndex(v.UID)
}

func (s *acRequestSpy) attach(srv *meilitest.Server, id string) func() {
	return srv.FailRequests(func(r *http.Request) bool {
		if r.URL.Path == "/health" || isBookkeeping(r) {
			return false
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, id+" "+r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		return false
	}, 500, "internal")
}

func (s *acRequestSpy) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.reqs
	s.reqs = nil
	return out
}

func (f *testFleet) spy() *acRequestSpy {
	s := &acRequestSpy{}
	for i, srv := range f.srv {
		s.attach(srv, f.nodes[i].ID)
	}
	return s
}

func (f *testFleet) groupIDs() [][]string {
	var out [][]string
	for _, n := range f.nodes {
		for len(out) <= n.Group {
			out = append(out, nil)
		}
		out[n.Group] = append(out[n.Group], n.ID)
	}
	return out
}

func (f *testFleet) nodeIndex(id string) int {
	for i, n := range f.nodes {
		if n.ID == id {
			return i
		}
	}
	return -1
}
