package miroir

// Black-box acceptance audit of the cluster core (DESIGN.md §1-§4, §6, §8
// and issue 3). Only the public API of miroir, meilisearch-go and meilitest
// is used; node contents are checked over plain HTTP.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
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

// ---- independent reimplementation of DESIGN §2 hashing ----

func acShard(pk string, shards int) int {
	return int(xxhash.Sum64String(pk) % uint64(shards))
}

func acScore(shard int, id string) uint64 {
	buf := make([]byte, 4, 4+len(id))
	binary.LittleEndian.PutUint32(buf, uint32(shard))
	buf = append(buf, id...)
	return xxhash.Sum64(buf)
}

// acReplicas returns the RF nodes of ids with the highest scores for
// shard, in descending score order (ties: smaller ID first).
func acReplicas(shard int, ids []string, rf int) []string {
	c := slices.Clone(ids)
	sort.SliceStable(c, func(a, b int) bool {
		sa, sb := acScore(shard, c[a]), acScore(shard, c[b])
		if sa != sb {
			return sa > sb
		}
		return c[a] < c[b]
	})
	if rf > len(c) {
		rf = len(c)
	}
	return c[:rf]
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

func TestAuditCoreNewRejectsBadTopology(t *testing.T) {
	u := "http://127.0.0.1:7700"
	cases := []struct {
		name  string
		nodes []Node
		opts  []Option
		word  string // the error names the problem
	}{
		{"duplicate IDs", []Node{{ID: "a", URL: u}, {ID: "a", URL: "http://127.0.0.1:7701"}}, nil, "duplicate"},
		{"group gap", []Node{{ID: "a", URL: u, Group: 0}, {ID: "b", URL: u, Group: 2}}, nil, "group"},
		{"group not starting at 0", []Node{{ID: "a", URL: u, Group: 1}}, nil, "group"},
		{"negative group", []Node{{ID: "a", URL: u, Group: -1}, {ID: "b", URL: u, Group: 0}}, nil, "group"},
		{"group smaller than RF", []Node{{ID: "a", URL: u, Group: 0}, {ID: "b", URL: u, Group: 0}, {ID: "c", URL: u, Group: 1}}, []Option{WithReplicationFactor(2)}, "replication"},
		{"RF larger than only group", []Node{{ID: "a", URL: u}}, []Option{WithReplicationFactor(2)}, "replication"},
		{"zero shards", []Node{{ID: "a", URL: u}}, []Option{WithShards(0)}, "shard"},
		{"negative shards", []Node{{ID: "a", URL: u}}, []Option{WithShards(-3)}, "shard"},
		{"URL without scheme", []Node{{ID: "a", URL: "127.0.0.1:7700"}}, nil, "url"},
		{"URL not http", []Node{{ID: "a", URL: "ftp://127.0.0.1:7700"}}, nil, "url"},
		{"URL garbage", []Node{{ID: "a", URL: "http://[::1"}}, nil, "url"},
		{"URL empty", []Node{{ID: "a", URL: ""}}, nil, "url"},
		{"empty ID", []Node{{ID: "", URL: u}}, nil, "id"},
		{"no nodes", nil, nil, "node"},
	}
	for _, tc := range cases {
		c, err := New(tc.nodes, tc.opts...)
		if err == nil {
			c.Close()
			t.Errorf("%s: New accepted a bad topology", tc.name)
			continue
		}
		if !strings.Contains(strings.ToLower(err.Error()), tc.word) {
			t.Errorf("%s: error %q does not say what is wrong (%q)", tc.name, err, tc.word)
		}
	}
	// Valid topologies are accepted and described by Topology().
	c, err := New([]Node{
		{ID: "a", URL: u, Group: 0}, {ID: "b", URL: "https://127.0.0.1:7701", Group: 0},
		{ID: "c", URL: u, Group: 1}, {ID: "d", URL: u, Group: 1},
	}, WithReplicationFactor(2), WithHealthCheck(0, 0, 0, 0))
	if err != nil {
		t.Fatalf("valid topology rejected: %v", err)
	}
	defer c.Close()
	top := c.Topology()
	if top.Groups != 2 || top.ReplicationFactor != 2 || len(top.Nodes) != 4 {
		t.Fatalf("topology %+v", top)
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

func TestAuditCoreShardOfMatchesDesignHash(t *testing.T) {
	// Known xxh64 (seed 0) values, independent of the library.
	known := map[string]uint64{
		"":    0xef46db3751d8e999,
		"a":   0xd24ec4f1a98c6e5b,
		"abc": 0x44bc2cf5ad770999,
	}
	for s, want := range known {
		if got := xxhash.Sum64String(s); got != want {
			t.Fatalf("xxhash sanity %q: %x", s, got)
		}
	}
	pks := []string{"0", "1", "2", "42", "-7", "123456789", "9007199254740993", "a", "abc", "doc-1", "user_42",
		"AbCdEf", strings.Repeat("z", 511), "18446744073709551615", "x-y_z-0"}
	for i := 0; i < 300; i++ {
		pks = append(pks, strconv.Itoa(i*7919), fmt.Sprintf("k%05d", i))
	}
	for _, pk := range pks {
		for _, s := range []int{1, 2, 3, 7, 16, 64, 100, 1000, 4096} {
			if got, want := ShardOf(pk, s), acShard(pk, s); got != want {
				t.Fatalf("ShardOf(%q, %d) = %d, want xxh64 mod S = %d", pk, s, got, want)
			}
		}
	}
}

func TestAuditCoreTopologyRendezvous(t *testing.T) {
	layouts := []struct {
		groups []int
		ids    []string
		rf     int
		shards int
	}{
		{[]int{0, 0, 0}, []string{"n0", "n1", "n2"}, 1, 64},
		{[]int{0, 0, 0, 0, 0}, []string{"alpha", "beta", "gamma", "delta", "epsilon"}, 2, 32},
		{[]int{0, 0, 0, 1, 1, 1}, []string{"a", "b", "c", "d", "e", "f"}, 2, 50},
		{[]int{0, 1, 0, 1, 2, 2, 2}, []string{"z1", "z2", "z3", "z4", "z5", "z6", "z7"}, 2, 17},
		{[]int{0, 0, 0, 0}, []string{"node-10", "node-2", "node-1", "node-3"}, 3, 64},
	}
	for _, l := range layouts {
		nodes := make([]Node, len(l.ids))
		for i, id := range l.ids {
			nodes[i] = Node{ID: id, URL: "http://127.0.0.1:1", Group: l.groups[i]}
		}
		c, err := New(nodes, WithShards(l.shards), WithReplicationFactor(l.rf), WithHealthCheck(0, 0, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		top := c.Topology()
		c.Close()
		groups := map[int][]string{}
		for i, id := range l.ids {
			groups[l.groups[i]] = append(groups[l.groups[i]], id)
		}
		if top.Shards != l.shards || top.Groups != len(groups) || top.ReplicationFactor != l.rf {
			t.Fatalf("topology header %+v", top)
		}
		holds := map[string][]int{}
		sm := top.ShardMap()
		for s := 0; s < l.shards; s++ {
			var all []string
			for g := 0; g < len(groups); g++ {
				want := acReplicas(s, groups[g], l.rf)
				got := top.Replicas(s, g)
				if !slices.Equal(got, want) {
					t.Fatalf("layout %v shard %d group %d: Replicas %v, want %v", l.ids, s, g, got, want)
				}
				for _, id := range want {
					holds[id] = append(holds[id], s)
				}
				all = append(all, want...)
			}
			if !slices.Equal(sm[s], all) {
				t.Fatalf("ShardMap[%d] = %v, want %v", s, sm[s], all)
			}
		}
		if top.Replicas(-1, 0) != nil || top.Replicas(l.shards, 0) != nil || top.Replicas(0, len(groups)) != nil {
			t.Fatalf("out-of-range Replicas must be nil")
		}
		if len(top.Nodes) != len(l.ids) {
			t.Fatalf("nodes %d", len(top.Nodes))
		}
		for _, ns := range top.Nodes {
			want := holds[ns.ID]
			if want == nil {
				want = []int{}
			}
			got := ns.Shards
			if got == nil {
				got = []int{}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("node %s Shards %v, want %v", ns.ID, got, want)
			}
			i := slices.Index(l.ids, ns.ID)
			if i < 0 || ns.Group != l.groups[i] {
				t.Fatalf("node status %+v", ns)
			}
		}
	}
}

// The golden test-vector file shipped with the repository agrees with the
// design's definition.
func TestAuditCoreGoldenVectorFile(t *testing.T) {
	paths := []string{"testdata/shard_vectors.json"}
	var raw []byte
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			raw = b
			break
		}
	}
	if raw == nil {
		t.Fatal("no golden shard vector file shipped (testdata/shard_vectors.json)")
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("vector file: %v", err)
	}
	// Walk every object in the file; check any (pk, xxh64, shards) and any
	// rendezvous-like entry we can recognise.
	var generic any
	_ = json.Unmarshal(raw, &generic)
	checked := 0
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if pk, ok := x["pk"].(string); ok {
				if h, ok := x["xxh64"].(string); ok {
					if fmt.Sprintf("%016x", xxhash.Sum64String(pk)) != h {
						t.Errorf("vector pk %q: xxh64 %s, design gives %016x", pk, h, xxhash.Sum64String(pk))
					}
					checked++
				}
				if sh, ok := x["shards"].(map[string]any); ok {
					for k, v := range sh {
						s, err := strconv.Atoi(k)
						if err != nil {
							continue
						}
						if int(v.(float64)) != acShard(pk, s) {
							t.Errorf("vector pk %q S=%d: %v, design gives %d", pk, s, v, acShard(pk, s))
						}
						if ShardOf(pk, s) != acShard(pk, s) {
							t.Errorf("ShardOf disagrees on %q", pk)
						}
						checked++
					}
				}
			}
			if sh, ok := x["shard"].(float64); ok {
				if scores, ok := x["scores"].(map[string]any); ok {
					for id, v := range scores {
						if hs, ok := v.(string); ok && hs != fmt.Sprintf("%016x", acScore(int(sh), id)) {
							t.Errorf("vector shard %v node %q score %s, design gives %016x", sh, id, hs, acScore(int(sh), id))
						}
						checked++
					}
				}
				nodes, _ := x["nodes"].([]any)
				order, _ := x["order"].([]any)
				if len(nodes) > 0 && len(order) > 0 {
					var ids, got []string
					for _, n := range nodes {
						ids = append(ids, n.(string))
					}
					for _, n := range order {
						got = append(got, n.(string))
					}
					want := acReplicas(int(sh), ids, len(got))
					if !slices.Equal(got, want) {
						t.Errorf("vector shard %v nodes %v: order %v, design gives %v", sh, ids, got, want)
					}
					checked++
				}
			}
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(generic)
	if checked < 20 {
		t.Fatalf("only %d vectors recognised in the golden file", checked)
	}
}

func TestAuditCoreProxyNoQuorum503AndDegradedHeader(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 1}, rf: 1, shards: 4, timing: oneRetry})
	f.create(t, "docs", "id")
	h := f.c.Handler()
	srv := httptest.NewServer(h)
	defer srv.Close()

	f.stop(t, 0)
	st, body := acHTTP(t, srv.URL, "POST", "/indexes/docs/documents", `[{"id":1},{"id":2},{"id":3}]`, "")
	if st != 202 {
		t.Fatalf("degraded write: %d %s", st, body)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/indexes/docs/documents", strings.NewReader(`[{"id":4}]`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 || resp.Header.Get("X-Miroir-Degraded") == "" {
		t.Errorf("degraded write: status %d, X-Miroir-Degraded %q", resp.StatusCode, resp.Header.Get("X-Miroir-Degraded"))
	}
	f.stop(t, 1)
	st, body = acHTTP(t, srv.URL, "POST", "/indexes/docs/documents", `[{"id":5}]`, "")
	var e struct{ Message, Code, Type, Link string }
	_ = json.Unmarshal(body, &e)
	if st != 503 || e.Code != CodeNoQuorum || e.Message == "" || e.Type == "" {
		t.Errorf("no quorum in proxy mode: %d %s", st, body)
	}
}

