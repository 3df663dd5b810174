package meilitest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func TestRhaiSubset(t *testing.T) {
	doc := map[string]any{"id": json.Number("7"), "title": "Dune", "n": json.Number("3"), "tags": []any{"a", "b"}}
	ctx := map[string]any{"max": json.Number("5"), "suffix": "!"}
	cases := []struct {
		fn   string
		want map[string]any // nil: deleted
	}{
		{"doc.title = `✨ ${doc.title.to_upper()} ✨`", map[string]any{"title": "✨ DUNE ✨"}},
		{"doc.n = doc.n * 2 + 1; doc.half = doc.n / 2", map[string]any{"n": json.Number("7"), "half": json.Number("3")}},
		{"doc.f = 1.5 + 1", map[string]any{"f": json.Number("2.5")}},
		{"if doc.id >= context.max {\n doc = ()\n} else {\n doc.title = \"kept\"\n}", nil},
		{"if doc.n < context.max { doc.title += context.suffix } else if true { doc.title = \"no\" }", map[string]any{"title": "Dune!"}},
		{"let x = doc.tags[1]; doc[\"first\"] = doc.tags[0] + x; doc.has = doc.tags.contains(\"b\") && !false", map[string]any{"first": "ab", "has": true}},
		{"doc.gone = (); doc.len = doc.title.len()", map[string]any{"gone": nil, "len": json.Number("4")}},
	}
	for _, c := range cases {
		prog, err := parseRhai(c.fn)
		if err != nil {
			t.Fatalf("%q: %v", c.fn, err)
		}
		out, err := runEdition(prog, doc, ctx)
		if err != nil {
			t.Fatalf("%q: %v", c.fn, err)
		}
		if c.want == nil {
			if out != nil {
				t.Fatalf("%q: want deletion, got %v", c.fn, out)
			}
			continue
		}
		for k, v := range c.want {
			if g, _ := json.Marshal(out[k]); string(g) != func() string { b, _ := json.Marshal(v); return string(b) }() {
				t.Fatalf("%q: %s = %s, want %v", c.fn, k, g, v)
			}
		}
		if doc["title"] != "Dune" {
			t.Fatal("the function modified the stored document")
		}
	}
	for _, bad := range []string{"for x in doc {}", "doc.title = ", "doc.title = 1 +", "doc.x = \"a\" - 1"} {
		prog, err := parseRhai(bad)
		if err == nil {
			_, err = runEdition(prog, doc, nil)
		}
		if err == nil {
			t.Fatalf("%q should fail", bad)
		}
	}
}

func TestEditDocumentsByFunction(t *testing.T) {
	_, c := newClient(t)
	ctx := context.Background()
	ix := c.Index("movies")
	w := waitFor(t, c)
	w(ix.AddDocuments(ctx, []map[string]any{{"id": 1, "title": "a"}, {"id": 2, "title": "b"}, {"id": 3, "title": "c"}}, nil))
	req := &meilisearch.UpdateDocumentByFunctionRequest{Function: "doc.title = doc.title.to_upper()"}
	if _, err := ix.UpdateDocumentsByFunction(ctx, req); apiCode(err) != "feature_not_enabled" {
		t.Fatalf("feature off: %v", err)
	}
	if _, err := c.ExperimentalFeatures().SetEditDocumentsByFunction(true).Update(ctx); err != nil {
		t.Fatal(err)
	}
	req.Filter = "id > 1"
	if task := w(ix.UpdateDocumentsByFunction(ctx, req)); task.Status != meilisearch.TaskStatusFailed || task.Error.Code != "invalid_document_filter" {
		t.Fatalf("filter on a non-filterable attribute: %+v", task)
	}
	w(ix.UpdateFilterableAttributes(ctx, &[]any{"id"}))
	if task := w(ix.UpdateDocumentsByFunction(ctx, req)); task.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("edit: %+v", task)
	}
	task := w(ix.UpdateDocumentsByFunction(ctx, &meilisearch.UpdateDocumentByFunctionRequest{
		Function: "if doc.id >= context.max { doc = () }", Context: map[string]any{"max": 3},
	}))
	if task.Status != meilisearch.TaskStatusSucceeded || task.Details.DeletedDocuments != 1 {
		t.Fatalf("deletion by function: %+v", task)
	}
	var docs meilisearch.DocumentsResult
	if err := ix.GetDocuments(ctx, nil, &docs); err != nil || docs.Total != 2 {
		t.Fatalf("after deletion: %+v %v", docs, err)
	}
	var d map[string]any
	if err := ix.GetDocument(ctx, "2", nil, &d); err != nil || d["title"] != "B" {
		t.Fatalf("edited: %v %v", d, err)
	}
	if err := ix.GetDocument(ctx, "1", nil, &d); err != nil || d["title"] != "a" {
		t.Fatalf("filtered out: %v %v", d, err)
	}
	if task := w(ix.UpdateDocumentsByFunction(ctx, &meilisearch.UpdateDocumentByFunctionRequest{Function: "doc.id = 99"})); task.Status != meilisearch.TaskStatusFailed || task.Error.Code != "edit_documents_by_function_error" {
		t.Fatalf("primary key change: %+v", task)
	}
}
