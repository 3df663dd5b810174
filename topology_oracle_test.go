package miroir

// The oracle of acknowledged writes (issue 14), the writers that feed it
// and the searcher that checks every answer against it while a topology
// change runs.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

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