func TestAuditCoreShardCountMismatch(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 50), nil))
	f.idle(t)

	// miroir_meta lives on every node and records the shard count.
	for i := range f.srv {
		st, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/miroir_meta/documents?limit=1000", nil, "")
		if st != 200 || !strings.Contains(string(body), `"docs"`) {
			t.Fatalf("node %d miroir_meta: %d %s", i, st, body)
		}
		var res struct {
			Results []map[string]any `json:"results"`
		}
		_ = json.Unmarshal(body, &res)
		found := false
		for _, d := range res.Results {
			hasUID, has8, hasTime := false, false, false
			for _, v := range d {
				if v == "docs" {
					hasUID = true
				}
				if v == float64(8) {
					has8 = true
				}
				if s, ok := v.(string); ok {
					if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
						hasTime = true
					}
				}
				if n, ok := v.(float64); ok && n > 1e9 {
					hasTime = true // epoch seconds or millis
				}
			}
			found = found || (hasUID && has8 && hasTime)
		}
		if !found {
			t.Errorf("node %d: no miroir_meta record with uid docs, S=8 and a creation time: %s", i, body)
		}
	}

	for _, otherS := range []int{16, 64} {
		opts := append(oneRetry.options(), WithShards(otherS))
		other := f.newCluster(t, opts...)
		spy := f.spy()
		oix := other.Index("docs")
		var m map[string]any
		var res meilisearch.DocumentsResult
		pk := "id"
		calls := map[string]error{
			"AddDocuments":     second(oix.AddDocuments(ctx, acDocs(1000, 5), nil)),
			"UpdateDocuments":  second(oix.UpdateDocuments(ctx, acDocs(1000, 5), &meilisearch.DocumentOptions{PrimaryKey: &pk})),
			"AddNdjson":        second(oix.AddDocumentsNdjson(ctx, []byte("{\"id\":5000}\n"), nil)),
			"GetDocument":      oix.GetDocument(ctx, "1", nil, &m),
			"GetDocuments":     oix.GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 5}, &res),
			"Search":           second(oix.Search(ctx, "title", &meilisearch.SearchRequest{})),
			"DeleteDocument":   second(oix.DeleteDocument(ctx, "1", nil)),
			"DeleteDocuments":  second(oix.DeleteDocuments(ctx, []string{"1", "2"}, nil)),
			"DeleteByFilter":   second(oix.DeleteDocumentsByFilter(ctx, "n = 1", nil)),
			"DeleteAll":        second(oix.DeleteAllDocuments(ctx, nil)),
			"UpdateSettings":   second(oix.UpdateSettings(ctx, &meilisearch.Settings{StopWords: []string{"x"}})),
			"Stats":            second(oix.GetStats(ctx, nil)),
			"GetIndex":         second(other.GetIndex(ctx, "docs")),
			"FetchInfo":        second(oix.FetchInfo(ctx)),
			"GetSettings":      second(oix.GetSettings(ctx)),
			"AddCsv":           second(oix.AddDocumentsCsv(ctx, []byte("id\n9001\n"), nil)),
			"FacetSearch":      second(oix.FacetSearch(ctx, &meilisearch.FacetSearchRequest{FacetName: "n"})),
			"UpdateByFunction": second(oix.UpdateDocumentsByFunction(ctx, &meilisearch.UpdateDocumentByFunctionRequest{Function: "doc.x = 1"})),
			"UpdateIndex":      second(oix.UpdateIndex(ctx, &meilisearch.UpdateIndexRequestParams{PrimaryKey: "id"})),
			"MultiSearch":      second(other.MultiSearch(ctx, &meilisearch.MultiSearchRequest{Queries: []*meilisearch.SearchRequest{{IndexUID: "docs", Query: "title"}}})),
		}
		for name, err := range calls {
			if err == nil {
				t.Errorf("S=%d %s: accepted on an index created with S=8", otherS, name)
				continue
			}
			if !errors.Is(err, ErrShardCountMismatch) || acAPICode(err) != CodeShardCountMismatch {
				t.Errorf("S=%d %s: %v (code %q)", otherS, name, err, acAPICode(err))
			}
		}
		for _, r := range spy.take() {
			if !strings.Contains(r, " GET ") {
				t.Errorf("S=%d: a write reached a node: %s", otherS, r)
			}
		}
	}
	// Nothing changed on the fleet.
	total := 0
	for i := range f.srv {
		total += len(f.nodeDocsByID(t, i, "docs"))
	}
	if total != 50 {
		t.Fatalf("fleet holds %d documents after refused calls, want 50", total)
	}
	// A Cluster with the right count (a new process) reads S from the fleet.
	same := f.newCluster(t, append(oneRetry.options(), WithShards(8))...)
	acWaitOK(t, same)(same.Index("docs").AddDocuments(ctx, acDocs(50, 10), nil))
	var d map[string]any
	if err := same.Index("docs").GetDocument(ctx, "55", nil, &d); err != nil {
		t.Fatal(err)
	}
}

