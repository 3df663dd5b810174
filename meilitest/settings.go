package meilitest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// settings is an index's settings. Every field is always set (defaults
// filled in) so readers never see nil. A settings value is immutable once
// stored in an index: updates build a new value (shallow copy plus fresh
// slices/maps for the changed fields) and swap the pointer, so a reader
// holding the old pointer is never raced.
type settings struct {
	DisplayedAttributes  []string            `json:"displayedAttributes"`
	SearchableAttributes []string            `json:"searchableAttributes"`
	FilterableAttributes []any               `json:"filterableAttributes"` // strings or attribute-pattern objects (map[string]any)
	SortableAttributes   []string            `json:"sortableAttributes"`
	ForeignKeys          []any               `json:"foreignKeys"` // {fieldName, foreignIndexUid} objects
	RankingRules         []string            `json:"rankingRules"`
	StopWords            []string            `json:"stopWords"`
	NonSeparatorTokens   []string            `json:"nonSeparatorTokens"`
	SeparatorTokens      []string            `json:"separatorTokens"`
	Dictionary           []string            `json:"dictionary"`
	Synonyms             map[string][]string `json:"synonyms"`
	DistinctAttribute    *string             `json:"distinctAttribute"`
	ProximityPrecision   string              `json:"proximityPrecision"`
	TypoTolerance        typoTolerance       `json:"typoTolerance"`
	Faceting             faceting            `json:"faceting"`
	Pagination           pagination          `json:"pagination"`
	Embedders            map[string]any      `json:"embedders"` // name -> map[string]any configuration (apiKey in clear)
	SearchCutoffMs       *int64              `json:"searchCutoffMs"`
	LocalizedAttributes  []any               `json:"localizedAttributes"` // null by default; else {attributePatterns, locales} objects
	FacetSearch          bool                `json:"facetSearch"`
	PrefixSearch         string              `json:"prefixSearch"`
	Chat                 map[string]any      `json:"chat"`
	VectorStore          *string             `json:"vectorStore"`
}

type typoTolerance struct {
	Enabled             bool            `json:"enabled"`
	MinWordSizeForTypos minWordSizeTypo `json:"minWordSizeForTypos"`
	DisableOnWords      []string        `json:"disableOnWords"`
	DisableOnAttributes []string        `json:"disableOnAttributes"`
	DisableOnNumbers    bool            `json:"disableOnNumbers"`
}

type minWordSizeTypo struct {
	OneTypo  int `json:"oneTypo"`
	TwoTypos int `json:"twoTypos"`
}

type faceting struct {
	MaxValuesPerFacet int               `json:"maxValuesPerFacet"`
	SortFacetValuesBy map[string]string `json:"sortFacetValuesBy"` // attribute or "*" -> "alpha"|"count"|"sampledCount"
}

type pagination struct {
	MaxTotalHits int `json:"maxTotalHits"`
}

// defaultRankingRules is Meilisearch's built-in order.
var defaultRankingRules = []string{"words", "typo", "proximity", "attributeRank", "sort", "wordPosition", "exactness"}

// defaultChatTemplate is the document template of the default chat settings.
const defaultChatTemplate = "{% for field in fields %}{% if field.is_searchable and field.value != nil %}{{ field.name }}: {{ field.value }}\n{% endif %}{% endfor %}"

func defaultChat() map[string]any {
	return map[string]any{
		"description":              "",
		"documentTemplate":         defaultChatTemplate,
		"documentTemplateMaxBytes": 400,
		"searchParameters":         map[string]any{},
	}
}

// defaultSettings returns a fresh copy of Meilisearch's defaults.
func defaultSettings() *settings {
	return &settings{
		DisplayedAttributes:  []string{"*"},
		SearchableAttributes: []string{"*"},
		FilterableAttributes: []any{},
		SortableAttributes:   []string{},
		ForeignKeys:          []any{},
		RankingRules:         append([]string(nil), defaultRankingRules...),
		StopWords:            []string{},
		NonSeparatorTokens:   []string{},
		SeparatorTokens:      []string{},
		Dictionary:           []string{},
		Synonyms:             map[string][]string{},
		ProximityPrecision:   "byWord",
		TypoTolerance: typoTolerance{
			Enabled:             true,
			MinWordSizeForTypos: minWordSizeTypo{OneTypo: 5, TwoTypos: 9},
			DisableOnWords:      []string{},
			DisableOnAttributes: []string{},
		},
		Faceting:     faceting{MaxValuesPerFacet: 100, SortFacetValuesBy: map[string]string{"*": "alpha"}},
		Pagination:   pagination{MaxTotalHits: 1000},
		Embedders:    map[string]any{},
		FacetSearch:  true,
		PrefixSearch: "indexingTime",
		Chat:         defaultChat(),
	}
}

// ---------------------------------------------------------------------------
// Validation helpers. Messages follow Meilisearch's (deserr) wording; every
// error carries the code of the setting being validated.

// vctx is where a value sits in the request body ("" is the body itself)
// and the error code used for it.
type vctx struct {
	code string
	loc  string
}

func (c vctx) field(name string) vctx { return vctx{c.code, c.loc + "." + name} }
func (c vctx) elem(i int) vctx        { return vctx{c.code, c.loc + "[" + strconv.Itoa(i) + "]"} }

