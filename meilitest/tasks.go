package meilitest

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// task is one asynchronous operation. Its exported view is taskJSON.
type task struct {
	uid            int64
	batchUID       *int64
	indexUID       *string
	status         string // enqueued, processing, succeeded, failed, canceled
	typ            string
	canceledBy     *int64
	details        map[string]any
	err            *apiError
	enqueuedAt     time.Time
	startedAt      *time.Time
	finishedAt     *time.Time
	customMetadata *string

	// run applies the task with Server.mu held for writing. It gets a private
	// copy of the details to fill in (the queue publishes it afterwards, so
	// readers never race with it) and returns the error the task fails with.
	run func(self int64, details map[string]any) *apiError
	// failCode forces a failure (fault injection).
	failCode string
	// priority tasks (cancelation, deletion) jump the queue as in Meilisearch.
	priority bool
	// payload is the documents of a documentAdditionOrUpdate task, served by
	// GET /tasks/{uid}/documents until the task finishes (Meilisearch deletes
	// the update file then).
	payload []map[string]any
	// unlocked tasks run without Server.mu (they take it themselves): an
	// export talks HTTP, possibly to this very server.
	unlocked bool
	// newIndexUID is the new uid of an indexUpdate that renames its index
	// (the new_index_uid of Meilisearch's KindWithContent::IndexUpdate): the
	// task is filed under it too, and swaps rewrite it. The details keep
	// their own oldIndexUid/newIndexUid, which swaps leave alone.
	newIndexUID *string
	// batch is what the task's batch was made of, kept when a later swap
	// rewrites the task: Meilisearch rewrites tasks, not batches.
	batch *batchSnap
}

// batchSnap is a task's index and details as its batch recorded them.
type batchSnap struct {
	indexUID *string
	details  map[string]any
	indexes  []string
}

// withNewIndexUID marks an indexUpdate that renames its index to uid.
func withNewIndexUID(uid string) func(*task) {
	return func(t *task) { t.newIndexUID = &uid }
}

// indexes is KindWithContent::indexes, the indexes Meilisearch files a task
// under (its index_tasks database), which GET /tasks?indexUids= reads: the
// task's index, the new uid of a rename, every index a swap names.
func (t *task) indexes() []string {
	var out []string
	if t.indexUID != nil {
		out = append(out, *t.indexUID)
	}
	if t.newIndexUID != nil && (t.indexUID == nil || *t.newIndexUID != *t.indexUID) {
		out = append(out, *t.newIndexUID)
	}
	if t.typ == "indexSwap" {
		sw, _ := t.details["swaps"].([]any)
		for _, s := range sw {
			m, _ := s.(map[string]any)
			ix, _ := m["indexes"].([]string)
			out = append(out, ix...)
		}
	}
	return out
}

// swapHistory is the task rewrite of Meilisearch's apply_index_swap, run
// by a swap, a swap-indexes rename or a PATCH rename (task self) for each
// pair it applies: every task enqueued before self and filed under lhs or
// rhs gets the other uid wherever swap_index_uid_in_task puts one, namely
// its index, a rename's new uid and the indexes of a swap (kind and
// details alike). Since a task is filed under exactly the indexes it
// names, the rewrite moves it between the indexUids filters too. Batches
// are not rewritten. The caller holds s.mu. Views share the tasks' maps
// and strings, so they are replaced, never modified.
func (q *taskQueue) swapHistory(self int64, lhs, rhs string) {
	other := func(u string) (string, bool) {
		switch u {
		case lhs:
			return rhs, true
		case rhs:
			return lhs, true
		}
		return u, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, t := range q.all {
		if t.uid >= self {
			break // q.all is in uid order
		}
		indexUID, newIndexUID, details := t.indexUID, t.newIndexUID, t.details
		changed := false
		if indexUID != nil {
			if u, ok := other(*indexUID); ok {
				indexUID, changed = &u, true
			}
		}
		if newIndexUID != nil {
			if u, ok := other(*newIndexUID); ok {
				newIndexUID, changed = &u, true
			}
		}
		if t.typ == "indexSwap" {
			if d, ok := swapDetailsRenamed(details, other); ok {
				details, changed = d, true
			}
		}
		if !changed {
			continue
		}
		if t.batchUID != nil && t.batch == nil {
			t.batch = &batchSnap{indexUID: t.indexUID, details: t.details, indexes: t.indexes()}
		}
		t.indexUID, t.newIndexUID, t.details = indexUID, newIndexUID, details
	}
}

// swapDetailsRenamed returns a copy of a swap task's details with every
// index uid passed through other, and whether any changed.
func swapDetailsRenamed(d map[string]any, other func(string) (string, bool)) (map[string]any, bool) {
	sw, _ := d["swaps"].([]any)
	changed := false
	out := make([]any, len(sw))
	for i, s := range sw {
		out[i] = s
		m, _ := s.(map[string]any)
		ix, _ := m["indexes"].([]string)
		var renamed []string
		for j, u := range ix {
			if v, ok := other(u); ok {
				if renamed == nil {
					renamed = append([]string(nil), ix...)
				}
				renamed[j] = v
			}
		}
		if renamed == nil {
			continue
		}
		nm := make(map[string]any, len(m))
		for k, v := range m {
			nm[k] = v
		}
		nm["indexes"] = renamed
		out[i] = nm
		changed = true
	}
	if !changed {
		return d, false
	}
	nd := make(map[string]any, len(d))
	for k, v := range d {
		nd[k] = v
	}
	nd["swaps"] = out
	return nd, true
}

// runUnlocked makes a task run without Server.mu held.
func runUnlocked(t *task) { t.unlocked = true }

// halted reports whether the queue is stopping (Stop or Close): long tasks
// give up, as Meilisearch's must_stop_processing makes them.
func (q *taskQueue) halted() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed || q.stopped
}