func TestAuditCoreIndexLifecycle(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ctx := testCtx(t)

	// Create: every node has the index and _miroir_shard filterable.
	info, err := f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies", PrimaryKey: "id"})
	task := acWaitOK(t, f.c)(info, err)
	if task.Type != meilisearch.TaskTypeIndexCreation || task.IndexUID != "movies" {
		t.Errorf("creation task %+v", task)
	}
	for i := range f.srv {
		st, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/movies", nil, "")
		if st != 200 || !strings.Contains(string(body), `"primaryKey":"id"`) {
			t.Errorf("node %d index: %d %s", i, st, body)
		}
		var fa []any
		_ = json.Unmarshal(f.nodeSettings(t, i, "movies")["filterableAttributes"], &fa)
		if !slices.Contains(fa, any("_miroir_shard")) {
			t.Errorf("node %d: _miroir_shard not filterable after creation: %v", i, fa)
		}
	}
	// Created a second time: fails as on one Meilisearch.
	task = acWait(t, f.c)(f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies", PrimaryKey: "id"}))
	if task.Status != meilisearch.TaskStatusFailed || task.Error.Code != "index_already_exists" {
		t.Errorf("second creation: %s %+v", task.Status, task.Error)
	}
	// GetIndex from the fleet.
	res, err := f.c.GetIndex(ctx, "movies")
	if err != nil || res.UID != "movies" || res.PrimaryKey != "id" {
		t.Errorf("GetIndex: %+v %v", res, err)
	}

	// A node down: creation needs every node and names the missing one;
	// after the node returns, retrying converges.
	f.stop(t, 1)
	info, err = f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "books", PrimaryKey: "isbn"})
	acFailsNaming(t, f.c, "CreateIndex", "n1", info, err)
	f.start(t, 1)
	acWaitOK(t, f.c)(f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "books", PrimaryKey: "isbn"}))
	for i := range f.srv {
		st, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/books", nil, "")
		if st != 200 || !strings.Contains(string(body), `"primaryKey":"isbn"`) {
			t.Errorf("node %d after converging create: %d %s", i, st, body)
		}
		var fa []any
		_ = json.Unmarshal(f.nodeSettings(t, i, "books")["filterableAttributes"], &fa)
		if !slices.Contains(fa, any("_miroir_shard")) {
			t.Errorf("node %d: _miroir_shard not filterable after converging create: %v", i, fa)
		}
	}

	// A half-failed creation (the index exists on some node only) converges.
	st, body := acHTTP(t, f.srv[2].URL(), "POST", "/indexes", map[string]any{"uid": "half", "primaryKey": "id"}, "")
	if st != 202 {
		t.Fatalf("direct create: %d %s", st, body)
	}
	f.idle(t)
	acWaitOK(t, f.c)(f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "half", PrimaryKey: "id"}))
	for i := range f.srv {
		if st, _ := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/half", nil, ""); st != 200 {
			t.Errorf("node %d lacks half after converging create", i)
		}
		var fa []any
		_ = json.Unmarshal(f.nodeSettings(t, i, "half")["filterableAttributes"], &fa)
		if !slices.Contains(fa, any("_miroir_shard")) {
			t.Errorf("node %d: _miroir_shard not filterable on half: %v", i, fa)
		}
	}
	acWaitOK(t, f.c)(f.c.Index("half").AddDocuments(ctx, acDocs(0, 10), nil))

	// Update the primary key (empty index) on every node.
	acWaitOK(t, f.c)(f.c.Index("books").UpdateIndex(ctx, &meilisearch.UpdateIndexRequestParams{PrimaryKey: "code"}))
	for i := range f.srv {
		_, body := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/books", nil, "")
		if !strings.Contains(string(body), `"primaryKey":"code"`) {
			t.Errorf("node %d after UpdateIndex: %s", i, body)
		}
	}

	// Swap: documents follow on every node.
	mix := f.c.Index("movies")
	acWaitOK(t, f.c)(mix.AddDocuments(ctx, acDocs(0, 30), nil))
	acWaitOK(t, f.c)(f.c.SwapIndexes(ctx, []*meilisearch.SwapIndexesParams{{Indexes: []string{"movies", "half"}}}))
	var d map[string]any
	if err := f.c.Index("half").GetDocument(ctx, "25", nil, &d); err != nil {
		t.Errorf("after swap, half lacks movies' document 25: %v", err)
	}
	stats, err := f.c.Index("half").GetStats(ctx, nil)
	if err != nil || stats.NumberOfDocuments != 30 {
		t.Errorf("after swap, half stats %+v %v", stats, err)
	}

	// Delete on every node; then gone.
	f.stop(t, 0)
	info, err = f.c.DeleteIndex(ctx, "books")
	acFailsNaming(t, f.c, "DeleteIndex", "n0", info, err)
	f.start(t, 0)
	acWaitOK(t, f.c)(f.c.DeleteIndex(ctx, "books"))
	for i := range f.srv {
		if st, _ := acHTTP(t, f.srv[i].URL(), "GET", "/indexes/books", nil, ""); st != 404 {
			t.Errorf("node %d still has books (%d)", i, st)
		}
	}
	if _, err := f.c.GetIndex(ctx, "books"); acAPICode(err) != "index_not_found" {
		t.Errorf("GetIndex after delete: %v", err)
	}
}