func (c vctx) where(sep string) string {
	if c.loc == "" {
		return ""
	}
	return sep + "`" + c.loc + "`"
}

// typeErr reports a value of the wrong JSON type.
func (c vctx) typeErr(expected string, v any) *apiError {
	return newError(c.code, "Invalid value type%s: expected %s, but found %s: `%s`", c.where(" at "), expected, describeJSON(v), compactJSON(v))
}

// valueErr reports a value of the right type that is not acceptable.
func (c vctx) valueErr(format string, args ...any) *apiError {
	return newError(c.code, "Invalid value%s: %s", c.where(" at "), fmt.Sprintf(format, args...))
}

func (c vctx) enumErr(v string, allowed []string) *apiError {
	return newError(c.code, "Unknown value `%s`%s: expected one of %s", v, c.where(" at "), quoteList(allowed))
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + n + "`"
	}
	return strings.Join(q, ", ")
}

func describeJSON(v any) string {
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

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// object checks v is a JSON object whose keys are all in allowed.
func (c vctx) object(v any, allowed []string) (map[string]any, *apiError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, c.typeErr("an object", v)
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(allowed, k) {
			in := ""
			if c.loc != "" {
				in = " inside `" + c.loc + "`"
			}
			return nil, newError(c.code, "Unknown field `%s`%s: expected one of %s", k, in, quoteList(allowed))
		}
	}
	return m, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c vctx) str(v any) (string, *apiError) {
	s, ok := v.(string)
	if !ok {
		return "", c.typeErr("a string", v)
	}
	return s, nil
}

func (c vctx) boolean(v any) (bool, *apiError) {
	b, ok := v.(bool)
	if !ok {
		return false, c.typeErr("a boolean", v)
	}
	return b, nil
}

// uint parses a non-negative integer no larger than max.
func (c vctx) uint(v any, max uint64) (uint64, *apiError) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, c.typeErr("a positive integer", v)
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		return 0, c.typeErr("a positive integer", v)
	}
	if u > max {
		return 0, c.valueErr("value: `%s` is too large, expected at most `%d`", n, max)
	}
	return u, nil
}

func (c vctx) enum(v any, allowed []string) (string, *apiError) {
	s, e := c.str(v)
	if e != nil {
		return "", e
	}
	if !slices.Contains(allowed, s) {
		return "", c.enumErr(s, allowed)
	}
	return s, nil
}

func (c vctx) strList(v any) ([]string, *apiError) {
	a, ok := v.([]any)
	if !ok {
		return nil, c.typeErr("an array", v)
	}
	out := make([]string, len(a))
	for i, x := range a {
		s, e := c.elem(i).str(x)
		if e != nil {
			return nil, e
		}
		out[i] = s
	}
	return out, nil
}

// strSet is strList sorted and deduplicated, as Meilisearch stores its
// BTreeSet settings.
func (c vctx) strSet(v any) ([]string, *apiError) {
	l, e := c.strList(v)
	if e != nil {
		return nil, e
	}
	slices.Sort(l)
	return slices.Compact(l), nil
}

// ---------------------------------------------------------------------------
// Setting descriptors: one table drives GET, update and reset for the whole
// object and for every sub-route.

// settingChange mutates a private copy of the settings when the task runs;
// it must assign fresh slices/maps, never write into the existing ones.
type settingChange func(st *settings) *apiError

type settingDesc struct {
	name    string // key in the settings object
	route   string // sub-route under /indexes/{uid}/settings/
	code    string // error code for invalid values
	feature string // experimental feature required to set it and to see it in GET /settings
	// parse validates a non-null value at request time and returns what
	// the task details echo and the change to apply.
	parse func(c vctx, v any) (any, settingChange, *apiError)
	get   func(st *settings) any
	reset func(st, def *settings)
	// resetDetail is what task details show for a reset (null for most).
	resetDetail any
}

var settingDescs []*settingDesc

