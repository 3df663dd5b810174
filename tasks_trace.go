package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Tracing node tasks back to their cluster task (DESIGN §14).
//
// Meilisearch records a task's customMetadata (a query parameter) on the
// document routes: additions and updates, deletions by id, by filter or of
// everything, and editions by function. miroir gives those node tasks the
// customMetadata "miroir:<cluster task uid>", or
// "miroir:<uid>:<the caller's own customMetadata>" when the caller gave
// one. The cluster task shows the caller's value alone (the prefix is
// stripped on the way back), so callers see what they sent; a node's own
// task list shows which cluster task each node task belongs to; and
// RebuildTaskStore recreates lost cluster tasks from the nodes. The UID is
// allocated before the node requests leave, so the tag is on every node
// task of the cluster task. Other task kinds (settings, index lifecycle,
// dumps, ...) carry no tag: their routes do not record customMetadata.

// taskTagPrefix starts the customMetadata of a tagged node task.
const taskTagPrefix = "miroir:"

// taskTag is the customMetadata of the node tasks of cluster task uid.
func taskTag(uid int64, caller string) string {
	tag := taskTagPrefix + strconv.FormatInt(uid, 10)
	if caller != "" {
		tag += ":" + caller
	}
	return tag
}

// parseTaskTag reads a node task's customMetadata: the cluster task uid
// and the caller's own customMetadata.
func parseTaskTag(md string) (uid int64, caller string, ok bool) {
	rest, found := strings.CutPrefix(md, taskTagPrefix)
	if !found {
		return 0, "", false
	}
	num, caller, _ := strings.Cut(rest, ":")
	uid, err := strconv.ParseInt(num, 10, 64)
	return uid, caller, err == nil && uid > 0
}

// tagQuery returns q with the node tasks' customMetadata tagged with uid
// (keeping the caller's value after the tag).
func tagQuery(q url.Values, uid int64) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	out.Set("customMetadata", taskTag(uid, q.Get("customMetadata")))
	return out
}

// taggedOps are the broadcast operations whose node routes record
// customMetadata.
var taggedOps = map[string]bool{"deleteDocumentsByFilter": true, "deleteAllDocuments": true, "updateDocumentsByFunction": true}

// preallocate returns the UID the next cluster task of the call will get,
// before its node requests are sent: a deferred call's reserved UID
// (sequence.go; its registration takes it), else a new one (registered by
// setting ClusterTask.UID).
func (m *taskManager) preallocate(ctx context.Context) (int64, error) {
	if r, _ := ctx.Value(reservedKey{}).(*reservation); r != nil {
		r.mu.Lock()
		uid, used := r.uid, r.used
		r.mu.Unlock()
		if !used {
			return uid, nil
		}
	}
	return m.nextUID(ctx)
}

// nodeTaskView is a node task as GET /tasks lists it.
type nodeTaskView struct {
	meilisearch.Task
	RawDetails json.RawMessage `json:"-"`
}

// RebuildTaskStore recreates, from the nodes' own task lists, the cluster
// tasks of document writes that the task store lacks: after the loss of a
// store, or in a new instance whose in-memory store is empty. Every node
// task miroir creates for a document write carries its cluster task uid
// (see taskTag), so the cluster task is rebuilt with its UID, index, type,
// caller's customMetadata and node tasks, and its status, dates and counts
// aggregated from them as usual. It reads the node tasks enqueued within
// the task retention (TaskRetention.MaxAge) and returns how many cluster
// tasks it recreated. Tasks of other kinds (settings, index lifecycle,
// dumps, ...) carry no tag and are not recreated; nor are the nodes'
// tasks that Meilisearch itself deleted. Nodes that do not answer are
// skipped (their part of a task is missing from it); it fails when none
// answers.
func (c *Cluster) RebuildTaskStore(ctx context.Context) (int, error) {
	if err := c.checkOpen(); err != nil {
		return 0, err
	}
	tp := c.topo()
	ctx = bookkeeping(ctx)
	since := time.Time{}
	if age := c.opts.retention.withDefaults().MaxAge; age > 0 {
		since = time.Now().Add(-age)
	}
	perNode := make([][]nodeTaskView, len(tp.clients))
	errs := c.fanout(ctx, tp.members, func(ctx context.Context, n *node) error {
		tasks, err := n.taggedTasks(ctx, since)
		perNode[n.idx] = tasks
		return err
	})
	ok := false
	for _, err := range errs {
		ok = ok || err == nil
	}
	if !ok {
		return 0, fmt.Errorf("miroir: rebuilding the task store: no node answered: %w", errors.Join(errs...))
	}
	rebuilt := map[int64]*ClusterTask{}
	var order []int64
	for ni, tasks := range perNode {
		n := tp.clients[ni]
		for _, nt := range tasks {
			uid, caller, tagged := parseTaskTag(nt.CustomMetadata)
			if !tagged {
				continue
			}
			t := rebuilt[uid]
			if t == nil {
				t = &ClusterTask{UID: uid, Type: nt.Type, CustomMetadata: caller, EnqueuedAt: nt.EnqueuedAt}
				if nt.IndexUID != "" {
					t.IndexUID = nt.IndexUID
				}
				rebuilt[uid] = t
				order = append(order, uid)
			}
			if nt.EnqueuedAt.Before(t.EnqueuedAt) {
				t.EnqueuedAt = nt.EnqueuedAt
			}
			t.Nodes = append(t.Nodes, rebuiltNodeTask(n, nt))
		}
	}
	count := 0
	for _, uid := range order {
		t := rebuilt[uid]
		if old, err := c.tasks.store.Get(ctx, uid); err != nil {
			return count, fmt.Errorf("miroir: rebuilding the task store: %w", err)
		} else if old != nil {
			continue
		}
		c.completeRebuilt(t)
		if err := c.tasks.store.Put(ctx, t); err != nil {
			return count, fmt.Errorf("miroir: rebuilding the task store: %w", err)
		}
		count++
	}
	return count, nil
}

