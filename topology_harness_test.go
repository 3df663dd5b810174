package miroir

// The topology-change harness (issue 14): a fleet of meilitest nodes some
// of which are spares a change may add, application instances over it, an
// oracle of acknowledged writes, writers and a searcher that check every
// answer against the oracle while a change runs, and the end-state checks
// (every node holds only its own shards, every replica of a shard holds the
// same documents, the oracle's documents and nothing else).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// topoRefresh is how often the harness's instances re-read the fleet's
// record: small, so that followers catch up quickly and a change's phases
// do not wait long for every instance to have seen them.
const topoRefresh = 50 * time.Millisecond

// topoFleet is a set of started meilitest nodes: those of the fleet's first
// topology and spares a change may add. Node IDs are "t0", "t1", ... in
// start order; they decide placement, so expectations derive from the
// Topology snapshots rather than from fixed shard numbers.
type topoFleet struct {
	shards  int
	rf      int // the first topology's replication factor
	initial []Node
	srv     map[string]*meilitest.Server // every node by ID, spares included
	urls    map[string]string
	order   []string // every node ID in start order
}

// startTopoFleet starts one node per entry of groups (the first topology,
// node i in group groups[i]) and spare more nodes, with instant node tasks.
func startTopoFleet(t testing.TB, groups []int, spare, shards, rf int) *topoFleet {
	t.Helper()
	f := &topoFleet{shards: shards, rf: rf, srv: map[string]*meilitest.Server{}, urls: map[string]string{}}
	for i := range len(groups) + spare {
		id := fmt.Sprintf("t%d", i)
		s := meilitest.RunT(t, meilitest.WithTaskDuration(0))
		f.srv[id], f.urls[id] = s, s.URL()
		f.order = append(f.order, id)
		if i < len(groups) {
			f.initial = append(f.initial, Node{ID: id, URL: s.URL(), Group: groups[i]})
		}
	}
	return f
}

// node returns node id described for group g.
func (f *topoFleet) node(id string, g int) Node {
	return Node{ID: id, URL: f.urls[id], Group: g}
}

// plus returns the first topology with the nodes add appended.
func (f *topoFleet) plus(add ...Node) []Node {
	return append(slices.Clone(f.initial), add...)
}

// without returns the first topology without the nodes of ids.
func (f *topoFleet) without(ids ...string) []Node {
	var out []Node
	for _, n := range f.initial {
		if !slices.Contains(ids, n.ID) {
			out = append(out, n)
		}
	}
	return out
}

// topoOptions are the options every harness instance starts with: no
// retries, a short fleet refresh, an unthrottled backfill (the scenarios
// must finish in bounded time), no periodic background repair (only the
// change moves documents), and health probes every 250ms (several
// instances probing every node every 20ms would take a busy machine's
// CPU from the change itself under -race).
func (f *topoFleet) topoOptions() []Option {
	return append(quick.options(), WithShards(f.shards), WithFleetRefresh(topoRefresh),
		WithRepairRate(0), WithRepair(0), WithHealthCheck(250*time.Millisecond, 2*time.Second, 2, 1))
}