func init() {
	settingDescs = []*settingDesc{
		wildcardListDesc("displayedAttributes", "displayed-attributes", "invalid_settings_displayed_attributes",
			func(st *settings) *[]string { return &st.DisplayedAttributes }),
		wildcardListDesc("searchableAttributes", "searchable-attributes", "invalid_settings_searchable_attributes",
			func(st *settings) *[]string { return &st.SearchableAttributes }),
		{
			name: "filterableAttributes", route: "filterable-attributes", code: "invalid_settings_filterable_attributes",
			parse: parseFilterable,
			get:   func(st *settings) any { return st.FilterableAttributes },
			reset: func(st, def *settings) { st.FilterableAttributes = def.FilterableAttributes },
		},
		stringSetDesc("sortableAttributes", "sortable-attributes", "invalid_settings_sortable_attributes",
			func(st *settings) *[]string { return &st.SortableAttributes }),
		{
			name: "foreignKeys", route: "foreign-keys", code: "invalid_settings_foreign_keys", feature: "foreignKeys",
			parse: parseForeignKeys,
			get:   func(st *settings) any { return st.ForeignKeys },
			reset: func(st, def *settings) { st.ForeignKeys = def.ForeignKeys },
		},
		{
			name: "rankingRules", route: "ranking-rules", code: "invalid_settings_ranking_rules",
			parse: parseRankingRules,
			get:   func(st *settings) any { return st.RankingRules },
			reset: func(st, def *settings) { st.RankingRules = def.RankingRules },
		},
		stringSetDesc("stopWords", "stop-words", "invalid_settings_stop_words",
			func(st *settings) *[]string { return &st.StopWords }),
		stringSetDesc("nonSeparatorTokens", "non-separator-tokens", "invalid_settings_non_separator_tokens",
			func(st *settings) *[]string { return &st.NonSeparatorTokens }),
		stringSetDesc("separatorTokens", "separator-tokens", "invalid_settings_separator_tokens",
			func(st *settings) *[]string { return &st.SeparatorTokens }),
		stringSetDesc("dictionary", "dictionary", "invalid_settings_dictionary",
			func(st *settings) *[]string { return &st.Dictionary }),
		{
			name: "synonyms", route: "synonyms", code: "invalid_settings_synonyms",
			parse: parseSynonyms,
			get:   func(st *settings) any { return st.Synonyms },
			reset: func(st, def *settings) { st.Synonyms = def.Synonyms },
		},
		{
			name: "distinctAttribute", route: "distinct-attribute", code: "invalid_settings_distinct_attribute",
			parse: func(c vctx, v any) (any, settingChange, *apiError) {
				s, e := c.str(v)
				if e != nil {
					return nil, nil, e
				}
				return s, func(st *settings) *apiError { st.DistinctAttribute = &s; return nil }, nil
			},
			get:   func(st *settings) any { return st.DistinctAttribute },
			reset: func(st, def *settings) { st.DistinctAttribute = nil },
		},
		{
			name: "proximityPrecision", route: "proximity-precision", code: "invalid_settings_proximity_precision",
			parse: func(c vctx, v any) (any, settingChange, *apiError) {
				s, e := c.enum(v, []string{"byWord", "byAttribute"})
				if e != nil {
					return nil, nil, e
				}
				return s, func(st *settings) *apiError { st.ProximityPrecision = s; return nil }, nil
			},
			get:   func(st *settings) any { return st.ProximityPrecision },
			reset: func(st, def *settings) { st.ProximityPrecision = def.ProximityPrecision },
		},
		{
			name: "typoTolerance", route: "typo-tolerance", code: "invalid_settings_typo_tolerance",
			parse: parseTypoTolerance,
			get:   func(st *settings) any { return st.TypoTolerance },
			reset: func(st, def *settings) { st.TypoTolerance = def.TypoTolerance },
		},
		{
			name: "faceting", route: "faceting", code: "invalid_settings_faceting",
			parse: parseFaceting,
			get:   func(st *settings) any { return st.Faceting },
			reset: func(st, def *settings) { st.Faceting = def.Faceting },
		},
		{
			name: "pagination", route: "pagination", code: "invalid_settings_pagination",
			parse: parsePagination,
			get:   func(st *settings) any { return st.Pagination },
			reset: func(st, def *settings) { st.Pagination = def.Pagination },
		},
		{
			name: "embedders", route: "embedders", code: "invalid_settings_embedders",
			parse: parseEmbedders,
			get:   func(st *settings) any { return embeddersView(st.Embedders) },
			reset: func(st, def *settings) { st.Embedders = def.Embedders },
		},
		{
			name: "searchCutoffMs", route: "search-cutoff-ms", code: "invalid_settings_search_cutoff_ms",
			parse: func(c vctx, v any) (any, settingChange, *apiError) {
				u, e := c.uint(v, math.MaxInt64)
				if e != nil {
					return nil, nil, e
				}
				n := int64(u)
				return n, func(st *settings) *apiError { st.SearchCutoffMs = &n; return nil }, nil
			},
			get:   func(st *settings) any { return st.SearchCutoffMs },
			reset: func(st, def *settings) { st.SearchCutoffMs = nil },
		},
		{
			name: "localizedAttributes", route: "localized-attributes", code: "invalid_settings_localized_attributes",
			parse: parseLocalizedAttributes,
			get:   func(st *settings) any { return st.LocalizedAttributes },
			reset: func(st, def *settings) { st.LocalizedAttributes = nil },
		},
		{
			name: "facetSearch", route: "facet-search", code: "invalid_settings_facet_search",
			parse: func(c vctx, v any) (any, settingChange, *apiError) {
				b, e := c.boolean(v)
				if e != nil {
					return nil, nil, e
				}
				return b, func(st *settings) *apiError { st.FacetSearch = b; return nil }, nil
			},
			get:   func(st *settings) any { return st.FacetSearch },
			reset: func(st, def *settings) { st.FacetSearch = def.FacetSearch },
		},
		{
			name: "prefixSearch", route: "prefix-search", code: "invalid_settings_prefix_search",
			parse: func(c vctx, v any) (any, settingChange, *apiError) {
				s, e := c.enum(v, []string{"indexingTime", "disabled"})
				if e != nil {
					return nil, nil, e
				}
				return s, func(st *settings) *apiError { st.PrefixSearch = s; return nil }, nil
			},
			get:   func(st *settings) any { return st.PrefixSearch },
			reset: func(st, def *settings) { st.PrefixSearch = def.PrefixSearch },
		},
		{
			name: "chat", route: "chat", code: "invalid_settings_index_chat", feature: "chatCompletions",
			parse: parseChat,
			get:   func(st *settings) any { return st.Chat },
			reset: func(st, def *settings) { st.Chat = def.Chat },
		},
		{
			name: "vectorStore", route: "vector-store", code: "invalid_settings_vector_store", feature: "vectorStoreSetting",
			parse: func(c vctx, v any) (any, settingChange, *apiError) {
				s, e := c.enum(v, []string{"stable", "experimental"})
				if e != nil {
					return nil, nil, e
				}
				return s, func(st *settings) *apiError { st.VectorStore = &s; return nil }, nil
			},
			get:   func(st *settings) any { return st.VectorStore },
			reset: func(st, def *settings) { st.VectorStore = nil },
		},
	}
}

