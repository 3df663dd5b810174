package meilitest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Dynamic search rules (routes/dynamic_search_rules/mod.rs), behind the
// `dynamicSearchRules` experimental feature:
//
//   - PATCH /dynamic-search-rules/{uid} creates or partially updates a
//     rule (absent fields kept, null resets) through a `dsrUpdate` task
//     (202); `__meilisearch_metadata` is reserved.
//   - DELETE /dynamic-search-rules/{uid} (`dsrUpdate` task, failing with
//     dynamic_search_rule_not_found for an unknown rule) and DELETE
//     /dynamic-search-rules (`dsrClear` task).
//   - GET /dynamic-search-rules/{uid}; POST /dynamic-search-rules lists
//     with offset, limit and filter {query, active}. The query matches the
//     rule descriptions and `conditions.query.words` (every query word, the
//     last one as a prefix; no typo tolerance), a simplification of
//     Meilisearch's search over the rules.
//
// Rules are stored and validated (pin: id and position; scale: weight and
// a non-empty filter or ids) but not applied to searches: Meilisearch's
// pinning and scaling interact with its bucket sort in ways meilitest does
// not model.

type searchRule struct {
	uid         string
	description *string
	precedence  *json.Number
	active      bool
	conditions  map[string]any
	actions     map[string]any // "pin" and "scale", each a list, when present
}

const reservedRuleUID = "__meilisearch_metadata"

func (r *searchRule) view() settingsObject {
	o := settingsObject{{"uid", r.uid}}
	if r.description != nil {
		o = append(o, settingsField{"description", *r.description})
	}
	if r.precedence != nil {
		o = append(o, settingsField{"precedence", *r.precedence})
	}
	o = append(o, settingsField{"active", r.active})
	if r.conditions != nil {
		o = append(o, settingsField{"conditions", r.conditions})
	}
	actions := settingsObject{}
	for _, k := range []string{"pin", "scale"} {
		if v, ok := r.actions[k]; ok {
			actions = append(actions, settingsField{k, v})
		}
	}
	return append(o, settingsField{"actions", actions})
}

func (s *Server) checkSearchRules(action string) *apiError {
	if !s.featureEnabled("dynamicSearchRules") {
		return newError("feature_not_enabled", "%s requires enabling the `dynamic search rules` experimental feature. See https://github.com/orgs/meilisearch/discussions", action)
	}
	return nil
}

func ruleNotFound(uid string) *apiError {
	return newError("dynamic_search_rule_not_found", "Dynamic search rule `%s` not found.", uid)
}

var ruleFields = []string{"description", "precedence", "active", "conditions", "actions"}

// ruleUpdate is a validated PATCH body: present keys only, null = reset.
type ruleUpdate map[string]any

func parseRuleUpdate(body map[string]any) (ruleUpdate, *apiError) {
	if _, e := (vctx{"bad_request", ""}).object(body, ruleFields); e != nil {
		return nil, e
	}
	u := ruleUpdate{}
	for k, v := range body {
		if v == nil {
			u[k] = nil
			continue
		}
		switch k {
		case "description":
			str, e := (vctx{"invalid_dynamic_search_rule_description", ".description"}).str(v)
			if e != nil {
				return nil, e
			}
			u[k] = str
		case "precedence":
			n, e := (vctx{"invalid_dynamic_search_rule_precedence", ".precedence"}).uint(v, 1<<32-1)
			if e != nil {
				return nil, e
			}
			u[k] = n
		case "active":
			b, e := (vctx{"invalid_dynamic_search_rule_active", ".active"}).boolean(v)
			if e != nil {
				return nil, e
			}
			u[k] = b
		case "conditions":
			c, e := parseRuleConditions(v)
			if e != nil {
				return nil, e
			}
			u[k] = c
		case "actions":
			a, e := parseRuleActions(v)
			if e != nil {
				return nil, e
			}
			u[k] = a
		}
	}
	return u, nil
}

func parseRuleConditions(v any) (map[string]any, *apiError) {
	c := vctx{"invalid_dynamic_search_rule_conditions", ".conditions"}
	m, e := c.object(v, []string{"query", "time", "filter"})
	if e != nil {
		return nil, e
	}
	if q, ok := m["query"]; ok && q != nil {
		qm, e := c.field("query").object(q, []string{"isEmpty", "words"})
		if e != nil {
			return nil, e
		}
		if b, ok := qm["isEmpty"]; ok && b != nil {
			if _, e := c.field("query").field("isEmpty").boolean(b); e != nil {
				return nil, e
			}
		}
		if w, ok := qm["words"]; ok && w != nil {
			if _, e := c.field("query").field("words").str(w); e != nil {
				return nil, e
			}
		}
	}
	if t, ok := m["time"]; ok && t != nil {
		tm, e := c.field("time").object(t, []string{"start", "end"})
		if e != nil {
			return nil, e
		}
		for _, k := range []string{"start", "end"} {
			tv, ok := tm[k]
			if !ok || tv == nil {
				continue
			}
			str, e := c.field("time").field(k).str(tv)
			if e != nil {
				return nil, e
			}
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				return nil, c.field("time").field(k).valueErr("`%s` is not a valid RFC 3339 date-time", str)
			}
		}
	}
	return m, nil
}

