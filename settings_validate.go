package miroir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Settings payload validation.
//
// Meilisearch deserialises a settings payload before it enqueues a task and
// refuses a malformed one at once (HTTP 400, no task). A settings
// transaction applies node by node in the background, so without this
// check a malformed payload would come back as a task that fails later.
// validateSettingsOp reproduces Meilisearch's request-time checks (shape,
// JSON types, enum values, ranking rule syntax, locales, embedder fields)
// with its error codes and, as far as practical, its messages (deserr
// wording, as meilitest encodes it). Checks that depend on a node's state
// (experimental features, the merge of a partial typoTolerance or embedder
// with the current value) stay with the nodes: they fail the task.

// validateSettingsOp checks the payload op is about to submit. Resets and
// repairs carry no caller payload and always pass.
func validateSettingsOp(op *settingsOp) *Error {
	if op.reset || op.repair || len(op.body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(op.body))
	dec.UseNumber() // integers must stay integers for the unsigned checks
	var v any
	if err := dec.Decode(&v); err != nil {
		return newError(http.StatusBadRequest, "bad_request", "Json deserialize error: %v", err)
	}
	if op.key != "" {
		rule, ok := settingRules[op.key]
		if !ok || v == nil { // null resets the setting
			return nil
		}
		return rule.check(svPath{code: rule.code}, v)
	}
	names := make([]string, len(settingDescs))
	for i, d := range settingDescs {
		names[i] = d.key
	}
	m, e := svPath{code: "bad_request"}.object(v, names)
	if e != nil {
		return e
	}
	// Meilisearch's order, so the first error reported is the one a node
	// would report.
	for _, d := range settingDescs {
		x, ok := m[d.key]
		rule, known := settingRules[d.key]
		if !ok || x == nil || !known {
			continue
		}
		if e := rule.check(svPath{code: rule.code, loc: "." + d.key}, x); e != nil {
			return e
		}
	}
	return nil
}

// settingRule is the error code of a setting and the check of a non-null
// value.
type settingRule struct {
	code  string
	check func(p svPath, v any) *Error
}

func strListRule(code string) settingRule {
	return settingRule{code, func(p svPath, v any) *Error { return p.strList(v) }}
}

func enumRule(code string, allowed ...string) settingRule {
	return settingRule{code, func(p svPath, v any) *Error { _, e := p.enum(v, allowed); return e }}
}

// settingRules covers every setting of settingDescs; a setting missing
// here is left for the nodes to judge.
var settingRules = map[string]settingRule{
	"displayedAttributes":  strListRule("invalid_settings_displayed_attributes"),
	"searchableAttributes": strListRule("invalid_settings_searchable_attributes"),
	"filterableAttributes": {"invalid_settings_filterable_attributes", checkFilterable},
	"sortableAttributes":   strListRule("invalid_settings_sortable_attributes"),
	"foreignKeys":          {"invalid_settings_foreign_keys", checkForeignKeys},
	"rankingRules":         {"invalid_settings_ranking_rules", checkRankingRules},
	"stopWords":            strListRule("invalid_settings_stop_words"),
	"nonSeparatorTokens":   strListRule("invalid_settings_non_separator_tokens"),
	"separatorTokens":      strListRule("invalid_settings_separator_tokens"),
	"dictionary":           strListRule("invalid_settings_dictionary"),
	"synonyms":             {"invalid_settings_synonyms", checkSynonyms},
	"distinctAttribute": {"invalid_settings_distinct_attribute", func(p svPath, v any) *Error {
		_, e := p.str(v)
		return e
	}},
	"proximityPrecision": enumRule("invalid_settings_proximity_precision", "byWord", "byAttribute"),
	"typoTolerance":      {"invalid_settings_typo_tolerance", checkTypoTolerance},
	"faceting":           {"invalid_settings_faceting", checkFaceting},
	"pagination":         {"invalid_settings_pagination", checkPagination},
	"embedders":          {"invalid_settings_embedders", checkEmbedders},
	"searchCutoffMs": {"invalid_settings_search_cutoff_ms", func(p svPath, v any) *Error {
		_, e := p.uint(v, math.MaxInt64)
		return e
	}},
	"localizedAttributes": {"invalid_settings_localized_attributes", checkLocalizedAttributes},
	"facetSearch": {"invalid_settings_facet_search", func(p svPath, v any) *Error {
		_, e := p.boolean(v)
		return e
	}},
	"prefixSearch": enumRule("invalid_settings_prefix_search", "indexingTime", "disabled"),
	"chat":         {"invalid_settings_index_chat", checkChat},
	"vectorStore":  enumRule("invalid_settings_vector_store", "stable", "experimental"),
}