// instance starts an application instance over nodes with the harness
// options followed by extra; it closes when the test ends.
func (f *topoFleet) instance(t testing.TB, nodes []Node, extra ...Option) *Cluster {
	t.Helper()
	c, err := New(nodes, append(f.topoOptions(), extra...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// waitTopoSettled waits until c follows epoch with no change in progress.
func waitTopoSettled(t testing.TB, name string, c *Cluster, epoch int64) Topology {
	t.Helper()
	var last Topology
	eventuallyFor(t, 30*time.Second, fmt.Sprintf("%s at epoch %d with no change", name, epoch), func() bool {
		last = c.Topology()
		return last.Epoch == epoch && last.Change == nil
	}, func() string { return fmt.Sprintf("epoch %d, change %+v", last.Epoch, last.Change) })
	return last
}

// eventuallyFor polls cond until it holds or d passes; state describes
// what was last seen when it gives up.
func eventuallyFor(t testing.TB, d time.Duration, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, state())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// topoSeed is the seed of a scenario's random choices: MIROIR_TOPO_SEED
// when set (to replay a failure), else a fresh one; it is logged.
func topoSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MIROIR_TOPO_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MIROIR_TOPO_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with MIROIR_TOPO_SEED=%d)", seed, seed)
	return seed
}

// ---- The oracle of acknowledged writes ----

// Document states in the oracle.
const (
	docAbsent    = iota // never written, or its deletion was acknowledged
	docPresent          // its last write was acknowledged
	docUncertain        // its last write failed: it may or may not exist
)

// topoDoc is what the oracle knows of one document. gen counts the writes
// begun on it, so that a check made over an interval ignores documents
// written meanwhile.
type topoDoc struct {
	gen      int
	inflight bool
	state    int
	rev      int // the acknowledged revision, when present
}

// topoOracle records every write the harness makes. A write begins (the
// document is in flight: a read may or may not see it) and ends
// acknowledged (its task succeeded) or uncertain (the call or its task
// failed). Each document has one writer, so its last acknowledged write is
// its truth.
type topoOracle struct {
	mu   sync.Mutex
	docs map[string]*topoDoc
	// writes counts the beginnings and ends of writes: a read during
	// which it did not move saw a quiescent index.
	writes int
	// shards is the index's shard count, to name a document's shard in
	// diagnostics (0: not named).
	shards int
}

func newTopoOracle() *topoOracle { return &topoOracle{docs: map[string]*topoDoc{}} }

func (o *topoOracle) begin(ids []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writes++
	for _, id := range ids {
		d := o.docs[id]
		if d == nil {
			d = &topoDoc{}
			o.docs[id] = d
		}
		d.gen++
		d.inflight = true
	}
}

// end records the outcome of the write begun on ids: acknowledged or not,
// leaving the documents present (with rev) or absent.
func (o *topoOracle) end(ids []string, acked, present bool, rev int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writes++
	for _, id := range ids {
		d := o.docs[id]
		d.inflight = false
		switch {
		case !acked:
			d.state = docUncertain
		case present:
			d.state, d.rev = docPresent, rev
		default:
			d.state = docAbsent
		}
	}
}

// pick returns up to n ids of mine in state (not in flight), at random.
func (o *topoOracle) pick(rng *rand.Rand, mine []string, state, n int) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var cand []string
	for _, id := range mine {
		d := o.docs[id]
		st := docAbsent
		if d != nil {
			if d.inflight {
				continue
			}
			st = d.state
		}
		if st == state {
			cand = append(cand, id)
		}
	}
	rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	return cand[:min(n, len(cand))]
}

// topoSnap is the oracle's certain knowledge when a read starts: the
// documents not in flight whose state is known, with their generation,
// and the write counter.
type topoSnap struct {
	docs   map[string]topoSnapDoc
	writes int
}

type topoSnapDoc struct {
	gen     int
	present bool
}

func (o *topoOracle) snapshot() topoSnap {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := topoSnap{docs: make(map[string]topoSnapDoc, len(o.docs)), writes: o.writes}
	for id, d := range o.docs {
		if !d.inflight && d.state != docUncertain {
			s.docs[id] = topoSnapDoc{gen: d.gen, present: d.state == docPresent}
		}
	}
	return s
}

// quiet reports whether no write began or ended since snap was taken and
// none was in flight then.
func (o *topoOracle) quiet(snap topoSnap) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.writes != snap.writes {
		return false
	}
	for _, d := range o.docs {
		if d.inflight {
			return false
		}
	}
	return true
}

