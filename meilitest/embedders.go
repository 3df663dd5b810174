package meilitest

import "maps"

// The embedders setting as GET shows it: Meilisearch stores an embedder's
// configuration with its source's defaults filled in and shows it back in
// EmbeddingSettings' field order (milli vector/settings.rs's From
// <EmbeddingConfig>), API keys masked.

// Defaults of milli's embedders (vector/hf.rs, vector/openai.rs,
// prompt/mod.rs).
const (
	defaultDocumentTemplate         = "{% for field in fields %}{% if field.is_searchable and field.value != nil %}{{ field.name }}: {{ field.value }}\n{% endif %}{% endfor %}"
	defaultDocumentTemplateMaxBytes = 400
	defaultHuggingFaceModel         = "BAAI/bge-base-en-v1.5"
	defaultHuggingFaceRevision      = "617ca489d9e86b49b8167676d8220688b99db36e"
	defaultOpenAIModel              = "text-embedding-3-small"
)

// embedderFieldOrder is EmbeddingSettings' field order.
var embedderFieldOrder = []string{"source", "model", "revision", "pooling", "apiKey", "dimensions", "binaryQuantized",
	"documentTemplate", "documentTemplateMaxBytes", "url", "indexingFragments", "searchFragments", "request", "response",
	"headers", "searchEmbedder", "indexingEmbedder", "distribution"}

// embeddersView is the embedders as GET shows them.
func embeddersView(emb map[string]any) map[string]any {
	out := make(map[string]any, len(emb))
	for name, cfg := range emb {
		m, _ := cfg.(map[string]any)
		out[name] = embedderView(m, true, true)
	}
	return out
}

// embedderView is one configuration with its source's defaults, ordered;
// templates says whether the source renders documents (not a composite's
// search embedder).
func embedderView(cfg map[string]any, templates, top bool) *orderedObject {
	if cfg == nil {
		cfg = map[string]any{}
	}
	c := maps.Clone(maskEmbedder(cfg))
	src, _ := c["source"].(string)
	if src == "" {
		src = "openAi"
	}
	set := func(k string, v any) { // a default: only where the field is unset
		if _, ok := c[k]; !ok {
			c[k] = v
		}
	}
	set("source", src)
	switch src {
	case "huggingFace":
		if _, ok := c["model"]; !ok {
			set("model", defaultHuggingFaceModel)
			set("revision", defaultHuggingFaceRevision)
		}
		set("pooling", "useModel")
	case "openAi":
		set("model", defaultOpenAIModel)
	}
	_, indexingFragments := c["indexingFragments"]
	_, searchFragments := c["searchFragments"]
	fragments := indexingFragments || searchFragments // fragments replace the template
	switch src {
	case "openAi", "huggingFace", "ollama", "rest":
		if templates && !fragments {
			set("documentTemplate", defaultDocumentTemplate)
			set("documentTemplateMaxBytes", defaultDocumentTemplateMaxBytes)
		}
	}
	o := &orderedObject{}
	for _, k := range embedderFieldOrder {
		v, ok := c[k]
		if !ok {
			continue
		}
		if sub, isMap := v.(map[string]any); isMap && top && (k == "searchEmbedder" || k == "indexingEmbedder") {
			o.set(k, embedderView(sub, k == "indexingEmbedder", false))
			continue
		}
		o.set(k, v)
	}
	return o
}

// maskEmbedder hides an embedder's API key.
func maskEmbedder(cfg map[string]any) map[string]any {
	key, ok := cfg["apiKey"].(string)
	if !ok {
		return cfg
	}
	c := maps.Clone(cfg)
	c["apiKey"] = maskSecret(key)
	return c
}

// maskSecret hides a secret as Meilisearch does: a few leading characters
// are kept depending on its length.
func maskSecret(s string) string {
	switch n := len(s); {
	case n < 10:
		return "XXX..."
	case n < 20:
		return s[:2] + "XXXX..."
	case n < 30:
		return s[:3] + "XXXXX..."
	default:
		return s[:5] + "XXXXXX..."
	}
}
