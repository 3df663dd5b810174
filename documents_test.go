package miroir

import (
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func TestSmokeWriteRead(t *testing.T) {
	f := newCoreFleet(t, []int{0, 0, 0}, 1, 16)
	ctx := coreCtx(t)
	info, err := f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies", PrimaryKey: "id"})
	if err != nil {
		t.Fatal(err)
	}
	f.wait(t, info, meilisearch.TaskStatusSucceeded)
	ix := f.c.index("movies")
	info, err = ix.AddDocuments(ctx, coreMovies(100), nil)
	if err != nil {
		t.Fatal(err)
	}
	task := f.wait(t, info, meilisearch.TaskStatusSucceeded)
	if task.Details.ReceivedDocuments != 100 || task.Details.IndexedDocuments != 100 {
		t.Fatalf("details %+v", task.Details)
	}
	for i := range 100 {
		var m map[string]any
		if err := ix.GetDocument(ctx, coreItoa(i), nil, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["_miroir_shard"]; ok || m["title"] == nil {
			t.Fatalf("doc %v", m)
		}
	}
}
