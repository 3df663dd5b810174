package miroir

// The end state of a topology change as the nodes hold it (issue 14):
// every document on a replica of its shard only, every replica of a shard
// identical, the oracle's documents and nothing else, the same settings
// everywhere; and the same through a Cluster (listing, Verify).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// rawNodeDocs returns every document node id holds in index uid, with
// miroir's internal fields, by document id (none when it has no index).
func (f *topoFleet) rawNodeDocs(t testing.TB, id, uid string) map[string]map[string]any {
	t.Helper()
	st, body := acHTTP(t, f.urls[id], "GET", "/indexes/"+uid+"/documents?limit=1000000", nil, "")
	if st == 404 {
		return map[string]map[string]any{}
	}
	if st != 200 {
		t.Fatalf("node %s documents: %d %s", id, st, body)
	}
	var res struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]map[string]any, len(res.Results))
	for _, d := range res.Results {
		out[acIDString(d["id"])] = d
	}
	return out
}

// shardCounts describes, for each shard, how many documents of it every
// node holds now and which replicas c reads and writes (diagnostics only:
// errors are part of the text).
func (f *topoFleet) shardCounts(c *Cluster, uid string, shards []int) string {
	var b strings.Builder
	tp := c.Topology()
	for _, sh := range shards {
		fmt.Fprintf(&b, "shard %d:", sh)
		for _, id := range f.order {
			st, body := topoNodeSearch(f.urls[id], uid, fmt.Sprintf("%s = %d", shardField, sh))
			if st != 200 {
				fmt.Fprintf(&b, " %s=%d", id, st)
				continue
			}
			var res struct {
				N int `json:"estimatedTotalHits"`
			}
			_ = json.Unmarshal(body, &res)
			fmt.Fprintf(&b, " %s=%d", id, res.N)
		}
		var reps []string
		for g := range tp.Groups {
			reps = append(reps, tp.Replicas(sh, g)...)
		}
		fmt.Fprintf(&b, " (replicas %v, stale %v) ", reps, tp.Stale)
	}
	return b.String()
}

