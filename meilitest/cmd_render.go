package meilitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// POST /render-template (experimental renderRoute feature): renders an
// inline document template or inline fragment with a document from an index
// or an inline document, as Meilisearch does to preview templates.
//
// meilitest implements the Liquid subset templates mostly use: `{{ doc.field }}`
// and `{{ doc.a.b }}` interpolation (strings as is, other values as JSON,
// missing fields as empty), and `{{ fields }}`-free text. Liquid tags
// (`{% ... %}`) and filters (`| upcase`) are a template_parsing_error.
// Templates stored in embedder or chat settings need embedders, which
// meilitest does not run: those kinds answer invalid_render_template.

type renderQuery struct {
	Template *struct {
		Kind                     string `json:"kind"`
		IndexUID                 *string
		Embedder                 *string `json:"embedder"`
		Fragment                 *string `json:"fragment"`
		Inline                   any     `json:"inline"`
		DocumentTemplateMaxBytes *int    `json:"documentTemplateMaxBytes"`
	} `json:"template"`
	Input *struct {
		Kind     string  `json:"kind"`
		IndexUID *string `json:"indexUid"`
		ID       *string `json:"id"`
		Inline   any     `json:"inline"`
	} `json:"input"`
}

func (s *Server) handleRender(w http.ResponseWriter, r *http.Request) {
	if !s.featureEnabled("renderRoute") {
		writeError(w, featureError("calling the /render-template route", "render route", "828"))
		return
	}
	var raw map[string]json.RawMessage
	if err := decodeJSONBody(r, &raw); err != nil {
		writeError(w, err)
		return
	}
	var q renderQuery
	b, _ := json.Marshal(raw)
	_ = json.Unmarshal(b, &q)
	if q.Template != nil {
		var t struct {
			IndexUID *string `json:"indexUid"`
		}
		_ = json.Unmarshal(raw["template"], &t)
		q.Template.IndexUID = t.IndexUID
	}
	tplErr := func(format string, args ...any) { writeError(w, newError("invalid_render_template", format, args...)) }
	inErr := func(format string, args ...any) { writeError(w, newError("invalid_render_input", format, args...)) }
	if q.Template == nil {
		tplErr("Missing field `template`")
		return
	}
	t := q.Template
	switch t.Kind {
	case "inlineDocumentTemplate", "inlineFragment":
		if t.Kind == "inlineFragment" && !s.featureEnabled("multimodal") {
			writeError(w, featureError("rendering an inline fragment", "multimodal", "846"))
			return
		}
		for name, set := range map[string]bool{"index_uid": t.IndexUID != nil, "embedder": t.Embedder != nil, "fragment": t.Fragment != nil} {
			if set {
				tplErr("parameter `%s` disallowed for kind `%s`", name, t.Kind)
				return
			}
		}
		if t.Inline == nil {
			tplErr("parameter `inline` missing for kind `%s`", t.Kind)
			return
		}
		if _, ok := t.Inline.(string); !ok && t.Kind == "inlineDocumentTemplate" {
			tplErr("inline document templates must be strings")
			return
		}
	case "documentTemplate", "chatDocumentTemplate", "indexingFragment", "searchFragment":
		if t.IndexUID == nil {
			tplErr("parameter `index_uid` missing for kind `%s`", t.Kind)
			return
		}
		embedder := ""
		if t.Embedder != nil {
			embedder = *t.Embedder
		}
		tplErr("cannot find embedder `%s` in index `%s`", embedder, *t.IndexUID)
		return
	default:
		tplErr("Unknown value `%s` at `.template.kind`: expected one of `documentTemplate`, `chatDocumentTemplate`, `indexingFragment`, `searchFragment`, `inlineDocumentTemplate`, `inlineFragment`", t.Kind)
		return
	}
	if err := checkTemplate(t.Inline); err != nil {
		writeError(w, newError("template_parsing_error", "%s", err.Error()))
		return
	}
	out := map[string]any{"template": t.Inline, "rendered": nil}
	if q.Input == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	in := q.Input
	var doc map[string]any
	switch in.Kind {
	case "indexDocument":
		if in.IndexUID == nil {
			inErr("parameter `indexUid` missing for kind `indexDocument`")
			return
		}
		if in.ID == nil {
			inErr("parameter `id` missing for kind `indexDocument`")
			return
		}
		if in.Inline != nil {
			inErr("parameter `inline` disallowed for kind `indexDocument`")
			return
		}
		s.mu.RLock()
		ix, err := s.readIndex(*in.IndexUID)
		if err == nil {
			if d, ok := ix.docs[*in.ID]; ok {
				doc = d.fields
			}
		}
		s.mu.RUnlock()
		if err != nil {
			writeError(w, err)
			return
		}
		if doc == nil {
			writeError(w, newError("render_document_not_found", "error while fetching input: document `%s` not found in `%s`", *in.ID, *in.IndexUID))
			return
		}
	case "inlineDocument":
		if in.IndexUID != nil || in.ID != nil {
			inErr("parameter `index_uid` disallowed for kind `inlineDocument`")
			return
		}
		m, ok := in.Inline.(map[string]any)
		if !ok {
			inErr("parsing inline document: invalid type\n  - Note: the inline document must be a JSON map")
			return
		}
		doc = m
	case "inlineSearch":
		writeError(w, newError("template_rendering_error", "cannot render a document template with a search query"))
		return
	default:
		inErr("Unknown value `%s` at `.input.kind`: expected one of `indexDocument`, `inlineDocument`, `inlineSearch`", in.Kind)
		return
	}
	rendered := renderValue(t.Inline, doc)
	if s, ok := rendered.(string); ok && t.Kind == "inlineDocumentTemplate" {
		max := 400
		if t.DocumentTemplateMaxBytes != nil && *t.DocumentTemplateMaxBytes > 0 {
			max = *t.DocumentTemplateMaxBytes
		}
		rendered = truncateUTF8(s, max)
	}
	out["rendered"] = rendered
	writeJSON(w, http.StatusOK, out)
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}

