package miroir

// The Cluster as a whole (miroir.go): its public shape, New's defaults,
// version and health, dumps, concurrent use, and Close.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// The compile-time assertions the design requires.
var (
	_ meilisearch.ServiceManager = (*Cluster)(nil)
	_ meilisearch.IndexManager   = (*Index)(nil)
	_ TaskStore                  = (*MemoryTaskStore)(nil)
	_ Observer                   = NopObserver{}
)

// acMiroirStack reports whether the innermost miroir frame of goroutine
// stack g is library code: test code shares the package, so a frame whose
// source file is a _test.go file is the test's own.
func acMiroirStack(g string) bool {
	lines := strings.Split(g, "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "github.com/miroirsearch/miroir.") || strings.HasPrefix(line, "github.com/miroirsearch/miroir/internal") {
			if strings.Contains(line, "TestAudit") || i+1 < len(lines) && strings.Contains(lines[i+1], "_test.go:") {
				return false
			}
			return true
		}
	}
	return false
}

func acMiroirGoroutines() int {
	buf := make([]byte, 4<<20)
	n := runtime.Stack(buf, true)
	count := 0
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if acMiroirStack(g) {
			count++
		}
	}
	return count
}

func acFilterStacks(all string) string {
	var out []string
	for _, g := range strings.Split(all, "\n\n") {
		if acMiroirStack(g) {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

func TestAuditCorePublicAPIShape(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0}, rf: 1, shards: 4, timing: oneRetry})
	im := f.c.Index("movies")
	if _, ok := im.(*Index); !ok {
		t.Fatalf("Cluster.Index returned %T, want *miroir.Index", im)
	}
	// The option constructors named by the issue exist with these types.
	var _ func(int) Option = WithShards
	var _ func(int) Option = WithReplicationFactor
	var _ func(string) Option = WithAPIKey
	var _ func(*http.Client) Option = WithHTTPClient
	var _ func(time.Duration) Option = WithNodeTimeout
	var _ func(*slog.Logger) Option = WithLogger
	var _ func(TaskStore) Option = WithTaskStore
	var _ func(Observer) Option = WithObserver
	var _ func(string, int) int = ShardOf
	var _ func(context.Context, *Report) context.Context = WithReport
	_ = WithRetries
	// Node has exactly the documented fields.
	n := Node{ID: "a", URL: "http://x", Group: 1, APIKey: "k"}
	if n.ID != "a" || n.Group != 1 {
		t.Fatal("Node fields")
	}
	// Topology.Replicas has the documented signature.
	var _ func(int, int) []string = f.c.Topology().Replicas
	// The sentinels are distinct and usable with errors.Is.
	sentinels := []error{ErrNoQuorum, ErrShardUnavailable, ErrUnsupported}
	for i, a := range sentinels {
		for j, b := range sentinels {
			if (i == j) != errors.Is(a, b) {
				t.Fatalf("errors.Is(%v, %v) = %v", a, b, errors.Is(a, b))
			}
		}
	}
}

func TestAuditCoreDefaults(t *testing.T) {
	c, err := New([]Node{{ID: "a", URL: "http://127.0.0.1:1"}}, WithHealthCheck(0, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	top := c.Topology()
	if top.Shards != 64 {
		t.Errorf("default shard count %d, want 64", top.Shards)
	}
	if top.ReplicationFactor != 1 {
		t.Errorf("default RF %d, want 1", top.ReplicationFactor)
	}
	if top.Groups != 1 {
		t.Errorf("groups %d, want 1", top.Groups)
	}
	// Every shard lives on the only node.
	for s := 0; s < 64; s++ {
		if r := top.Replicas(s, 0); !slices.Equal(r, []string{"a"}) {
			t.Fatalf("shard %d replicas %v", s, r)
		}
	}
}

func TestAuditCoreVersionAndHealth(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 1, 1}, rf: 1, shards: 8, timing: oneRetry})
	ctx := testCtx(t)
	v, err := f.c.Version(ctx)
	if err != nil || v.PkgVersion != meilitest.Version {
		t.Errorf("Version %+v %v", v, err)
	}
	h, err := f.c.Health(ctx)
	if err != nil || h.Status != "available" {
		t.Errorf("Health %+v %v", h, err)
	}
	if !f.c.IsHealthy() {
		t.Errorf("IsHealthy false on a healthy fleet")
	}
	// One node of each group down: shards may still have a healthy
	// replica somewhere.
	f.stop(t, 0)
	h, err = f.c.Health(ctx)
	if err != nil || h.Status != "available" {
		t.Errorf("Health with one group's node down: %+v %v", h, err)
	}
	// Both holders of some shard down: unhealthy, listing the shards.
	f.stop(t, 2)
	top := f.c.Topology()
	var want []int
	for s := 0; s < 8; s++ {
		r0, r1 := top.Replicas(s, 0), top.Replicas(s, 1)
		if r0[0] == "n0" && r1[0] == "n2" {
			want = append(want, s)
		}
	}
	_, err = f.c.Health(ctx)
	if len(want) == 0 {
		t.Fatal("test layout has no shard on n0 and n2 together")
	}
	if err == nil || !errors.Is(err, ErrShardUnavailable) || acAPICode(err) != CodeShardUnavailable {
		t.Fatalf("Health with shards %v unavailable: %v", want, err)
	}
	var me *Error
	if errors.As(err, &me) {
		got := slices.Clone(me.Shards)
		sort.Ints(got)
		if !slices.Equal(got, want) {
			t.Errorf("unavailable shards %v, want %v", got, want)
		}
	}
	if f.c.IsHealthy() {
		t.Errorf("IsHealthy true with shards unavailable")
	}
}