func settingByName(name string) *settingDesc {
	for _, d := range settingDescs {
		if d.name == name {
			return d
		}
	}
	return nil
}

func settingByRoute(route string) *settingDesc {
	for _, d := range settingDescs {
		if d.route == route {
			return d
		}
	}
	return nil
}

func settingNames() []string {
	out := make([]string, len(settingDescs))
	for i, d := range settingDescs {
		out[i] = d.name
	}
	return out
}

// change validates one setting's new value (nil resets it) and returns the
// task detail and the change.
func (d *settingDesc) change(c vctx, v any) (any, settingChange, *apiError) {
	if v == nil {
		return d.resetDetail, d.resetChange(), nil
	}
	return d.parse(c, v)
}

func (d *settingDesc) resetChange() settingChange {
	return func(st *settings) *apiError {
		d.reset(st, defaultSettings())
		return nil
	}
}

// wildcardListDesc is displayed/searchable attributes: a list where any
// "*" means all attributes, and a reset shows as ["*"] in task details.
func wildcardListDesc(name, route, code string, field func(*settings) *[]string) *settingDesc {
	return &settingDesc{
		name: name, route: route, code: code,
		parse: func(c vctx, v any) (any, settingChange, *apiError) {
			l, e := c.strList(v)
			if e != nil {
				return nil, nil, e
			}
			if slices.Contains(l, "*") {
				l = []string{"*"}
			}
			return l, func(st *settings) *apiError { *field(st) = l; return nil }, nil
		},
		get:         func(st *settings) any { return *field(st) },
		reset:       func(st, def *settings) { *field(st) = *field(def) },
		resetDetail: []string{"*"},
	}
}

// stringSetDesc is a list of strings stored sorted and deduplicated.
func stringSetDesc(name, route, code string, field func(*settings) *[]string) *settingDesc {
	return &settingDesc{
		name: name, route: route, code: code,
		parse: func(c vctx, v any) (any, settingChange, *apiError) {
			l, e := c.strSet(v)
			if e != nil {
				return nil, nil, e
			}
			return l, func(st *settings) *apiError { *field(st) = l; return nil }, nil
		},
		get:   func(st *settings) any { return *field(st) },
		reset: func(st, def *settings) { *field(st) = *field(def) },
	}
}

var builtinRankingRules = []string{"words", "typo", "proximity", "attribute", "attributeRank", "sort", "wordPosition", "exactness"}

func parseRankingRules(c vctx, v any) (any, settingChange, *apiError) {
	rules, e := c.strList(v)
	if e != nil {
		return nil, nil, e
	}
	for i, r := range rules {
		if slices.Contains(builtinRankingRules, r) {
			continue
		}
		field, dir, ok := strings.Cut(r, ":")
		if ok && field != "" && (dir == "asc" || dir == "desc") && !strings.ContainsAny(field, " \t\n") {
			continue
		}
		return nil, nil, c.elem(i).valueErr("`%s` ranking rule is invalid. Valid ranking rules are words, typo, sort, proximity, attribute, attributeRank, wordPosition, exactness and custom ranking rules.", r)
	}
	return rules, func(st *settings) *apiError { st.RankingRules = rules; return nil }, nil
}

var filterableRuleFields = []string{"attributePatterns", "features"}
var filterableFeatureFields = []string{"facetSearch", "filter"}
var filterableFilterFields = []string{"equality", "comparison"}

// parseFilterable accepts attribute names and {attributePatterns, features}
// rules; rules are stored complete, with Meilisearch's feature defaults
// (facetSearch false, equality true, comparison false).
func parseFilterable(c vctx, v any) (any, settingChange, *apiError) {
	a, ok := v.([]any)
	if !ok {
		return nil, nil, c.typeErr("an array", v)
	}
	out := make([]any, len(a))
	for i, x := range a {
		ec := c.elem(i)
		if s, ok := x.(string); ok {
			out[i] = s
			continue
		}
		m, e := ec.object(x, filterableRuleFields)
		if e != nil {
			if _, isMap := x.(map[string]any); !isMap {
				return nil, nil, ec.typeErr("a string or an object", x)
			}
			return nil, nil, e
		}
		pv, ok := m["attributePatterns"]
		if !ok {
			return nil, nil, newError(c.code, "Missing field `attributePatterns` inside `%s`", ec.loc)
		}
		patterns, e := ec.field("attributePatterns").strList(pv)
		if e != nil {
			return nil, nil, e
		}
		facetSearch, equality, comparison := false, true, false
		if fv, ok := m["features"]; ok && fv != nil {
			fc := ec.field("features")
			fm, e := fc.object(fv, filterableFeatureFields)
			if e != nil {
				return nil, nil, e
			}
			if b, ok := fm["facetSearch"]; ok {
				if facetSearch, e = fc.field("facetSearch").boolean(b); e != nil {
					return nil, nil, e
				}
			}
			if f, ok := fm["filter"]; ok && f != nil {
				ffc := fc.field("filter")
				ff, e := ffc.object(f, filterableFilterFields)
				if e != nil {
					return nil, nil, e
				}
				if b, ok := ff["equality"]; ok {
					if equality, e = ffc.field("equality").boolean(b); e != nil {
						return nil, nil, e
					}
				}
				if b, ok := ff["comparison"]; ok {
					if comparison, e = ffc.field("comparison").boolean(b); e != nil {
						return nil, nil, e
					}
				}
			}
		}
		ps := make([]any, len(patterns))
		for j, p := range patterns {
			ps[j] = p
		}
		out[i] = map[string]any{
			"attributePatterns": ps,
			"features": map[string]any{
				"facetSearch": facetSearch,
				"filter":      map[string]any{"equality": equality, "comparison": comparison},
			},
		}
	}
	return out, func(st *settings) *apiError { st.FilterableAttributes = out; return nil }, nil
}