// A node that comes back from being unhealthy is re-verified (index present,
// settings equal) before documents are routed to it again.
func TestAuditCoreNodeReverifiedBeforeRouting(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.UpdateRankingRules(ctx, &[]string{"words", "typo", "n:desc", "proximity", "attribute", "sort", "exactness"}))
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 20), nil))
	// Node 1 looks down to the cluster while it loses its index
	// (as after a disk loss).
	clear := f.srv[1].FailRequests(func(r *http.Request) bool { return r.URL.Path == "/health" }, 503, "internal")
	eventually(t, "n1 marked down", func() bool { return !f.healthy(1) })
	st, body := acHTTP(t, f.srv[1].URL(), "DELETE", "/indexes/docs", nil, "")
	if st != 202 {
		t.Fatalf("%d %s", st, body)
	}
	_ = f.srv[1].WaitIdle(ctx)
	clear()
	eventually(t, "n1 marked up", func() bool { return f.healthy(1) })
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(100, 50), nil))
	f.idle(t)
	s := f.nodeSettings(t, 1, "docs")
	var rr []string
	_ = json.Unmarshal(s["rankingRules"], &rr)
	if !slices.Contains(rr, "n:desc") {
		t.Errorf("node 1 received documents into an index without the fleet's ranking rules: %s", s["rankingRules"])
	}
	var fa []any
	_ = json.Unmarshal(s["filterableAttributes"], &fa)
	if !slices.Contains(fa, any("_miroir_shard")) {
		t.Errorf("node 1 index lacks _miroir_shard filterable: %s", s["filterableAttributes"])
	}
	_, body = acHTTP(t, f.srv[1].URL(), "GET", "/indexes/docs", nil, "")
	if !strings.Contains(string(body), `"primaryKey":"id"`) {
		t.Errorf("node 1 index: %s", body)
	}
}

