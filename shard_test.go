package miroir

// Sharding and topology (shard.go): ShardOf, the rendezvous order of
// replicas, topology validation, balance and minimal disruption, checked
// against an independent reimplementation of DESIGN §2.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestShardOfKnown(t *testing.T) {
	// xxh64("", 0) is the published constant ef46db3751d8e999.
	if got := xxhash.Sum64String(""); got != 0xef46db3751d8e999 {
		t.Fatalf("xxh64 empty = %x", got)
	}
	if got := ShardOf("anything", 1); got != 0 {
		t.Fatalf("ShardOf with 1 shard = %d", got)
	}
	// No panic across the API: a count below 1 means one shard.
	if got := ShardOf("x", 0); got != 0 {
		t.Fatalf("ShardOf(_, 0) = %d", got)
	}
}

func mkNodes(groups ...int) []Node {
	var nodes []Node
	for g, n := range groups {
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("g%d-n%d", g, i)
			nodes = append(nodes, Node{ID: id, URL: "http://" + id + ":7700", Group: g, APIKey: "secret-" + id})
		}
	}
	return nodes
}

func TestNewTopologyValidation(t *testing.T) {
	good := mkNodes(2, 2)
	cases := []struct {
		name   string
		nodes  []Node
		shards int
		rf     int
		want   string
	}{
		{"no nodes", nil, 64, 1, "no nodes"},
		{"zero shards", good, 0, 1, "shard count"},
		{"zero rf", good, 64, 0, "replication factor"},
		{"empty id", []Node{{URL: "http://a"}}, 64, 1, "empty ID"},
		{"dup id", []Node{{ID: "a", URL: "http://a"}, {ID: "a", URL: "http://b"}}, 64, 1, "duplicate node ID"},
		{"gap", []Node{{ID: "a", URL: "http://a"}, {ID: "b", URL: "http://b", Group: 2}}, 64, 1, "without gaps"},
		{"not from zero", []Node{{ID: "a", URL: "http://a", Group: 1}}, 64, 1, "without gaps"},
		{"negative group", []Node{{ID: "a", URL: "http://a", Group: -1}}, 64, 1, "negative group"},
		{"small group", mkNodes(3, 1), 64, 2, "fewer than the replication factor"},
		{"relative url", []Node{{ID: "a", URL: "localhost:7700"}}, 64, 1, "http or https"},
		{"ftp url", []Node{{ID: "a", URL: "ftp://a"}}, 64, 1, "http or https"},
		{"no host", []Node{{ID: "a", URL: "http://"}}, 64, 1, "no host"},
		{"bad url", []Node{{ID: "a", URL: "http://a b:x"}}, 64, 1, "invalid URL"},
	}
	for _, c := range cases {
		_, err := newTopology(c.nodes, c.shards, c.rf)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "miroir: ") {
			t.Errorf("%s: err = %v, want containing %q", c.name, err, c.want)
		}
	}
	if _, err := newTopology(good, 64, 2); err != nil {
		t.Fatal(err)
	}
}

func TestTopologyProperties(t *testing.T) {
	for _, shape := range [][]int{{1}, {3}, {5}, {2, 2}, {3, 4}, {3, 3, 3}} {
		for _, rf := range []int{1, 2, 3} {
			if slices.Min(shape) < rf {
				continue
			}
			nodes := mkNodes(shape...)
			top, err := newTopology(nodes, 64, rf)
			if err != nil {
				t.Fatal(err)
			}
			if top.groups() != len(shape) {
				t.Fatalf("groups = %d", top.groups())
			}
			held := make([]map[int]bool, len(nodes))
			for i := range held {
				held[i] = map[int]bool{}
			}
			for s := range 64 {
				targets := top.writeTargets(s)
				if len(targets) != rf*len(shape) {
					t.Fatalf("targets %v", targets)
				}
				for g := range len(shape) {
					reps := top.replicas(s, g)
					if len(reps) != rf {
						t.Fatalf("shape %v rf %d: %d replicas", shape, rf, len(reps))
					}
					seen := map[int]bool{}
					for _, ni := range reps {
						if nodes[ni].Group != g {
							t.Fatalf("replica %d of shard %d not in group %d", ni, s, g)
						}
						if seen[ni] {
							t.Fatalf("duplicate replica %d", ni)
						}
						seen[ni] = true
						held[ni][s] = true
					}
					if !slices.Equal(reps, targets[g*rf:(g+1)*rf]) {
						t.Fatal("writeTargets disagrees with replicas")
					}
				}
			}
			for ni := range nodes {
				got := top.shardsOf(ni)
				if len(got) != len(held[ni]) || !slices.IsSorted(got) {
					t.Fatalf("shardsOf(%d) = %v, held %v", ni, got, held[ni])
				}
			}
			// Each group alone holds every shard RF times.
			for g := range len(shape) {
				count := 0
				for ni, n := range nodes {
					if n.Group == g {
						count += len(top.shardsOf(ni))
					}
				}
				if count != 64*rf {
					t.Fatalf("group %d holds %d shard copies, want %d", g, count, 64*rf)
				}
			}
		}
	}
}

