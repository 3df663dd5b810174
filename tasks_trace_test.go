package miroir_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// nodeDocTasks lists a node's document-write tasks on index docs (newest
// first).
func nodeDocTasks(t testing.TB, url string) []meilisearch.Task {
	t.Helper()
	res, err := meilisearch.New(url).GetTasks(context.Background(), &meilisearch.TasksQuery{Limit: 1000, IndexUIDS: []string{"docs"},
		Types: []meilisearch.TaskType{meilisearch.TaskTypeDocumentAdditionOrUpdate, meilisearch.TaskTypeDocumentDeletion, "documentEdition"}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Results
}

// TestNodeTasksTaggedWithClusterTask: every node task of a document write
// carries its cluster task's UID in customMetadata, followed by the
// caller's own value; the cluster task shows the caller's value alone.
func TestNodeTasksTaggedWithClusterTask(t *testing.T) {
	srv, nodes := ftFleet(t, 2)
	ctx := ftCtx(t)
	c := ftInstance(t, nodes)
	must := ftMust(t)
	ftWait(t, c, must(c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "docs", PrimaryKey: "id"})), meilisearch.TaskStatusSucceeded)
	ftWait(t, c, must(c.Index("docs").UpdateFilterableAttributes(ctx, &[]interface{}{"n"})), meilisearch.TaskStatusSucceeded)
	ix := c.Index("docs")
	mine := &meilisearch.DocumentOptions{TaskCustomMetadata: "job:42"}
	calls := map[string]struct {
		uid    int64
		caller string
	}{
		"add":       {must(ix.AddDocuments(ctx, ftDocs(0, 10), nil)), ""},
		"add mine":  {must(ix.AddDocuments(ctx, ftDocs(10, 10), mine)), "job:42"},
		"update":    {must(ix.UpdateDocuments(ctx, ftDocs(0, 2), mine)), "job:42"},
		"delete":    {must(ix.DeleteDocuments(ctx, []string{"1", "2"}, mine)), "job:42"},
		"by filter": {must(ix.DeleteDocumentsByFilter(ctx, "n = 3", nil)), ""},
		"all":       {must(ix.DeleteAllDocuments(ctx, mine)), "job:42"},
	}
	for name, call := range calls {
		task := ftWait(t, c, call.uid, meilisearch.TaskStatusSucceeded)
		if task.CustomMetadata != call.caller {
			t.Errorf("%s: cluster task shows customMetadata %q, want %q", name, task.CustomMetadata, call.caller)
		}
		want := fmt.Sprintf("miroir:%d", call.uid)
		if call.caller != "" {
			want += ":" + call.caller
		}
		found := 0
		for _, s := range srv {
			for _, nt := range nodeDocTasks(t, s.URL()) {
				if nt.CustomMetadata == want {
					found++
				} else if !strings.HasPrefix(nt.CustomMetadata, "miroir:") {
					t.Errorf("node task %d untagged: %q", nt.UID, nt.CustomMetadata)
				}
			}
		}
		if found == 0 {
			t.Errorf("%s: no node task tagged %q", name, want)
		}
	}
}

// TestRebuildTaskStore: a new instance with an empty store recreates the
// cluster tasks of document writes from the nodes' task lists, with their
// UIDs, statuses, counts and the caller's customMetadata.
func TestRebuildTaskStore(t *testing.T) {
	_, nodes := ftFleet(t, 3)
	ctx := ftCtx(t)
	a := ftInstance(t, nodes)
	must := ftMust(t)
	ftWait(t, a, must(a.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "docs", PrimaryKey: "id"})), meilisearch.TaskStatusSucceeded)
	ix := a.Index("docs")
	uids := []int64{
		must(ix.AddDocuments(ctx, ftDocs(0, 20), &meilisearch.DocumentOptions{TaskCustomMetadata: "batch-1"})),
		must(ix.DeleteDocuments(ctx, []string{"1", "2", "3"}, nil)),
		must(ix.DeleteAllDocuments(ctx, nil)),
	}
	want := map[int64]*meilisearch.Task{}
	for _, uid := range uids {
		want[uid] = ftWait(t, a, uid, meilisearch.TaskStatusSucceeded)
	}
	a.Close()

	b := ftInstance(t, nodes)
	if _, err := b.GetTask(ctx, uids[0]); ftCode(err) != "task_not_found" {
		t.Fatalf("before the rebuild: %v", err)
	}
	n, err := b.RebuildTaskStore(ctx)
	if err != nil || n != len(uids) {
		t.Fatalf("rebuilt %d tasks (%v), want %d", n, err, len(uids))
	}
	for _, uid := range uids {
		got, err := b.GetTask(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		w := want[uid]
		if got.Status != w.Status || got.Type != w.Type || got.IndexUID != w.IndexUID || got.CustomMetadata != w.CustomMetadata ||
			got.Details.ReceivedDocuments != w.Details.ReceivedDocuments || got.Details.IndexedDocuments != w.Details.IndexedDocuments ||
			got.Details.ProvidedIds != w.Details.ProvidedIds || got.Details.DeletedDocuments != w.Details.DeletedDocuments {
			t.Errorf("task %d rebuilt as\n%+v\nwant\n%+v", uid, got, w)
		}
	}
	// Nothing twice.
	if n, err := b.RebuildTaskStore(ctx); err != nil || n != 0 {
		t.Fatalf("second rebuild: %d %v", n, err)
	}
}