func TestAuditCoreKeysAndTenantTokens(t *testing.T) {
	const master = "audit-master-key-0123456789"
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, shards: 8, nodeKey: master, timing: oneRetry})
	c, srv := f.c, f.srv
	defer c.Close()
	ctx := testCtx(t)
	acWaitOK(t, c)(c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "docs", PrimaryKey: "id"}))
	acWaitOK(t, c)(c.Index("docs").AddDocuments(ctx, acDocs(0, 30), nil))

	key, err := c.CreateKey(ctx, &meilisearch.Key{Name: "search", Actions: []string{"search", "documents.get"}, Indexes: []string{"docs"}})
	if err != nil {
		t.Fatal(err)
	}
	if key.UID == "" || key.Key == "" {
		t.Fatalf("key %+v", key)
	}
	for i := range srv {
		st, body := acHTTP(t, srv[i].URL(), "GET", "/keys/"+key.UID, nil, master)
		if st != 200 || !strings.Contains(string(body), key.Key) {
			t.Errorf("node %d does not hold key %s with value %s: %d %s", i, key.UID, key.Key, st, body)
		}
	}
	// The key value works on every node.
	for i := range srv {
		if st, body := acHTTP(t, srv[i].URL(), "POST", "/indexes/docs/search", map[string]any{"q": "title"}, key.Key); st != 200 {
			t.Errorf("node %d rejects the broadcast key: %d %s", i, st, body)
		}
	}
	// An explicit uid is kept.
	uid := "0f0e0d0c-0b0a-4908-8706-050403020100"
	k2, err := c.CreateKey(ctx, &meilisearch.Key{UID: uid, Name: "fixed", Actions: []string{"search"}, Indexes: []string{"*"}})
	if err != nil || k2.UID != uid {
		t.Fatalf("explicit uid: %+v %v", k2, err)
	}
	// Tenant token computed locally works on every node.
	tok, err := c.GenerateTenantToken(key.UID, map[string]any{"docs": map[string]any{"filter": ""}}, &meilisearch.TenantTokenOptions{APIKey: key.Key, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range srv {
		if st, body := acHTTP(t, srv[i].URL(), "POST", "/indexes/docs/search", map[string]any{"q": "title"}, tok); st != 200 {
			t.Errorf("node %d rejects the tenant token: %d %s", i, st, body)
		}
	}
	// Update and delete are broadcast.
	if _, err := c.UpdateKey(ctx, key.UID, &meilisearch.Key{Name: "renamed", Description: "d"}); err != nil {
		t.Fatal(err)
	}
	for i := range srv {
		_, body := acHTTP(t, srv[i].URL(), "GET", "/keys/"+key.UID, nil, master)
		if !strings.Contains(string(body), `"renamed"`) {
			t.Errorf("node %d: key not renamed: %s", i, body)
		}
	}
	got, err := c.GetKey(ctx, key.UID)
	if err != nil || got.Name != "renamed" {
		t.Errorf("GetKey %+v %v", got, err)
	}
	if ok, err := c.DeleteKey(ctx, key.UID); err != nil || !ok {
		t.Fatalf("DeleteKey %v %v", ok, err)
	}
	for i := range srv {
		if st, _ := acHTTP(t, srv[i].URL(), "GET", "/keys/"+key.UID, nil, master); st != 404 {
			t.Errorf("node %d still has the deleted key (%d)", i, st)
		}
	}
	// With a node unreachable the key calls fail naming it; retrying converges.
	srv[2].Stop()
	keyUID := "11111111-2222-4333-8444-555555555555"
	if _, err := c.CreateKey(ctx, &meilisearch.Key{UID: keyUID, Name: "k", Actions: []string{"search"}, Indexes: []string{"*"}}); err == nil || !strings.Contains(err.Error(), "n2") {
		t.Errorf("CreateKey with n2 down: %v", err)
	}
	if err := srv[2].Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "n2 healthy", func() bool {
		for _, n := range c.Topology().Nodes {
			if n.ID == "n2" {
				return n.Healthy
			}
		}
		return false
	})
	k3, err := c.CreateKey(ctx, &meilisearch.Key{UID: keyUID, Name: "k", Actions: []string{"search"}, Indexes: []string{"*"}})
	if err != nil {
		t.Fatalf("CreateKey retried after the node returned: %v", err)
	}
	for i := range srv {
		st, body := acHTTP(t, srv[i].URL(), "GET", "/keys/"+keyUID, nil, master)
		if st != 200 || !strings.Contains(string(body), k3.Key) {
			t.Errorf("node %d after CreateKey retry: %d %s", i, st, body)
		}
	}
	srv[1].Stop()
	if _, err := c.DeleteKey(ctx, keyUID); err == nil || !strings.Contains(err.Error(), "n1") {
		t.Errorf("DeleteKey with n1 down: %v", err)
	}
	if _, err := c.UpdateKey(ctx, keyUID, &meilisearch.Key{Name: "z"}); err == nil || !strings.Contains(err.Error(), "n1") {
		t.Errorf("UpdateKey with n1 down: %v", err)
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

func TestAuditCoreUnsupportedMethods(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 4, timing: oneRetry})
	ctx := testCtx(t)
	calls := map[string]func() error{
		"GetNetwork":           func() error { return second(f.c.GetNetwork(ctx)) },
		"UpdateNetwork":        func() error { return second(f.c.UpdateNetwork(ctx, &meilisearch.UpdateNetworkRequest{})) },
		"GetBatches":           func() error { return second(f.c.GetBatches(ctx, nil)) },
		"GetBatch":             func() error { return second(f.c.GetBatch(ctx, 1)) },
		"AddWebhook":           func() error { return second(f.c.AddWebhook(ctx, &meilisearch.AddWebhookRequest{URL: "http://x"})) },
		"ListWebhooks":         func() error { return second(f.c.ListWebhooks(ctx)) },
		"Export":               func() error { return second(f.c.Export(ctx, &meilisearch.ExportParams{URL: "http://x"})) },
		"ChatCompletionStream": func() error { return second(f.c.ChatCompletionStream(ctx, "w", &meilisearch.ChatCompletionQuery{})) },
		"ListChatWorkspaces":   func() error { return second(f.c.ListChatWorkspaces(ctx, nil)) },
	}
	for name, call := range calls {
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			err = call()
		}()
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want an error matching ErrUnsupported", name, err)
			continue
		}
		if acAPICode(err) == "" {
			t.Errorf("%s: the unsupported error does not read as *meilisearch.Error", name)
		}
		if len(err.Error()) < 20 {
			t.Errorf("%s: message not clear: %q", name, err)
		}
	}
}