// ---- helpers in deserr's wording ----

// svPath is where a value sits in the payload ("" is the payload itself)
// and the code of errors about it.
type svPath struct {
	code string
	loc  string
}

func (p svPath) field(name string) svPath { return svPath{p.code, p.loc + "." + name} }
func (p svPath) elem(i int) svPath        { return svPath{p.code, p.loc + "[" + strconv.Itoa(i) + "]"} }

func (p svPath) at() string {
	if p.loc == "" {
		return ""
	}
	return " at `" + p.loc + "`"
}

func (p svPath) errorf(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, p.code, format, args...)
}

func (p svPath) typeErr(expected string, v any) *Error {
	b, _ := json.Marshal(v)
	return p.errorf("Invalid value type%s: expected %s, but found %s: `%s`", p.at(), expected, svKind(v), b)
}

func (p svPath) valueErr(format string, args ...any) *Error {
	return p.errorf("Invalid value%s: %s", p.at(), fmt.Sprintf(format, args...))
}

func (p svPath) missing(field string) *Error {
	return p.errorf("Missing field `%s` inside `%s`", field, p.loc)
}

// svKind names a decoded JSON value as deserr does.
func svKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "a sequence"
	case map[string]any:
		return "a map"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			if strings.HasPrefix(string(x), "-") {
				return "a negative integer"
			}
			return "a positive integer"
		}
		return "a number"
	}
	return "a value"
}

func svQuote(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + n + "`"
	}
	return strings.Join(q, ", ")
}

func svSortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// object checks v is an object whose keys are all in allowed (nil: any).
func (p svPath) object(v any, allowed []string) (map[string]any, *Error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, p.typeErr("an object", v)
	}
	if allowed == nil {
		return m, nil
	}
	for _, k := range svSortedKeys(m) {
		if !slices.Contains(allowed, k) {
			in := ""
			if p.loc != "" {
				in = " inside `" + p.loc + "`"
			}
			return nil, p.errorf("Unknown field `%s`%s: expected one of %s", k, in, svQuote(allowed))
		}
	}
	return m, nil
}

func (p svPath) str(v any) (string, *Error) {
	s, ok := v.(string)
	if !ok {
		return "", p.typeErr("a string", v)
	}
	return s, nil
}

func (p svPath) boolean(v any) (bool, *Error) {
	b, ok := v.(bool)
	if !ok {
		return false, p.typeErr("a boolean", v)
	}
	return b, nil
}

// uint checks v is a non-negative integer no larger than max. Bounds are
// only set where Meilisearch's type is certain (u8, u64); elsewhere the
// nodes judge the size.
func (p svPath) uint(v any, max uint64) (uint64, *Error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, p.typeErr("a positive integer", v)
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		return 0, p.typeErr("a positive integer", v)
	}
	if u > max {
		return 0, p.valueErr("value: `%s` is too large, expected at most `%d`", n, max)
	}
	return u, nil
}

func (p svPath) enum(v any, allowed []string) (string, *Error) {
	s, e := p.str(v)
	if e != nil {
		return "", e
	}
	if !slices.Contains(allowed, s) {
		return "", p.errorf("Unknown value `%s`%s: expected one of %s", s, p.at(), svQuote(allowed))
	}
	return s, nil
}

func (p svPath) strList(v any) *Error {
	a, ok := v.([]any)
	if !ok {
		return p.typeErr("an array", v)
	}
	for i, x := range a {
		if _, e := p.elem(i).str(x); e != nil {
			return e
		}
	}
	return nil
}

// fields runs check on each non-null field of m, in key order.
func (p svPath) fields(m map[string]any, check func(p svPath, k string, v any) *Error) *Error {
	for _, k := range svSortedKeys(m) {
		if m[k] == nil {
			continue
		}
		if e := check(p.field(k), k, m[k]); e != nil {
			return e
		}
	}
	return nil
}

// ---- per-setting checks ----

var builtinRankingRules = []string{"words", "typo", "proximity", "attribute", "attributeRank", "sort", "wordPosition", "exactness"}

