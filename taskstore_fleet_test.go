package miroir_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir"
	"github.com/miroirsearch/miroir/meilitest"
)

// Several application instances over one fleet (issue 13). Each Cluster
// stands for a separate process: they share no Go state, only the nodes.

// ftFleet starts n nodes, each its own replica group (every node holds
// every shard, so that writes survive the loss of any node).
func ftFleet(t testing.TB, n int) ([]*meilitest.Server, []miroir.Node) {
	t.Helper()
	srv := meilitest.RunCluster(t, n)
	nodes := make([]miroir.Node, n)
	for i := range nodes {
		nodes[i] = miroir.Node{ID: fmt.Sprintf("n%d", i), URL: srv[i].URL(), Group: i}
	}
	return srv, nodes
}

// ftInstance is one application instance (closed when the test ends; Close
// twice is fine).
func ftInstance(t testing.TB, nodes []miroir.Node, opts ...miroir.Option) *miroir.Cluster {
	t.Helper()
	base := []miroir.Option{miroir.WithShards(4), miroir.WithRetries(miroir.RetryPolicy{}), miroir.WithNodeTimeout(5 * time.Second),
		miroir.WithHealthCheck(50*time.Millisecond, 2*time.Second, 2, 1)}
	c, err := miroir.New(nodes, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func ftCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ftDocs(from, n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"id": from + i, "title": fmt.Sprintf("doc %d", from+i), "n": from + i}
	}
	return out
}

func ftCode(err error) string {
	var me *meilisearch.Error
	if errors.As(err, &me) {
		return string(me.APIError.Code)
	}
	return ""
}

// ftWait waits for uid through c and checks its final status.
func ftWait(t testing.TB, c *miroir.Cluster, uid int64, want meilisearch.TaskStatus) *meilisearch.Task {
	t.Helper()
	task, err := c.WaitForTask(ftCtx(t), uid, 5*time.Millisecond)
	if err != nil {
		t.Fatalf("WaitForTask(%d): %v", uid, err)
	}
	if task.Status != want {
		t.Fatalf("task %d (%s): %s, want %s (%+v)", uid, task.Type, task.Status, want, task.Error)
	}
	return task
}

func ftMust(t testing.TB) func(*meilisearch.TaskInfo, error) int64 {
	return func(info *meilisearch.TaskInfo, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return info.TaskUID
	}
}

// TestFleetTaskStoreAnotherInstanceAnswers: instance B answers GetTask,
// WaitForTask, GetTasks, CancelTasks and DeleteTasks for the tasks
// instance A created, right after A's call returned; and after A is closed
// a new instance still knows them.
func TestFleetTaskStoreAnotherInstanceAnswers(t *testing.T) {
	srv, nodes := ftFleet(t, 3)
	ctx := ftCtx(t)
	a := ftInstance(t, nodes, miroir.WithFleetTaskStore())
	b := ftInstance(t, nodes, miroir.WithFleetTaskStore())
	must := ftMust(t)

	create := must(a.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "docs", PrimaryKey: "id"}))
	ftWait(t, b, create, meilisearch.TaskStatusSucceeded)
	add := must(a.Index("docs").AddDocuments(ctx, ftDocs(0, 5), nil))
	// At once, before anything waited on it: B knows the task.
	if task, err := b.GetTask(ctx, add); err != nil || task.Type != meilisearch.TaskTypeDocumentAdditionOrUpdate || task.IndexUID != "docs" {
		t.Fatalf("B.GetTask(A's write) at once: %+v %v", task, err)
	}
	if task := ftWait(t, b, add, meilisearch.TaskStatusSucceeded); task.Details.ReceivedDocuments != 5 || task.Details.IndexedDocuments != 5 {
		t.Fatalf("details seen by B: %+v", task.Details)
	}
	settings := must(a.Index("docs").UpdateFilterableAttributes(ctx, &[]interface{}{"n"}))
	ftWait(t, b, settings, meilisearch.TaskStatusSucceeded)
	res, err := b.GetTasks(ctx, &meilisearch.TasksQuery{IndexUIDS: []string{"docs"}, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var listed []int64
	for _, task := range res.Results {
		listed = append(listed, task.UID)
	}
	for _, uid := range []int64{create, add, settings} {
		if !slices.Contains(listed, uid) {
			t.Fatalf("B.GetTasks misses A's task %d: %v", uid, listed)
		}
	}

	// B cancels a task of A's that the nodes have not started. (B writes
	// once first: an instance's first registration claims its task-uid
	// lane, which needs the nodes to process a task.)
	ftWait(t, a, must(b.Index("docs").AddDocuments(ctx, ftDocs(50, 1), nil)), meilisearch.TaskStatusSucceeded)
	for _, s := range srv {
		s.PauseTasks()
	}
	pending := must(a.Index("docs").AddDocuments(ctx, ftDocs(100, 3), nil))
	cancel := must(b.CancelTasks(ctx, &meilisearch.CancelTasksQuery{UIDS: []int64{pending}}))
	for _, s := range srv {
		s.ResumeTasks()
	}
	ftWait(t, a, cancel, meilisearch.TaskStatusSucceeded)
	if task := ftWait(t, a, pending, meilisearch.TaskStatusCanceled); task.CanceledBy != cancel {
		t.Fatalf("A sees canceledBy %d, want %d", task.CanceledBy, cancel)
	}

	// B deletes a task of A's; A no longer finds it.
	del := must(b.DeleteTasks(ctx, &meilisearch.DeleteTasksQuery{UIDS: []int64{add}}))
	if task := ftWait(t, b, del, meilisearch.TaskStatusSucceeded); task.Details.DeletedTasks != 1 {
		t.Fatalf("deletion details %+v", task.Details)
	}
	if _, err := a.GetTask(ctx, add); ftCode(err) != "task_not_found" {
		t.Fatalf("A.GetTask(deleted): %v", err)
	}

	// A goes; a new instance still knows A's tasks.
	a.Close()
	c := ftInstance(t, nodes, miroir.WithFleetTaskStore())
	for uid, want := range map[int64]meilisearch.TaskStatus{create: meilisearch.TaskStatusSucceeded, settings: meilisearch.TaskStatusSucceeded, pending: meilisearch.TaskStatusCanceled, cancel: meilisearch.TaskStatusSucceeded} {
		task, err := c.GetTask(ctx, uid)
		if err != nil || task.Status != want {
			t.Fatalf("new instance, task %d: %+v %v", uid, task, err)
		}
	}
	if _, err := c.GetTask(ctx, add); ftCode(err) != "task_not_found" {
		t.Fatalf("new instance, deleted task: %v", err)
	}
}

// TestFleetTaskStoreSurvivesNodeLoss: with one node of three gone, a new
// instance still finds every task, and new tasks are stored on the nodes
// left.
func TestFleetTaskStoreSurvivesNodeLoss(t *testing.T) {
	srv, nodes := ftFleet(t, 3)
	ctx := ftCtx(t)
	a := ftInstance(t, nodes, miroir.WithFleetTaskStore())
	must := ftMust(t)
	uids := []int64{must(a.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "docs", PrimaryKey: "id"}))}
	ftWait(t, a, uids[0], meilisearch.TaskStatusSucceeded)
	for i := range 3 {
		uids = append(uids, must(a.Index("docs").AddDocuments(ctx, ftDocs(i*10, 10), nil)))
	}
	for _, uid := range uids {
		ftWait(t, a, uid, meilisearch.TaskStatusSucceeded)
	}
	for _, lost := range []int{0, 2} { // the tiebreaker, then another
		t.Run(fmt.Sprintf("node %d lost", lost), func(t *testing.T) {
			srv[lost].Stop()
			defer func() {
				if err := srv[lost].Start(); err != nil {
					t.Fatal(err)
				}
			}()
			b := ftInstance(t, nodes, miroir.WithFleetTaskStore())
			for _, uid := range uids {
				if task, err := b.GetTask(ctx, uid); err != nil || task.Status != meilisearch.TaskStatusSucceeded {
					t.Fatalf("task %d with node %d down: %+v %v", uid, lost, task, err)
				}
			}
			res, err := b.GetTasks(ctx, &meilisearch.TasksQuery{Limit: 100})
			if err != nil || res.Total < int64(len(uids)) {
				t.Fatalf("listing with node %d down: %+v %v", lost, res, err)
			}
			// A write now is stored on the nodes left, and seen by A.
			uid := must(b.Index("docs").AddDocuments(ctx, ftDocs(1000+lost, 1), nil))
			ftWait(t, a, uid, meilisearch.TaskStatusSucceeded)
			uids = append(uids, uid)
		})
	}
}