func TestTopologyBalance(t *testing.T) {
	// Rendezvous over 64 shards is binomial per node (sd ~ sqrt(64p(1-p))),
	// so a single node set can be lumpy by chance; check the distribution
	// over many node sets instead of one set's extremes.
	for n := 3; n <= 8; n++ {
		ideal := 64.0 / float64(n)
		sd := math.Sqrt(64 * (1 / float64(n)) * (1 - 1/float64(n)))
		outliers, total := 0, 0
		for trial := range 200 {
			var nodes []Node
			for i := range n {
				id := fmt.Sprintf("t%d-node-%d", trial, i)
				nodes = append(nodes, Node{ID: id, URL: "http://" + id})
			}
			top, err := newTopology(nodes, 64, 1)
			if err != nil {
				t.Fatal(err)
			}
			for ni := range n {
				got := float64(len(top.shardsOf(ni)))
				total++
				if math.Abs(got-ideal) > 2.5*sd {
					outliers++
				}
				if got > ideal+6*sd {
					t.Errorf("%d nodes, trial %d: node %d holds %v shards, ideal %.1f", n, trial, ni, got, ideal)
				}
			}
		}
		// Binomial tails beyond 2.5 sd hold about 1-2% of nodes.
		if frac := float64(outliers) / float64(total); frac > 0.04 {
			t.Errorf("%d nodes: %.1f%% of nodes beyond 2.5 sd of ideal", n, frac*100)
		}
	}
	// With many shards the spread must tighten.
	top, _ := newTopology(mkNodes(5), 10000, 1)
	for ni := range 5 {
		if got := len(top.shardsOf(ni)); got < 1800 || got > 2200 {
			t.Errorf("10000 shards over 5 nodes: node %d holds %d", ni, got)
		}
	}
}

func TestTopologyMinimalDisruption(t *testing.T) {
	for n := 2; n <= 7; n++ {
		for _, rf := range []int{1, 2} {
			if n < rf {
				continue
			}
			before, _ := newTopology(mkNodes(n), 256, rf)
			after, _ := newTopology(mkNodes(n+1), 256, rf)
			newIdx := n
			moved := 0
			for s := range 256 {
				b, a := before.replicas(s, 0), after.replicas(s, 0)
				// Every replica of the old set that is not in the new set
				// must have been displaced by the new node.
				for _, ni := range b {
					if !slices.Contains(a, ni) {
						if !slices.Contains(a, newIdx) {
							t.Fatalf("n=%d rf=%d shard %d: %v -> %v without the new node", n, rf, s, b, a)
						}
						moved++
					}
				}
				for _, ni := range a {
					if ni != newIdx && !slices.Contains(b, ni) {
						t.Fatalf("n=%d rf=%d shard %d: old node %d gained it", n, rf, s, ni)
					}
				}
			}
			if len(after.shardsOf(newIdx)) != moved {
				t.Fatalf("moved %d, new node holds %d", moved, len(after.shardsOf(newIdx)))
			}
		}
	}
}

func TestSnapshot(t *testing.T) {
	nodes := mkNodes(3, 3)
	top, err := newTopology(nodes, 16, 2)
	if err != nil {
		t.Fatal(err)
	}
	snap := top.snapshot(func(i int) bool { return i != 1 })
	if snap.Shards != 16 || snap.ReplicationFactor != 2 || snap.Groups != 2 || len(snap.Nodes) != 6 {
		t.Fatalf("snapshot %+v", snap)
	}
	if snap.Nodes[1].Healthy || !snap.Nodes[0].Healthy {
		t.Fatal("health not copied")
	}
	b, _ := json.Marshal(snap)
	if strings.Contains(string(b), "secret") {
		t.Fatal("API key leaked into snapshot")
	}
	if snap.Replicas(16, 0) != nil || snap.Replicas(0, 2) != nil || snap.Replicas(-1, 0) != nil {
		t.Fatal("out of range not nil")
	}
	// A hand-built snapshot (JSON round trip loses the cache) agrees.
	var rt Topology
	if err := json.Unmarshal(b, &rt); err != nil {
		t.Fatal(err)
	}
	for s := range 16 {
		for g := range 2 {
			want := make([]string, 0, 2)
			for _, ni := range top.replicas(s, g) {
				want = append(want, nodes[ni].ID)
			}
			if got := snap.Replicas(s, g); !slices.Equal(got, want) {
				t.Fatalf("Replicas(%d,%d) = %v want %v", s, g, got, want)
			}
			if got := rt.Replicas(s, g); !slices.Equal(got, want) {
				t.Fatalf("recomputed Replicas(%d,%d) = %v want %v", s, g, got, want)
			}
		}
	}
	sm := snap.ShardMap()
	if len(sm) != 16 || len(sm[3]) != 4 {
		t.Fatalf("ShardMap %v", sm)
	}
	// Mutating the returned slice must not corrupt the snapshot.
	r := snap.Replicas(0, 0)
	r[0] = "zzz"
	if snap.Replicas(0, 0)[0] == "zzz" {
		t.Fatal("Replicas returned shared slice")
	}
}

func TestTopologyLookupsAllocFree(t *testing.T) {
	top, _ := newTopology(mkNodes(3, 3), 64, 2)
	allocs := testing.AllocsPerRun(100, func() {
		for s := range 64 {
			_ = top.writeTargets(s)
			_ = top.replicas(s, 1)
		}
		_ = top.shardsOf(2)
		_ = ShardOf("doc-12345", 64)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs", allocs)
	}
}

func BenchmarkShardOf(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		_ = ShardOf("550e8400-e29b-41d4-a716-446655440000", 64)
	}
}

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
