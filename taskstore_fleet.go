package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// The fleet task store (WithFleetTaskStore): cluster tasks kept in the
// reserved index miroir_tasks on every node, one document per task (the
// ClusterTask JSON with a revision), so that every instance sharing the
// fleet sees every task and a restarted instance still knows its own.
//
//   - Writes go to every node (fleetRecords.put); a write is stored once at
//     least one node accepted it (its 202), and survives the loss of any
//     node but the ones that accepted it. Concurrent writes are batched
//     (group commit): while one batch is being sent, the next ones gather,
//     and each batch is one request per node.
//   - Reads take, per task, the copy with the highest revision among the
//     nodes that answer, and this instance's own writes the nodes have not
//     processed yet (a node makes a write visible only once its task queue
//     reached it).
//   - A node shows a write only once its task queue reached it: every read
//     first waits (2s at most) until the nodes processed the miroir_tasks
//     writes enqueued before it, so that it sees every write accepted
//     before it began, whichever instance made it. A task still not
//     found is rebuilt from its tagged node tasks when it is a document
//     write (tasks_trace.go).
//   - A deletion writes a tombstone (a newer revision saying "deleted"),
//     so that an older copy read from a lagging node cannot bring the task
//     back; tombstones are purged after tombstoneTTL.
//   - Bounded (TaskRetention): every pruneInterval each instance deletes the
//     finished tasks past MaxAge and the oldest finished ones beyond
//     MaxTasks.

const (
	tombstoneTTL  = time.Hour
	pruneInterval = 5 * time.Minute
	// overlayMax bounds the instance's own writes kept until a node shows
	// them.
	overlayMax = 10000
)

// taskDoc is a cluster task as miroir_tasks stores it.
type taskDoc struct {
	*ClusterTask
	Rev     int64 `json:"rev"`
	Deleted bool  `json:"deleted,omitempty"`
}

// newer reports whether copy a of a task wins over copy b: a finished
// state wins over an unfinished one (an instance that polled the nodes
// before another saw the task finish must not bring it back; unfinished
// tasks are polled again anyway), else the higher revision.
func (a taskDoc) newer(b taskDoc) bool {
	if !a.Deleted && !b.Deleted && isFinal(a.Status) != isFinal(b.Status) {
		return isFinal(a.Status)
	}
	return a.Rev > b.Rev
}

// fleetTaskStore is the TaskStore kept on the fleet.
type fleetTaskStore struct {
	c    *Cluster
	recs *fleetRecords
	ret  TaskRetention
	revs revClock
	gc   groupCommit

	mu      sync.Mutex
	overlay map[int64]taskDoc // own writes not yet seen on a node
}

func newFleetTaskStore(c *Cluster) *fleetTaskStore {
	s := &fleetTaskStore{c: c, recs: newFleetRecords(c, tasksIndex, "uid"), ret: c.opts.retention.withDefaults(), overlay: map[int64]taskDoc{}}
	s.gc.flush = s.flush
	return s
}

// Put implements TaskStore.
func (s *fleetTaskStore) Put(ctx context.Context, t *ClusterTask) error {
	return s.write(ctx, t, false)
}

// Delete implements TaskStore: it writes tombstones.
func (s *fleetTaskStore) Delete(ctx context.Context, uids ...int64) error {
	for _, uid := range uids {
		if err := s.write(ctx, &ClusterTask{UID: uid}, true); err != nil {
			return err
		}
	}
	return nil
}

func (s *fleetTaskStore) write(_ context.Context, t *ClusterTask, deleted bool) error {
	err := s.gc.submit(func() taskDoc {
		// The revision is taken in submission order, so that of two writes
		// of one task the later one wins on every node.
		d := taskDoc{ClusterTask: t, Rev: s.revs.next(), Deleted: deleted}
		s.remember(d)
		return d
	})
	if err != nil {
		return fmt.Errorf("miroir: fleet task store: %w", err)
	}
	return nil
}

// remember keeps an own write until a node shows it.
func (s *fleetTaskStore) remember(d taskDoc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.overlay) >= overlayMax {
		var oldest int64
		first := true
		for uid, o := range s.overlay {
			if first || o.Rev < s.overlay[oldest].Rev {
				oldest, first = uid, false
			}
		}
		delete(s.overlay, oldest)
	}
	s.overlay[d.UID] = d
}

// flush sends one batch of writes (the newest per task) to every node.
func (s *fleetTaskStore) flush(docs []taskDoc) error {
	byUID := map[int64]taskDoc{}
	for _, d := range docs {
		if o, ok := byUID[d.UID]; !ok || d.Rev > o.Rev { // (one instance's own writes: the later one)
			byUID[d.UID] = d
		}
	}
	batch := make([]taskDoc, 0, len(byUID))
	for _, d := range byUID {
		batch = append(batch, d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.c.opts.nodeTimeout)
	defer cancel()
	acks := s.recs.put(ctx, batch)
	var errs []error
	for _, a := range acks {
		if a.Err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("node %s: %w", a.Node.ID, a.Err))
	}
	return fmt.Errorf("no node accepted the write: %w", errors.Join(errs...))
}