func TestServiceCalls(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 1, 1}, rf: 1, shards: 8})
	ctx := testCtx(t)
	if v, err := f.c.Version(ctx); err != nil || v.PkgVersion == "" {
		t.Fatalf("version %+v %v", v, err)
	}
	if h, err := f.c.Health(ctx); err != nil || h.Status != "available" || !f.c.IsHealthy() {
		t.Fatalf("health %+v %v", h, err)
	}
	f.stop(t, 0) // group 1 still holds every shard
	if _, err := f.c.Health(ctx); err != nil || !f.c.IsHealthy() {
		t.Fatalf("one node down: %v", err)
	}
	f.stop(t, 2) // some shards on n0 (group 0) and n2 (group 1)
	if _, err := f.c.Health(ctx); !errors.Is(err, ErrShardUnavailable) || f.c.IsHealthy() {
		t.Fatalf("two nodes down: %v", err)
	}
	f.start(t, 0)
	f.start(t, 2)
	dump := f.wait(t, must(f.c.CreateDump(ctx)), meilisearch.TaskStatusSucceeded)
	// one dump per node, each named: "n0:<uid>,n1:<uid>,..."
	if parts := strings.Split(dump.Details.DumpUid, ","); len(parts) != len(f.srv) || !strings.HasPrefix(parts[0], "n0:") || len(parts[0]) <= 3 {
		t.Fatalf("dump uids %q", dump.Details.DumpUid)
	}
	f.wait(t, must(f.c.CreateSnapshot(ctx)), meilisearch.TaskStatusSucceeded)
	ef := f.c.ExperimentalFeatures()
	ef.SetContainsFilter(true)
	if _, err := ef.Update(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range f.srv {
		got, err := f.direct(i).ExperimentalFeatures().Get(ctx)
		if err != nil || !got.ContainsFilter {
			t.Fatalf("node %d features %+v %v", i, got, err)
		}
	}
	if got, err := f.c.ExperimentalFeatures().Get(ctx); err != nil || !got.ContainsFilter {
		t.Fatalf("get features %v", err)
	}
	for name, err := range map[string]error{
		"GetBatches":       second(f.c.GetBatches(ctx, nil)),
		"GetBatch":         second(f.c.GetBatch(ctx, 1)),
		"GetNetwork":       second(f.c.GetNetwork(ctx)),
		"UpdateNetwork":    second(f.c.UpdateNetwork(ctx, nil)),
		"Export":           second(f.c.Export(ctx, nil)),
		"ChatStream":       second(f.c.ChatCompletionStream(ctx, "w", nil)),
		"ListChat":         second(f.c.ListChatWorkspaces(ctx, nil)),
		"AddWebhook":       second(f.c.AddWebhook(ctx, nil)),
		"ListWebhooks":     second(f.c.ListWebhooks(ctx)),
		"DeleteWebhook":    f.c.DeleteWebhook(ctx, "x"),
		"UpdateSearchRule": second(f.c.UpdateSearchRule(ctx, "r", nil)),
		"DeleteSearchRule": second(f.c.DeleteSearchRule(ctx, nil)),
	} {
		var me *meilisearch.Error
		if !errors.Is(err, ErrUnsupported) || !errors.As(err, &me) || me.APIError.Code != CodeUnsupported || me.StatusCode != http.StatusNotImplemented {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestAuditCoreDumpsSnapshotsCompact(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 4, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 10), nil))
	spy := f.spy()
	acWaitOK(t, f.c)(f.c.CreateDump(ctx))
	acWaitOK(t, f.c)(f.c.CreateSnapshot(ctx))
	acWaitOK(t, f.c)(ix.Compact(ctx))
	per := map[string][]string{}
	for _, r := range spy.take() {
		parts := strings.Fields(r)
		if parts[1] == "POST" {
			per[parts[0]] = append(per[parts[0]], parts[2])
		}
	}
	for _, n := range []string{"n0", "n1"} {
		for _, p := range []string{"/dumps", "/snapshots", "/indexes/docs/compact"} {
			if !slices.Contains(per[n], p) {
				t.Errorf("%s did not receive POST %s (broadcast): %v", n, p, per[n])
			}
		}
	}
}

