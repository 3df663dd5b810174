package miroir

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// Calls fired without waiting for their tasks take effect in the order
// they were made, as on one node (issue 10). Each sequence runs on one
// meilitest node and on a cluster whose nodes process tasks slowly, so
// that the calls overlap; the outcomes must be the same.

type seqDoc struct {
	ID    int    `json:"id"`
	Genre string `json:"genre"`
}

func seqDocs(n int) []seqDoc {
	genres := []string{"drama", "comedy", "horror"}
	out := make([]seqDoc, n)
	for i := range out {
		out[i] = seqDoc{ID: i + 1, Genre: genres[i%3]}
	}
	return out
}

// seqOutcome is what a sequence leaves: every task's status and error
// code, in call order, and the final document counts.
type seqOutcome struct {
	tasks  []string
	counts map[string]int64
}

func runSequence(t *testing.T, sm meilisearch.ServiceManager, seq func(ctx context.Context, sm meilisearch.ServiceManager) []*meilisearch.TaskInfo, indexes ...string) seqOutcome {
	t.Helper()
	ctx := testCtx(t)
	infos := seq(ctx, sm)
	var out seqOutcome
	for _, info := range infos {
		if info == nil {
			out.tasks = append(out.tasks, "refused")
			continue
		}
		tk, err := sm.WaitForTask(ctx, info.TaskUID, 2*time.Millisecond)
		if err != nil {
			t.Fatalf("WaitForTask(%d): %v", info.TaskUID, err)
		}
		out.tasks = append(out.tasks, fmt.Sprintf("%s %s %s", tk.Type, tk.Status, tk.Error.Code))
	}
	out.counts = map[string]int64{}
	for _, uid := range indexes {
		res, err := sm.Index(uid).Search(ctx, "", &meilisearch.SearchRequest{Filter: "genre = drama", Limit: 1000})
		if err != nil {
			out.counts[uid] = -1 // absent, or genre not filterable: the code is in the tasks
			continue
		}
		out.counts[uid] = int64(len(res.Hits))
	}
	return out
}

func TestUnawaitedCallsKeepTheirOrder(t *testing.T) {
	must := func(info *meilisearch.TaskInfo, err error) *meilisearch.TaskInfo {
		if err != nil {
			t.Logf("call refused: %v", err)
			return nil
		}
		return info
	}
	docs := seqDocs(30)
	sequences := []struct {
		name    string
		indexes []string
		run     func(ctx context.Context, sm meilisearch.ServiceManager) []*meilisearch.TaskInfo
	}{
		{"delete the index then add documents", []string{"a"}, func(ctx context.Context, sm meilisearch.ServiceManager) []*meilisearch.TaskInfo {
			return []*meilisearch.TaskInfo{
				must(sm.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "a", PrimaryKey: "id"})),
				must(sm.Index("a").UpdateFilterableAttributes(ctx, &[]any{"genre"})),
				must(sm.Index("a").AddDocuments(ctx, docs[:10], nil)),
				must(sm.DeleteIndex(ctx, "a")),
				must(sm.Index("a").AddDocuments(ctx, docs, nil)),
				must(sm.Index("a").UpdateFilterableAttributes(ctx, &[]any{"genre"})),
			}
		}},
		{"create, settings, add, delete by filter", []string{"b"}, func(ctx context.Context, sm meilisearch.ServiceManager) []*meilisearch.TaskInfo {
			pk := "id"
			return []*meilisearch.TaskInfo{
				must(sm.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "b"})),
				must(sm.Index("b").UpdateFilterableAttributes(ctx, &[]any{"genre"})),
				must(sm.Index("b").AddDocuments(ctx, docs, &meilisearch.DocumentOptions{PrimaryKey: &pk})),
				must(sm.Index("b").DeleteDocumentsByFilter(ctx, "genre = comedy", nil)),
				must(sm.Index("b").DeleteDocumentsByFilter(ctx, "id > 20", nil)),
			}
		}},
		{"swap then write to both", []string{"c", "d"}, func(ctx context.Context, sm meilisearch.ServiceManager) []*meilisearch.TaskInfo {
			pk := "id"
			return []*meilisearch.TaskInfo{
				must(sm.Index("c").AddDocuments(ctx, docs[:6], &meilisearch.DocumentOptions{PrimaryKey: &pk})),
				must(sm.Index("c").UpdateFilterableAttributes(ctx, &[]any{"genre"})),
				must(sm.Index("d").AddDocuments(ctx, docs[:15], &meilisearch.DocumentOptions{PrimaryKey: &pk})),
				must(sm.SwapIndexes(ctx, []*meilisearch.SwapIndexesParams{{Indexes: []string{"c", "d"}}})),
				must(sm.Index("d").AddDocuments(ctx, docs[20:], nil)),
				must(sm.Index("d").DeleteDocument(ctx, "1", nil)),
			}
		}},
	}
	for _, s := range sequences {
		t.Run(s.name, func(t *testing.T) {
			one, _ := startRef(t, meilitest.WithTaskDuration(5*time.Millisecond))
			want := runSequence(t, meilisearch.New(one.URL()), s.run, s.indexes...)
			f := startFleet(t, fleetSpec{groups: []int{0, 0, 1, 1}, rf: 1, shards: 8, nodeOpts: []meilitest.Option{meilitest.WithTaskDuration(5 * time.Millisecond)}})
			got := runSequence(t, f.c, s.run, s.indexes...)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("cluster:\n  %v\none node:\n  %v", got, want)
			}
		})
	}
}