func checkRankingRules(p svPath, v any) *Error {
	if e := p.strList(v); e != nil {
		return e
	}
	for i, x := range v.([]any) {
		r := x.(string)
		if slices.Contains(builtinRankingRules, r) {
			continue
		}
		field, dir, ok := strings.Cut(r, ":")
		if ok && field != "" && (dir == "asc" || dir == "desc") && !strings.ContainsAny(field, " \t\n") {
			continue
		}
		return p.elem(i).valueErr("`%s` ranking rule is invalid. Valid ranking rules are words, typo, sort, proximity, attribute, attributeRank, wordPosition, exactness and custom ranking rules.", r)
	}
	return nil
}

// checkFilterable accepts attribute names and {attributePatterns,
// features: {facetSearch, filter: {equality, comparison}}} rules.
func checkFilterable(p svPath, v any) *Error {
	a, ok := v.([]any)
	if !ok {
		return p.typeErr("an array", v)
	}
	for i, x := range a {
		ep := p.elem(i)
		if _, ok := x.(string); ok {
			continue
		}
		if _, ok := x.(map[string]any); !ok {
			return ep.typeErr("a string or an object", x)
		}
		m, e := ep.object(x, []string{"attributePatterns", "features"})
		if e != nil {
			return e
		}
		pv, ok := m["attributePatterns"]
		if !ok {
			return ep.missing("attributePatterns")
		}
		if e := ep.field("attributePatterns").strList(pv); e != nil {
			return e
		}
		fv := m["features"]
		if fv == nil {
			continue
		}
		fp := ep.field("features")
		fm, e := fp.object(fv, []string{"facetSearch", "filter"})
		if e != nil {
			return e
		}
		if b, ok := fm["facetSearch"]; ok {
			if _, e := fp.field("facetSearch").boolean(b); e != nil {
				return e
			}
		}
		if f := fm["filter"]; f != nil {
			ffp := fp.field("filter")
			ff, e := ffp.object(f, []string{"equality", "comparison"})
			if e != nil {
				return e
			}
			for _, k := range []string{"equality", "comparison"} {
				if b, ok := ff[k]; ok {
					if _, e := ffp.field(k).boolean(b); e != nil {
						return e
					}
				}
			}
		}
	}
	return nil
}

func checkForeignKeys(p svPath, v any) *Error {
	a, ok := v.([]any)
	if !ok {
		return p.typeErr("an array", v)
	}
	for i, x := range a {
		ep := p.elem(i)
		m, e := ep.object(x, []string{"fieldName", "foreignIndexUid"})
		if e != nil {
			return e
		}
		for _, f := range []string{"fieldName", "foreignIndexUid"} {
			fv, ok := m[f]
			if !ok {
				return ep.missing(f)
			}
			if _, e := ep.field(f).str(fv); e != nil {
				return e
			}
		}
	}
	return nil
}

func checkSynonyms(p svPath, v any) *Error {
	m, e := p.object(v, nil)
	if e != nil {
		return e
	}
	for _, k := range svSortedKeys(m) {
		if e := p.field(k).strList(m[k]); e != nil {
			return e
		}
	}
	return nil
}

// checkTypoTolerance checks each field; oneTypo > twoTypos is refused
// when both come in the payload (against the stored value, only the node
// can tell).
func checkTypoTolerance(p svPath, v any) *Error {
	m, e := p.object(v, []string{"enabled", "minWordSizeForTypos", "disableOnWords", "disableOnAttributes", "disableOnNumbers"})
	if e != nil {
		return e
	}
	return p.fields(m, func(fp svPath, k string, x any) *Error {
		switch k {
		case "enabled", "disableOnNumbers":
			_, e := fp.boolean(x)
			return e
		case "disableOnWords", "disableOnAttributes":
			return fp.strList(x)
		}
		mm, e := fp.object(x, []string{"oneTypo", "twoTypos"})
		if e != nil {
			return e
		}
		var sizes [2]*uint64
		for i, f := range []string{"oneTypo", "twoTypos"} {
			y, ok := mm[f]
			if !ok {
				continue
			}
			u := uint64(5 + 4*i) // null: Meilisearch's default (5, 9)
			if y != nil {
				if u, e = fp.field(f).uint(y, 255); e != nil { // u8 in Meilisearch
					return e
				}
			}
			sizes[i] = &u
		}
		if sizes[0] != nil && sizes[1] != nil && *sizes[0] > *sizes[1] {
			return fp.errorf("Invalid value at `%s`: `minWordSizeForTypos` setting is invalid. `oneTypo` and `twoTypos` fields should be between `0` and `255`, and `twoTypos` should be greater or equals to `oneTypo` but found `oneTypo: %d` and twoTypos: %d`.", fp.loc, *sizes[0], *sizes[1])
		}
		return nil
	})
}