// TestInstancesEnqueueConcurrentlyWithUniqueUIDs: two and three instances
// write at once; every task UID is distinct and below 2^53, and (with the
// fleet store) every instance lists every task.
func TestInstancesEnqueueConcurrentlyWithUniqueUIDs(t *testing.T) {
	for _, fleet := range []bool{false, true} {
		for _, k := range []int{2, 3} {
			t.Run(fmt.Sprintf("fleet store %v, %d instances", fleet, k), func(t *testing.T) {
				_, nodes := ftFleet(t, 3)
				ctx := ftCtx(t)
				var opts []miroir.Option
				if fleet {
					opts = append(opts, miroir.WithFleetTaskStore())
				}
				cs := make([]*miroir.Cluster, k)
				for i := range cs {
					cs[i] = ftInstance(t, nodes, opts...)
				}
				create := ftMust(t)(cs[0].CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "docs", PrimaryKey: "id"}))
				ftWait(t, cs[0], create, meilisearch.TaskStatusSucceeded)
				const per = 25
				var mu sync.Mutex
				seen := map[int64]int{create: -1}
				var wg sync.WaitGroup
				for i, c := range cs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for j := range per {
							info, err := c.Index("docs").AddDocuments(ctx, ftDocs(i*1000+j, 1), nil)
							if err != nil {
								t.Error(err)
								return
							}
							mu.Lock()
							if other, dup := seen[info.TaskUID]; dup {
								t.Errorf("task uid %d given to instances %d and %d", info.TaskUID, other, i)
							}
							seen[info.TaskUID] = i
							mu.Unlock()
							if info.TaskUID <= 0 || info.TaskUID >= 1<<53 {
								t.Errorf("task uid %d outside (0, 2^53)", info.TaskUID)
							}
						}
					}()
				}
				wg.Wait()
				if !fleet || t.Failed() {
					return
				}
				for i, c := range cs {
					res, err := c.GetTasks(ctx, &meilisearch.TasksQuery{Limit: 1000})
					if err != nil || res.Total != int64(len(seen)) {
						t.Fatalf("instance %d lists %d tasks (%v), want %d", i, res.Total, err, len(seen))
					}
				}
			})
		}
	}
}

func TestFleetTaskStoreOptionsExclusive(t *testing.T) {
	_, nodes := ftFleet(t, 1)
	_, err := miroir.New(nodes, miroir.WithFleetTaskStore(), miroir.WithTaskStore(miroir.NewMemoryTaskStore(10)))
	if err == nil {
		t.Fatal("WithTaskStore and WithFleetTaskStore together accepted")
	}
}