// topoNodeSearch counts documents matching filter on a node, without a
// testing.TB (it runs in the searcher's goroutine).
func topoNodeSearch(base, uid, filter string) (int, []byte) {
	raw, _ := json.Marshal(map[string]any{"q": "", "limit": 0, "filter": filter})
	resp, err := http.Post(base+"/indexes/"+uid+"/search", "application/json", bytes.NewReader(raw))
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// hasIndex reports whether node id holds index uid.
func (f *topoFleet) hasIndex(t testing.TB, id, uid string) bool {
	t.Helper()
	st, body := acHTTP(t, f.urls[id], "GET", "/indexes/"+uid, nil, "")
	if st != 200 && st != 404 {
		t.Fatalf("node %s index %s: %d %s", id, uid, st, body)
	}
	return st == 200
}

// idle waits until no node has a task enqueued or processing.
func (f *topoFleet) idle(t testing.TB) {
	t.Helper()
	ctx := testCtx(t)
	for _, id := range f.order {
		if s := f.srv[id]; s.Running() {
			if err := s.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// placement is a topology's replica sets: shard -> the set of node IDs
// holding it (every group).
type placement map[int]map[string]bool

func placementOf(tp Topology) placement {
	p := placement{}
	for s := range tp.Shards {
		p[s] = map[string]bool{}
		for g := range tp.Groups {
			for _, id := range tp.Replicas(s, g) {
				p[s][id] = true
			}
		}
	}
	return p
}

// gained returns, per shard, the replicas the new placement adds.
func (p placement) gained(next placement) map[int][]string {
	out := map[int][]string{}
	for s, ids := range next {
		for id := range ids {
			if !p[s][id] {
				out[s] = append(out[s], id)
			}
		}
		slices.Sort(out[s])
	}
	return out
}

// checkNodes checks what the nodes hold against the topology tp and the
// oracle: every document is on the shard its id hashes to, on a node that
// is a replica of that shard in tp (nodes outside tp hold nothing), every
// replica of a shard holds the same documents in the same versions, and
// the documents are the oracle's: every acknowledged one with its last
// acknowledged revision, no deleted one (uncertain ones either way). It
// returns the documents per shard.
func (f *topoFleet) checkNodes(t testing.TB, tp Topology, uid string, o *topoOracle) map[int]map[string]float64 {
	t.Helper()
	f.idle(t)
	pl := placementOf(tp)
	// shard -> node -> id -> version
	held := map[int]map[string]map[string]float64{}
	union := map[string]map[string]any{}
	for _, id := range f.order {
		for docID, d := range f.rawNodeDocs(t, id, uid) {
			sh, ok := d[shardField].(float64)
			if !ok || int(sh) != ShardOf(docID, tp.Shards) {
				t.Errorf("node %s: document %s has %s %v, its id hashes to shard %d", id, docID, shardField, d[shardField], ShardOf(docID, tp.Shards))
				continue
			}
			s := int(sh)
			if !pl[s][id] {
				t.Errorf("node %s holds document %s of shard %d, whose replicas are %v", id, docID, s, sortedKeys(pl[s]))
				continue
			}
			if held[s] == nil {
				held[s] = map[string]map[string]float64{}
			}
			if held[s][id] == nil {
				held[s][id] = map[string]float64{}
			}
			v, _ := d[versionField].(float64)
			held[s][id][docID] = v
			union[docID] = d
		}
	}
	perShard := map[int]map[string]float64{}
	for s := range tp.Shards {
		var ref map[string]float64
		var refNode string
		for _, id := range sortedKeys(pl[s]) {
			docs := held[s][id]
			if docs == nil {
				docs = map[string]float64{}
			}
			if ref == nil {
				ref, refNode = docs, id
				continue
			}
			for docID, v := range ref {
				if w, ok := docs[docID]; !ok {
					t.Errorf("shard %d: document %s on %s, not on %s", s, docID, refNode, id)
				} else if w != v {
					t.Errorf("shard %d: document %s version %v on %s, %v on %s", s, docID, v, refNode, w, id)
				}
			}
			for docID := range docs {
				if _, ok := ref[docID]; !ok {
					t.Errorf("shard %d: document %s on %s, not on %s", s, docID, id, refNode)
				}
			}
		}
		perShard[s] = ref
	}
	present, uncertain := o.final()
	for id, rev := range present {
		d := union[id]
		if d == nil {
			t.Errorf("acknowledged document %s (rev %d) is on no node", id, rev)
			continue
		}
		if got, _ := d["rev"].(float64); int(got) != rev {
			t.Errorf("document %s: rev %v on the nodes, last acknowledged %d", id, d["rev"], rev)
		}
	}
	for id := range union {
		if _, ok := present[id]; !ok && !uncertain[id] {
			t.Errorf("document %s is on the nodes, but its deletion was acknowledged (or it was never written)", id)
		}
	}
	return perShard
}

// checkSettings fails unless every node of tp holds index uid with the
// same settings (those given through miroir and miroir's own).
func (f *topoFleet) checkSettings(t testing.TB, tp Topology, uid string) {
	t.Helper()
	var ref map[string]any
	var refNode string
	for _, n := range tp.Nodes {
		st, body := acHTTP(t, f.urls[n.ID], "GET", "/indexes/"+uid+"/settings", nil, "")
		if st != 200 {
			t.Errorf("node %s settings of %s: %d %s", n.ID, uid, st, body)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref, refNode = m, n.ID
			continue
		}
		for k, v := range ref {
			if !reflect.DeepEqual(v, m[k]) {
				t.Errorf("settings of %s: %s is %v on %s, %v on %s", uid, k, v, refNode, m[k], n.ID)
			}
		}
	}
	if sortable, _ := ref["sortableAttributes"].([]any); ref != nil && !slices.Contains(sortable, any("title")) {
		t.Errorf("settings of %s: sortableAttributes %v, want title among them", uid, ref["sortableAttributes"])
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// topoReadAll lists every document of uid through c and checks it against the
// oracle's end state (no write running).
func topoReadAll(t testing.TB, name string, c *Cluster, uid string, o *topoOracle) {
	t.Helper()
	var res meilisearch.DocumentsResult
	if err := c.Index(uid).GetDocuments(testCtx(t), &meilisearch.DocumentsQuery{Limit: topoReadLimit}, &res); err != nil {
		t.Fatalf("%s: GetDocuments: %v", name, err)
	}
	got := map[string]int{}
	for _, h := range res.Results {
		got[topoHitID(h)]++
	}
	if int64(len(res.Results)) != res.Total {
		t.Errorf("%s: %d documents listed, total %d", name, len(res.Results), res.Total)
	}
	bad, _ := o.check(o.snapshot(), got)
	for _, b := range bad {
		t.Errorf("%s: %s", name, b)
	}
}

// verifyClean runs Verify through c and fails unless every replica of
// every shard holds the truth.
func verifyClean(t testing.TB, c *Cluster, uid string) {
	t.Helper()
	vr, err := c.Verify(testCtx(t), uid)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if vr.Consistent() {
		return
	}
	for _, s := range vr.Shards {
		if s.Error != "" {
			t.Errorf("Verify: shard %d: %s", s.Shard, s.Error)
		}
		for _, r := range s.Replicas {
			if !r.Reached || r.Stale || r.Differs() {
				t.Errorf("Verify: shard %d replica %+v", s.Shard, r)
			}
		}
	}
}

// topoErrCode returns the miroir or Meilisearch code of err, "" if none.
func topoErrCode(err error) (code string, status int) {
	var me *Error
	if errors.As(err, &me) {
		return me.Code, me.Status
	}
	var mm *meilisearch.Error
	if errors.As(err, &mm) {
		return string(mm.APIError.Code), mm.StatusCode
	}
	return "", 0
}
