package merge

import (
	"encoding/json"
	"testing"
)

// FuzzParseResponse: the scanner never panics, and on valid JSON it finds
// the hits encoding/json finds.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(`{"hits":[{"id":1,"_rankingScore":0.5,"_rankingScoreDetails":{"words":{"order":0,"score":1}}}],"estimatedTotalHits":1}`))
	f.Add([]byte(`{"hits":[{"a":"\"}]","b":[1,2,{"c":"\\"}]}],"facetDistribution":{"x":{"a":1}}}`))
	f.Add([]byte(`{"hits":[`))
	f.Add([]byte(`{"hits":[{"a":1}]}trailing`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResponse(b)
		for _, h := range func() []Hit {
			if r != nil {
				return r.Hits
			}
			return nil
		}() {
			_ = h.ruleKeys()
			_ = DistinctKeys(nil, h.Raw, "a.b")
			_ = AppendHit(nil, h.Raw, &Strip{Keys: []string{"a"}, Nested: []string{"b"}}, nil)
		}
		var ref struct {
			Hits []json.RawMessage `json:"hits"`
		}
		if json.Unmarshal(b, &ref) == nil && err == nil && len(ref.Hits) != len(r.Hits) {
			t.Fatalf("%d hits, encoding/json finds %d", len(r.Hits), len(ref.Hits))
		}
		if json.Valid(b) && err != nil {
			var m map[string]any
			if json.Unmarshal(b, &m) == nil {
				if _, ok := m["hits"].([]any); ok {
					// every hit an object: must parse
					all := true
					for _, h := range m["hits"].([]any) {
						if _, ok := h.(map[string]any); !ok {
							all = false
						}
					}
					if all {
						t.Fatalf("valid response rejected: %v", err)
					}
				}
			}
		}
	})
}