func checkFaceting(p svPath, v any) *Error {
	m, e := p.object(v, []string{"maxValuesPerFacet", "sortFacetValuesBy"})
	if e != nil {
		return e
	}
	return p.fields(m, func(fp svPath, k string, x any) *Error {
		if k == "maxValuesPerFacet" {
			_, e := fp.uint(x, math.MaxUint64)
			return e
		}
		orders, e := fp.object(x, nil)
		if e != nil {
			return e
		}
		return fp.fields(orders, func(op svPath, _ string, o any) *Error {
			_, e := op.enum(o, []string{"alpha", "count", "sampledCount"})
			return e
		})
	})
}

func checkPagination(p svPath, v any) *Error {
	m, e := p.object(v, []string{"maxTotalHits"})
	if e != nil {
		return e
	}
	x := m["maxTotalHits"]
	if x == nil {
		return nil
	}
	fp := p.field("maxTotalHits")
	u, e := fp.uint(x, math.MaxUint64)
	if e != nil {
		return e
	}
	if u == 0 {
		return fp.valueErr("a non-zero integer value lower than `%d` was expected, but found a zero", uint64(math.MaxUint64))
	}
	return nil
}

// svKnownLocales are the languages Meilisearch's tokenizer detects, as
// ISO 639-3 codes, with their ISO 639-1 aliases.
var svKnownLocales = func() map[string]bool {
	codes := strings.Fields(`epo eng rus cmn zho spa por ita ben fra deu ukr kat ara hin jpn heb yid pol amh jav kor
		nob dan swe fin tur nld hun ces ell bul bel mar kan ron slv hrv srp mkd lit lav est tam vie urd tha guj uzb
		pan aze ind tel pes mal ori mya nep sin khm tuk aka zul sna afr lat slk cat tgl hye
		eo en ru zh es pt it bn fr de uk ka ar hi ja he yi pl am jv ko nb da sv fi tr nl hu cs el bg be mr kn ro sl
		hr sr mk lt lv et ta vi ur th gu uz pa az id te fa ml or my ne si km tk ak zu sn af la sk ca tl hy`)
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}()

func checkLocalizedAttributes(p svPath, v any) *Error {
	a, ok := v.([]any)
	if !ok {
		return p.typeErr("an array", v)
	}
	for i, x := range a {
		ep := p.elem(i)
		m, e := ep.object(x, []string{"attributePatterns", "locales"})
		if e != nil {
			return e
		}
		for _, f := range []string{"attributePatterns", "locales"} {
			fv, ok := m[f]
			if !ok {
				return ep.missing(f)
			}
			fp := ep.field(f)
			if e := fp.strList(fv); e != nil {
				return e
			}
			if f != "locales" {
				continue
			}
			for j, s := range fv.([]any) {
				if !svKnownLocales[s.(string)] {
					return p.errorf("Unknown value `%s` at `%s`: expected one of ISO 639-3 or ISO 639-1 language codes such as `eng`, `fra`, `jpn`, `cmn`", s, fp.elem(j).loc)
				}
			}
		}
	}
	return nil
}

func checkChat(p svPath, v any) *Error {
	m, e := p.object(v, []string{"description", "documentTemplate", "documentTemplateMaxBytes", "searchParameters"})
	if e != nil {
		return e
	}
	return p.fields(m, func(fp svPath, k string, x any) *Error {
		switch k {
		case "description", "documentTemplate":
			_, e := fp.str(x)
			return e
		case "documentTemplateMaxBytes":
			_, e := fp.uint(x, math.MaxUint64)
			return e
		}
		sp, e := fp.object(x, []string{"hybrid", "limit", "sort", "distinct", "matchingStrategy", "attributesToSearchOn", "rankingScoreThreshold"})
		if e != nil {
			return e
		}
		return fp.fields(sp, func(pp svPath, k string, y any) *Error {
			var e *Error
			switch k {
			case "hybrid":
				_, e = pp.object(y, []string{"embedder", "semanticRatio"})
			case "limit":
				_, e = pp.uint(y, math.MaxUint64)
			case "sort", "attributesToSearchOn":
				e = pp.strList(y)
			case "distinct":
				_, e = pp.str(y)
			case "matchingStrategy":
				_, e = pp.enum(y, []string{"last", "all", "frequency"})
			case "rankingScoreThreshold":
				if _, ok := y.(json.Number); !ok {
					e = pp.typeErr("a number", y)
				}
			}
			return e
		})
	})
}

