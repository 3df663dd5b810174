package meilitest

import (
	"context"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func TestRenderTemplate(t *testing.T) {
	_, c := newClient(t)
	ctx := context.Background()
	waitFor(t, c)(c.Index("movies").AddDocuments(ctx, []map[string]any{{"id": 2, "title": "Ariel", "meta": map[string]any{"year": 1988}}}, nil))
	uid, id := "movies", "2"
	params := &meilisearch.RenderTemplateParams{
		Template: meilisearch.Template{Kind: meilisearch.InlineDocumentTemplate, Inline: "{{ doc.title }} ({{doc.meta.year}}) #{{ doc.id }}{{ doc.nope }}"},
		Input:    &meilisearch.TempelateInput{Kind: meilisearch.IndexDocument, IndexUID: &uid, ID: &id},
	}
	if _, err := c.RenderTemplate(ctx, params); apiCode(err) != "feature_not_enabled" {
		t.Fatalf("feature off: %v", err)
	}
	if _, err := c.ExperimentalFeatures().SetRenderRoute(true).Update(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := c.RenderTemplate(ctx, params)
	if err != nil || res.Rendered != "Ariel (1988) #2" {
		t.Fatalf("rendered: %+v %v", res, err)
	}
	missing := "9"
	params.Input.ID = &missing
	if _, err := c.RenderTemplate(ctx, params); apiCode(err) != "render_document_not_found" {
		t.Fatalf("missing document: %v", err)
	}
	frag := &meilisearch.RenderTemplateParams{
		Template: meilisearch.Template{Kind: meilisearch.InlineFragment, Inline: map[string]any{"text": "{{doc.test}}", "n": 1}},
		Input:    &meilisearch.TempelateInput{Kind: meilisearch.InlineDocument, Inline: map[string]any{"test": true}},
	}
	if _, err := c.RenderTemplate(ctx, frag); apiCode(err) != "feature_not_enabled" {
		t.Fatalf("fragments need multimodal: %v", err)
	}
	if _, err := c.ExperimentalFeatures().SetMultiModal(true).Update(ctx); err != nil {
		t.Fatal(err)
	}
	res, err = c.RenderTemplate(ctx, frag)
	if m, ok := res.Rendered.(map[string]any); err != nil || !ok || m["text"] != "true" || m["n"] != float64(1) {
		t.Fatalf("fragment: %+v %v", res, err)
	}
	bad := &meilisearch.RenderTemplateParams{Template: meilisearch.Template{Kind: meilisearch.InlineDocumentTemplate, Inline: "{% if doc.x %}y{% endif %}"}}
	if _, err := c.RenderTemplate(ctx, bad); apiCode(err) != "template_parsing_error" {
		t.Fatalf("liquid tags: %v", err)
	}
}