// withPayload keeps a document addition's documents on its task.
func withPayload(docs []map[string]any) func(*task) {
	return func(t *task) { t.payload = docs }
}

// taskJSON is a task as Meilisearch serialises it.
type taskJSON struct {
	UID            int64          `json:"uid"`
	BatchUID       *int64         `json:"batchUid"`
	IndexUID       *string        `json:"indexUid"`
	Status         string         `json:"status"`
	Type           string         `json:"type"`
	CanceledBy     *int64         `json:"canceledBy"`
	Details        map[string]any `json:"details,omitempty"`
	Error          *apiError      `json:"error"`
	Duration       *string        `json:"duration"`
	EnqueuedAt     time.Time      `json:"enqueuedAt"`
	StartedAt      *time.Time     `json:"startedAt"`
	FinishedAt     *time.Time     `json:"finishedAt"`
	CustomMetadata *string        `json:"customMetadata,omitempty"`
}

// summaryJSON is the 202 body of an enqueued write.
type summaryJSON struct {
	TaskUID        int64     `json:"taskUid"`
	IndexUID       *string   `json:"indexUid"`
	Status         string    `json:"status"`
	Type           string    `json:"type"`
	EnqueuedAt     time.Time `json:"enqueuedAt"`
	CustomMetadata *string   `json:"customMetadata,omitempty"`
}

func (t *task) view() taskJSON {
	v := taskJSON{
		UID: t.uid, BatchUID: t.batchUID, IndexUID: t.indexUID, Status: t.status, Type: t.typ,
		CanceledBy: t.canceledBy, Details: t.details, Error: t.err, EnqueuedAt: t.enqueuedAt,
		StartedAt: t.startedAt, FinishedAt: t.finishedAt, CustomMetadata: t.customMetadata,
	}
	if t.startedAt != nil && t.finishedAt != nil {
		d := isoDuration(t.finishedAt.Sub(*t.startedAt))
		v.Duration = &d
	}
	return v
}

// isoDuration formats d as ISO 8601 like Meilisearch ("PT0.012345S").
func isoDuration(d time.Duration) string {
	return "PT" + formatSeconds(d) + "S"
}

func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// taskQueue owns every task of a server and processes them one by one in
// uid order (cancelations and deletions first), like Meilisearch's scheduler.
type taskQueue struct {
	s *Server

	mu        sync.Mutex
	cond      *sync.Cond // signalled on every state change
	all       []*task    // ascending uid; deleted tasks removed
	byUID     map[int64]*task
	nextUID   int64
	nextBatch int64
	paused    bool
	stopped   bool
	closed    bool
	busy      bool
	done      chan struct{}
	// minDuration is the least time between a task's enqueueing and its end.
	minDuration time.Duration
}