func TestAuditCoreStatsAggregated(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	docs := acDocs(0, 70)
	docs[3]["only_here"] = true
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, docs, nil))
	f.idle(t)
	st, err := ix.GetStats(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.NumberOfDocuments != 70 {
		t.Errorf("numberOfDocuments %d, want 70", st.NumberOfDocuments)
	}
	if st.FieldDistribution["id"] != 70 || st.FieldDistribution["title"] != 70 || st.FieldDistribution["only_here"] != 1 {
		t.Errorf("fieldDistribution %v", st.FieldDistribution)
	}
	if _, ok := st.FieldDistribution["_miroir_shard"]; ok {
		t.Errorf("fieldDistribution shows _miroir_shard")
	}
	if st.IsIndexing {
		t.Errorf("isIndexing on an idle fleet")
	}
	// isIndexing = any.
	f.srv[2].PauseTasks()
	if _, err := ix.AddDocuments(ctx, acDocs(100, 30), nil); err != nil {
		t.Fatal(err)
	}
	st, _ = ix.GetStats(ctx, nil)
	if !st.IsIndexing {
		t.Errorf("isIndexing false while a node has an enqueued task")
	}
	f.srv[2].ResumeTasks()
	gs, err := f.c.GetStats(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := gs.Indexes["docs"]; !ok {
		t.Errorf("global stats lack docs")
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

func acApp(ctx context.Context, svc meilisearch.ServiceManager) ([]string, error) {
	var out []string
	say := func(f string, a ...any) { out = append(out, fmt.Sprintf(f, a...)) }
	wait := func(info *meilisearch.TaskInfo, err error) (*meilisearch.Task, error) {
		if err != nil {
			return nil, err
		}
		say("info %s %s %s", info.Status, info.Type, info.IndexUID)
		task, err := svc.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
		if err != nil {
			return nil, err
		}
		say("task %s %s %s recv=%d idx=%d del=%d ids=%d err=%s", task.Type, task.Status, task.IndexUID,
			task.Details.ReceivedDocuments, task.Details.IndexedDocuments, task.Details.DeletedDocuments,
			task.Details.ProvidedIds, task.Error.Code)
		got, err := svc.GetTask(ctx, info.TaskUID)
		if err != nil {
			return nil, err
		}
		say("gettask %s %s", got.Status, got.Type)
		return task, nil
	}
	code := func(err error) string {
		var me *meilisearch.Error
		if err == nil {
			return "ok"
		}
		if errors.As(err, &me) {
			return fmt.Sprintf("%s/%d", me.APIError.Code, me.StatusCode)
		}
		return "non-meilisearch error"
	}
	if _, err := wait(svc.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "books", PrimaryKey: "id"})); err != nil {
		return out, err
	}
	ix := svc.Index("books")
	docs := make([]map[string]any, 200)
	for i := range docs {
		docs[i] = map[string]any{"id": i, "title": fmt.Sprintf("book %d about %s", i, []string{"cats", "dogs", "birds"}[i%3]), "year": 1900 + i}
	}
	if _, err := wait(ix.AddDocuments(ctx, docs, nil)); err != nil {
		return out, err
	}
	if _, err := wait(ix.UpdateDocuments(ctx, []map[string]any{{"id": 5, "title": "updated five"}}, nil)); err != nil {
		return out, err
	}
	if _, err := wait(ix.AddDocumentsNdjson(ctx, []byte("{\"id\":500,\"title\":\"ndjson cats\"}\n"), nil)); err != nil {
		return out, err
	}
	for _, id := range []string{"0", "5", "199", "500", "9999"} {
		var d map[string]any
		err := ix.GetDocument(ctx, id, nil, &d)
		say("get %s %s %v", id, code(err), d["title"])
	}
	var dr meilisearch.DocumentsResult
	err := ix.GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 5, Offset: 3}, &dr)
	say("list %s total=%d n=%d", code(err), dr.Total, len(dr.Results))
	for _, q := range []string{"cats", "dogs", "book", "zzz", "5"} {
		res, err := ix.Search(ctx, q, &meilisearch.SearchRequest{Limit: 1000})
		if err != nil {
			say("search %s %s", q, code(err))
			continue
		}
		var ids []string
		for _, h := range res.Hits {
			ids = append(ids, string(h["id"]))
		}
		sort.Strings(ids)
		say("search %q est=%d hits=%v", q, res.EstimatedTotalHits, ids)
	}
	if _, err := wait(ix.DeleteDocument(ctx, "0", nil)); err != nil {
		return out, err
	}
	if _, err := wait(ix.DeleteDocuments(ctx, []string{"1", "2", "77777"}, nil)); err != nil {
		return out, err
	}
	st, err := ix.GetStats(ctx, nil)
	if err != nil {
		return out, err
	}
	say("stats %d", st.NumberOfDocuments)
	_, err = svc.GetIndex(ctx, "nope")
	say("missing index %s", code(err))
	_, err = svc.GetTask(ctx, 987654321)
	say("missing task %s", code(err))
	_, err = svc.CancelTasks(ctx, &meilisearch.CancelTasksQuery{})
	say("cancel without filter %s", code(err))
	pk, err := ix.FetchPrimaryKey(ctx)
	if err == nil && pk != nil {
		say("pk %s", *pk)
	} else {
		say("pk %s", code(err))
	}
	list, err := svc.ListIndexes(ctx, &meilisearch.IndexesQuery{Limit: 10})
	if err == nil {
		var uids []string
		for _, r := range list.Results {
			uids = append(uids, r.UID)
		}
		say("indexes %v total=%d", uids, list.Total)
	}
	var part map[string]any
	err = ix.GetDocument(ctx, "7", &meilisearch.DocumentQuery{Fields: []string{"title"}}, &part)
	say("fields %s %v", code(err), part)
	if _, err := wait(svc.DeleteIndex(ctx, "never-created")); err != nil {
		return out, err
	}
	if _, err := wait(svc.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "books"})); err != nil {
		return out, err
	}
	if _, err := wait(svc.DeleteIndex(ctx, "books")); err != nil {
		return out, err
	}
	return out, nil
}