// decode reads a stored task document.
func (s *fleetTaskStore) decode(raw json.RawMessage) (taskDoc, bool) {
	d := taskDoc{ClusterTask: &ClusterTask{}}
	if json.Unmarshal(raw, &d) != nil || d.UID == 0 {
		return taskDoc{}, false
	}
	s.revs.observe(d.Rev)
	return d, true
}

// Get implements TaskStore. A task no node shows yet may be another
// instance's that the nodes have not processed the record of: Get waits
// for the records enqueued so far, and then rebuilds a document write's
// task from its tagged node tasks (tasks_trace.go).
func (s *fleetTaskStore) Get(ctx context.Context, uid int64) (*ClusterTask, error) {
	s.waitPending(ctx)
	d, found, err := s.get(ctx, uid)
	if err != nil {
		return nil, err
	}
	if found {
		if d.Deleted {
			return nil, nil
		}
		return d.ClusterTask, nil
	}
	if time.Since(time.UnixMilli(uid/1000)) > tombstoneTTL {
		// Older than any tombstone: the task was deleted or pruned, not
		// late; its node tasks must not bring it back.
		return nil, nil
	}
	t, err := s.c.lookupTagged(ctx, uid)
	if err != nil || t == nil {
		return nil, err
	}
	if err := s.Put(ctx, t); err != nil {
		return nil, err
	}
	return t, nil
}

func (s *fleetTaskStore) get(ctx context.Context, uid int64) (taskDoc, bool, error) {
	reads := s.recs.get(ctx, strconv.FormatInt(uid, 10))
	var best taskDoc
	found := false
	for _, r := range reads {
		for _, raw := range r.Docs {
			if d, ok := s.decode(raw); ok && (!found || d.newer(best)) {
				best, found = d, true
			}
		}
	}
	s.mu.Lock()
	if o, ok := s.overlay[uid]; ok {
		if found && !o.newer(best) {
			delete(s.overlay, uid) // a node shows it: the nodes are the truth
		} else {
			best, found = o, true
		}
	}
	s.mu.Unlock()
	if !found && answered(reads) == 0 {
		return taskDoc{}, false, s.unreachable(reads)
	}
	return best, found, nil
}

func (s *fleetTaskStore) unreachable(reads []nodeRecords) error {
	var ids []string
	for _, r := range reads {
		ids = append(ids, r.Node.ID)
	}
	e := newError(http.StatusServiceUnavailable, CodeNodeUnreachable, "miroir: fleet task store: no node answered (%v)", ids)
	e.Type, e.Nodes = "system", ids
	return e
}

// List implements TaskStore.
func (s *fleetTaskStore) List(ctx context.Context, fn func(*ClusterTask) bool) error {
	docs, err := s.all(ctx, true)
	if err != nil {
		return err
	}
	for _, d := range docs {
		if !d.Deleted && !fn(d.ClusterTask) {
			return nil
		}
	}
	return nil
}

// all reads every stored task (tombstones included), newest UID first.
// fresh first waits for the writes the nodes have not processed yet.
func (s *fleetTaskStore) all(ctx context.Context, fresh bool) ([]taskDoc, error) {
	if fresh {
		s.waitPending(ctx)
	}
	reads := s.recs.fetch(ctx, "")
	if answered(reads) == 0 {
		return nil, s.unreachable(reads)
	}
	best := map[int64]taskDoc{}
	for _, r := range reads {
		for _, raw := range r.Docs {
			if d, ok := s.decode(raw); ok {
				if o, seen := best[d.UID]; !seen || d.newer(o) {
					best[d.UID] = d
				}
			}
		}
	}
	s.mu.Lock()
	for uid, o := range s.overlay {
		if d, ok := best[uid]; ok && !o.newer(d) {
			delete(s.overlay, uid)
			continue
		}
		best[uid] = o
	}
	s.mu.Unlock()
	out := make([]taskDoc, 0, len(best))
	for _, d := range best {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b taskDoc) int { return cmpInt64(b.UID, a.UID) })
	return out, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// waitPending waits (bounded by ctx and 2s at most) until every node
