package miroir

// The drop-in promise: the same application code, written against
// meilisearch.ServiceManager, sees the same on one node and on a fleet.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// dropInApp is application code written against meilisearch-go: it knows
// nothing about miroir. It returns a transcript of what it observed
// (everything but task uids and timestamps).
func dropInApp(ctx context.Context, svc meilisearch.ServiceManager) ([]string, error) {
	var out []string
	say := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	wait := func(info *meilisearch.TaskInfo, err error) (*meilisearch.Task, error) {
		if err != nil {
			return nil, err
		}
		say("enqueued %s %s %s", info.Status, info.Type, info.IndexUID)
		task, err := svc.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
		if err != nil {
			return nil, err
		}
		say("task %s %s %s received=%d indexed=%d deleted=%d provided=%d err=%s",
			task.Type, task.Status, task.IndexUID, task.Details.ReceivedDocuments, task.Details.IndexedDocuments,
			task.Details.DeletedDocuments, task.Details.ProvidedIds, task.Error.Code)
		return task, nil
	}
	code := func(err error) string {
		if err == nil {
			return "ok"
		}
		if me, ok := err.(*meilisearch.Error); ok {
			return fmt.Sprintf("%s/%d", me.APIError.Code, me.StatusCode)
		}
		return "other: " + err.Error()
	}

	if _, err := wait(svc.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies", PrimaryKey: "id"})); err != nil {
		return out, err
	}
	if _, err := wait(svc.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies"})); err != nil {
		return out, err
	}
	ix := svc.Index("movies")
	docs := make([]map[string]any, 300)
	for i := range docs {
		docs[i] = map[string]any{"id": i, "title": fmt.Sprintf("movie %d", i), "year": 1950 + i%60, "genres": []string{"drama", "comedy"}[i%2 : i%2+1]}
	}
	if _, err := wait(ix.AddDocuments(ctx, docs, nil)); err != nil {
		return out, err
	}
	tasks, err := ix.AddDocumentsInBatches(ctx, docs[:25], 10, nil)
	if err != nil {
		return out, err
	}
	say("batches %d", len(tasks))
	for _, ti := range tasks {
		if _, err := wait(&ti, nil); err != nil {
			return out, err
		}
	}
	if _, err := wait(ix.AddDocumentsNdjson(ctx, []byte("{\"id\":1000,\"title\":\"nd\"}\n{\"id\":1001,\"title\":\"nd2\"}\n"), nil)); err != nil {
		return out, err
	}
	if _, err := wait(ix.AddDocumentsCsv(ctx, []byte("id,title,year:number\n2000,csv,1999\n"), nil)); err != nil {
		return out, err
	}
	if _, err := wait(ix.UpdateDocuments(ctx, []map[string]any{{"id": 7, "title": "seven"}}, nil)); err != nil {
		return out, err
	}
	for _, id := range []string{"0", "7", "299", "1001", "2000"} {
		var d map[string]any
		err := ix.GetDocument(ctx, id, nil, &d)
		say("doc %s %s %v", id, code(err), d)
	}
	var partial map[string]any
	err = ix.GetDocument(ctx, "5", &meilisearch.DocumentQuery{Fields: []string{"title"}}, &partial)
	say("fields %s %v", code(err), partial)
	var missing map[string]any
	say("missing %s", code(ix.GetDocument(ctx, "424242", nil, &missing)))

	if _, err := wait(ix.DeleteDocuments(ctx, []string{"1", "2", "9999"}, nil)); err != nil {
		return out, err
	}
	if _, err := wait(ix.DeleteDocument(ctx, "3", nil)); err != nil {
		return out, err
	}
	if _, err := wait(ix.UpdateFilterableAttributes(ctx, &[]any{"year"})); err != nil {
		return out, err
	}
	if _, err := wait(ix.DeleteDocumentsByFilter(ctx, "year < 1955", nil)); err != nil {
		return out, err
	}
	st, err := ix.GetStats(ctx, nil)
	if err != nil {
		return out, err
	}
	say("stats docs=%d indexing=%v fields=%v", st.NumberOfDocuments, st.IsIndexing, st.FieldDistribution)
	fa, err := ix.GetFilterableAttributes(ctx)
	say("filterable %s %v", code(err), *fa)

	info, err := svc.GetIndex(ctx, "movies")
	say("index %s %s %s", code(err), info.UID, info.PrimaryKey)
	pk, err := ix.FetchPrimaryKey(ctx)
	say("pk %s %s", code(err), *pk)
	_, err = svc.GetIndex(ctx, "nope")
	say("no index %s", code(err))
	list, err := svc.ListIndexes(ctx, nil)
	say("list %s total=%d first=%s", code(err), list.Total, list.Results[0].UID)

	tr, err := svc.GetTasks(ctx, &meilisearch.TasksQuery{IndexUIDS: []string{"movies"}, Types: []meilisearch.TaskType{meilisearch.TaskTypeDocumentDeletion}})
	say("tasks %s total=%d", code(err), tr.Total)
	for _, t := range tr.Results {
		say("  %s %s %d", t.Type, t.Status, t.Details.DeletedDocuments)
	}
	tr, err = ix.GetTasks(ctx, &meilisearch.TasksQuery{Statuses: []meilisearch.TaskStatus{meilisearch.TaskStatusFailed}})
	say("failed tasks %s total=%d", code(err), tr.Total)

	res, err := ix.Search(ctx, "movie", &meilisearch.SearchRequest{Filter: "year = 1960", Sort: nil, Limit: 5})
	if err == nil {
		var ids []string
		for _, h := range res.Hits {
			ids = append(ids, string(h["id"]))
		}
		slices.Sort(ids)
		say("search %d %s", res.EstimatedTotalHits, strings.Join(ids, ","))
	} else {
		say("search %s", code(err))
	}

	k, err := svc.CreateKey(ctx, &meilisearch.Key{Name: "k", Actions: []string{"search"}, Indexes: []string{"movies"}})
	say("key %s %s %v", code(err), k.Name, k.Actions)
	got, err := svc.GetKey(ctx, k.Key)
	say("get key %s %s", code(err), got.Name)
	ok, err := svc.DeleteKey(ctx, k.Key)
	say("del key %s %v", code(err), ok)

	if _, err := wait(svc.DeleteIndex(ctx, "movies")); err != nil {
		return out, err
	}
	_, err = svc.GetIndex(ctx, "movies")
	say("after delete %s", code(err))
	return out, nil
}

