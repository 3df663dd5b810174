package miroir

// The golden shard vectors (testdata/shard_vectors.json): generated from
// the design's definition with -update, checked against ShardOf and the
// rendezvous order, and re-derived independently from xxh64.

import (
	"encoding/json"
	"flag"
	"fmt"
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