// lookupTagged rebuilds cluster task uid from the tagged node tasks of a
// document write (nil when no node holds any): what another instance can
// know of a task whose record has not reached the fleet task store yet (a
// node makes the record visible only once its queue reached it, after the
// write's own node tasks).
func (c *Cluster) lookupTagged(ctx context.Context, uid int64) (*ClusterTask, error) {
	ms := uid / 1000
	if ms < 1e12 { // not a time-based UID (before 2001): never miroir's
		return nil, nil
	}
	// Node tasks are enqueued after their UID is allocated; a burst runs
	// ahead of the clock by little.
	since := time.UnixMilli(ms).Add(-time.Minute)
	var t *ClusterTask
	answered := false
	for _, n := range c.members() {
		tasks, err := n.taggedTasks(ctx, since)
		if err != nil {
			continue
		}
		answered = true
		for _, nt := range tasks {
			if u, caller, ok := parseTaskTag(nt.CustomMetadata); ok && u == uid {
				if t == nil {
					t = &ClusterTask{UID: uid, Type: nt.Type, IndexUID: nt.IndexUID, CustomMetadata: caller, EnqueuedAt: nt.EnqueuedAt}
				}
				if nt.EnqueuedAt.Before(t.EnqueuedAt) {
					t.EnqueuedAt = nt.EnqueuedAt
				}
				t.Nodes = append(t.Nodes, rebuiltNodeTask(n, nt))
			}
		}
	}
	if !answered {
		return nil, fmt.Errorf("miroir: looking up the node tasks of task %d: no node answered", uid)
	}
	if t != nil {
		c.completeRebuilt(t)
	}
	return t, nil
}

// rebuiltNodeTask is the NodeTask of a node task read from a node.
func rebuiltNodeTask(n *node, nt nodeTaskView) NodeTask {
	out := NodeTask{Node: n.ID, TaskUID: nt.UID, Status: nt.Status, EnqueuedAt: nt.EnqueuedAt, StartedAt: nt.StartedAt,
		FinishedAt: nt.FinishedAt, Details: nt.Details, RawDetails: nt.RawDetails}
	if nt.Error.Code != "" {
		e := nt.Error
		out.Error = &e
	}
	switch {
	case nt.Type == meilisearch.TaskTypeDocumentAdditionOrUpdate:
		out.Docs = nt.Details.ReceivedDocuments
	case nt.Type == meilisearch.TaskTypeDocumentDeletion && nt.Details.ProvidedIds > 0:
		out.Docs = nt.Details.ProvidedIds
	}
	return out
}

// completeRebuilt fills what a cluster task knows beyond its node tasks:
// how its node counts scale (a routed write counts each document once per
// copy; a broadcast holds each once per copy), its details, and its
// aggregated state.
func (c *Cluster) completeRebuilt(t *ClusterTask) {
	tp := c.topo()
	var docs int64
	for _, nt := range t.Nodes {
		docs += nt.Docs
	}
	copies := int64(tp.copies())
	if docs > 0 {
		// Every document went to each of its shard's copies (fewer when a
		// replica was down: the count is then a lower bound).
		t.Documents = int64(math.Round(float64(docs) / float64(copies)))
	} else {
		t.Copies = tp.copies()
	}
	switch t.Type {
	case meilisearch.TaskTypeDocumentAdditionOrUpdate:
		t.Details.ReceivedDocuments = t.Documents
	case meilisearch.TaskTypeDocumentDeletion:
		t.Details.ProvidedIds = t.Documents
		if len(t.Nodes) > 0 {
			t.Details.OriginalFilter = t.Nodes[0].Details.OriginalFilter
		}
	}
	aggregate(t)
}

// taggedTasks lists n's document-write tasks enqueued after since (all of
// them when since is zero), newest first.
func (n *node) taggedTasks(ctx context.Context, since time.Time) ([]nodeTaskView, error) {
	var out []nodeTaskView
	from := int64(-1)
	for {
		q := url.Values{"types": {"documentAdditionOrUpdate,documentDeletion,documentEdition"}, "limit": {"1000"}}
		if !since.IsZero() {
			q.Set("afterEnqueuedAt", since.UTC().Format(time.RFC3339))
		}
		if from >= 0 {
			q.Set("from", strconv.FormatInt(from, 10))
		}
		var page struct {
			Results []json.RawMessage `json:"results"`
			Next    *int64            `json:"next"`
		}
		if err := n.doJSON(ctx, "getTasks", http.MethodGet, "/tasks", q, nil, &page); err != nil {
			return out, err
		}
		for _, raw := range page.Results {
			var v nodeTaskView
			var d struct {
				Details json.RawMessage `json:"details"`
			}
			if err := json.Unmarshal(raw, &v.Task); err != nil && !isTypeError(err) {
				continue
			}
			_ = json.Unmarshal(raw, &d)
			v.RawDetails = d.Details
			out = append(out, v)
		}
		if page.Next == nil || len(page.Results) == 0 {
			return out, nil
		}
		from = *page.Next
	}
}