// checkTemplate rejects Liquid constructs meilitest does not render.
func checkTemplate(v any) error {
	switch x := v.(type) {
	case string:
		if strings.Contains(x, "{%") {
			return fmt.Errorf("meilitest renders only `{{ doc.field }}` interpolations, not Liquid tags")
		}
		rest := x
		for {
			i := strings.Index(rest, "{{")
			if i < 0 {
				return nil
			}
			j := strings.Index(rest[i:], "}}")
			if j < 0 {
				return fmt.Errorf("liquid: unclosed `{{`")
			}
			if strings.Contains(rest[i:i+j], "|") {
				return fmt.Errorf("meilitest does not support Liquid filters: `%s`", rest[i:i+j+2])
			}
			rest = rest[i+j+2:]
		}
	case map[string]any:
		for _, e := range x {
			if err := checkTemplate(e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := checkTemplate(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// renderValue renders every string of a template (or fragment) with doc.
func renderValue(v any, doc map[string]any) any {
	switch x := v.(type) {
	case string:
		return renderString(x, doc)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = renderValue(e, doc)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = renderValue(e, doc)
		}
		return out
	}
	return v
}

func renderString(s string, doc map[string]any) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.Index(s[i:], "}}")
		b.WriteString(s[:i])
		path := strings.TrimSpace(s[i+2 : i+j])
		if rest, ok := strings.CutPrefix(path, "doc."); ok {
			if v, ok := lookupPath(doc, rest); ok && v != nil {
				if str, ok := v.(string); ok {
					b.WriteString(str)
				} else {
					enc, _ := json.Marshal(v)
					b.WriteString(string(enc))
				}
			}
		} else if path == "doc" {
			enc, _ := json.Marshal(doc)
			b.WriteString(string(enc))
		}
		s = s[i+j+2:]
	}
}