func TestAuditCoreDropIn(t *testing.T) {
	ctx := testCtx(t)
	single, _ := startRef(t)
	want, err := acApp(ctx, meilisearch.New(single.URL()))
	if err != nil {
		t.Fatalf("single node: %v", err)
	}
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 1, 1}, rf: 1, shards: 16, timing: oneRetry})
	var svc meilisearch.ServiceManager = f.c
	got, err := acApp(ctx, svc)
	if err != nil {
		t.Fatalf("cluster: %v\n%s", err, strings.Join(got, "\n"))
	}
	if !slices.Equal(got, want) {
		for i := 0; i < max(len(got), len(want)); i++ {
			var g, w string
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("line %d:\n  cluster: %s\n  single:  %s", i, g, w)
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

func TestAuditCoreReadmeCompatibilityTable(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for _, iface := range []reflect.Type{
		reflect.TypeOf((*meilisearch.ServiceManager)(nil)).Elem(),
		reflect.TypeOf((*meilisearch.IndexManager)(nil)).Elem(),
	} {
		settings := reflect.TypeOf((*meilisearch.SettingsManager)(nil)).Elem()
		for i := 0; i < iface.NumMethod(); i++ {
			name := iface.Method(i).Name
			if strings.Contains(readme, "`"+name+"`") || strings.Contains(readme, "`"+name+"(") {
				continue
			}
			// Rows may name a family: "every `Update…`/`Reset…` setting",
			// "`…NdjsonInBatches`".
			covered := false
			for j := 1; j < len(name); j++ {
				if strings.Contains(readme, "`…"+name[j:]+"`") {
					covered = true
				}
			}
			if _, ok := settings.MethodByName(name); ok {
				for _, p := range []string{"Get", "Update", "Reset"} {
					if strings.HasPrefix(name, p) && strings.Contains(readme, "every `"+p+"…`") || strings.Contains(readme, "`"+p+"…` setting") && strings.HasPrefix(name, p) {
						covered = true
					}
				}
			}
			if !covered {
				t.Errorf("README compatibility table lacks %s.%s", iface.Name(), name)
			}
		}
	}
	// The quickstart is the README's first command.
	i := strings.Index(readme, "```sh")
	if i < 0 {
		i = strings.Index(readme, "```bash")
	}
	if i < 0 {
		t.Fatal("no shell block in README")
	}
	block := readme[i:]
	block = block[strings.Index(block, "\n")+1:]
	first := strings.TrimSpace(strings.SplitN(block, "\n", 2)[0])
	if !strings.HasPrefix(first, "go run ./examples/quickstart") {
		t.Errorf("README's first command is %q, want go run ./examples/quickstart", first)
	}
}

func TestAuditCoreDependencies(t *testing.T) {
	raw, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	readme, _ := os.ReadFile("README.md")
	allowed := []string{"github.com/meilisearch/meilisearch-go", "github.com/cespare/xxhash/v2", "golang.org/x/sync", "github.com/hashicorp/go-retryablehttp"}
	inRequire := false
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "require ("):
			inRequire = true
			continue
		case line == ")":
			inRequire = false
			continue
		}
		var mod string
		if strings.HasPrefix(line, "require ") && !strings.HasSuffix(line, "(") {
			mod = strings.Fields(line)[1]
		} else if inRequire && line != "" {
			mod = strings.Fields(line)[0]
		}
		if mod == "" || strings.Contains(line, "// indirect") || slices.Contains(allowed, mod) {
			continue
		}
		if !strings.Contains(string(readme), mod) {
			t.Errorf("go.mod requires %s without a written reason in the README", mod)
		}
	}
	if !strings.Contains(string(raw), "github.com/meilisearch/meilisearch-go v0.37.") {
		t.Errorf("meilisearch-go is not v0.37.x")
	}
}

