package miroir

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/meilisearch/meilisearch-go"
)

// Cluster-local tasks: tasks miroir decides itself (a settings
// transaction, a call deferred behind a barrier), with no node task that
// decides their status. Their owner updates them while readers refresh
// them, so every update is a read-modify-write under localMu.

// localTask is a cluster-local task: miroir decides its status.
type localTask struct {
	m    *taskManager
	uid  int64
	info *meilisearch.TaskInfo
	once sync.Once
}

// startLocal registers a cluster-local task on indexUID ("" for none) of
// type typ, status enqueued, and returns its UID and the function that
// finishes it: finish(nil) marks it succeeded, finish(err) failed with
// err's Meilisearch code and message (a *miroir.Error or a
// *meilisearch.Error keep their code; anything else becomes "internal").
// finish may be called once; later calls are ignored. It is what a
// settings transaction (§7) returns to its caller at once.
//
// For more control (details, node tasks, the processing state) use
// newLocal.
func (m *taskManager) startLocal(indexUID string, typ meilisearch.TaskType) (uid int64, finish func(err error)) {
	lt, err := m.newLocal(context.Background(), indexUID, typ, meilisearch.Details{})
	if err != nil {
		// The default store cannot fail; a custom one can. The task then
		// does not exist and finishing it is a no-op.
		m.c.opts.logger.Error("miroir: registering a local task", "err", err)
		return 0, func(error) {}
	}
	return lt.uid, lt.Finish
}

// newLocal registers a cluster-local task with base details.
func (m *taskManager) newLocal(ctx context.Context, indexUID string, typ meilisearch.TaskType, details meilisearch.Details) (*localTask, error) {
	return m.newLocalRaw(ctx, indexUID, typ, details, nil)
}

// newLocalRaw is newLocal with the details object the REST API shows
// (raw; nil: derived from details).
func (m *taskManager) newLocalRaw(ctx context.Context, indexUID string, typ meilisearch.TaskType, details meilisearch.Details, raw json.RawMessage) (*localTask, error) {
	t := &ClusterTask{IndexUID: indexUID, Type: typ, Local: true, Details: details, RawDetails: raw}
	info, err := m.register(ctx, t)
	if err != nil {
		return nil, err
	}
	return &localTask{m: m, uid: t.UID, info: info}, nil
}

// Info is the TaskInfo to return to the caller.
func (lt *localTask) Info() *meilisearch.TaskInfo { return lt.info }

// UID is the cluster task UID.
func (lt *localTask) UID() int64 { return lt.uid }

// Processing marks the task started.
func (lt *localTask) Processing() {
	lt.m.updateLocal(lt.uid, func(t *ClusterTask) {
		if t.Status == meilisearch.TaskStatusEnqueued {
			t.Status = meilisearch.TaskStatusProcessing
			t.StartedAt = nowUTC()
		}
	})
}

// claimReserved marks a deferred call's task processing when its turn
// comes; false when it was canceled while it waited.
func (m *taskManager) claimReserved(uid int64) bool {
	ok := false
	m.updateLocal(uid, func(t *ClusterTask) {
		if t.Status == meilisearch.TaskStatusEnqueued {
			t.Status = meilisearch.TaskStatusProcessing
			t.StartedAt = nowUTC()
			ok = true
		}
	})
	return ok
}

// finishReserved fails a deferred call's task with err, unless it is
// already finished.
func (m *taskManager) finishReserved(uid int64, err error) {
	m.updateLocal(uid, func(t *ClusterTask) {
		if isFinal(t.Status) {
			return
		}
		now := nowUTC()
		if t.StartedAt.IsZero() {
			t.StartedAt = now
		}
		t.FinishedAt = now
		t.Status = meilisearch.TaskStatusFailed
		d := apiErrorDetails(err)
		t.Error = &d
		t.RawDetails = buildRawDetails(t)
	})
}

// AddNodeTask records a node task the local task created (informational:
// it does not change the local task's status).
func (lt *localTask) AddNodeTask(nodeID string, taskUID int64) {
	lt.m.updateLocal(lt.uid, func(t *ClusterTask) {
		t.Nodes = append(t.Nodes, NodeTask{Node: nodeID, TaskUID: taskUID, Aux: true, Status: meilisearch.TaskStatusEnqueued})
	})
}

// Finish ends the task: succeeded when err is nil, else failed with err.
func (lt *localTask) Finish(err error) {
	lt.once.Do(func() {
		lt.m.updateLocal(lt.uid, func(t *ClusterTask) {
			now := nowUTC()
			if t.StartedAt.IsZero() {
				t.StartedAt = now
			}
			t.FinishedAt = now
			if err == nil {
				t.Status = meilisearch.TaskStatusSucceeded
				return
			}
			t.Status = meilisearch.TaskStatusFailed
			d := apiErrorDetails(err)
			t.Error = &d
		})
	})
}

func (m *taskManager) updateLocal(uid int64, fn func(t *ClusterTask)) *ClusterTask {
	m.localMu.Lock()
	defer m.localMu.Unlock()
	ctx := context.Background()
	t, err := m.store.Get(ctx, uid)
	if err != nil || t == nil {
		return nil
	}
	cp := cloneTask(t)
	fn(cp)
	if err := m.store.Put(ctx, cp); err != nil {
		m.c.opts.logger.Error("miroir: updating a local task", "uid", uid, "err", err)
	}
	return cp
}
