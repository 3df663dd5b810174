package miroir

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// The _miroir_v mechanism (issue 12): every document of every form
// reaches the nodes with its write's version (the write's cluster task
// uid) next to its shard; input carrying _miroir_v is refused like
// _miroir_shard.

func TestWriteVersionInjected(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 1}, rf: 1, shards: 8})
	ix := f.createIndex(t, "books", "id")
	ctx := testCtx(t)
	type book struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	writes := []func() (*meilisearch.TaskInfo, error){
		func() (*meilisearch.TaskInfo, error) {
			return ix.AddDocuments(ctx, []book{{"s1", "a"}, {"s2", "b"}}, nil)
		},
		func() (*meilisearch.TaskInfo, error) {
			return ix.AddDocuments(ctx, []byte(`[{"id":"r1","title":"c"}, { "id" : "r2" }]`), nil)
		},
		func() (*meilisearch.TaskInfo, error) {
			return ix.UpdateDocumentsNdjson(ctx, []byte("{\"id\":\"n1\",\"title\":\"d\"}\n"), nil)
		},
		func() (*meilisearch.TaskInfo, error) {
			return ix.AddDocumentsCsv(ctx, []byte("id,title\nc1,e\nc2,\"f, g\"\n"), nil)
		},
		func() (*meilisearch.TaskInfo, error) {
			return ix.AddDocumentsNdjsonFromReader(ctx, strings.NewReader("{\"id\":\"t1\",\"title\":\"h\"}\n"), nil)
		},
		func() (*meilisearch.TaskInfo, error) {
			return ix.AddDocumentsCsvFromReader(ctx, strings.NewReader("id,title\nu1,i\n"), nil)
		},
	}
	// The ids each write wrote, in order.
	wrote := [][]string{{"s1", "s2"}, {"r1", "r2"}, {"n1"}, {"c1", "c2"}, {"t1"}, {"u1"}}
	version := map[string]int64{}
	for k, w := range writes {
		info, err := w()
		if err != nil {
			t.Fatalf("write %d: %v", k, err)
		}
		f.wait(t, info, meilisearch.TaskStatusSucceeded)
		for _, id := range wrote[k] {
			version[id] = info.TaskUID
		}
	}
	seen := 0
	for i := range f.srv {
		for _, d := range f.nodeDocs(t, i, "books", nil) {
			seen++
			id := fmt.Sprint(d["id"])
			if v, _ := d["_miroir_v"].(float64); int64(v) != version[id] || v <= 0 || v >= 1<<53 {
				t.Errorf("node %d: doc %s has _miroir_v %v, want its write's task uid %d", i, id, d["_miroir_v"], version[id])
			}
			if sh, _ := d["_miroir_shard"].(float64); int(sh) != ShardOf(id, 8) {
				t.Errorf("node %d: doc %s has _miroir_shard %v", i, id, d["_miroir_shard"])
			}
		}
	}
	if seen != 2*9 { // nine documents, one copy per group
		t.Fatalf("the nodes hold %d documents, want 18", seen)
	}
}

func TestWriteVersionFieldReserved(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8})
	ix := f.createIndex(t, "books", "id")
	ctx := testCtx(t)
	for name, call := range map[string]func() error{
		"structs": func() error {
			_, err := ix.AddDocuments(ctx, []map[string]any{{"id": 1}, {"id": 2, "_miroir_v": 3}}, nil)
			return err
		},
		"ndjson": func() error {
			_, err := ix.UpdateDocumentsNdjson(ctx, []byte("{\"id\":1,\"_miroir_v\":0}\n"), nil)
			return err
		},
		"reader": func() error {
			_, err := ix.AddDocuments(ctx, strings.NewReader(`[{"id":1,"\u005fmiroir_v":1}]`), nil)
			return err
		},
		"csv": func() error {
			_, err := ix.AddDocumentsCsv(ctx, []byte("id,_miroir_v:number\n1,2\n"), nil)
			return err
		},
	} {
		err := call()
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeReservedField || !strings.Contains(e.Message, "`_miroir_v`") {
			t.Errorf("%s: %v, want %s naming _miroir_v", name, err, CodeReservedField)
		}
	}
}