func parseForeignKeys(c vctx, v any) (any, settingChange, *apiError) {
	a, ok := v.([]any)
	if !ok {
		return nil, nil, c.typeErr("an array", v)
	}
	out := make([]any, len(a))
	for i, x := range a {
		ec := c.elem(i)
		m, e := ec.object(x, []string{"fieldName", "foreignIndexUid"})
		if e != nil {
			return nil, nil, e
		}
		fk := map[string]any{}
		for _, f := range []string{"fieldName", "foreignIndexUid"} {
			fv, ok := m[f]
			if !ok {
				return nil, nil, newError(c.code, "Missing field `%s` inside `%s`", f, ec.loc)
			}
			s, e := ec.field(f).str(fv)
			if e != nil {
				return nil, nil, e
			}
			fk[f] = s
		}
		out[i] = fk
	}
	return out, func(st *settings) *apiError { st.ForeignKeys = out; return nil }, nil
}

func parseSynonyms(c vctx, v any) (any, settingChange, *apiError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, c.typeErr("an object", v)
	}
	out := make(map[string][]string, len(m))
	for _, k := range sortedKeys(m) {
		l, e := c.field(k).strList(m[k])
		if e != nil {
			return nil, nil, e
		}
		out[k] = l
	}
	return out, func(st *settings) *apiError { st.Synonyms = out; return nil }, nil
}

var typoFields = []string{"enabled", "minWordSizeForTypos", "disableOnWords", "disableOnAttributes", "disableOnNumbers"}

// parseTypoTolerance merges field by field (PATCH semantics); a null field
// resets that field only.
func parseTypoTolerance(c vctx, v any) (any, settingChange, *apiError) {
	m, e := c.object(v, typoFields)
	if e != nil {
		return nil, nil, e
	}
	def := defaultSettings().TypoTolerance
	detail := map[string]any{}
	var ops []func(*typoTolerance)
	if x, ok := m["enabled"]; ok {
		val := def.Enabled
		if x != nil {
			if val, e = c.field("enabled").boolean(x); e != nil {
				return nil, nil, e
			}
		}
		detail["enabled"] = x
		ops = append(ops, func(t *typoTolerance) { t.Enabled = val })
	}
	if x, ok := m["minWordSizeForTypos"]; ok {
		mc := c.field("minWordSizeForTypos")
		if x == nil {
			detail["minWordSizeForTypos"] = nil
			ops = append(ops, func(t *typoTolerance) { t.MinWordSizeForTypos = def.MinWordSizeForTypos })
		} else {
			mm, e := mc.object(x, []string{"oneTypo", "twoTypos"})
			if e != nil {
				return nil, nil, e
			}
			sub := map[string]any{}
			var one, two *int
			for _, f := range []string{"oneTypo", "twoTypos"} {
				y, ok := mm[f]
				if !ok {
					continue
				}
				n := def.MinWordSizeForTypos.OneTypo
				if f == "twoTypos" {
					n = def.MinWordSizeForTypos.TwoTypos
				}
				if y != nil {
					u, e := mc.field(f).uint(y, 255)
					if e != nil {
						return nil, nil, e
					}
					n = int(u)
					sub[f] = n
				} else {
					sub[f] = nil
				}
				if f == "oneTypo" {
					one = &n
				} else {
					two = &n
				}
			}
			if one != nil && two != nil && *one > *two {
				return nil, nil, newError(c.code, "Invalid value at `%s`: %s", mc.loc, typoSizeMessage(*one, *two))
			}
			detail["minWordSizeForTypos"] = sub
			ops = append(ops, func(t *typoTolerance) {
				if one != nil {
					t.MinWordSizeForTypos.OneTypo = *one
				}
				if two != nil {
					t.MinWordSizeForTypos.TwoTypos = *two
				}
			})
		}
	}
	for _, f := range []string{"disableOnWords", "disableOnAttributes"} {
		x, ok := m[f]
		if !ok {
			continue
		}
		l := []string{}
		if x != nil {
			if l, e = c.field(f).strSet(x); e != nil {
				return nil, nil, e
			}
			detail[f] = l
		} else {
			detail[f] = nil
		}
		if f == "disableOnWords" {
			ops = append(ops, func(t *typoTolerance) { t.DisableOnWords = l })
		} else {
			ops = append(ops, func(t *typoTolerance) { t.DisableOnAttributes = l })
		}
	}
	if x, ok := m["disableOnNumbers"]; ok {
		val := def.DisableOnNumbers
		if x != nil {
			if val, e = c.field("disableOnNumbers").boolean(x); e != nil {
				return nil, nil, e
			}
		}
		detail["disableOnNumbers"] = x
		ops = append(ops, func(t *typoTolerance) { t.DisableOnNumbers = val })
	}
	return detail, func(st *settings) *apiError {
		t := st.TypoTolerance
		for _, op := range ops {
			op(&t)
		}
		if t.MinWordSizeForTypos.OneTypo > t.MinWordSizeForTypos.TwoTypos {
			return newError("invalid_settings_typo_tolerance", "%s", typoSizeMessage(t.MinWordSizeForTypos.OneTypo, t.MinWordSizeForTypos.TwoTypos))
		}
		st.TypoTolerance = t
		return nil
	}, nil
}