// check compares the ids a read returned (with how many times each) with
// the snapshot taken when the read started: every document acknowledged
// before and not written since is there, no document deleted before and
// not written since is, none twice, none the harness never wrote.
func (o *topoOracle) check(snap topoSnap, got map[string]int) (bad []string, shards []int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, n := range got {
		if n > 1 {
			bad = append(bad, fmt.Sprintf("%s returned %d times", id, n))
		}
		if o.docs[id] == nil {
			bad = append(bad, fmt.Sprintf("%s was never written", id))
		}
	}
	for id, s := range snap.docs {
		if o.docs[id].gen != s.gen {
			continue // written during the read: either answer is right
		}
		switch {
		case s.present && got[id] == 0:
			bad = append(bad, fmt.Sprintf("%s (acknowledged before the read) missing", id))
		case !s.present && got[id] > 0:
			bad = append(bad, fmt.Sprintf("%s (deletion acknowledged before the read) returned", id))
		default:
			continue
		}
		if o.shards > 0 {
			sh := ShardOf(id, o.shards)
			bad[len(bad)-1] += fmt.Sprintf(" (shard %d)", sh)
			if !slices.Contains(shards, sh) {
				shards = append(shards, sh)
			}
		}
	}
	sort.Strings(bad)
	slices.Sort(shards)
	return bad, shards
}

// final returns the oracle's end state: the acknowledged documents with
// their revision, and the set of uncertain ones. No write may be running.
func (o *topoOracle) final() (present map[string]int, uncertain map[string]bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	present, uncertain = map[string]int{}, map[string]bool{}
	for id, d := range o.docs {
		switch d.state {
		case docPresent:
			present[id] = d.rev
		case docUncertain:
			uncertain[id] = true
		}
	}
	return present, uncertain
}

// ---- Problems found by background workers ----

// topoProblems collects what writers and searchers found wrong; they run
// in goroutines, so they report here and the test fails at the end with
// the first few.
type topoProblems struct {
	mu   sync.Mutex
	list []string
	n    int
}

func (p *topoProblems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if len(p.list) < 20 {
		p.list = append(p.list, fmt.Sprintf(format, args...))
	}
}

func (p *topoProblems) report(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n > 0 {
		t.Errorf("%d problems during the change; the first ones:\n  %s", p.n, strings.Join(p.list, "\n  "))
	}
}

// ---- Writers and the searcher ----

// topoDocument is a harness document: a few hundred bytes, its writer and
// revision (the oracle's check of content).
func topoDocument(id string, rev int) map[string]any {
	return map[string]any{"id": id, "rev": rev, "title": "document " + id,
		"body": strings.Repeat("lorem ipsum ", 8)}
}

// topoWriter writes on its own ids through its instance: adds, partial
// updates and deletions, each waited for, each recorded in the oracle.
type topoWriter struct {
	name string
	c    *Cluster
	uid  string
	o    *topoOracle
	p    *topoProblems
	rng  *rand.Rand
	mine []string
	rev  int
	ops  int
}

func newTopoWriter(name string, c *Cluster, uid string, o *topoOracle, p *topoProblems, seed uint64, ids int) *topoWriter {
	w := &topoWriter{name: name, c: c, uid: uid, o: o, p: p, rng: rand.New(rand.NewPCG(seed, uint64(len(name))*7919+uint64(name[0])))}
	for i := range ids {
		w.mine = append(w.mine, fmt.Sprintf("%s%d", name, i))
	}
	return w
}

// step makes one write: mostly additions of absent ids while few are
// present, else updates and deletions of present ones.
func (w *topoWriter) step(ctx context.Context) {
	w.ops++
	w.rev++
	r := w.rng.Float64()
	idx := w.c.Index(w.uid)
	if r < 0.3 {
		if ids := w.o.pick(w.rng, w.mine, docPresent, 1+w.rng.IntN(3)); len(ids) > 0 {
			docs := make([]map[string]any, len(ids))
			for i, id := range ids {
				docs[i] = map[string]any{"id": id, "rev": w.rev}
			}
			w.write("update", ids, true, func() (*meilisearch.TaskInfo, error) { return idx.UpdateDocuments(ctx, docs, nil) })
			return
		}
	} else if r < 0.55 {
		if ids := w.o.pick(w.rng, w.mine, docPresent, 1+w.rng.IntN(3)); len(ids) > 0 {
			if len(ids) == 1 {
				w.write("delete", ids, false, func() (*meilisearch.TaskInfo, error) { return idx.DeleteDocument(ctx, ids[0], nil) })
			} else {
				w.write("delete", ids, false, func() (*meilisearch.TaskInfo, error) { return idx.DeleteDocuments(ctx, ids, nil) })
			}
			return
		}
	}
	ids := w.o.pick(w.rng, w.mine, docAbsent, 1+w.rng.IntN(4))
	if len(ids) == 0 {
		return
	}
	docs := make([]map[string]any, len(ids))
	for i, id := range ids {
		docs[i] = topoDocument(id, w.rev)
	}
	w.write("add", ids, true, func() (*meilisearch.TaskInfo, error) { return idx.AddDocuments(ctx, docs, nil) })
}