// ---- embedders ----

var embedderSources = []string{"openAi", "huggingFace", "ollama", "userProvided", "rest", "composite"}

var embedderFields = []string{"source", "model", "revision", "pooling", "apiKey", "dimensions", "binaryQuantized",
	"documentTemplate", "documentTemplateMaxBytes", "url", "request", "response", "headers", "searchEmbedder",
	"indexingEmbedder", "distribution", "indexingFragments", "searchFragments"}

// embedderSourceFields lists the fields each source accepts; Meilisearch
// refuses the others at request time.
var embedderSourceFields = map[string][]string{
	"openAi":       {"source", "model", "apiKey", "dimensions", "documentTemplate", "documentTemplateMaxBytes", "url", "distribution", "binaryQuantized"},
	"huggingFace":  {"source", "model", "revision", "pooling", "documentTemplate", "documentTemplateMaxBytes", "distribution", "binaryQuantized"},
	"ollama":       {"source", "model", "apiKey", "dimensions", "documentTemplate", "documentTemplateMaxBytes", "url", "distribution", "binaryQuantized"},
	"rest":         {"source", "apiKey", "dimensions", "documentTemplate", "documentTemplateMaxBytes", "url", "request", "response", "headers", "distribution", "binaryQuantized", "indexingFragments", "searchFragments"},
	"userProvided": {"source", "dimensions", "distribution", "binaryQuantized"},
	"composite":    {"source", "searchEmbedder", "indexingEmbedder", "distribution", "binaryQuantized"},
}

// checkEmbedders: an object of embedder name to null (remove) or a
// configuration object. Whether a partial configuration is complete
// depends on the stored one, so that is left to the nodes.
func checkEmbedders(p svPath, v any) *Error {
	m, e := p.object(v, nil)
	if e != nil {
		return e
	}
	return p.fields(m, func(ep svPath, _ string, x any) *Error {
		return checkEmbedder(ep, x, false)
	})
}

// checkEmbedder checks one configuration; sub is a composite's search or
// indexing embedder, which cannot nest further.
func checkEmbedder(p svPath, v any, sub bool) *Error {
	cfg, e := p.object(v, embedderFields)
	if e != nil {
		return e
	}
	e = p.fields(cfg, func(fp svPath, k string, x any) *Error {
		switch k {
		case "source":
			_, e := fp.enum(x, embedderSources)
			return e
		case "model", "revision", "apiKey", "documentTemplate", "url":
			_, e := fp.str(x)
			return e
		case "pooling":
			_, e := fp.enum(x, []string{"useModel", "forceMean", "forceCls"})
			return e
		case "dimensions":
			u, e := fp.uint(x, math.MaxUint64)
			if e == nil && u == 0 {
				e = fp.valueErr("`dimensions` cannot be zero")
			}
			return e
		case "documentTemplateMaxBytes":
			_, e := fp.uint(x, math.MaxUint64)
			return e
		case "binaryQuantized":
			_, e := fp.boolean(x)
			return e
		case "headers":
			h, e := fp.object(x, nil)
			if e != nil {
				return e
			}
			for _, hk := range svSortedKeys(h) {
				if _, e := fp.field(hk).str(h[hk]); e != nil {
					return e
				}
			}
		case "distribution":
			d, e := fp.object(x, []string{"mean", "sigma"})
			if e != nil {
				return e
			}
			for _, f := range []string{"mean", "sigma"} {
				if _, ok := d[f].(json.Number); !ok {
					return fp.errorf("Invalid value at `%s`: `mean` and `sigma` must be numbers between 0 and 1", fp.loc)
				}
			}
		case "indexingFragments", "searchFragments":
			_, e := fp.object(x, nil)
			return e
		case "searchEmbedder", "indexingEmbedder":
			if sub {
				return p.errorf("Unknown field `%s` inside `%s`", k, p.loc)
			}
			return checkEmbedder(fp, x, true)
		}
		return nil // request, response: any JSON value
	})
	if e != nil {
		return e
	}
	src, ok := cfg["source"].(string)
	if !ok {
		return nil // the source is the stored one: only the node knows it
	}
	allowed := embedderSourceFields[src]
	for _, k := range svSortedKeys(cfg) {
		if cfg[k] != nil && !slices.Contains(allowed, k) {
			return p.errorf("`%s`: Field `%s` unavailable for source `%s`. Available fields: %s", p.loc, k, src, svQuote(allowed))
		}
	}
	return nil
}