func typoSizeMessage(one, two int) string {
	return fmt.Sprintf("`minWordSizeForTypos` setting is invalid. `oneTypo` and `twoTypos` fields should be between `0` and `255`, and `twoTypos` should be greater or equals to `oneTypo` but found `oneTypo: %d` and twoTypos: %d`.", one, two)
}

var facetSortOrders = []string{"alpha", "count", "sampledCount"}

// parseFaceting merges field by field. sortFacetValuesBy replaces the whole
// map, with "*" defaulting to "alpha" when absent, as Meilisearch does.
func parseFaceting(c vctx, v any) (any, settingChange, *apiError) {
	m, e := c.object(v, []string{"maxValuesPerFacet", "sortFacetValuesBy"})
	if e != nil {
		return nil, nil, e
	}
	def := defaultSettings().Faceting
	detail := map[string]any{}
	var ops []func(*faceting)
	if x, ok := m["maxValuesPerFacet"]; ok {
		n := def.MaxValuesPerFacet
		if x != nil {
			u, e := c.field("maxValuesPerFacet").uint(x, math.MaxInt32)
			if e != nil {
				return nil, nil, e
			}
			n = int(u)
			detail["maxValuesPerFacet"] = n
		} else {
			detail["maxValuesPerFacet"] = nil
		}
		ops = append(ops, func(f *faceting) { f.MaxValuesPerFacet = n })
	}
	if x, ok := m["sortFacetValuesBy"]; ok {
		sc := c.field("sortFacetValuesBy")
		orders := def.SortFacetValuesBy
		if x != nil {
			mm, ok := x.(map[string]any)
			if !ok {
				return nil, nil, sc.typeErr("an object", x)
			}
			sent := make(map[string]string, len(mm))
			for _, k := range sortedKeys(mm) {
				o, e := sc.field(k).enum(mm[k], facetSortOrders)
				if e != nil {
					return nil, nil, e
				}
				sent[k] = o
			}
			detail["sortFacetValuesBy"] = sent
			orders = maps.Clone(sent)
			if _, ok := orders["*"]; !ok {
				orders["*"] = "alpha"
			}
		} else {
			detail["sortFacetValuesBy"] = nil
		}
		ops = append(ops, func(f *faceting) { f.SortFacetValuesBy = orders })
	}
	return detail, func(st *settings) *apiError {
		f := st.Faceting
		for _, op := range ops {
			op(&f)
		}
		st.Faceting = f
		return nil
	}, nil
}

func parsePagination(c vctx, v any) (any, settingChange, *apiError) {
	m, e := c.object(v, []string{"maxTotalHits"})
	if e != nil {
		return nil, nil, e
	}
	detail := map[string]any{}
	x, ok := m["maxTotalHits"]
	if !ok {
		return detail, func(*settings) *apiError { return nil }, nil
	}
	n := defaultSettings().Pagination.MaxTotalHits
	if x != nil {
		fc := c.field("maxTotalHits")
		u, e := fc.uint(x, math.MaxInt32)
		if e != nil {
			return nil, nil, e
		}
		if u == 0 {
			return nil, nil, fc.valueErr("a non-zero integer value lower than `%d` was expected, but found a zero", uint64(math.MaxUint64))
		}
		n = int(u)
		detail["maxTotalHits"] = n
	} else {
		detail["maxTotalHits"] = nil
	}
	return detail, func(st *settings) *apiError { st.Pagination = pagination{MaxTotalHits: n}; return nil }, nil
}