// write runs one write call, waits for its task and records the outcome.
func (w *topoWriter) write(op string, ids []string, present bool, call func() (*meilisearch.TaskInfo, error)) {
	w.o.begin(ids)
	acked := false
	defer func() { w.o.end(ids, acked, present, w.rev) }()
	info, err := call()
	if err != nil {
		w.p.add("writer %s: %s %v: %v", w.name, op, ids, err)
		return
	}
	// The writer's own wait is bounded apart from the run's context, so
	// that a write begun just before the stop is still settled.
	wctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	task, err := w.c.WaitForTask(wctx, info.TaskUID, 5*time.Millisecond)
	if err != nil {
		w.p.add("writer %s: %s %v: wait for task %d: %v", w.name, op, ids, info.TaskUID, err)
		return
	}
	if task.Status != meilisearch.TaskStatusSucceeded {
		w.p.add("writer %s: %s %v: task %d %s: %+v", w.name, op, ids, task.UID, task.Status, task.Error)
		return
	}
	acked = true
}

// topoSearcher reads the whole index through its instance, in turn with a
// search (estimatedTotalHits), a paged search (totalHits) and a document
// listing (total), and checks every answer against the oracle.
type topoSearcher struct {
	c     *Cluster
	uid   string
	o     *topoOracle
	p     *topoProblems
	reads int
	done  atomic.Int64 // reads finished, for other goroutines
	// diag, when set, describes shards as the nodes hold them now (for
	// the diagnostics of a wrong answer).
	diag func(shards []int) string
}

// readCount returns how many reads finished.
func (s *topoSearcher) readCount() int64 { return s.done.Load() }

// topoReadLimit is the page every read asks for: more than a harness index
// ever holds, so every answer is the whole index and its total is exact.
const topoReadLimit = 1000

func (s *topoSearcher) run(ctx context.Context, stop <-chan struct{}) {
	for {
		s.read(ctx)
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
	}
}

func (s *topoSearcher) read(ctx context.Context) {
	kind := s.reads % 3
	s.reads++
	defer s.done.Add(1)
	seen0 := changeState(s.c.Topology())
	snap := s.o.snapshot()
	idx := s.c.Index(s.uid)
	var hits meilisearch.Hits
	var total int64
	var what string
	switch kind {
	case 0:
		what = "search"
		res, err := idx.Search(ctx, "", &meilisearch.SearchRequest{Limit: topoReadLimit})
		if err != nil {
			s.p.add("search: %v", err)
			return
		}
		hits, total = res.Hits, res.EstimatedTotalHits
	case 1:
		what = "paged search"
		perPage := int64(topoReadLimit)
		res, err := idx.Search(ctx, "", &meilisearch.SearchRequest{HitsPerPage: &perPage, Page: 1})
		if err != nil {
			s.p.add("paged search: %v", err)
			return
		}
		hits, total = res.Hits, res.TotalHits
	default:
		what = "document listing"
		var res meilisearch.DocumentsResult
		if err := idx.GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: topoReadLimit}, &res); err != nil {
			s.p.add("document listing: %v", err)
			return
		}
		hits, total = res.Results, res.Total
	}
	got := map[string]int{}
	for _, h := range hits {
		got[topoHitID(h)]++
	}
	// A listing counts each node's documents, then fetches its window of
	// them (documents_list.go): writes between the two steps make the
	// total differ from the documents returned, with or without a change,
	// so its total is compared only when no write overlapped the read. A
	// search's hits and estimate come from the same node answers.
	seen := seen0 + " -> " + changeState(s.c.Topology())
	if int64(len(hits)) != total && (kind != 2 || s.o.quiet(snap)) {
		s.p.add("%s #%d [%s]: %d hits, total %d", what, s.reads, seen, len(hits), total)
	}
	if bad, shards := s.o.check(snap, got); len(bad) > 0 {
		extra := ""
		if s.diag != nil {
			extra = "; now " + s.diag(shards)
		}
		s.p.add("%s #%d [%s]: %d wrong (shards %v): %s%s", what, s.reads, seen, len(bad), shards, strings.Join(bad[:min(len(bad), 4)], "; "), extra)
	}
}