func parseRuleActions(v any) (map[string]any, *apiError) {
	c := vctx{"invalid_dynamic_search_rule_actions", ".actions"}
	m, e := c.object(v, []string{"pin", "scale"})
	if e != nil {
		return nil, e
	}
	out := map[string]any{}
	if p, ok := m["pin"]; ok && p != nil {
		list, ok := p.([]any)
		if !ok {
			return nil, c.field("pin").typeErr("an array", p)
		}
		for i, el := range list {
			pc := c.field("pin").elem(i)
			pm, e := pc.object(el, []string{"id", "position", "indexUid"})
			if e != nil {
				return nil, e
			}
			if _, e := pc.field("id").str(pm["id"]); e != nil {
				return nil, e
			}
			if _, e := pc.field("position").uint(pm["position"], 1<<32-1); e != nil {
				return nil, e
			}
			if iu, ok := pm["indexUid"]; ok && iu != nil {
				if _, e := pc.field("indexUid").str(iu); e != nil {
					return nil, e
				}
			}
		}
		if len(list) > 0 {
			out["pin"] = list
		}
	}
	if sc, ok := m["scale"]; ok && sc != nil {
		list, ok := sc.([]any)
		if !ok {
			return nil, c.field("scale").typeErr("an array", sc)
		}
		for i, el := range list {
			scc := c.field("scale").elem(i)
			sm, e := scc.object(el, []string{"weight", "ids", "filter", "indexUid"})
			if e != nil {
				return nil, e
			}
			if _, ok := sm["weight"].(json.Number); !ok {
				return nil, scc.field("weight").typeErr("a number", sm["weight"])
			}
			nIDs := 0
			if ids, ok := sm["ids"]; ok && ids != nil {
				l, e := scc.field("ids").strList(ids)
				if e != nil {
					return nil, e
				}
				nIDs = len(l)
			}
			emptyFilter := true
			if f, ok := sm["filter"]; ok && f != nil {
				expr, err := parseFilter(f)
				if err != nil {
					return nil, newError(c.code, "invalid `.actions.scale[%d].filter`: %v", i, err)
				}
				emptyFilter = expr == nil
			}
			if iu, ok := sm["indexUid"]; ok && iu != nil {
				if _, e := scc.field("indexUid").str(iu); e != nil {
					return nil, e
				}
			}
			if emptyFilter && nIDs == 0 {
				return nil, newError(c.code, "invalid `.actions.scale[%d]`: one of `filter` or `ids` must be a non-empty valid value.", i)
			}
		}
		if len(list) > 0 {
			out["scale"] = list
		}
	}
	return out, nil
}

// apply merges u into r (nil r: a new rule).
func (u ruleUpdate) apply(uid string, old *searchRule) *searchRule {
	r := &searchRule{uid: uid, actions: map[string]any{}}
	if old != nil {
		c := *old
		r = &c
	}
	for k, v := range u {
		switch k {
		case "description":
			if v == nil {
				r.description = nil
			} else {
				str := v.(string)
				r.description = &str
			}
		case "precedence":
			if v == nil {
				r.precedence = nil
			} else {
				n := json.Number(jsonUint(v.(uint64)))
				r.precedence = &n
			}
		case "active":
			r.active = v != nil && v.(bool)
		case "conditions":
			if v == nil {
				r.conditions = nil
			} else {
				r.conditions = v.(map[string]any)
			}
		case "actions":
			if v == nil {
				r.actions = map[string]any{}
			} else {
				r.actions = v.(map[string]any)
			}
		}
	}
	return r
}