// that answers has processed the miroir_tasks writes enqueued so far. A
// node processes the tasks of one index in order, so waiting for the
// newest is enough. When every node did, this instance's own earlier
// writes are all visible where they were accepted, and the overlay of
// them is dropped.
func (s *fleetTaskStore) waitPending(ctx context.Context) {
	mark := s.revs.current()
	ctx, cancel := context.WithTimeout(bookkeeping(ctx), min(s.c.opts.nodeTimeout, 2*time.Second))
	defer cancel()
	errs := s.c.fanout(ctx, s.c.members(), func(ctx context.Context, n *node) error {
		var page struct {
			Results []meilisearch.Task `json:"results"`
		}
		q := map[string][]string{"indexUids": {tasksIndex}, "statuses": {"enqueued,processing"}, "limit": {"1"}}
		if err := n.doJSON(ctx, "getTasks", http.MethodGet, "/tasks", q, nil, &page); err != nil || len(page.Results) == 0 {
			return err
		}
		return waitNodeTask(ctx, n, page.Results[0].UID, "index_not_found")
	})
	for _, err := range errs {
		if err != nil {
			return
		}
	}
	s.mu.Lock()
	for uid, o := range s.overlay {
		if o.Rev <= mark {
			delete(s.overlay, uid)
		}
	}
	s.mu.Unlock()
}

// prune applies the retention to the stored tasks.
func (s *fleetTaskStore) prune(ctx context.Context) error {
	docs, err := s.all(ctx, false)
	if err != nil {
		return err
	}
	now := time.Now()
	var victims []string
	var finished []taskDoc // oldest first
	live := 0
	for i := len(docs) - 1; i >= 0; i-- {
		d := docs[i]
		switch {
		case d.Deleted:
			if now.Sub(time.UnixMicro(d.Rev)) > tombstoneTTL {
				victims = append(victims, strconv.FormatInt(d.UID, 10))
			}
		case isFinal(d.Status) && s.ret.MaxAge > 0 && now.Sub(d.FinishedAt) > s.ret.MaxAge:
			victims = append(victims, strconv.FormatInt(d.UID, 10))
		default:
			live++
			if isFinal(d.Status) {
				finished = append(finished, d)
			}
		}
	}
	for i := 0; live > s.ret.MaxTasks && i < len(finished); i++ {
		victims = append(victims, strconv.FormatInt(finished[i].UID, 10))
		live--
	}
	s.mu.Lock()
	for _, v := range victims {
		uid, _ := strconv.ParseInt(v, 10, 64)
		delete(s.overlay, uid)
	}
	s.mu.Unlock()
	for len(victims) > 0 {
		n := min(len(victims), fetchPage)
		s.recs.remove(ctx, victims[:n])
		victims = victims[n:]
	}
	return nil
}

// loop prunes every pruneInterval until the Cluster closes.
func (s *fleetTaskStore) loop() {
	defer s.c.wg.Done()
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		select {
		case <-s.c.closed:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), pruneInterval)
			if err := s.prune(ctx); err != nil {
				s.c.opts.logger.Warn("miroir: pruning the fleet task store", "err", err)
			}
			cancel()
		}
	}
}

// groupCommit batches concurrent writes: the first writer of an idle
// batcher sends the batch; writers arriving meanwhile queue, and when the
// send ends the first of them sends everything queued, in one request per
// node. No timer: a lone write goes at once.
type groupCommit struct {
	mu    sync.Mutex
	busy  bool
	queue []*gcEntry
	flush func([]taskDoc) error
}

type gcEntry struct {
	doc  taskDoc
	done chan error
	lead chan struct{}
}

// submit queues the document mk builds (under the batcher's lock) and
// returns once the batch holding it was sent.
func (g *groupCommit) submit(mk func() taskDoc) error {
	e := &gcEntry{done: make(chan error, 1), lead: make(chan struct{}, 1)}
	g.mu.Lock()
	e.doc = mk()
	g.queue = append(g.queue, e)
	if !g.busy {
		g.busy = true
		e.lead <- struct{}{}
	}
	g.mu.Unlock()
	select {
	case err := <-e.done:
		return err
	case <-e.lead:
		g.run()
		return <-e.done
	}
}

// run sends everything queued, then hands the next batch to its first
// writer.
func (g *groupCommit) run() {
	g.mu.Lock()
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()
	docs := make([]taskDoc, len(batch))
	for i, e := range batch {
		docs[i] = e.doc
	}
	err := g.flush(docs)
	for _, e := range batch {
		e.done <- err
	}
	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].lead <- struct{}{}
	} else {
		g.busy = false
	}
	g.mu.Unlock()
}

// newTaskStore picks the Cluster's task store: WithTaskStore's, the fleet
// store, or the bounded in-memory default.
func (c *Cluster) newTaskStore() TaskStore {
	switch {
	case c.opts.taskStore != nil:
		return c.opts.taskStore
	case c.opts.fleetTasks:
		s := newFleetTaskStore(c)
		c.wg.Add(1)
		go s.loop()
		return s
	default:
		return NewMemoryTaskStoreWith(c.opts.retention)
	}
}