// changeState names what an instance follows, for the diagnostics of a
// wrong answer: its epoch and the change's phase.
func changeState(tp Topology) string {
	if tp.Change == nil {
		return fmt.Sprintf("epoch %d", tp.Epoch)
	}
	return fmt.Sprintf("epoch %d, change to %d in %s", tp.Epoch, tp.Change.Epoch, tp.Change.Phase)
}

// topoHitID returns a hit's id as text.
func topoHitID(h meilisearch.Hit) string {
	var v any
	if err := json.Unmarshal(h["id"], &v); err != nil {
		return string(h["id"])
	}
	return acIDString(v)
}

// ---- Observing a change ----

// topoRecorder is a TopologyObserver: it keeps every progress report, and
// may act when a phase is first reported (cancel the driving call).
type topoRecorder struct {
	NopObserver
	mu      sync.Mutex
	reports []TopologyChange
	onPhase map[string]func()
}

// TopologyProgress implements TopologyObserver.
func (r *topoRecorder) TopologyProgress(p TopologyChange) {
	r.mu.Lock()
	r.reports = append(r.reports, p)
	fn := r.onPhase[p.Phase]
	delete(r.onPhase, p.Phase)
	r.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// when arms fn to run once, the first time phase is reported.
func (r *topoRecorder) when(phase string, fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.onPhase == nil {
		r.onPhase = map[string]func(){}
	}
	r.onPhase[phase] = fn
}

// phases returns the distinct phases reported for epoch, in first-seen order.
func (r *topoRecorder) phases(epoch int64) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.reports {
		if p.Epoch == epoch && !slices.Contains(out, p.Phase) {
			out = append(out, p.Phase)
		}
	}
	return out
}

// last returns the last report for epoch, and whether there was one.
func (r *topoRecorder) last(epoch int64) (TopologyChange, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.reports) - 1; i >= 0; i-- {
		if r.reports[i].Epoch == epoch {
			return r.reports[i], true
		}
	}
	return TopologyChange{}, false
}

// checkMonotonic fails unless the reports for epoch only move forward:
// phases in order, shards done and documents and bytes copied never
// decreasing.
func (r *topoRecorder) checkMonotonic(t testing.TB, epoch int64) {
	t.Helper()
	order := []string{PhasePrepare, PhaseCopy, PhaseCutover, PhaseRetire, PhaseDone}
	r.mu.Lock()
	defer r.mu.Unlock()
	var prev *TopologyChange
	for i := range r.reports {
		p := &r.reports[i]
		if p.Epoch != epoch {
			continue
		}
		if slices.Index(order, p.Phase) < 0 {
			t.Errorf("progress report with unknown phase %q", p.Phase)
		}
		if prev != nil && (slices.Index(order, p.Phase) < slices.Index(order, prev.Phase) ||
			p.ShardsDone < prev.ShardsDone || p.DocumentsCopied < prev.DocumentsCopied || p.BytesCopied < prev.BytesCopied) {
			t.Errorf("progress went backwards: %+v after %+v", *p, *prev)
		}
		prev = p
	}
}

// ---- Looking at the nodes ----

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