// TestDropIn runs the same application code on meilisearch.New(url) (one
// meilitest node) and on miroir.New(...) (a sharded, replicated fleet),
// both held as meilisearch.ServiceManager, and compares what it saw.
func TestDropIn(t *testing.T) {
	ctx := testCtx(t)
	single, _ := startRef(t, meilitest.WithMasterKey("drop-in-master-key-0123456789"))
	var one meilisearch.ServiceManager = meilisearch.New(single.URL(), meilisearch.WithAPIKey("drop-in-master-key-0123456789"))
	want, err := dropInApp(ctx, one)
	if err != nil {
		t.Fatalf("single node: %v\n%s", err, strings.Join(want, "\n"))
	}

	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0, 1, 1}, rf: 2, shards: 16, nodeKey: "drop-in-master-key-0123456789", timing: newDefaults})
	var cluster meilisearch.ServiceManager = f.c
	got, err := dropInApp(ctx, cluster)
	if err != nil {
		t.Fatalf("cluster: %v\n%s", err, strings.Join(got, "\n"))
	}
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Errorf("line %d:\n single: %s\ncluster: %s", i, w, g)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("single-node transcript:\n%s", strings.Join(want, "\n"))
	}
}

func acApp(ctx context.Context, svc meilisearch.ServiceManager) ([]string, error) {
	var out []string
	say := func(f string, a ...any) { out = append(out, fmt.Sprintf(f, a...)) }
	wait := func(info *meilisearch.TaskInfo, err error) (*meilisearch.Task, error) {
		if err != nil {
			return nil, err
		}
		say("info %s %s %s", info.Status, info.Type, info.IndexUID)
		task, err := svc.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
		if err != nil {
			return nil, err
		}
		say("task %s %s %s recv=%d idx=%d del=%d ids=%d err=%s", task.Type, task.Status, task.IndexUID,
			task.Details.ReceivedDocuments, task.Details.IndexedDocuments, task.Details.DeletedDocuments,
			task.Details.ProvidedIds, task.Error.Code)
		got, err := svc.GetTask(ctx, info.TaskUID)
		if err != nil {
			return nil, err
		}
		say("gettask %s %s", got.Status, got.Type)
		return task, nil
	}
	code := func(err error) string {
		var me *meilisearch.Error
		if err == nil {
			return "ok"
		}
		if errors.As(err, &me) {
			return fmt.Sprintf("%s/%d", me.APIError.Code, me.StatusCode)
		}
		return "non-meilisearch error"
	}
	if _, err := wait(svc.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "books", PrimaryKey: "id"})); err != nil {
		return out, err
	}
	ix := svc.Index("books")
	docs := make([]map[string]any, 200)
	for i := range docs {
		docs[i] = map[string]any{"id": i, "title": fmt.Sprintf("book %d about %s", i, []string{"cats", "dogs", "birds"}[i%3]), "year": 1900 + i}
	}
	if _, err := wait(ix.AddDocuments(ctx, docs, nil)); err != nil {
		return out, err
	}
	if _, err := wait(ix.UpdateDocuments(ctx, []map[string]any{{"id": 5, "title": "updated five"}}, nil)); err != nil {
		return out, err
	}
	if _, err := wait(ix.AddDocumentsNdjson(ctx, []byte("{\"id\":500,\"title\":\"ndjson cats\"}\n"), nil)); err != nil {
		return out, err
	}
	for _, id := range []string{"0", "5", "199", "500", "9999"} {
		var d map[string]any
		err := ix.GetDocument(ctx, id, nil, &d)
		say("get %s %s %v", id, code(err), d["title"])
	}
	var dr meilisearch.DocumentsResult
	err := ix.GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 5, Offset: 3}, &dr)
	say("list %s total=%d n=%d", code(err), dr.Total, len(dr.Results))
	for _, q := range []string{"cats", "dogs", "book", "zzz", "5"} {
		res, err := ix.Search(ctx, q, &meilisearch.SearchRequest{Limit: 1000})
		if err != nil {
			say("search %s %s", q, code(err))
			continue
		}
		var ids []string
		for _, h := range res.Hits {
			ids = append(ids, string(h["id"]))
		}
		sort.Strings(ids)
		say("search %q est=%d hits=%v", q, res.EstimatedTotalHits, ids)
	}
	if _, err := wait(ix.DeleteDocument(ctx, "0", nil)); err != nil {
		return out, err
	}
	if _, err := wait(ix.DeleteDocuments(ctx, []string{"1", "2", "77777"}, nil)); err != nil {
		return out, err
	}
	st, err := ix.GetStats(ctx, nil)
	if err != nil {
		return out, err
	}
	say("stats %d", st.NumberOfDocuments)
	_, err = svc.GetIndex(ctx, "nope")
	say("missing index %s", code(err))
	_, err = svc.GetTask(ctx, 987654321)
	say("missing task %s", code(err))
	_, err = svc.CancelTasks(ctx, &meilisearch.CancelTasksQuery{})
	say("cancel without filter %s", code(err))
	pk, err := ix.FetchPrimaryKey(ctx)
	if err == nil && pk != nil {
		say("pk %s", *pk)
	} else {
		say("pk %s", code(err))
	}
	list, err := svc.ListIndexes(ctx, &meilisearch.IndexesQuery{Limit: 10})
	if err == nil {
		var uids []string
		for _, r := range list.Results {
			uids = append(uids, r.UID)
		}
		say("indexes %v total=%d", uids, list.Total)
	}
	var part map[string]any
	err = ix.GetDocument(ctx, "7", &meilisearch.DocumentQuery{Fields: []string{"title"}}, &part)
	say("fields %s %v", code(err), part)
	if _, err := wait(svc.DeleteIndex(ctx, "never-created")); err != nil {
		return out, err
	}
	if _, err := wait(svc.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "books"})); err != nil {
		return out, err
	}
	if _, err := wait(svc.DeleteIndex(ctx, "books")); err != nil {
		return out, err
	}
	return out, nil
}

func TestAuditCoreDropIn(t *testing.T) {
	ctx := testCtx(t)
	single, _ := startRef(t)
	want, err := acApp(ctx, meilisearch.New(single.URL()))
	if err != nil {
		t.Fatalf("single node: %v", err)
	}
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 1, 1}, rf: 1, shards: 16, timing: oneRetry})
	var svc meilisearch.ServiceManager = f.c
	got, err := acApp(ctx, svc)
	if err != nil {
		t.Fatalf("cluster: %v\n%s", err, strings.Join(got, "\n"))
	}
	if !slices.Equal(got, want) {
		for i := 0; i < max(len(got), len(want)); i++ {
			var g, w string
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("line %d:\n  cluster: %s\n  single:  %s", i, g, w)
			}
		}
	}
}