func newTaskQueue(s *Server) *taskQueue {
	q := &taskQueue{s: s, byUID: map[int64]*task{}, done: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *taskQueue) start() { go q.loop() }

func (q *taskQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
	<-q.done
}

func (q *taskQueue) setPaused(p bool) {
	q.mu.Lock()
	q.paused = p
	q.cond.Broadcast()
	q.mu.Unlock()
}

func (q *taskQueue) setStopped(p bool) {
	q.mu.Lock()
	q.stopped = p
	q.cond.Broadcast()
	q.mu.Unlock()
}

// enqueue registers a task built from r (for customMetadata and fault
// injection) and returns its 202 summary.
func (q *taskQueue) enqueue(r *http.Request, indexUID string, typ string, details map[string]any, run func(self int64, details map[string]any) *apiError, opts ...func(*task)) summaryJSON {
	t := &task{status: "enqueued", typ: typ, details: details, run: run, enqueuedAt: time.Now().UTC()}
	for _, o := range opts {
		o(t)
	}
	if indexUID != "" {
		u := indexUID
		t.indexUID = &u
	}
	t.priority = typ == "taskCancelation" || typ == "taskDeletion"
	if r != nil {
		if md := r.URL.Query().Get("customMetadata"); md != "" {
			t.customMetadata = &md
		}
		t.failCode = q.s.taskFaultFor(r)
	}
	q.mu.Lock()
	t.uid = q.nextUID
	q.nextUID++
	q.all = append(q.all, t)
	q.byUID[t.uid] = t
	q.cond.Broadcast()
	q.mu.Unlock()
	return summaryJSON{TaskUID: t.uid, IndexUID: t.indexUID, Status: "enqueued", Type: typ, EnqueuedAt: t.enqueuedAt, CustomMetadata: t.customMetadata}
}

// next picks the task to run, or nil. Caller holds q.mu.
func (q *taskQueue) next() *task {
	var first *task
	for _, t := range q.all {
		if t.status != "enqueued" {
			continue
		}
		if t.priority {
			return t
		}
		if first == nil {
			first = t
		}
	}
	return first
}

func (q *taskQueue) loop() {
	defer close(q.done)
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.closed {
			return
		}
		var t *task
		if !q.paused && !q.stopped {
			t = q.next()
		}
		if t == nil {
			q.cond.Wait()
			continue
		}
		now := time.Now().UTC()
		b := q.nextBatch
		q.nextBatch++
		t.batchUID = &b
		t.status = "processing"
		t.startedAt = &now
		q.busy = true
		details := make(map[string]any, len(t.details))
		for k, v := range t.details {
			details[k] = v
		}
		run, failCode := t.run, t.failCode
		q.cond.Broadcast()
		q.mu.Unlock()

		// A Meilisearch task is never done the instant it is registered: the
		// scheduler wakes up, opens a write transaction, indexes and commits
		// (fsync). Tasks finish no sooner than minDuration after enqueueing,
		// plus minDuration per 400 documents received (about 25µs a document
		// by default), so clients observe enqueued/processing as they would.
		cost := q.minDuration + time.Duration(len(t.payload))*q.minDuration/400
		if d := time.Until(t.enqueuedAt.Add(cost)); d > 0 {
			time.Sleep(d)
		}

		var err *apiError
		if failCode != "" {
			err = newError(failCode, "meilitest: injected task failure")
		} else if run != nil && t.unlocked {
			err = run(t.uid, details)
		} else if run != nil {
			q.s.mu.Lock()
			err = run(t.uid, details)
			q.s.mu.Unlock()
		}

		q.mu.Lock()
		if t.details != nil || len(details) > 0 {
			t.details = details
		}
		end := time.Now().UTC()
		t.finishedAt = &end
		q.busy = false
		if t.status == "processing" { // a cancelation may not touch a running task, but be safe
			if err != nil {
				t.status = "failed"
				t.err = err
				failDetails(t)
			} else {
				t.status = "succeeded"
			}
		}
		t.run = nil
		t.payload = nil
		view := t.view()
		q.cond.Broadcast()
		q.s.notifyWebhooks(view)
	}
}

// failDetails zeroes the "done" counters of a failed task as Meilisearch does.
func failDetails(t *task) {
	if t.details == nil {
		return
	}
	for _, k := range []string{"indexedDocuments", "deletedDocuments", "editedDocuments"} {
		if _, ok := t.details[k]; ok {
			t.details[k] = 0
		}
	}
}

func (q *taskQueue) waitIdle(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !q.busy && q.next() == nil {
			return nil
		}
		q.cond.Wait()
	}
}

// get returns a snapshot of task uid.
func (q *taskQueue) get(uid int64) (taskJSON, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	t, ok := q.byUID[uid]
	if !ok {
		return taskJSON{}, false
	}
	return t.view(), true
}

// indexBusy reports whether a task of index uid is enqueued or processing.
func (q *taskQueue) indexBusy(uid string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, t := range q.all {
		if (t.status == "enqueued" || t.status == "processing") && t.indexUID != nil && *t.indexUID == uid {
			return true
		}
	}
	return false
}