func TestAuditCoreQuickstartRuns(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("go tool not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./examples/quickstart")
	env := []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "MEILI_URLS=") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "succeeded") || strings.Count(s, "shards=") < 3 {
		t.Errorf("quickstart output lacks the task outcome or the per-node shard distribution:\n%s", s)
	}
}

func TestAuditCoreProxyTopologyRoutes(t *testing.T) {
	const master = "proxy-master-key-000000"
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, shards: 8, nodeKey: master, timing: oneRetry,
		proxy: true, hopts: []HandlerOption{WithMasterKey("front-key"), WithAdminKey("admin-key")}})
	for _, p := range []string{"/_miroir/topology", "/_miroir/shards"} {
		st, body := acHTTP(t, f.url, "GET", p, nil, "admin-key")
		if st != 200 || !json.Valid(body) {
			t.Errorf("%s: %d %s", p, st, body)
		}
		if strings.Contains(string(body), master) {
			t.Errorf("%s leaks the node key", p)
		}
		if st, _ := acHTTP(t, f.url, "GET", p, nil, "front-key"); st != 403 {
			t.Errorf("%s with the master key instead of the admin key: %d, want 403", p, st)
		}
	}
	if st, body := acHTTP(t, f.url, "GET", "/indexes", nil, ""); st != 401 || !strings.Contains(string(body), "missing_authorization_header") {
		t.Errorf("no auth: %d %s", st, body)
	}
	if st, body := acHTTP(t, f.url, "GET", "/indexes", nil, "wrong"); st != 403 || !strings.Contains(string(body), "invalid_api_key") {
		t.Errorf("wrong key: %d %s", st, body)
	}
	if st, _ := acHTTP(t, f.url, "GET", "/health", nil, ""); st != 200 {
		t.Errorf("/health must be open: %d", st)
	}
	var top map[string]any
	_, body := acHTTP(t, f.url, "GET", "/_miroir/topology", nil, "admin-key")
	_ = json.Unmarshal(body, &top)
	if top["shards"] != float64(8) {
		t.Errorf("topology JSON: %s", body)
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

// DESIGN §2: "A Cluster configured with another S refuses every call on that
// index with miroir_shard_count_mismatch." (issue 3: "refuses to touch that
// index"). DeleteIndex / Index.Delete from a Cluster with another shard count
// must be refused too.
func TestAuditCoreShardCountMismatchDelete(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 20), nil))
	for _, how := range []string{"Index.Delete", "DeleteIndex"} {
		other := f.newCluster(t, append(oneRetry.options(), WithShards(16))...)
		if how == "DeleteIndex" {
			info, err := other.DeleteIndex(ctx, "docs")
			if err == nil {
				task, _ := other.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
				t.Errorf("DeleteIndex with another shard count accepted (task %v)", task.Status)
			} else if !errors.Is(err, ErrShardCountMismatch) {
				t.Errorf("DeleteIndex with another shard count: %v", err)
			}
		} else {
			ok, err := other.Index("docs").Delete(ctx, "docs")
			if err == nil {
				t.Errorf("Index.Delete with another shard count accepted (%v)", ok)
			} else if !errors.Is(err, ErrShardCountMismatch) {
				t.Errorf("Index.Delete with another shard count: %v", err)
			}
		}
		other.Close()
		f.idle(t)
		if _, err := f.c.GetIndex(ctx, "docs"); err != nil {
			t.Fatalf("%s from a Cluster with S=16 deleted the S=8 index: %v", how, err)
		}
	}
}

func TestAuditCoreMetaIndexHidden(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 4, timing: oneRetry, proxy: true})
	ctx := testCtx(t)
	f.create(t, "alpha", "id")
	ix := f.create(t, "beta", "id")
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 20), nil))
	f.idle(t)
	list, err := f.c.ListIndexes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, r := range list.Results {
		uids = append(uids, r.UID)
	}
	if !slices.Equal(uids, []string{"alpha", "beta"}) || list.Total != 2 {
		t.Errorf("ListIndexes: %v total %d", uids, list.Total)
	}
	// Pagination around the reserved index's place in uid order.
	f.create(t, "nu", "id")
	f.create(t, "zeta", "id")
	page, err := f.c.ListIndexes(ctx, &meilisearch.IndexesQuery{Offset: 1, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	uids = nil
	for _, r := range page.Results {
		uids = append(uids, r.UID)
	}
	if !slices.Equal(uids, []string{"beta", "nu"}) || page.Total != 4 {
		t.Errorf("ListIndexes offset 1 limit 2: %v total %d, want [beta nu] total 4", uids, page.Total)
	}
	raw, err := f.c.GetRawIndexes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(raw); strings.Contains(string(b), "miroir_meta") {
		t.Errorf("GetRawIndexes shows miroir_meta: %s", b)
	}
	stats, err := f.c.GetStats(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stats.Indexes["miroir_meta"]; ok {
		t.Errorf("GetStats shows miroir_meta")
	}
	if stats.Indexes["beta"].NumberOfDocuments != 20 {
		t.Errorf("global stats beta: %+v", stats.Indexes["beta"])
	}
	if _, ok := stats.Indexes["beta"].FieldDistribution["_miroir_shard"]; ok {
		t.Errorf("global stats fieldDistribution shows _miroir_shard")
	}
	for _, p := range []string{"/indexes", "/stats"} {
		st, body := acHTTP(t, f.url, "GET", p, nil, "")
		if st != 200 || strings.Contains(string(body), "miroir_meta") {
			t.Errorf("proxy %s: %d %s", p, st, body)
		}
	}
}