// knownLocales are the languages Meilisearch's tokenizer detects, as
// ISO 639-3 codes, with their ISO 639-1 aliases.
var knownLocales = func() map[string]bool {
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

func parseLocalizedAttributes(c vctx, v any) (any, settingChange, *apiError) {
	a, ok := v.([]any)
	if !ok {
		return nil, nil, c.typeErr("an array", v)
	}
	out := make([]any, len(a))
	for i, x := range a {
		ec := c.elem(i)
		m, e := ec.object(x, []string{"attributePatterns", "locales"})
		if e != nil {
			return nil, nil, e
		}
		rule := map[string]any{}
		for _, f := range []string{"attributePatterns", "locales"} {
			fv, ok := m[f]
			if !ok {
				return nil, nil, newError(c.code, "Missing field `%s` inside `%s`", f, ec.loc)
			}
			l, e := ec.field(f).strList(fv)
			if e != nil {
				return nil, nil, e
			}
			items := make([]any, len(l))
			for j, s := range l {
				if f == "locales" && !knownLocales[s] {
					return nil, nil, newError(c.code, "Unknown value `%s` at `%s`: expected one of ISO 639-3 or ISO 639-1 language codes such as `eng`, `fra`, `jpn`, `cmn`", s, ec.field(f).elem(j).loc)
				}
				items[j] = s
			}
			rule[f] = items
		}
		out[i] = rule
	}
	return out, func(st *settings) *apiError { st.LocalizedAttributes = out; return nil }, nil
}

var chatFields = []string{"description", "documentTemplate", "documentTemplateMaxBytes", "searchParameters"}
var chatSearchFields = []string{"hybrid", "limit", "sort", "distinct", "matchingStrategy", "attributesToSearchOn", "rankingScoreThreshold"}

// parseChat merges the chat settings field by field, and searchParameters
// field by field within.
func parseChat(c vctx, v any) (any, settingChange, *apiError) {
	m, e := c.object(v, chatFields)
	if e != nil {
		return nil, nil, e
	}
	set := map[string]any{} // field -> new value (nil: reset)
	for _, f := range []string{"description", "documentTemplate"} {
		if x, ok := m[f]; ok {
			if x != nil {
				if _, e := c.field(f).str(x); e != nil {
					return nil, nil, e
				}
			}
			set[f] = x
		}
	}
	if x, ok := m["documentTemplateMaxBytes"]; ok {
		if x != nil {
			u, e := c.field("documentTemplateMaxBytes").uint(x, math.MaxInt32)
			if e != nil {
				return nil, nil, e
			}
			x = int(u)
		}
		set["documentTemplateMaxBytes"] = x
	}
	var params map[string]any
	if x, ok := m["searchParameters"]; ok {
		set["searchParameters"] = nil
		if x != nil {
			pc := c.field("searchParameters")
			if params, e = pc.object(x, chatSearchFields); e != nil {
				return nil, nil, e
			}
			for _, k := range sortedKeys(params) {
				y := params[k]
				if y == nil {
					continue
				}
				fc := pc.field(k)
				switch k {
				case "hybrid":
					_, e = fc.object(y, []string{"embedder", "semanticRatio"})
				case "limit":
					_, e = fc.uint(y, math.MaxInt32)
				case "sort", "attributesToSearchOn":
					_, e = fc.strList(y)
				case "distinct":
					_, e = fc.str(y)
				case "matchingStrategy":
					_, e = fc.enum(y, []string{"last", "all", "frequency"})
				case "rankingScoreThreshold":
					if _, ok := y.(json.Number); !ok {
						e = fc.typeErr("a number", y)
					}
				}
				if e != nil {
					return nil, nil, e
				}
			}
			set["searchParameters"] = params
		}
	}
	return m, func(st *settings) *apiError {
		def := defaultChat()
		chat := maps.Clone(st.Chat)
		for k, x := range set {
			switch {
			case x == nil:
				chat[k] = def[k]
			case k == "searchParameters":
				old, _ := chat[k].(map[string]any)
				sp := maps.Clone(old)
				if sp == nil {
					sp = map[string]any{}
				}
				for pk, pv := range params {
					if pv == nil {
						delete(sp, pk)
					} else {
						sp[pk] = pv
					}
				}
				chat[k] = sp
			default:
				chat[k] = x
			}
		}
		st.Chat = chat
		return nil
	}, nil
}

// ---------------------------------------------------------------------------
// Embedders. meilitest stores every embedder's configuration and validates
// its shape like Meilisearch, but only `userProvided` embedders are usable:
// the others would need a remote or local model to generate vectors, which
// an offline fake cannot reach.

var embedderSources = []string{"openAi", "huggingFace", "ollama", "userProvided", "rest", "composite"}

var embedderFields = []string{"source", "model", "revision", "pooling", "apiKey", "dimensions", "binaryQuantized",
	"documentTemplate", "documentTemplateMaxBytes", "url", "request", "response", "headers", "searchEmbedder",
	"indexingEmbedder", "distribution", "indexingFragments", "searchFragments"}

// embedderSourceFields lists the fields each source accepts.
var embedderSourceFields = map[string][]string{
	"openAi":       {"source", "model", "apiKey", "dimensions", "documentTemplate", "documentTemplateMaxBytes", "url", "distribution", "binaryQuantized"},
	"huggingFace":  {"source", "model", "revision", "pooling", "documentTemplate", "documentTemplateMaxBytes", "distribution", "binaryQuantized"},
	"ollama":       {"source", "model", "apiKey", "dimensions", "documentTemplate", "documentTemplateMaxBytes", "url", "distribution", "binaryQuantized"},
	"rest":         {"source", "apiKey", "dimensions", "documentTemplate", "documentTemplateMaxBytes", "url", "request", "response", "headers", "distribution", "binaryQuantized", "indexingFragments", "searchFragments"},
	"userProvided": {"source", "dimensions", "distribution", "binaryQuantized"},
	"composite":    {"source", "searchEmbedder", "indexingEmbedder", "distribution", "binaryQuantized"},
}

// embedderRequired lists the fields a source cannot do without.
var embedderRequired = map[string][]string{
	"userProvided": {"dimensions"},
	"rest":         {"url", "request", "response"},
	"ollama":       {"model"},
	"composite":    {"searchEmbedder", "indexingEmbedder"},
}

// checkEmbedderFields validates the type of every field present in cfg
// (null values were removed by the caller) and that they suit the source.
func checkEmbedderFields(c vctx, cfg map[string]any, sub bool) *apiError {
	for _, k := range sortedKeys(cfg) {
		x := cfg[k]
		fc := c.field(k)
		var e *apiError
		switch k {
		case "source":
			_, e = fc.enum(x, embedderSources)
		case "model", "revision", "apiKey", "documentTemplate", "url":
			_, e = fc.str(x)
		case "pooling":
			_, e = fc.enum(x, []string{"useModel", "forceMean", "forceCls"})
		case "dimensions":
			var u uint64
			if u, e = fc.uint(x, math.MaxInt32); e == nil && u == 0 {
				e = fc.valueErr("`dimensions` cannot be zero")
			}
		case "documentTemplateMaxBytes":
			_, e = fc.uint(x, math.MaxInt32)
		case "binaryQuantized":
			_, e = fc.boolean(x)
		case "headers":
			var m map[string]any
			if m, e = fc.object(x, sortedKeys(asMap(x))); e == nil {
				for _, hk := range sortedKeys(m) {
					if _, e = fc.field(hk).str(m[hk]); e != nil {
						break
					}
				}
			}
		case "distribution":
			var m map[string]any
			if m, e = fc.object(x, []string{"mean", "sigma"}); e == nil {
				for _, f := range []string{"mean", "sigma"} {
					if _, ok := m[f].(json.Number); !ok {
						e = newError(c.code, "Invalid value at `%s`: `mean` and `sigma` must be numbers between 0 and 1", fc.loc)
						break
					}
				}
			}
		case "request", "response":
			// any JSON value
		case "indexingFragments", "searchFragments":
			_, e = fc.object(x, sortedKeys(asMap(x)))
		case "searchEmbedder", "indexingEmbedder":
			if sub {
				return newError(c.code, "Unknown field `%s` inside `%s`", k, c.loc)
			}
			var m map[string]any
			if m, e = fc.object(x, embedderFields); e == nil {
				e = checkEmbedderFields(fc, dropNulls(m), true)
			}
		}
		if e != nil {
			return e
		}
	}
	if src, ok := cfg["source"].(string); ok {
		allowed := embedderSourceFields[src]
		for _, k := range sortedKeys(cfg) {
			if !slices.Contains(allowed, k) {
				return newError(c.code, "`%s`: Field `%s` unavailable for source `%s`. Available fields: %s", c.loc, k, src, quoteList(allowed))
			}
		}
	}
	return nil
}

// checkEmbedderComplete runs when the task applies: the merged
// configuration must have the fields its source requires.
func checkEmbedderComplete(c vctx, cfg map[string]any) *apiError {
	src, _ := cfg["source"].(string)
	if src == "" {
		src = "openAi"
	}
	for _, f := range embedderRequired[src] {
		if _, ok := cfg[f]; !ok {
			return newError(c.code, "`%s`: Missing field `%s` (note: this field is mandatory for source `%s`)", c.loc, f, src)
		}
	}
	return nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func dropNulls(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = v
		}
	}
	return out
}

