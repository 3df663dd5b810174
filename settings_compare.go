package miroir

import (
	"bytes"
	"encoding/json"
)

// Comparing settings across nodes: canonical values and majorities, used
// by verification, drift detection and repair.

// settingEqual reports whether two raw values of setting key are the same
// setting (JSON equality; embedder API keys ignored as nodes mask them).
func settingEqual(key string, a, b json.RawMessage) bool {
	return canonSetting(key, a) == canonSetting(key, b)
}

// canonSetting is a canonical text of a raw setting value.
func canonSetting(key string, v json.RawMessage) string {
	if len(bytes.TrimSpace(v)) == 0 {
		return "null"
	}
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var x any
	if d.Decode(&x) != nil {
		return string(v)
	}
	if key == "embedders" {
		if m, ok := x.(map[string]any); ok {
			for _, cfg := range m {
				stripAPIKeys(cfg)
			}
		}
	}
	out, err := json.Marshal(x) // map keys sorted
	if err != nil {
		return string(v)
	}
	return string(out)
}

func stripAPIKeys(cfg any) {
	m, ok := cfg.(map[string]any)
	if !ok {
		return
	}
	delete(m, "apiKey")
	stripAPIKeys(m["indexingEmbedder"])
	stripAPIKeys(m["searchEmbedder"])
}

// majoritySettings returns, for every setting some node has, the value
// most nodes hold (nil snapshots are skipped). Ties go to the value of
// prefer (the cluster's last known fleet settings), then to the node
// first in fleet order.
func majoritySettings(snaps []rawSettings, prefer rawSettings) rawSettings {
	keys := map[string]bool{}
	for _, s := range snaps {
		for k := range s {
			keys[k] = true
		}
	}
	out := rawSettings{}
	for k := range keys {
		out[k] = majorityValue(k, snaps, prefer).value
	}
	return out
}

type majority struct {
	value json.RawMessage
	canon string
}

func majorityValue(key string, snaps []rawSettings, prefer rawSettings) majority {
	type cand struct {
		majority
		count, first int
	}
	var cands []*cand
	for i, s := range snaps {
		if s == nil {
			continue
		}
		v, ok := s[key]
		if !ok {
			v = json.RawMessage("null")
		}
		cv := canonSetting(key, v)
		var found *cand
		for _, c := range cands {
			if c.canon == cv {
				found = c
				break
			}
		}
		if found == nil {
			found = &cand{majority: majority{v, cv}, first: i}
			cands = append(cands, found)
		}
		found.count++
	}
	if len(cands) == 0 {
		return majority{json.RawMessage("null"), "null"}
	}
	pref := ""
	if pv, ok := prefer[key]; ok {
		pref = canonSetting(key, pv)
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if c.count > best.count || (c.count == best.count && c.canon == pref && best.canon != pref) {
			best = c
		}
	}
	return best.majority
}