func jsonUint(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func (s *Server) handleUpsertSearchRule(w http.ResponseWriter, r *http.Request) {
	if e := s.checkSearchRules("Using the `/dynamic-search-rules` routes"); e != nil {
		writeError(w, e)
		return
	}
	var body map[string]any
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	u, e := parseRuleUpdate(body)
	if e != nil {
		writeError(w, e)
		return
	}
	uid := r.PathValue("uid")
	if uid == reservedRuleUID {
		writeError(w, newError("invalid_dynamic_search_rule_uid", "`%s` is reserved and cannot be used as a rule uid. Use a different uid.", uid))
		return
	}
	sum := s.tasks.enqueue(r, "", "dsrUpdate", nil, func(_ int64, _ map[string]any) *apiError {
		s.metaMu.Lock()
		defer s.metaMu.Unlock()
		if s.dsrs == nil {
			s.dsrs = map[string]*searchRule{}
		}
		s.dsrs[uid] = u.apply(uid, s.dsrs[uid])
		return nil
	})
	writeJSON(w, http.StatusAccepted, sum)
}

func (s *Server) handleDeleteSearchRule(w http.ResponseWriter, r *http.Request) {
	if e := s.checkSearchRules("Using the `/dynamic-search-rules` routes"); e != nil {
		writeError(w, e)
		return
	}
	uid := r.PathValue("uid")
	sum := s.tasks.enqueue(r, "", "dsrUpdate", nil, func(_ int64, _ map[string]any) *apiError {
		s.metaMu.Lock()
		defer s.metaMu.Unlock()
		if _, ok := s.dsrs[uid]; !ok {
			return ruleNotFound(uid)
		}
		delete(s.dsrs, uid)
		return nil
	})
	writeJSON(w, http.StatusAccepted, sum)
}

func (s *Server) handleClearSearchRules(w http.ResponseWriter, r *http.Request) {
	if e := s.checkSearchRules("Using the `/dynamic-search-rules` routes"); e != nil {
		writeError(w, e)
		return
	}
	sum := s.tasks.enqueue(r, "", "dsrClear", nil, func(_ int64, _ map[string]any) *apiError {
		s.metaMu.Lock()
		s.dsrs = nil
		s.metaMu.Unlock()
		return nil
	})
	writeJSON(w, http.StatusAccepted, sum)
}

func (s *Server) handleGetSearchRule(w http.ResponseWriter, r *http.Request) {
	if e := s.checkSearchRules("Calling the `GET /dynamic-search-rules/{:ruleUid}` route"); e != nil {
		writeError(w, e)
		return
	}
	uid := r.PathValue("uid")
	s.metaMu.Lock()
	rule := s.dsrs[uid]
	var v settingsObject
	if rule != nil {
		v = rule.view()
	}
	s.metaMu.Unlock()
	if rule == nil {
		writeError(w, ruleNotFound(uid))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleListSearchRules(w http.ResponseWriter, r *http.Request) {
	if e := s.checkSearchRules("Calling the `POST /dynamic-search-rules` route"); e != nil {
		writeError(w, e)
		return
	}
	var body map[string]any
	if err := decodeJSON(r, &body, true); err != nil {
		writeError(w, err)
		return
	}
	if _, e := (vctx{"bad_request", ""}).object(body, []string{"offset", "limit", "filter"}); body != nil && e != nil {
		writeError(w, e)
		return
	}
	offset, limit := uint64(0), uint64(20)
	if v, ok := body["offset"]; ok && v != nil {
		n, e := (vctx{"invalid_dynamic_search_rule_offset", ".offset"}).uint(v, 1<<53)
		if e != nil {
			writeError(w, e)
			return
		}
		offset = n
	}
	if v, ok := body["limit"]; ok && v != nil {
		n, e := (vctx{"invalid_dynamic_search_rule_limit", ".limit"}).uint(v, 1<<53)
		if e != nil {
			writeError(w, e)
			return
		}
		limit = n
	}
	var query string
	var active *bool
	if v, ok := body["filter"]; ok && v != nil {
		fc := vctx{"invalid_dynamic_search_rule_filter", ".filter"}
		fm, e := fc.object(v, []string{"query", "active"})
		if e != nil {
			writeError(w, e)
			return
		}
		if q, ok := fm["query"]; ok && q != nil {
			if query, e = (vctx{"invalid_dynamic_search_rule_filter_query", ".filter.query"}).str(q); e != nil {
				writeError(w, e)
				return
			}
		}
		if a, ok := fm["active"]; ok && a != nil {
			b, e := (vctx{"invalid_dynamic_search_rule_filter_active", ".filter.active"}).boolean(a)
			if e != nil {
				writeError(w, e)
				return
			}
			active = &b
		}
	}
	tk := newTokenizer(defaultSettings())
	qwords := tk.tokenize(query, 0)
	s.metaMu.Lock()
	var matched []settingsObject
	for _, uid := range sortedKeys(s.dsrs) {
		rule := s.dsrs[uid]
		if active != nil && rule.active != *active {
			continue
		}
		if len(qwords) > 0 && !ruleMatches(tk, rule, qwords) {
			continue
		}
		matched = append(matched, rule.view())
	}
	s.metaMu.Unlock()
	results := []settingsObject{}
	for i := offset; i < uint64(len(matched)) && uint64(len(results)) < limit; i++ {
		results = append(results, matched[i])
	}
	writeJSON(w, http.StatusOK, pageJSON[settingsObject, uint64]{Results: results, Offset: offset, Limit: limit, Total: len(matched)})
}

// ruleMatches: every query word is a word of the description or of
// conditions.query.words, the last one as a prefix.
func ruleMatches(tk *tokenizer, rule *searchRule, q []token) bool {
	var text []string
	if rule.description != nil {
		text = append(text, *rule.description)
	}
	if qc := asMap(rule.conditions["query"]); qc != nil {
		if w, ok := qc["words"].(string); ok {
			text = append(text, w)
		}
	}
	var words []string
	for _, t := range text {
		for _, tok := range tk.tokenize(t, 0) {
			words = append(words, tok.word)
		}
	}
	for i, qt := range q {
		found := false
		for _, w := range words {
			if w == qt.word || i == len(q)-1 && strings.HasPrefix(w, qt.word) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
