package miroir

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

var updateVectors = flag.Bool("update", false, "regenerate testdata/shard_vectors.json")

const vectorsPath = "testdata/shard_vectors.json"

// shardVectors is the golden file layout: enough for another implementation
// to check its hashing, modulo and rendezvous ordering against ours.
type shardVectors struct {
	Comment    []string           `json:"comment"`
	ShardOf    []shardOfVector    `json:"shardOf"`
	Rendezvous []rendezvousVector `json:"rendezvous"`
}

type shardOfVector struct {
	PK     string         `json:"pk"`
	XXH64  string         `json:"xxh64"` // hex of xxh64(pk, seed 0)
	Shards map[string]int `json:"shards"`
}

type rendezvousVector struct {
	Nodes  []string          `json:"nodes"`
	Shard  int               `json:"shard"`
	Scores map[string]string `json:"scores"` // hex of xxh64(le32(shard) ‖ id)
	Order  []string          `json:"order"`
}

var vectorShardCounts = []int{1, 7, 64, 1000}

func vectorIDs() []string {
	ids := []string{"0", "1", "42", "-7", "9223372036854775807", "18446744073709551615",
		"a", "A", "abc", "doc-1", "doc_2", "user-00017", "ZzZ-_-09",
		"550e8400-e29b-41d4-a716-446655440000", "6512bd43d9caa6e02c990b0a82652dca"}
	ids = append(ids, strings.Repeat("x", 511), strings.Repeat("Ab0-_", 100))
	for i := 0; i < 10; i++ {
		ids = append(ids, strconv.Itoa(i*7919+100000))
	}
	return ids
}

func vectorNodeSets() [][]string {
	return [][]string{
		{"n1"},
		{"n1", "n2", "n3"},
		{"node-a", "node-b", "node-c", "node-d", "node-e"},
		{"meili-0", "meili-1", "meili-2", "meili-3", "meili-4", "meili-5", "meili-6", "meili-7"},
	}
}

func generateVectors() shardVectors {
	v := shardVectors{Comment: []string{
		"Golden vectors for miroir shard routing (DESIGN.md section 2).",
		"shardOf: shard = xxh64(pk, seed 0) mod S, xxh64 as 16 hex digits; S as the map key.",
		"rendezvous: score = xxh64(le32(shard) || nodeID) as 16 hex digits; order = descending score, ties by smaller ID.",
		"An integer id is hashed as its decimal text: 42 and \"42\" are the same document.",
	}}
	for _, id := range vectorIDs() {
		sv := shardOfVector{PK: id, XXH64: fmt.Sprintf("%016x", xxhash.Sum64String(id)), Shards: map[string]int{}}
		for _, s := range vectorShardCounts {
			sv.Shards[strconv.Itoa(s)] = ShardOf(id, s)
		}
		v.ShardOf = append(v.ShardOf, sv)
	}
	for _, nodes := range vectorNodeSets() {
		cand := make([]int, len(nodes))
		for i := range cand {
			cand[i] = i
		}
		for _, s := range []int{0, 1, 5, 63, 999} {
			rv := rendezvousVector{Nodes: nodes, Shard: s, Scores: map[string]string{}}
			for _, id := range nodes {
				rv.Scores[id] = fmt.Sprintf("%016x", rendezvousScore(s, id))
			}
			for _, i := range rendezvousOrder(s, nodes, cand) {
				rv.Order = append(rv.Order, nodes[i])
			}
			v.Rendezvous = append(v.Rendezvous, rv)
		}
	}
	return v
}

func TestShardVectors(t *testing.T) {
	if *updateVectors {
		b, err := json.MarshalIndent(generateVectors(), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(vectorsPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (run go test -run TestShardVectors -update)", err)
	}
	var v shardVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.ShardOf) == 0 || len(v.Rendezvous) == 0 {
		t.Fatal("empty vector file")
	}
	// Check the file against an independent evaluation, not just a
	// regenerate-and-compare, so a change in the code shows up here.
	for _, sv := range v.ShardOf {
		h, err := strconv.ParseUint(sv.XXH64, 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got := xxhash.Sum64String(sv.PK); got != h {
			t.Errorf("xxh64(%q) = %016x, file says %s", sv.PK, got, sv.XXH64)
		}
		for ks, want := range sv.Shards {
			s, _ := strconv.Atoi(ks)
			if got := ShardOf(sv.PK, s); got != want {
				t.Errorf("ShardOf(%q, %d) = %d, file says %d", sv.PK, s, got, want)
			}
			if uint64(want) != h%uint64(s) {
				t.Errorf("file: shard of %q mod %d inconsistent with its hash", sv.PK, s)
			}
		}
	}
	for _, rv := range v.Rendezvous {
		nodes := make([]Node, len(rv.Nodes))
		for i, id := range rv.Nodes {
			nodes[i] = Node{ID: id, URL: "http://" + id + ":7700"}
		}
		top, err := newTopology(nodes, rv.Shard+1, len(nodes))
		if err != nil {
			t.Fatal(err)
		}
		got := top.snapshot(nil).Replicas(rv.Shard, 0)
		if !slices.Equal(got, rv.Order) {
			t.Errorf("nodes %v shard %d: order %v, file says %v", rv.Nodes, rv.Shard, got, rv.Order)
		}
		for id, hs := range rv.Scores {
			if got := fmt.Sprintf("%016x", rendezvousScore(rv.Shard, id)); got != hs {
				t.Errorf("score(%d, %q) = %s, file says %s", rv.Shard, id, got, hs)
			}
		}
		// The order must be descending by the file's own scores.
		for i := 1; i < len(rv.Order); i++ {
			a, _ := strconv.ParseUint(rv.Scores[rv.Order[i-1]], 16, 64)
			b, _ := strconv.ParseUint(rv.Scores[rv.Order[i]], 16, 64)
			if a < b || (a == b && rv.Order[i-1] > rv.Order[i]) {
				t.Errorf("file order %v not descending at %d", rv.Order, i)
			}
		}
	}
	if !*updateVectors {
		// The file must also match what the current code would write.
		want, _ := json.MarshalIndent(generateVectors(), "", "  ")
		if strings.TrimSpace(string(b)) != string(want) {
			t.Error("testdata/shard_vectors.json is stale; run go test -run TestShardVectors -update")
		}
	}
}

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
