package miroir

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/meilisearch/meilisearch-go"
)

// The details of a settings task: what the typed Details hold, and the
// object Meilisearch shows (what the caller sent, normalised).

// opDetails fills the task details Meilisearch shows for a settings update.
func opDetails(op *settingsOp) meilisearch.Details {
	var d meilisearch.Details
	if op.reset || op.repair || len(op.body) == 0 {
		return d
	}
	obj := op.body
	if op.key != "" {
		obj, _ = json.Marshal(map[string]json.RawMessage{op.key: op.body})
	}
	_ = json.Unmarshal(obj, &d) // best effort: details are informational
	d.FilterableAttributes = slices.DeleteFunc(d.FilterableAttributes, func(v any) bool { s, _ := v.(string); return isInternalField(s) })
	d.SortableAttributes = slices.DeleteFunc(d.SortableAttributes, isInternalField)
	return d
}

// opRawDetails is the details object Meilisearch shows for a settings
// update (meilitest's rendering): every setting the caller sent, as
// Meilisearch normalises it (sets sorted and deduplicated, a wildcard
// list reduced to ["*"], filterable rules with their default features,
// embedder API keys masked), _miroir_shard never shown; a reset setting
// is shown as a reset (null; ["*"] for displayed and searchable
// attributes), and a reset of the whole object resets every setting.
// A repair shows {}.
func opRawDetails(op *settingsOp) json.RawMessage {
	m := map[string]json.RawMessage{}
	switch {
	case op.repair:
	case op.reset && op.key == "":
		for _, d := range settingDescs {
			m[d.key] = settingResetDetail(d.key)
		}
	case op.reset:
		m[op.key] = settingResetDetail(op.key)
	default:
		body := op.sent
		if body == nil {
			body = op.body
		}
		obj := rawSettings{op.key: body}
		if op.key == "" {
			obj = nil
			_ = json.Unmarshal(body, &obj) // validated at submission
		}
		for k, v := range obj {
			m[k] = settingDetail(k, v)
		}
	}
	return rawJSON(m)
}

// settingResetDetail is how task details show a reset of setting key.
func settingResetDetail(key string) json.RawMessage {
	if key == "displayedAttributes" || key == "searchableAttributes" {
		return json.RawMessage(`["*"]`)
	}
	return rawNull
}

// settingDetail is how task details show the value v sent for setting key.
func settingDetail(key string, v json.RawMessage) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var x any
	if dec.Decode(&x) != nil {
		return v
	}
	if x == nil {
		return settingResetDetail(key)
	}
	switch key {
	case "displayedAttributes", "searchableAttributes":
		if l, ok := x.([]any); ok && slices.Contains(l, any("*")) {
			x = []any{"*"}
		}
	case "filterableAttributes":
		x = filterableDetail(x)
	case "sortableAttributes", "stopWords", "nonSeparatorTokens", "separatorTokens", "dictionary":
		x = stringSetDetail(x)
	case "typoTolerance":
		if o, ok := x.(map[string]any); ok {
			for _, f := range []string{"disableOnWords", "disableOnAttributes"} {
				if l, ok := o[f]; ok && l != nil {
					o[f] = stringSetDetail(l)
				}
			}
		}
	case "embedders":
		if o, ok := x.(map[string]any); ok {
			for _, cfg := range o {
				if c, ok := cfg.(map[string]any); ok {
					if k, ok := c["apiKey"].(string); ok {
						c["apiKey"] = maskSecret(k)
					}
				}
			}
		}
	}
	return rawJSON(x)
}

// stringSetDetail sorts and deduplicates a list of strings.
func stringSetDetail(x any) any {
	l, ok := x.([]any)
	if !ok {
		return x
	}
	ss := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return x
		}
		ss = append(ss, s)
	}
	slices.Sort(ss)
	ss = slices.Compact(ss)
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// filterableDetail drops _miroir_shard and completes attribute-pattern
// rules with Meilisearch's default features (facetSearch false, equality
// true, comparison false).
func filterableDetail(x any) any {
	l, ok := x.([]any)
	if !ok {
		return x
	}
	out := make([]any, 0, len(l))
	for _, e := range l {
		switch r := e.(type) {
		case string:
			if isInternalField(r) {
				continue
			}
		case map[string]any:
			facetSearch, equality, comparison := any(false), any(true), any(false)
			if f, ok := r["features"].(map[string]any); ok {
				if b, ok := f["facetSearch"]; ok && b != nil {
					facetSearch = b
				}
				if ff, ok := f["filter"].(map[string]any); ok {
					if b, ok := ff["equality"]; ok && b != nil {
						equality = b
					}
					if b, ok := ff["comparison"]; ok && b != nil {
						comparison = b
					}
				}
			}
			e = map[string]any{
				"attributePatterns": r["attributePatterns"],
				"features": map[string]any{
					"facetSearch": facetSearch,
					"filter":      map[string]any{"equality": equality, "comparison": comparison},
				},
			}
		}
		out = append(out, e)
	}
	return out
}

// maskSecret hides a secret as Meilisearch does in task details: a few
// leading characters are kept depending on its length.
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