// parseEmbedders merges embedders by name: null removes an embedder; an
// object updates its fields (null resets a field); changing the source
// starts the configuration afresh.
func parseEmbedders(c vctx, v any) (any, settingChange, *apiError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, c.typeErr("an object", v)
	}
	detail := map[string]any{}
	for _, name := range sortedKeys(m) {
		x := m[name]
		ec := c.field(name)
		if x == nil {
			detail[name] = nil
			continue
		}
		cfg, e := ec.object(x, embedderFields)
		if e != nil {
			return nil, nil, e
		}
		if e := checkEmbedderFields(ec, dropNulls(cfg), false); e != nil {
			return nil, nil, e
		}
		detail[name] = maskEmbedder(cfg)
	}
	return detail, func(st *settings) *apiError {
		out := maps.Clone(st.Embedders)
		for _, name := range sortedKeys(m) {
			x := m[name]
			if x == nil {
				delete(out, name)
				continue
			}
			patch := x.(map[string]any)
			old, _ := out[name].(map[string]any)
			cfg := maps.Clone(old)
			if cfg == nil {
				cfg = map[string]any{}
			}
			if src, ok := patch["source"].(string); ok && old != nil && old["source"] != src {
				cfg = map[string]any{}
			}
			for k, pv := range patch {
				if pv == nil {
					delete(cfg, k)
				} else {
					cfg[k] = pv
				}
			}
			ec := c.field(name)
			ec.loc = ".embedders." + name
			if e := checkEmbedderFields(ec, cfg, false); e != nil {
				return e
			}
			if e := checkEmbedderComplete(ec, cfg); e != nil {
				return e
			}
			if cfg["source"] == "rest" {
				if _, ok := cfg["headers"]; !ok {
					cfg["headers"] = map[string]any{}
				}
			}
			out[name] = cfg
		}
		st.Embedders = out
		return nil
	}, nil
}