func TestAuditCoreConcurrentWritesAndReads(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 1, 1}, rf: 1, shards: 16, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	var wg sync.WaitGroup
	var uids sync.Map
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				info, err := ix.AddDocuments(ctx, acDocs(w*1000+i*10, 10), nil)
				if err != nil {
					t.Error(err)
					return
				}
				if _, dup := uids.LoadOrStore(info.TaskUID, true); dup {
					t.Errorf("duplicate task uid %d", info.TaskUID)
				}
				_, _ = ix.Search(ctx, "title", &meilisearch.SearchRequest{})
				_ = f.c.Topology()
			}
		}()
	}
	wg.Wait()
	uids.Range(func(k, _ any) bool {
		task, err := f.c.WaitForTask(ctx, k.(int64), 5*time.Millisecond)
		if err != nil || task.Status != meilisearch.TaskStatusSucceeded {
			t.Errorf("task %v: %+v %v", k, task, err)
		}
		return true
	})
	st, _ := ix.GetStats(ctx, nil)
	if st.NumberOfDocuments != 400 {
		t.Errorf("%d documents, want 400", st.NumberOfDocuments)
	}
}

func TestAuditCoreCloseStopsGoroutines(t *testing.T) {
	c := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, shards: 8, timing: newDefaults, opts: []Option{WithHealthCheck(10*time.Millisecond, time.Second, 1, 1)}}).c
	ctx := testCtx(t)
	acWaitOK(t, c)(c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "docs", PrimaryKey: "id"}))
	acWaitOK(t, c)(c.Index("docs").AddDocuments(ctx, acDocs(0, 30), nil))
	info, err := c.Index("docs").UpdateStopWords(ctx, &[]string{"a"})
	acWaitOK(t, c)(info, err)
	if _, err := c.Index("docs").Search(ctx, "title", &meilisearch.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	if live := acMiroirGoroutines(); live == 0 {
		t.Fatalf("no miroir goroutine seen while running (health checks should be running)")
	}
	c.Close()
	var live int
	deadline := time.Now().Add(10 * time.Second)
	for {
		live = acMiroirGoroutines()
		if live == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if live != 0 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("%d miroir goroutines still running after Close:\n%s", live, acFilterStacks(string(buf[:n])))
	}
	// Calls after Close fail instead of hanging.
	if _, err := c.Index("docs").Search(ctx, "x", &meilisearch.SearchRequest{}); err == nil {
		t.Errorf("Search after Close succeeded")
	}
	c.Close() // idempotent
}

// Close while calls are in flight: no panic, no race, nothing left running.
func TestAuditCoreCloseDuringTraffic(t *testing.T) {
	c := startFleet(t, fleetSpec{groups: []int{0, 1, 0}, shards: 8, timing: oneRetry}).c
	ctx := testCtx(t)
	acWaitOK(t, c)(c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "docs", PrimaryKey: "id"}))
	ix := c.Index("docs")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if info, err := ix.AddDocuments(ctx, acDocs(w*10000+i, 3), nil); err == nil {
					_, _ = c.GetTask(ctx, info.TaskUID)
				}
				_, _ = ix.Search(ctx, "title", &meilisearch.SearchRequest{})
				_, _ = ix.UpdateStopWords(ctx, &[]string{fmt.Sprint(i)})
				_ = c.Topology()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	c.Close()
	close(stop)
	wg.Wait()
	if _, err := ix.AddDocuments(ctx, acDocs(0, 1), nil); err == nil {
		t.Errorf("AddDocuments after Close succeeded")
	}
	deadline := time.Now().Add(10 * time.Second)
	for acMiroirGoroutines() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := acMiroirGoroutines(); n != 0 {
		buf := make([]byte, 1<<20)
		k := runtime.Stack(buf, true)
		t.Fatalf("%d miroir goroutines still running after Close:\n%s", n, acFilterStacks(string(buf[:k])))
	}
}

// TestCloseLeavesNoGoroutines: Close stops the health loop and idle
// connections; nothing of the Cluster keeps running.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}})
	f.c.Close() // the goroutines counted are those of the Clusters below
	settle := func() int {
		time.Sleep(50 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	before := settle()
	for round := range 3 {
		// A fast loop (so Close has one to stop), but a probe marks a
		// node down only after 3 failures of 10 s each: a busy -race
		// machine must not turn the writes below into no-quorum.
		c := f.newCluster(t, WithShards(8), WithHealthCheck(5*time.Millisecond, 10*time.Second, 3, 1))
		f.c = c
		ix := f.createIndex(t, "m"+string(rune('0'+round)), "id")
		f.wait(t, must(ix.AddDocuments(testCtx(t), coreMovies(20), nil)), meilisearch.TaskStatusSucceeded)
		var m coreMovie
		_ = ix.GetDocument(testCtx(t), "1", nil, &m)
		c.Close()
		c.Close() // idempotent
		if _, err := c.GetTask(testCtx(t), 1); !errors.Is(err, ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	after := settle()
	for after > before && time.Now().Before(deadline) {
		after = settle()
	}
	if after > before {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, after, buf[:n])
	}
}
