package meilitest

// Meilisearch's filter language: parser, evaluator and filterability checks.
//
// The parser mirrors the grammar of Meilisearch's filter-parser crate
// (nom-based) closely enough that valid filters build the same tree and
// invalid ones fail with the same message and position line:
//
//	filter     = expression EOF
//	expression = or
//	or         = and ("OR" and)*
//	and        = not ("AND" not)*
//	not        = "NOT" not | primary
//	primary    = "(" expression ")" | geoRadius | geoBoundingBox | in | not_in
//	           | condition | is_null | is_not_null | is_empty | is_not_empty
//	           | exists | not_exists | to | contains | not_contains
//	           | starts_with | not_starts_with
//	value      = word | 'single quoted' | "double quoted"
//	word       = (alphanumeric | _ | - | .)+   except reserved keywords
//
// Keywords are upper case and case-sensitive, exactly as in Meilisearch:
// `x = 1 and y = 2` is a syntax error there and here.
//
// Evaluation follows how milli indexes facets: a field's values are found
// by walking dotted paths through objects and arrays (documents may also use
// literal dotted keys); strings are compared after facet normalisation
// (trim, compatibility decomposition, lowercase; no accent folding), numbers
// numerically, booleans as the strings "true"/"false". `!=`, `NOT IN` and
// `NOT` are complements over all documents, so they match documents that lack
// the field.

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// filterExpr is a parsed filter.
type filterExpr interface {
	matches(doc map[string]any) bool
}

// filterError is a filter error carrying Meilisearch's message. Messages
// about a place in the filter end with Meilisearch's position line
// ("\n<col>:<col> <filter>").
type filterError struct{ msg string }

func (e *filterError) Error() string { return e.msg }

// maxFilterParseDepth is filter-parser's MAX_FILTER_DEPTH.
const maxFilterParseDepth = 200

// maxFacetValueLength is milli's MAX_FACET_VALUE_LENGTH: string facet values
// are truncated to this many bytes (after normalisation) when indexed.
const maxFacetValueLength = 468

// ---------------------------------------------------------------------------
// Entry points

// parseFilter parses a filter in string form or array form ([]any whose
// elements are strings or []any of strings; outer = AND, inner array = OR).
// nil, "" (or only whitespace) and an empty array give (nil, nil): no filter.
// The error's message is Meilisearch's; the caller picks the error code
// (invalid_search_filter, invalid_document_filter, ...).
func parseFilter(v any) (filterExpr, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		e, err := parseFilterString(x)
		if err != nil {
			return nil, err
		}
		return e, nil
	case []any:
		// Meilisearch checks the types of every element before parsing any.
		for _, el := range x {
			switch inner := el.(type) {
			case string:
			case []any:
				for _, o := range inner {
					if _, ok := o.(string); !ok {
						return nil, invalidFilterSyntax("String", o)
					}
				}
			default:
				return nil, invalidFilterSyntax("String, [String]", el)
			}
		}
		var ands fAnd
		for _, el := range x {
			switch inner := el.(type) {
			case string:
				e, err := parseFilterString(inner)
				if err != nil {
					return nil, err
				}
				if e != nil {
					ands = append(ands, e)
				}
			case []any:
				var ors fOr
				for _, o := range inner {
					e, err := parseFilterString(o.(string))
					if err != nil {
						return nil, err
					}
					if e != nil {
						ors = append(ors, e)
					}
				}
				switch len(ors) {
				case 0:
				case 1:
					ands = append(ands, ors[0])
				default:
					ands = append(ands, ors)
				}
			}
		}
		switch len(ands) {
		case 0:
			return nil, nil
		case 1:
			return ands[0], nil
		}
		return ands, nil
	default:
		return nil, invalidFilterSyntax("String, Array", v)
	}
}

func invalidFilterSyntax(expected string, found any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(found)
	return &filterError{msg: "Invalid syntax for the filter parameter: `expected " + expected +
		", found: " + strings.TrimSuffix(b.String(), "\n") + "`."}
}

// parseFilterString parses one filter string. A blank string is no filter.
func parseFilterString(s string) (filterExpr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	p := &fparser{s: s}
	e, next, perr := p.or(0, 0)
	if perr == nil && next != len(s) {
		perr = &fperr{kind: peExpectedEOF, start: next, end: len(s)}
	}
	if perr != nil {
		return nil, p.format(perr)
	}
	return e, nil
}

// checkFilterable reports, with Meilisearch's message, the first attribute
// of expr that st does not make filterable, then the first operator the
// matching filterableAttributes rule does not allow (equality: = != IN;
// comparison: > >= < <= TO), then geo filters on an index whose
// filterableAttributes lacks "_geo" or with out-of-range coordinates.
func checkFilterable(expr filterExpr, st *settings) error {
	if expr == nil {
		return nil
	}
	rules := compileFilterRules(st)
	// Pass 1: every attribute must match a rule enabling filtering.
	var err error
	walkFilterConds(expr, func(c *fCond) bool {
		if _, r := matchFilterRule(rules, c.field); r != nil && r.filterable() {
			return true
		}
		err = c.fid.located(notFilterableMessage(c.field, rules))
		return false
	})
	if err != nil {
		return err
	}
	// Pass 2, in evaluation order: operator features and geo filters.
	return checkFilterOps(expr, rules)
}

// isFilterableAttr reports whether attr (a dotted path) is filterable at all
// under st: the first filterableAttributes rule matching it enables equality
// or comparison. Plain string rules match the attribute and its nested
// fields (`a` matches `a.b`); attributePatterns objects match with `*`
// wildcards (`a*`, `*a`, `*a*`, `*`) and otherwise exactly.
func isFilterableAttr(st *settings, attr string) bool {
	_, r := matchFilterRule(compileFilterRules(st), attr)
	return r != nil && r.filterable()
}

// containsOperatorError returns Meilisearch's feature_not_enabled message
// if expr uses CONTAINS or STARTS WITH (which need the containsFilter
// experimental feature), else nil. The caller decides whether the feature
// is on.
func containsOperatorError(expr filterExpr) error {
	var kw *fspan
	walkFilterConds(expr, func(c *fCond) bool {
		if c.op == opContains || c.op == opStartsWith {
			kw = &c.kw
			return false
		}
		return true
	})
	if kw == nil {
		return nil
	}
	return kw.located("Using `CONTAINS` or `STARTS WITH` in a filter requires enabling the `contains filter` experimental feature. See https://github.com/orgs/meilisearch/discussions/763")
}

// ---------------------------------------------------------------------------
// Tree

type fAnd []filterExpr
type fOr []filterExpr
type fNot struct{ e filterExpr }

func (a fAnd) matches(doc map[string]any) bool {
	for _, e := range a {
		if !e.matches(doc) {
			return false
		}
	}
	return true
}

func (o fOr) matches(doc map[string]any) bool {
	for _, e := range o {
		if e.matches(doc) {
			return true
		}
	}
	return false
}

func (n fNot) matches(doc map[string]any) bool { return !n.e.matches(doc) }

type fop uint8

const (
	opEq fop = iota // =, != (with ne) and IN
	opGt
	opGe
	opLt
	opLe
	opTo
	opExists
	opNull
	opEmpty
	opContains
	opStartsWith
)

// fspan is a byte range of the filter string src, for error positions.
type fspan struct {
	src        string
	start, end int
}

// located appends Meilisearch's position line to msg.
func (sp fspan) located(msg string) *filterError {
	lineStart := strings.LastIndexByte(sp.src[:sp.start], '\n') + 1
	col := utf8.RuneCountInString(sp.src[lineStart:sp.start]) + 1
	size := utf8.RuneCountInString(sp.src[sp.start:sp.end])
	return &filterError{msg: msg + "\n" + strconv.Itoa(col) + ":" + strconv.Itoa(col+size) + " " + sp.src}
}

// fvalue is a literal of the filter, pre-normalised and pre-parsed.
type fvalue struct {
	sp    fspan
	raw   string // unescaped value
	norm  []byte // facet-normalised raw
	num   float64
	isNum bool // raw parses as a finite float
}

func newFValue(sp fspan, raw string) fvalue {
	v := fvalue{sp: sp, raw: raw, norm: appendFacetNormalized(nil, raw)}
	if f, ok := parseRustFloat(raw); ok && !math.IsInf(f, 0) && !math.IsNaN(f) {
		v.num, v.isNum = f, true
	}
	return v
}

// fCond is one condition on one attribute.
type fCond struct {
	fid   fspan
	field string
	op    fop
	ne    bool // `!=`: the complement of opEq
	in    bool // written as IN [..]
	vals  []fvalue
	kw    fspan // the CONTAINS / STARTS WITH keyword
	inStr map[string]struct{}
	inNum map[float64]struct{}
}

func (c *fCond) operator() string {
	switch c.op {
	case opEq:
		if c.ne {
			return "!="
		}
		return "="
	case opGt:
		return ">"
	case opGe:
		return ">="
	case opLt:
		return "<"
	case opLe:
		return "<="
	case opTo:
		return "TO"
	case opExists:
		return "EXISTS"
	case opNull:
		return "IS NULL"
	case opEmpty:
		return "IS EMPTY"
	case opContains:
		return "CONTAINS"
	default:
		return "STARTS WITH"
	}
}

func (c *fCond) prepare() *fCond {
	if c.op == opEq && len(c.vals) > 4 {
		c.inStr = make(map[string]struct{}, len(c.vals))
		c.inNum = make(map[float64]struct{})
		for _, v := range c.vals {
			c.inStr[string(v.norm)] = struct{}{}
			if v.isNum {
				c.inNum[v.num] = struct{}{}
			}
		}
	}
	return c
}

func (c *fCond) matches(doc map[string]any) bool {
	return c.resolve(doc, c.field) != c.ne
}

// resolve reports whether the condition holds for some value at path in
// obj. Keys may themselves contain dots, so every split of path is tried.
func (c *fCond) resolve(obj map[string]any, path string) bool {
	if v, ok := obj[path]; ok && c.atBase(v) {
		return true
	}
	for i := 0; i < len(path); i++ {
		if path[i] == '.' {
			if v, ok := obj[path[:i]]; ok && c.descend(v, path[i+1:]) {
				return true
			}
		}
	}
	return false
}

func (c *fCond) descend(v any, rest string) bool {
	switch x := v.(type) {
	case map[string]any:
		return c.resolve(x, rest)
	case []any:
		for _, e := range x {
			if c.descend(e, rest) {
				return true
			}
		}
	}
	return false
}

// atBase tests the value found at the attribute's own key. Like milli,
// null, "" , [] and {} count for IS NULL / IS EMPTY only here, not as
// elements of an array.
func (c *fCond) atBase(v any) bool {
	switch c.op {
	case opExists:
		return true
	case opStartsWith:
		if len(c.vals[0].norm) == 0 { // an empty prefix matches every document having the field
			return true
		}
	}
	switch x := v.(type) {
	case nil:
		return c.op == opNull
	case string:
		if x == "" {
			return c.op == opEmpty
		}
		return c.scalar(x)
	case []any:
		if len(x) == 0 {
			return c.op == opEmpty
		}
		return c.elems(x)
	case map[string]any:
		return len(x) == 0 && c.op == opEmpty
	}
	return c.scalar(v)
}

func (c *fCond) elems(arr []any) bool {
	for _, e := range arr {
		switch x := e.(type) {
		case []any:
			if c.elems(x) {
				return true
			}
		case map[string]any, nil:
		default:
			if c.scalar(x) {
				return true
			}
		}
	}
	return false
}

// scalar tests one facet value: a number, a non-empty string or a bool.
func (c *fCond) scalar(v any) bool {
	switch c.op {
	case opExists, opNull, opEmpty:
		return false
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			return false
		}
		var buf [128]byte
		return c.str(truncateFacet(appendFacetNormalized(buf[:0], x)))
	case bool:
		if x {
			return c.str(strTrue)
		}
		return c.str(strFalse)
	}
	if f, ok := facetNumber(v); ok {
		return c.number(f)
	}
	return false
}

var strTrue, strFalse = []byte("true"), []byte("false")

func (c *fCond) str(s []byte) bool {
	switch c.op {
	case opEq:
		if c.inStr != nil {
			_, ok := c.inStr[string(s)]
			return ok
		}
		for i := range c.vals {
			if bytes.Equal(s, c.vals[i].norm) {
				return true
			}
		}
		return false
	case opGt:
		return bytes.Compare(s, c.vals[0].norm) > 0
	case opGe:
		return bytes.Compare(s, c.vals[0].norm) >= 0
	case opLt:
		return bytes.Compare(s, c.vals[0].norm) < 0
	case opLe:
		return bytes.Compare(s, c.vals[0].norm) <= 0
	case opTo:
		return bytes.Compare(s, c.vals[0].norm) >= 0 && bytes.Compare(s, c.vals[1].norm) <= 0
	case opContains:
		return bytes.Contains(s, c.vals[0].norm)
	case opStartsWith:
		return bytes.HasPrefix(s, c.vals[0].norm)
	}
	return false
}

func (c *fCond) number(f float64) bool {
	switch c.op {
	case opEq:
		if c.inNum != nil {
			_, ok := c.inNum[f]
			return ok
		}
		for i := range c.vals {
			if c.vals[i].isNum && f == c.vals[i].num {
				return true
			}
		}
		return false
	case opGt:
		return c.vals[0].isNum && f > c.vals[0].num
	case opGe:
		return c.vals[0].isNum && f >= c.vals[0].num
	case opLt:
		return c.vals[0].isNum && f < c.vals[0].num
	case opLe:
		return c.vals[0].isNum && f <= c.vals[0].num
	case opTo:
		return c.vals[0].isNum && c.vals[1].isNum && f >= c.vals[0].num && f <= c.vals[1].num
	}
	return false
}

// facetNumber returns a document number as milli's f64 facet.
func facetNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint:
		return float64(x), true
	}
	return 0, false
}

// fGeoRadius is _geoRadius(lat, lng, radius_in_meters).
type fGeoRadius struct {
	args [3]fspan
	vals [3]float64
}

func (g *fGeoRadius) matches(doc map[string]any) bool {
	lat, lng, ok := docGeoPoint(doc)
	return ok && haversineMeters(g.vals[0], g.vals[1], lat, lng) <= g.vals[2]+epsilonF64
}

// fGeoBox is _geoBoundingBox([top, right], [bottom, left]).
type fGeoBox struct {
	args [4]fspan // top-right lat, lng, bottom-left lat, lng
	vals [4]float64
}

func (g *fGeoBox) matches(doc map[string]any) bool {
	lat, lng, ok := docGeoPoint(doc)
	if !ok || lat < g.vals[2] || lat > g.vals[0] {
		return false
	}
	right, left := g.vals[1], g.vals[3]
	if right < left { // wraps around the antimeridian
		return lng >= left || lng <= right
	}
	return lng >= left && lng <= right
}

const epsilonF64 = 2.220446049250313e-16 // f64::EPSILON

// docGeoPoint reads a document's _geo {lat, lng} (numbers or numeric strings).
func docGeoPoint(doc map[string]any) (lat, lng float64, ok bool) {
	g, _ := doc["_geo"].(map[string]any)
	if g == nil {
		return 0, 0, false
	}
	lat, ok1 := filterGeoCoord(g["lat"])
	lng, ok2 := filterGeoCoord(g["lng"])
	return lat, lng, ok1 && ok2
}

func filterGeoCoord(v any) (float64, bool) {
	if s, ok := v.(string); ok {
		f, ok := parseRustFloat(s)
		return f, ok && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	return facetNumber(v)
}

// haversineMeters is geoutils' haversine distance (Earth radius 6371 km),
// rounded to the millimetre as milli's distance_between_two_points is.
func haversineMeters(lat1, lng1, lat2, lng2 float64) float64 {
	const rad = math.Pi / 180
	hav := func(t float64) float64 { return (1 - math.Cos(t)) / 2 }
	p1, p2 := lat1*rad, lat2*rad
	total := hav(p2-p1) + math.Cos(p1)*math.Cos(p2)*hav(lng2*rad-lng1*rad)
	return math.Round(2*6371e3*math.Asin(math.Sqrt(total))*1000) / 1000
}

// walkFilterConds calls f on every condition in depth-first order until f
// returns false.
func walkFilterConds(e filterExpr, f func(*fCond) bool) bool {
	switch x := e.(type) {
	case *fCond:
		return f(x)
	case fNot:
		return walkFilterConds(x.e, f)
	case fAnd:
		for _, c := range x {
			if !walkFilterConds(c, f) {
				return false
			}
		}
	case fOr:
		for _, c := range x {
			if !walkFilterConds(c, f) {
				return false
			}
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Debug rendering, in filter-parser's Display format (used by tests).

func (a fAnd) String() string { return "AND[" + joinExprs(a) + "]" }
func (o fOr) String() string  { return "OR[" + joinExprs(o) + "]" }
func (n fNot) String() string { return "NOT (" + exprString(n.e) + ")" }

func joinExprs(es []filterExpr) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(exprString(e))
		b.WriteString(", ")
	}
	return b.String()
}

func exprString(e filterExpr) string {
	if s, ok := e.(interface{ String() string }); ok {
		return s.String()
	}
	return "?"
}

func (c *fCond) String() string {
	fid := "{" + c.field + "}"
	switch c.op {
	case opEq:
		if c.in {
			var b strings.Builder
			b.WriteString(fid + " IN[")
			for _, v := range c.vals {
				b.WriteString("{" + v.raw + "}, ")
			}
			return b.String() + "]"
		}
		return fid + " " + c.operator() + " {" + c.vals[0].raw + "}"
	case opTo:
		return fid + " {" + c.vals[0].raw + "} TO {" + c.vals[1].raw + "}"
	case opExists, opNull, opEmpty:
		return fid + " " + c.operator()
	}
	return fid + " " + c.operator() + " {" + c.vals[0].raw + "}"
}

func (g *fGeoRadius) String() string {
	return "_geoRadius({" + g.args[0].text() + "}, {" + g.args[1].text() + "}, {" + g.args[2].text() + "})"
}

func (g *fGeoBox) String() string {
	return "_geoBoundingBox([{" + g.args[0].text() + "}, {" + g.args[1].text() + "}], [{" +
		g.args[2].text() + "}, {" + g.args[3].text() + "}])"
}

func (sp fspan) text() string { return sp.src[sp.start:sp.end] }

// ---------------------------------------------------------------------------
// Parser

type fperrKind uint8

const (
	peExpectedValue fperrKind = iota
	peExpectedValueKeyword
	peMalformedValue
	peMissingDelimiter
	peInvalidPrimary
	peInvalidEscapedNumber
	peExpectedEOF
	peGeoRadius
	peGeoBoundingBox
	peReservedGeo
	peMisusedGeoRadius
	peMisusedGeoBoundingBox
	peInOpeningBracket
	peInClosingBracket
	peInExpectedValue
	peDepthLimit
	peIncompleteEscape
)

// fperr is a parse error. fatal is nom's Failure (no backtracking); a
// non-fatal error lets an alternative be tried.
type fperr struct {
	fatal      bool
	kind       fperrKind
	start, end int
	arg        string
}

type fparser struct{ s string }

func (p *fparser) errRest(fatal bool, kind fperrKind, start int, arg string) *fperr {
	return &fperr{fatal: fatal, kind: kind, start: start, end: len(p.s), arg: arg}
}

func (p *fparser) span(start, end int) fspan { return fspan{src: p.s, start: start, end: end} }

// skipMS skips nom's multispace: ' ', '\t', '\r', '\n'.
func (p *fparser) skipMS(i int) int {
	for i < len(p.s) {
		switch p.s[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// skipWS skips Unicode whitespace.
func (p *fparser) skipWS(i int) int {
	for i < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}

func isValueComponent(r rune) bool {
	return r == '_' || r == '-' || r == '.' || unicode.IsLetter(r) || unicode.IsNumber(r) ||
		unicode.Is(unicode.Other_Alphabetic, r)
}

// wordEnd returns the end of the run of value characters starting at i.
func (p *fparser) wordEnd(i int) int {
	for i < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[i:])
		if !isValueComponent(r) {
			break
		}
		i += n
	}
	return i
}

// word returns the value-character word at i and its end.
func (p *fparser) word(i int) (string, int) {
	e := p.wordEnd(i)
	return p.s[i:e], e
}

// errorWord returns the end of the run of non-syntax characters at i: what
// Meilisearch quotes when it cannot read a value.
func (p *fparser) errorWord(i int) int {
	for i < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[i:])
		if unicode.IsSpace(r) || strings.ContainsRune("()=<>!", r) {
			break
		}
		i += n
	}
	return i
}

func isFilterKeyword(w string) bool {
	switch w {
	case "AND", "OR", "IN", "NOT", "TO", "EXISTS", "IS", "NULL", "EMPTY", "CONTAINS", "STARTS", "WITH",
		"_geoRadius", "_geoBoundingBox":
		return true
	}
	return false
}

func (p *fparser) or(i, depth int) (filterExpr, int, *fperr) {
	if depth > maxFilterParseDepth {
		return nil, 0, p.errRest(false, peDepthLimit, i, "")
	}
	first, k, err := p.and(i, depth+1)
	if err != nil {
		return nil, 0, err
	}
	var ors fOr
	for {
		m := p.skipMS(k)
		w, we := p.word(m)
		if w != "OR" {
			break
		}
		e, k2, err := p.and(p.skipMS(we), depth+1)
		if err != nil {
			err.fatal = true
			return nil, 0, err
		}
		if ors == nil {
			ors = fOr{first}
		}
		ors = append(ors, e)
		k = k2
	}
	if ors != nil {
		return ors, k, nil
	}
	return first, k, nil
}

func (p *fparser) and(i, depth int) (filterExpr, int, *fperr) {
	if depth > maxFilterParseDepth {
		return nil, 0, p.errRest(false, peDepthLimit, i, "")
	}
	first, k, err := p.not(i, depth+1)
	if err != nil {
		return nil, 0, err
	}
	var ands fAnd
	for {
		m := p.skipMS(k)
		w, we := p.word(m)
		if w != "AND" {
			break
		}
		e, k2, err := p.not(p.skipMS(we), depth+1)
		if err != nil {
			err.fatal = true
			return nil, 0, err
		}
		if ands == nil {
			ands = fAnd{first}
		}
		ands = append(ands, e)
		k = k2
	}
	if ands != nil {
		return ands, k, nil
	}
	return first, k, nil
}

func (p *fparser) not(i, depth int) (filterExpr, int, *fperr) {
	if depth > maxFilterParseDepth {
		return nil, 0, p.errRest(false, peDepthLimit, i, "")
	}
	m := p.skipMS(i)
	if w, we := p.word(m); w == "NOT" {
		e, k, err := p.not(p.skipMS(we), depth+1)
		if err != nil {
			err.fatal = true
			return nil, 0, err
		}
		if n, ok := e.(fNot); ok {
			return n.e, k, nil
		}
		return fNot{e}, k, nil
	}
	return p.primary(i, depth+1)
}

func (p *fparser) primary(i, depth int) (filterExpr, int, *fperr) {
	if depth > maxFilterParseDepth {
		return nil, 0, p.errRest(false, peDepthLimit, i, "")
	}
	s := p.s
	m := p.skipMS(i)

	// "(" expression ")"
	if m < len(s) && s[m] == '(' {
		e, k, err := p.or(p.skipMS(m+1), depth+1)
		if err != nil {
			err.fatal = true
			return nil, 0, err
		}
		k = p.skipMS(k)
		if k >= len(s) || s[k] != ')' {
			return nil, 0, p.errRest(true, peMissingDelimiter, i, ")")
		}
		return e, p.skipMS(k + 1), nil
	}

	// Geo filters.
	switch w, we := p.word(m); w {
	case "_geoRadius":
		groups, k, ok := p.floatList(we, false)
		if !ok {
			return nil, 0, p.errRest(true, peGeoRadius, i, "")
		}
		if len(groups) != 3 {
			return nil, 0, p.errRest(true, peGeoRadius, k, "")
		}
		g := &fGeoRadius{}
		for j := range g.args {
			g.args[j] = groups[j][0]
			g.vals[j], _ = parseRustFloat(g.args[j].text())
		}
		return g, k, nil
	case "_geoBoundingBox":
		groups, k, ok := p.floatList(we, true)
		if !ok {
			return nil, 0, p.errRest(true, peGeoBoundingBox, i, "")
		}
		if len(groups) != 2 || len(groups[0]) != 2 || len(groups[1]) != 2 {
			return nil, 0, p.errRest(true, peGeoBoundingBox, k, "")
		}
		g := &fGeoBox{}
		for j := range g.args {
			g.args[j] = groups[j/2][j%2]
			g.vals[j], _ = parseRustFloat(g.args[j].text())
		}
		return g, k, nil
	}

	fid, j, err := p.value(i)
	if err != nil {
		if err.fatal {
			return nil, 0, err
		}
		// filter-parser's last alternative turns a reserved keyword in
		// attribute position into a hard error.
		if err.kind == peExpectedValueKeyword {
			err.fatal = true
			return nil, 0, err
		}
		return nil, 0, p.errRest(false, peInvalidPrimary, i, "")
	}
	cond := func(op fop, vals ...fvalue) *fCond {
		return &fCond{fid: fid.sp, field: fid.raw, op: op, vals: vals}
	}

	// in / not_in
	k := p.skipMS(j)
	if w, we := p.word(k); w == "IN" {
		vals, next, err := p.inBody(p.skipMS(we))
		if err != nil {
			return nil, 0, err
		}
		c := cond(opEq, vals...)
		c.in = true
		return c.prepare(), next, nil
	}
	if w, we := p.word(j); w == "NOT" {
		k := p.skipMS(we)
		if w2, we2 := p.word(k); w2 == "IN" {
			vals, next, err := p.inBody(p.skipMS(we2))
			if err != nil {
				return nil, 0, err
			}
			c := cond(opEq, vals...)
			c.in = true
			return fNot{c.prepare()}, next, nil
		}
	}

	// condition
	rest := s[j:]
	for _, op := range [...]struct {
		tok string
		op  fop
		ne  bool
	}{{"<=", opLe, false}, {">=", opGe, false}, {"!=", opEq, true}, {"<", opLt, false}, {">", opGt, false}, {"=", opEq, false}} {
		if strings.HasPrefix(rest, op.tok) {
			v, next, err := p.value(j + len(op.tok))
			if err != nil {
				err.fatal = true
				return nil, 0, err
			}
			c := cond(op.op, v)
			c.ne = op.ne
			return c, next, nil
		}
	}

	// IS [NOT] NULL / EMPTY
	if strings.HasPrefix(rest, "IS") {
		if k := p.skipMS(j + 2); k > j+2 {
			neg := false
			if strings.HasPrefix(s[k:], "NOT") {
				if k2 := p.skipMS(k + 3); k2 > k+3 {
					neg, k = true, k2
				}
			}
			var c *fCond
			switch {
			case strings.HasPrefix(s[k:], "NULL"):
				c, k = cond(opNull), k+4
			case strings.HasPrefix(s[k:], "EMPTY"):
				c, k = cond(opEmpty), k+5
			}
			if c != nil {
				if neg {
					return fNot{c}, k, nil
				}
				return c, k, nil
			}
		}
	}

	// EXISTS
	if strings.HasPrefix(rest, "EXISTS") {
		return cond(opExists), j + 6, nil
	}
	// NOT EXISTS
	if strings.HasPrefix(rest, "NOT") {
		if k := p.skipMS(j + 3); k > j+3 && strings.HasPrefix(s[k:], "EXISTS") {
			return fNot{cond(opExists)}, k + 6, nil
		}
	}

	// value value TO value
	if from, k, err := p.value(j); err != nil {
		if err.fatal {
			return nil, 0, err
		}
	} else if strings.HasPrefix(s[k:], "TO") {
		if k2 := p.skipMS(k + 2); k2 > k+2 {
			to, next, err := p.value(k2)
			if err != nil {
				err.fatal = true
				return nil, 0, err
			}
			return cond(opTo, from, to), next, nil
		}
	}

	// [NOT] CONTAINS / STARTS WITH
	neg, k := false, j
	if strings.HasPrefix(rest, "NOT") {
		if k2 := p.skipMS(j + 3); k2 > j+3 {
			neg, k = true, k2
		}
	}
	for _, kw := range [...]struct {
		tok string
		op  fop
	}{{"CONTAINS", opContains}, {"STARTS WITH", opStartsWith}} {
		if !strings.HasPrefix(s[k:], kw.tok) {
			continue
		}
		v, next, err := p.value(k + len(kw.tok))
		if err != nil {
			err.fatal = true
			return nil, 0, err
		}
		c := cond(kw.op, v)
		c.kw = p.span(k, k+len(kw.tok))
		if neg {
			return fNot{c}, next, nil
		}
		return c, next, nil
	}
	return nil, 0, p.errRest(false, peInvalidPrimary, i, "")
}

// inBody parses `[ value, ... ]` after the IN keyword.
func (p *fparser) inBody(i int) ([]fvalue, int, *fperr) {
	s := p.s
	if i >= len(s) || s[i] != '[' {
		return nil, 0, p.errRest(true, peInOpeningBracket, i, "")
	}
	k := i + 1
	var vals []fvalue
	v, next, err := p.value(k)
	if err != nil && err.fatal {
		return nil, 0, err
	}
	if err == nil {
		vals = append(vals, v)
		k = next
		for {
			m := p.skipMS(k)
			if m >= len(s) || s[m] != ',' {
				break
			}
			v, next, err := p.value(p.skipMS(m + 1))
			if err != nil {
				if err.fatal {
					return nil, 0, err
				}
				break
			}
			vals = append(vals, v)
			k = next
		}
		if m := p.skipMS(k); m < len(s) && s[m] == ',' {
			k = p.skipMS(m + 1)
		}
	}
	m := p.skipMS(k)
	if m < len(s) && s[m] == ']' {
		return vals, p.skipMS(m + 1), nil
	}
	if k >= len(s) {
		return nil, 0, p.errRest(true, peInClosingBracket, k, "")
	}
	return nil, 0, p.errRest(true, peInExpectedValue, k, "")
}

// floatList parses the arguments of _geoRadius `(f, f, ...)` or, with
// pairs, of _geoBoundingBox `([f, f], [f, f], ...)` starting at the `(` at i.
// ok is false on a syntax error; otherwise groups holds the float tokens
// (one per group without pairs) and next is just after `)`.
func (p *fparser) floatList(i int, pairs bool) (groups [][]fspan, next int, ok bool) {
	s := p.s
	if i >= len(s) || s[i] != '(' {
		return nil, 0, false
	}
	item := func(k int) ([]fspan, int, bool) {
		if !pairs {
			a := p.skipMS(k)
			e, ok := p.recognizeFloat(a)
			if !ok {
				return nil, 0, false
			}
			return []fspan{p.span(a, e)}, p.skipMS(e), true
		}
		k = p.skipMS(k)
		if k >= len(s) || s[k] != '[' {
			return nil, 0, false
		}
		inner, e, ok := p.floatSeq(k + 1)
		if !ok || e >= len(s) || s[e] != ']' {
			return nil, 0, false
		}
		return inner, p.skipMS(e + 1), true
	}
	// nom's separated_list1: a separator not followed by an item is left
	// unconsumed.
	g, k, ok := item(i + 1)
	if !ok {
		return nil, 0, false
	}
	groups = append(groups, g)
	for k < len(s) && s[k] == ',' {
		g, e, ok := item(k + 1)
		if !ok {
			break
		}
		groups = append(groups, g)
		k = e
	}
	if k >= len(s) || s[k] != ')' {
		return nil, 0, false
	}
	return groups, k + 1, true
}

// floatSeq parses `f, f, ...` (at least one float, each surrounded by
// optional whitespace) at k and returns the floats and where they end.
func (p *fparser) floatSeq(k int) ([]fspan, int, bool) {
	var out []fspan
	a := p.skipMS(k)
	e, ok := p.recognizeFloat(a)
	if !ok {
		return nil, 0, false
	}
	out = append(out, p.span(a, e))
	k = p.skipMS(e)
	for k < len(p.s) && p.s[k] == ',' {
		a := p.skipMS(k + 1)
		e, ok := p.recognizeFloat(a)
		if !ok {
			break
		}
		out = append(out, p.span(a, e))
		k = p.skipMS(e)
	}
	return out, k, true
}

// recognizeFloat is nom's recognize_float:
// [+-]? (digits ("." digits?)? | "." digits) ([eE] [+-]? digits)?
func (p *fparser) recognizeFloat(i int) (int, bool) {
	s := p.s
	isDigit := func(k int) bool { return k < len(s) && s[k] >= '0' && s[k] <= '9' }
	k := i
	if k < len(s) && (s[k] == '+' || s[k] == '-') {
		k++
	}
	d := k
	for isDigit(k) {
		k++
	}
	if k > d {
		if k < len(s) && s[k] == '.' {
			k++
			for isDigit(k) {
				k++
			}
		}
	} else if k < len(s) && s[k] == '.' && isDigit(k+1) {
		k++
		for isDigit(k) {
			k++
		}
	} else {
		return 0, false
	}
	if k < len(s) && (s[k] == 'e' || s[k] == 'E') {
		e := k + 1
		if e < len(s) && (s[e] == '+' || s[e] == '-') {
			e++
		}
		if !isDigit(e) {
			return 0, false
		}
		for isDigit(e) {
			e++
		}
		k = e
	}
	return k, true
}

// value parses a word or quoted string at i (after whitespace) and the
// whitespace after it.
func (p *fparser) value(i int) (fvalue, int, *fperr) {
	s := p.s
	i = p.skipWS(i)
	rest := s[i:]
	// Geo functions are not values.
	if strings.HasPrefix(rest, "_geoPoint") {
		return fvalue{}, 0, p.errRest(true, peReservedGeo, i, "_geoPoint")
	}
	if strings.HasPrefix(rest, "_geoDistance") {
		return fvalue{}, 0, p.errRest(true, peReservedGeo, i, "_geoDistance")
	}
	w, we := p.word(i)
	switch w {
	case "_geo":
		return fvalue{}, 0, p.errRest(true, peReservedGeo, i, "_geo")
	case "_geoRadius":
		return fvalue{}, 0, p.errRest(true, peMisusedGeoRadius, i, "")
	case "_geoBoundingBox":
		return fvalue{}, 0, p.errRest(true, peMisusedGeoBoundingBox, i, "")
	}
	var rawStart, rawEnd, next int
	if i < len(s) && (s[i] == '\'' || s[i] == '"') {
		q := s[i]
		k := i + 1
		for k < len(s) && s[k] != q {
			if s[k] == '\\' {
				if k+1 >= len(s) {
					return fvalue{}, 0, p.errRest(true, peMalformedValue, i+1, "")
				}
				_, n := utf8.DecodeRuneInString(s[k+1:])
				k += 1 + n
				continue
			}
			k++
		}
		if k >= len(s) {
			return fvalue{}, 0, p.errRest(true, peMissingDelimiter, i, string(q))
		}
		rawStart, rawEnd, next = i+1, k, k+1
	} else {
		if we == i {
			return fvalue{}, 0, &fperr{kind: peExpectedValue, start: i, end: p.errorWord(i)}
		}
		if isFilterKeyword(w) {
			return fvalue{}, 0, &fperr{kind: peExpectedValueKeyword, start: i, end: p.errorWord(i)}
		}
		rawStart, rawEnd, next = i, we, we
	}
	raw, kind, ok := unescapeFilterValue(s[rawStart:rawEnd])
	if !ok {
		// An incomplete escape (`\u12`) makes nom return Incomplete, which
		// Meilisearch does not handle; report it as a hard malformed value.
		if kind == peIncompleteEscape {
			return fvalue{}, 0, &fperr{fatal: true, kind: peMalformedValue, start: rawStart, end: rawEnd}
		}
		return fvalue{}, 0, &fperr{kind: kind, start: rawStart, end: rawEnd}
	}
	return newFValue(p.span(rawStart, rawEnd), raw), p.skipMS(next), nil
}

// unescapeFilterValue applies the escapes of the unescaper crate, which
// filter-parser runs on every value: \b \f \n \r \t \v \' \" \\ \/,
// \uXXXX, \u{X..}, \xHH and octal \ooo. Anything else is malformed.
func unescapeFilterValue(raw string) (string, fperrKind, bool) {
	if strings.IndexByte(raw, '\\') < 0 {
		return raw, 0, true
	}
	rs := []rune(raw)
	var b strings.Builder
	for k := 0; k < len(rs); k++ {
		c := rs[k]
		if c != '\\' {
			b.WriteRune(c)
			continue
		}
		k++
		if k >= len(rs) {
			return "", peIncompleteEscape, false
		}
		switch c = rs[k]; c {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\'', '"', '\\', '/':
			b.WriteRune(c)
		case 'u':
			k++
			if k >= len(rs) {
				return "", peIncompleteEscape, false
			}
			var hex string
			if rs[k] == '{' {
				e := k + 1
				for e < len(rs) && rs[e] != '}' {
					e++
				}
				hex = string(rs[k+1 : e])
				k = e
			} else {
				if k+4 > len(rs) {
					return "", peIncompleteEscape, false
				}
				hex = string(rs[k : k+4])
				k += 3
			}
			n, err := strconv.ParseUint(hex, 16, 32)
			if err != nil {
				return "", peInvalidEscapedNumber, false
			}
			if !utf8.ValidRune(rune(n)) {
				return "", peMalformedValue, false
			}
			b.WriteRune(rune(n))
		case 'x':
			if k+2 >= len(rs) {
				return "", peIncompleteEscape, false
			}
			n, err := strconv.ParseUint(string(rs[k+1:k+3]), 16, 8)
			if err != nil {
				return "", peInvalidEscapedNumber, false
			}
			b.WriteRune(rune(n))
			k += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			maxExtra := 1
			if c <= '3' {
				maxExtra = 2
			}
			n := int(c - '0')
			for x := 0; x < maxExtra && k+1 < len(rs) && rs[k+1] >= '0' && rs[k+1] <= '7'; x++ {
				k++
				n = n*8 + int(rs[k]-'0')
			}
			b.WriteRune(rune(n))
		default:
			return "", peMalformedValue, false
		}
	}
	return b.String(), 0, true
}

// format renders a parse error as Meilisearch does.
func (p *fparser) format(e *fperr) error {
	sp := p.span(e.start, e.end)
	frag := sp.text()
	esc := rustEscapeDebug(frag)
	var msg string
	switch e.kind {
	case peExpectedValue, peExpectedValueKeyword:
		switch {
		case strings.TrimSpace(frag) == "":
			msg = "Was expecting a value but instead got nothing."
		case e.kind == peExpectedValueKeyword:
			msg = "Was expecting a value but instead got `" + esc + "`, which is a reserved keyword. To use `" + esc + "` as a field name or a value, surround it by quotes."
		default:
			msg = "Was expecting a value but instead got `" + esc + "`."
		}
	case peMalformedValue:
		msg = "Malformed value: `" + esc + "`."
	case peMissingDelimiter:
		msg = "Expression `" + esc + "` is missing the following closing delimiter: `" + e.arg + "`."
	case peInvalidPrimary:
		msg = "Was expecting an operation `=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, `NOT IN`, `TO`, `EXISTS`, `NOT EXISTS`, `IS NULL`, `IS NOT NULL`, `IS EMPTY`, `IS NOT EMPTY`, `CONTAINS`, `NOT CONTAINS`, `STARTS WITH`, `NOT STARTS WITH`, `_geoRadius`, or `_geoBoundingBox` "
		if strings.TrimSpace(frag) == "" {
			msg += "but instead got nothing."
		} else {
			msg += "at `" + esc + "`."
		}
	case peInvalidEscapedNumber:
		msg = "Found an invalid escaped sequence number: `" + esc + "`."
	case peExpectedEOF:
		msg = "Found unexpected characters at the end of the filter: `" + esc + "`. You probably forgot an `OR` or an `AND` rule."
	case peGeoRadius:
		msg = "The `_geoRadius` filter expects three arguments: `_geoRadius(latitude, longitude, radius)`."
	case peGeoBoundingBox:
		msg = "The `_geoBoundingBox` filter expects two pairs of arguments: `_geoBoundingBox([latitude, longitude], [latitude, longitude])`."
	case peReservedGeo:
		msg = "`" + e.arg + "` is a reserved keyword and thus can't be used as a filter expression. Use the `_geoRadius(latitude, longitude, distance)` or `_geoBoundingBox([latitude, longitude], [latitude, longitude])` built-in rules to filter on `_geo` coordinates."
	case peMisusedGeoRadius:
		msg = "The `_geoRadius` filter is an operation and can't be used as a value."
	case peMisusedGeoBoundingBox:
		msg = "The `_geoBoundingBox` filter is an operation and can't be used as a value."
	case peInOpeningBracket:
		msg = "Expected `[` after `IN` keyword."
	case peInClosingBracket:
		msg = "Expected matching `]` after the list of field names given to `IN[`"
	case peInExpectedValue:
		msg = "Expected only comma-separated field names inside `IN[..]` but instead found `" + esc + "`."
	case peDepthLimit:
		msg = "The filter exceeded the maximum depth limit. Try rewriting the filter so that it contains fewer nested conditions."
	}
	return sp.located(msg)
}

// rustEscapeDebug is Rust's str::escape_debug, used in filter error messages.
func rustEscapeDebug(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch r {
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\n':
			b.WriteString(`\n`)
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case 0:
			b.WriteString(`\0`)
		default:
			printable := r != utf8.RuneError && !unicode.IsControl(r) && !unicode.Is(unicode.Cf, r) &&
				unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs)
			if !printable || (i == 0 && unicode.In(r, unicode.Mn, unicode.Me)) {
				b.WriteString(`\u{` + strconv.FormatInt(int64(r), 16) + `}`)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// parseRustFloat parses s as Rust's f64::from_str does (no hex, no
// underscores, a single optional sign; inf and NaN allowed). The result may
// be infinite.
func parseRustFloat(s string) (float64, bool) {
	t := s
	if t != "" && (t[0] == '+' || t[0] == '-') {
		t = t[1:]
	}
	if t == "" || t[0] == '+' || t[0] == '-' || strings.ContainsAny(t, "_xXpP") && !isInfOrNaN(t) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

func isInfOrNaN(t string) bool {
	switch strings.ToLower(t) {
	case "inf", "infinity", "nan":
		return true
	}
	return false
}

// ---------------------------------------------------------------------------
// Filterable attributes

// filterRule is one entry of filterableAttributes.
type filterRule struct {
	legacy     bool     // a plain string entry
	pattern    string   // the string entry
	patterns   []string // attributePatterns of an object entry
	equality   bool
	comparison bool
}

func (r *filterRule) filterable() bool { return r.equality || r.comparison }

func (r *filterRule) match(field string) bool {
	if r.legacy {
		return field == r.pattern ||
			len(field) > len(r.pattern) && strings.HasPrefix(field, r.pattern) && field[len(r.pattern)] == '.'
	}
	for _, p := range r.patterns {
		if matchAttributePattern(p, field) {
			return true
		}
	}
	return false
}

// matchAttributePattern is milli's attribute pattern match: `*`, `*x*`,
// `*x`, `x*` or an exact name.
func matchAttributePattern(p, s string) bool {
	switch {
	case p == "*":
		return true
	case len(p) >= 2 && p[0] == '*' && p[len(p)-1] == '*':
		return strings.Contains(s, p[1:len(p)-1])
	case strings.HasPrefix(p, "*"):
		return strings.HasSuffix(s, p[1:])
	case strings.HasSuffix(p, "*"):
		return strings.HasPrefix(s, p[:len(p)-1])
	}
	return p == s
}

func compileFilterRules(st *settings) []filterRule {
	if st == nil {
		return nil
	}
	rules := make([]filterRule, 0, len(st.FilterableAttributes))
	for _, a := range st.FilterableAttributes {
		switch x := a.(type) {
		case string:
			rules = append(rules, filterRule{legacy: true, pattern: x, equality: true, comparison: true})
		case map[string]any:
			r := filterRule{equality: true}
			switch ps := x["attributePatterns"].(type) {
			case []any:
				for _, p := range ps {
					if s, ok := p.(string); ok {
						r.patterns = append(r.patterns, s)
					}
				}
			case []string:
				r.patterns = append(r.patterns, ps...)
			}
			if feat, ok := x["features"].(map[string]any); ok {
				if f, ok := feat["filter"].(map[string]any); ok {
					if v, ok := f["equality"].(bool); ok {
						r.equality = v
					}
					if v, ok := f["comparison"].(bool); ok {
						r.comparison = v
					}
				}
			}
			rules = append(rules, r)
		default:
			rules = append(rules, filterRule{})
		}
	}
	return rules
}

// matchFilterRule returns the first rule matching field, and its index.
func matchFilterRule(rules []filterRule, field string) (int, *filterRule) {
	for i := range rules {
		if rules[i].match(field) {
			return i, &rules[i]
		}
	}
	return -1, nil
}

// filterablePatterns lists, sorted and deduplicated, the patterns of the
// rules that enable filtering.
func filterablePatterns(rules []filterRule) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for i := range rules {
		r := &rules[i]
		if !r.filterable() {
			continue
		}
		if r.legacy {
			add(r.pattern)
		}
		for _, p := range r.patterns {
			add(p)
		}
	}
	sort.Strings(out)
	return out
}

func notFilterableMessage(attr string, rules []filterRule) string {
	msg := "Attribute `" + attr + "` is not filterable."
	ps := filterablePatterns(rules)
	if len(ps) == 0 {
		return msg + " This index does not have configured filterable attributes."
	}
	return msg + " Available filterable attribute patterns are: `" + strings.Join(ps, "`, `") + "`."
}

func geoFilteringEnabled(rules []filterRule) bool {
	for i := range rules {
		if rules[i].legacy && rules[i].pattern == "_geo" {
			return true
		}
	}
	return false
}

func checkFilterOps(e filterExpr, rules []filterRule) error {
	switch x := e.(type) {
	case fNot:
		return checkFilterOps(x.e, rules)
	case fAnd:
		for _, c := range x {
			if err := checkFilterOps(c, rules); err != nil {
				return err
			}
		}
	case fOr:
		for _, c := range x {
			if err := checkFilterOps(c, rules); err != nil {
				return err
			}
		}
	case *fCond:
		idx, r := matchFilterRule(rules, x.field)
		if r == nil {
			return nil
		}
		allowed := true
		switch x.op {
		case opEq:
			allowed = r.equality
		case opGt, opGe, opLt, opLe, opTo:
			allowed = r.comparison
		case opExists, opNull, opEmpty:
			allowed = r.filterable()
		}
		if !allowed {
			return &filterError{msg: operatorNotAllowedMessage(x.field, x.operator(), idx, r)}
		}
	case *fGeoRadius:
		if !geoFilteringEnabled(rules) {
			return x.args[0].located(notFilterableMessage("_geo", rules))
		}
		for j := range x.args {
			if math.IsInf(x.vals[j], 0) || math.IsNaN(x.vals[j]) {
				return x.args[j].located("Non finite floats are not supported")
			}
			if j == 1 { // Meilisearch validates the point before parsing the radius.
				if err := checkGeoPoint(x.args[0], x.vals[0], x.args[1], x.vals[1]); err != nil {
					return err
				}
			}
		}
	case *fGeoBox:
		if !geoFilteringEnabled(rules) {
			return x.args[0].located(notFilterableMessage("_geo", rules))
		}
		for j := range x.args {
			if math.IsInf(x.vals[j], 0) || math.IsNaN(x.vals[j]) {
				return x.args[j].located("Non finite floats are not supported")
			}
		}
		if err := checkGeoPoint(x.args[0], x.vals[0], x.args[1], x.vals[1]); err != nil {
			return err
		}
		if err := checkGeoPoint(x.args[2], x.vals[2], x.args[3], x.vals[3]); err != nil {
			return err
		}
		if x.vals[0] < x.vals[2] {
			return x.args[3].located("The top latitude `" + rustFloat(x.vals[0]) +
				"` is below the bottom latitude `" + rustFloat(x.vals[2]) + "`.")
		}
	}
	return nil
}

func checkGeoPoint(latSp fspan, lat float64, lngSp fspan, lng float64) error {
	if lat < -90 || lat > 90 {
		return latSp.located("Bad latitude `" + rustFloat(lat) + "`. Latitude must be contained between -90 and 90 degrees. ")
	}
	if lng < -180 || lng > 180 {
		return lngSp.located("Bad longitude `" + rustFloat(lng) + "`. Longitude must be contained between -180 and 180 degrees. ")
	}
	return nil
}

// rustFloat formats f as Rust's Display for f64 does.
func rustFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func operatorNotAllowedMessage(field, op string, idx int, r *filterRule) string {
	var ops []string
	if r.filterable() {
		ops = append(ops, "OR", "AND", "NOT")
		if r.equality {
			ops = append(ops, "=", "!=", "IN")
		}
		if r.comparison {
			ops = append(ops, "<", ">", "<=", ">=", "TO")
		}
		ops = append(ops, "IS EMPTY", "IS NULL", "EXISTS")
	}
	feature := "the appropriate filter operators"
	switch op {
	case "=", "!=", "IN":
		feature = "equality"
	case "<", ">", "<=", ">=", "TO":
		feature = "comparison"
	}
	n := strconv.Itoa(idx)
	return "Filter operator `" + op + "` is not allowed for the attribute `" + field + "`.\n" +
		"  - Note: allowed operators: " + strings.Join(ops, ", ") + ".\n" +
		"  - Note: field `" + field + "` matched rule #" + n + " in `filterableAttributes`\n" +
		"  - Hint: enable " + feature + " in rule #" + n + " by modifying the features.filter object\n" +
		"  - Hint: prepend another rule matching `" + field + "` with appropriate filter features before rule #" + n
}

// ---------------------------------------------------------------------------
// Facet normalisation

// normalizeFacetValue is milli's normalize_facet: trim, Unicode
// compatibility decomposition (NFKD; covered for Latin, Greek, Cyrillic,
// general punctuation, ligatures and full-width ASCII), lowercase. Accents
// are decomposed, not removed: "Café" and "cafe" differ, but "CAFÉ" and
// "café" are equal and "café" contains "cafe".
func normalizeFacetValue(s string) string { return string(appendFacetNormalized(nil, s)) }

// appendFacetNormalized appends normalizeFacetValue(s) to dst.
func appendFacetNormalized(dst []byte, s string) []byte {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if d, ok := nfkdTable[r]; ok {
			for _, dr := range d {
				dst = utf8.AppendRune(dst, unicode.ToLower(dr))
			}
			continue
		}
		if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII
			dst = utf8.AppendRune(dst, unicode.ToLower(r-0xFEE0))
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}

// truncateFacet cuts a normalised facet value to maxFacetValueLength bytes
// at a character boundary, as milli stores it.
func truncateFacet(b []byte) []byte {
	if len(b) <= maxFacetValueLength {
		return b
	}
	n := maxFacetValueLength
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n]
}

// nfkdTable maps code points to their NFKD decomposition (generated from
// Unicode data for U+00A0-024F, U+0370-04FF, U+1E00-1EFF, U+2000-209F and
// U+FB00-FB06).
var nfkdTable = map[rune]string{
	0x00a0: " ", 0x00a8: " \u0308", 0x00aa: "a", 0x00af: " \u0304", 0x00b2: "2", 0x00b3: "3",
	0x00b4: " \u0301", 0x00b5: "\u03bc", 0x00b8: " \u0327", 0x00b9: "1", 0x00ba: "o", 0x00bc: "1\u20444",
	0x00bd: "1\u20442", 0x00be: "3\u20444", 0x00c0: "A\u0300", 0x00c1: "A\u0301", 0x00c2: "A\u0302", 0x00c3: "A\u0303",
	0x00c4: "A\u0308", 0x00c5: "A\u030a", 0x00c7: "C\u0327", 0x00c8: "E\u0300", 0x00c9: "E\u0301", 0x00ca: "E\u0302",
	0x00cb: "E\u0308", 0x00cc: "I\u0300", 0x00cd: "I\u0301", 0x00ce: "I\u0302", 0x00cf: "I\u0308", 0x00d1: "N\u0303",
	0x00d2: "O\u0300", 0x00d3: "O\u0301", 0x00d4: "O\u0302", 0x00d5: "O\u0303", 0x00d6: "O\u0308", 0x00d9: "U\u0300",
	0x00da: "U\u0301", 0x00db: "U\u0302", 0x00dc: "U\u0308", 0x00dd: "Y\u0301", 0x00e0: "a\u0300", 0x00e1: "a\u0301",
	0x00e2: "a\u0302", 0x00e3: "a\u0303", 0x00e4: "a\u0308", 0x00e5: "a\u030a", 0x00e7: "c\u0327", 0x00e8: "e\u0300",
	0x00e9: "e\u0301", 0x00ea: "e\u0302", 0x00eb: "e\u0308", 0x00ec: "i\u0300", 0x00ed: "i\u0301", 0x00ee: "i\u0302",
	0x00ef: "i\u0308", 0x00f1: "n\u0303", 0x00f2: "o\u0300", 0x00f3: "o\u0301", 0x00f4: "o\u0302", 0x00f5: "o\u0303",
	0x00f6: "o\u0308", 0x00f9: "u\u0300", 0x00fa: "u\u0301", 0x00fb: "u\u0302", 0x00fc: "u\u0308", 0x00fd: "y\u0301",
	0x00ff: "y\u0308", 0x0100: "A\u0304", 0x0101: "a\u0304", 0x0102: "A\u0306", 0x0103: "a\u0306", 0x0104: "A\u0328",
	0x0105: "a\u0328", 0x0106: "C\u0301", 0x0107: "c\u0301", 0x0108: "C\u0302", 0x0109: "c\u0302", 0x010a: "C\u0307",
	0x010b: "c\u0307", 0x010c: "C\u030c", 0x010d: "c\u030c", 0x010e: "D\u030c", 0x010f: "d\u030c", 0x0112: "E\u0304",
	0x0113: "e\u0304", 0x0114: "E\u0306", 0x0115: "e\u0306", 0x0116: "E\u0307", 0x0117: "e\u0307", 0x0118: "E\u0328",
	0x0119: "e\u0328", 0x011a: "E\u030c", 0x011b: "e\u030c", 0x011c: "G\u0302", 0x011d: "g\u0302", 0x011e: "G\u0306",
	0x011f: "g\u0306", 0x0120: "G\u0307", 0x0121: "g\u0307", 0x0122: "G\u0327", 0x0123: "g\u0327", 0x0124: "H\u0302",
	0x0125: "h\u0302", 0x0128: "I\u0303", 0x0129: "i\u0303", 0x012a: "I\u0304", 0x012b: "i\u0304", 0x012c: "I\u0306",
	0x012d: "i\u0306", 0x012e: "I\u0328", 0x012f: "i\u0328", 0x0130: "I\u0307", 0x0132: "IJ", 0x0133: "ij",
	0x0134: "J\u0302", 0x0135: "j\u0302", 0x0136: "K\u0327", 0x0137: "k\u0327", 0x0139: "L\u0301", 0x013a: "l\u0301",
	0x013b: "L\u0327", 0x013c: "l\u0327", 0x013d: "L\u030c", 0x013e: "l\u030c", 0x013f: "L\u00b7", 0x0140: "l\u00b7",
	0x0143: "N\u0301", 0x0144: "n\u0301", 0x0145: "N\u0327", 0x0146: "n\u0327", 0x0147: "N\u030c", 0x0148: "n\u030c",
	0x0149: "\u02bcn", 0x014c: "O\u0304", 0x014d: "o\u0304", 0x014e: "O\u0306", 0x014f: "o\u0306", 0x0150: "O\u030b",
	0x0151: "o\u030b", 0x0154: "R\u0301", 0x0155: "r\u0301", 0x0156: "R\u0327", 0x0157: "r\u0327", 0x0158: "R\u030c",
	0x0159: "r\u030c", 0x015a: "S\u0301", 0x015b: "s\u0301", 0x015c: "S\u0302", 0x015d: "s\u0302", 0x015e: "S\u0327",
	0x015f: "s\u0327", 0x0160: "S\u030c", 0x0161: "s\u030c", 0x0162: "T\u0327", 0x0163: "t\u0327", 0x0164: "T\u030c",
	0x0165: "t\u030c", 0x0168: "U\u0303", 0x0169: "u\u0303", 0x016a: "U\u0304", 0x016b: "u\u0304", 0x016c: "U\u0306",
	0x016d: "u\u0306", 0x016e: "U\u030a", 0x016f: "u\u030a", 0x0170: "U\u030b", 0x0171: "u\u030b", 0x0172: "U\u0328",
	0x0173: "u\u0328", 0x0174: "W\u0302", 0x0175: "w\u0302", 0x0176: "Y\u0302", 0x0177: "y\u0302", 0x0178: "Y\u0308",
	0x0179: "Z\u0301", 0x017a: "z\u0301", 0x017b: "Z\u0307", 0x017c: "z\u0307", 0x017d: "Z\u030c", 0x017e: "z\u030c",
	0x017f: "s", 0x01a0: "O\u031b", 0x01a1: "o\u031b", 0x01af: "U\u031b", 0x01b0: "u\u031b", 0x01c4: "DZ\u030c",
	0x01c5: "Dz\u030c", 0x01c6: "dz\u030c", 0x01c7: "LJ", 0x01c8: "Lj", 0x01c9: "lj", 0x01ca: "NJ",
	0x01cb: "Nj", 0x01cc: "nj", 0x01cd: "A\u030c", 0x01ce: "a\u030c", 0x01cf: "I\u030c", 0x01d0: "i\u030c",
	0x01d1: "O\u030c", 0x01d2: "o\u030c", 0x01d3: "U\u030c", 0x01d4: "u\u030c", 0x01d5: "U\u0308\u0304", 0x01d6: "u\u0308\u0304",
	0x01d7: "U\u0308\u0301", 0x01d8: "u\u0308\u0301", 0x01d9: "U\u0308\u030c", 0x01da: "u\u0308\u030c", 0x01db: "U\u0308\u0300", 0x01dc: "u\u0308\u0300",
	0x01de: "A\u0308\u0304", 0x01df: "a\u0308\u0304", 0x01e0: "A\u0307\u0304", 0x01e1: "a\u0307\u0304", 0x01e2: "\u00c6\u0304", 0x01e3: "\u00e6\u0304",
	0x01e6: "G\u030c", 0x01e7: "g\u030c", 0x01e8: "K\u030c", 0x01e9: "k\u030c", 0x01ea: "O\u0328", 0x01eb: "o\u0328",
	0x01ec: "O\u0328\u0304", 0x01ed: "o\u0328\u0304", 0x01ee: "\u01b7\u030c", 0x01ef: "\u0292\u030c", 0x01f0: "j\u030c", 0x01f1: "DZ",
	0x01f2: "Dz", 0x01f3: "dz", 0x01f4: "G\u0301", 0x01f5: "g\u0301", 0x01f8: "N\u0300", 0x01f9: "n\u0300",
	0x01fa: "A\u030a\u0301", 0x01fb: "a\u030a\u0301", 0x01fc: "\u00c6\u0301", 0x01fd: "\u00e6\u0301", 0x01fe: "\u00d8\u0301", 0x01ff: "\u00f8\u0301",
	0x0200: "A\u030f", 0x0201: "a\u030f", 0x0202: "A\u0311", 0x0203: "a\u0311", 0x0204: "E\u030f", 0x0205: "e\u030f",
	0x0206: "E\u0311", 0x0207: "e\u0311", 0x0208: "I\u030f", 0x0209: "i\u030f", 0x020a: "I\u0311", 0x020b: "i\u0311",
	0x020c: "O\u030f", 0x020d: "o\u030f", 0x020e: "O\u0311", 0x020f: "o\u0311", 0x0210: "R\u030f", 0x0211: "r\u030f",
	0x0212: "R\u0311", 0x0213: "r\u0311", 0x0214: "U\u030f", 0x0215: "u\u030f", 0x0216: "U\u0311", 0x0217: "u\u0311",
	0x0218: "S\u0326", 0x0219: "s\u0326", 0x021a: "T\u0326", 0x021b: "t\u0326", 0x021e: "H\u030c", 0x021f: "h\u030c",
	0x0226: "A\u0307", 0x0227: "a\u0307", 0x0228: "E\u0327", 0x0229: "e\u0327", 0x022a: "O\u0308\u0304", 0x022b: "o\u0308\u0304",
	0x022c: "O\u0303\u0304", 0x022d: "o\u0303\u0304", 0x022e: "O\u0307", 0x022f: "o\u0307", 0x0230: "O\u0307\u0304", 0x0231: "o\u0307\u0304",
	0x0232: "Y\u0304", 0x0233: "y\u0304", 0x0374: "\u02b9", 0x037a: " \u0345", 0x037e: ";", 0x0384: " \u0301",
	0x0385: " \u0308\u0301", 0x0386: "\u0391\u0301", 0x0387: "\u00b7", 0x0388: "\u0395\u0301", 0x0389: "\u0397\u0301", 0x038a: "\u0399\u0301",
	0x038c: "\u039f\u0301", 0x038e: "\u03a5\u0301", 0x038f: "\u03a9\u0301", 0x0390: "\u03b9\u0308\u0301", 0x03aa: "\u0399\u0308", 0x03ab: "\u03a5\u0308",
	0x03ac: "\u03b1\u0301", 0x03ad: "\u03b5\u0301", 0x03ae: "\u03b7\u0301", 0x03af: "\u03b9\u0301", 0x03b0: "\u03c5\u0308\u0301", 0x03ca: "\u03b9\u0308",
	0x03cb: "\u03c5\u0308", 0x03cc: "\u03bf\u0301", 0x03cd: "\u03c5\u0301", 0x03ce: "\u03c9\u0301", 0x03d0: "\u03b2", 0x03d1: "\u03b8",
	0x03d2: "\u03a5", 0x03d3: "\u03a5\u0301", 0x03d4: "\u03a5\u0308", 0x03d5: "\u03c6", 0x03d6: "\u03c0", 0x03f0: "\u03ba",
	0x03f1: "\u03c1", 0x03f2: "\u03c2", 0x03f4: "\u0398", 0x03f5: "\u03b5", 0x03f9: "\u03a3", 0x0400: "\u0415\u0300",
	0x0401: "\u0415\u0308", 0x0403: "\u0413\u0301", 0x0407: "\u0406\u0308", 0x040c: "\u041a\u0301", 0x040d: "\u0418\u0300", 0x040e: "\u0423\u0306",
	0x0419: "\u0418\u0306", 0x0439: "\u0438\u0306", 0x0450: "\u0435\u0300", 0x0451: "\u0435\u0308", 0x0453: "\u0433\u0301", 0x0457: "\u0456\u0308",
	0x045c: "\u043a\u0301", 0x045d: "\u0438\u0300", 0x045e: "\u0443\u0306", 0x0476: "\u0474\u030f", 0x0477: "\u0475\u030f", 0x04c1: "\u0416\u0306",
	0x04c2: "\u0436\u0306", 0x04d0: "\u0410\u0306", 0x04d1: "\u0430\u0306", 0x04d2: "\u0410\u0308", 0x04d3: "\u0430\u0308", 0x04d6: "\u0415\u0306",
	0x04d7: "\u0435\u0306", 0x04da: "\u04d8\u0308", 0x04db: "\u04d9\u0308", 0x04dc: "\u0416\u0308", 0x04dd: "\u0436\u0308", 0x04de: "\u0417\u0308",
	0x04df: "\u0437\u0308", 0x04e2: "\u0418\u0304", 0x04e3: "\u0438\u0304", 0x04e4: "\u0418\u0308", 0x04e5: "\u0438\u0308", 0x04e6: "\u041e\u0308",
	0x04e7: "\u043e\u0308", 0x04ea: "\u04e8\u0308", 0x04eb: "\u04e9\u0308", 0x04ec: "\u042d\u0308", 0x04ed: "\u044d\u0308", 0x04ee: "\u0423\u0304",
	0x04ef: "\u0443\u0304", 0x04f0: "\u0423\u0308", 0x04f1: "\u0443\u0308", 0x04f2: "\u0423\u030b", 0x04f3: "\u0443\u030b", 0x04f4: "\u0427\u0308",
	0x04f5: "\u0447\u0308", 0x04f8: "\u042b\u0308", 0x04f9: "\u044b\u0308", 0x1e00: "A\u0325", 0x1e01: "a\u0325", 0x1e02: "B\u0307",
	0x1e03: "b\u0307", 0x1e04: "B\u0323", 0x1e05: "b\u0323", 0x1e06: "B\u0331", 0x1e07: "b\u0331", 0x1e08: "C\u0327\u0301",
	0x1e09: "c\u0327\u0301", 0x1e0a: "D\u0307", 0x1e0b: "d\u0307", 0x1e0c: "D\u0323", 0x1e0d: "d\u0323", 0x1e0e: "D\u0331",
	0x1e0f: "d\u0331", 0x1e10: "D\u0327", 0x1e11: "d\u0327", 0x1e12: "D\u032d", 0x1e13: "d\u032d", 0x1e14: "E\u0304\u0300",
	0x1e15: "e\u0304\u0300", 0x1e16: "E\u0304\u0301", 0x1e17: "e\u0304\u0301", 0x1e18: "E\u032d", 0x1e19: "e\u032d", 0x1e1a: "E\u0330",
	0x1e1b: "e\u0330", 0x1e1c: "E\u0327\u0306", 0x1e1d: "e\u0327\u0306", 0x1e1e: "F\u0307", 0x1e1f: "f\u0307", 0x1e20: "G\u0304",
	0x1e21: "g\u0304", 0x1e22: "H\u0307", 0x1e23: "h\u0307", 0x1e24: "H\u0323", 0x1e25: "h\u0323", 0x1e26: "H\u0308",
	0x1e27: "h\u0308", 0x1e28: "H\u0327", 0x1e29: "h\u0327", 0x1e2a: "H\u032e", 0x1e2b: "h\u032e", 0x1e2c: "I\u0330",
	0x1e2d: "i\u0330", 0x1e2e: "I\u0308\u0301", 0x1e2f: "i\u0308\u0301", 0x1e30: "K\u0301", 0x1e31: "k\u0301", 0x1e32: "K\u0323",
	0x1e33: "k\u0323", 0x1e34: "K\u0331", 0x1e35: "k\u0331", 0x1e36: "L\u0323", 0x1e37: "l\u0323", 0x1e38: "L\u0323\u0304",
	0x1e39: "l\u0323\u0304", 0x1e3a: "L\u0331", 0x1e3b: "l\u0331", 0x1e3c: "L\u032d", 0x1e3d: "l\u032d", 0x1e3e: "M\u0301",
	0x1e3f: "m\u0301", 0x1e40: "M\u0307", 0x1e41: "m\u0307", 0x1e42: "M\u0323", 0x1e43: "m\u0323", 0x1e44: "N\u0307",
	0x1e45: "n\u0307", 0x1e46: "N\u0323", 0x1e47: "n\u0323", 0x1e48: "N\u0331", 0x1e49: "n\u0331", 0x1e4a: "N\u032d",
	0x1e4b: "n\u032d", 0x1e4c: "O\u0303\u0301", 0x1e4d: "o\u0303\u0301", 0x1e4e: "O\u0303\u0308", 0x1e4f: "o\u0303\u0308", 0x1e50: "O\u0304\u0300",
	0x1e51: "o\u0304\u0300", 0x1e52: "O\u0304\u0301", 0x1e53: "o\u0304\u0301", 0x1e54: "P\u0301", 0x1e55: "p\u0301", 0x1e56: "P\u0307",
	0x1e57: "p\u0307", 0x1e58: "R\u0307", 0x1e59: "r\u0307", 0x1e5a: "R\u0323", 0x1e5b: "r\u0323", 0x1e5c: "R\u0323\u0304",
	0x1e5d: "r\u0323\u0304", 0x1e5e: "R\u0331", 0x1e5f: "r\u0331", 0x1e60: "S\u0307", 0x1e61: "s\u0307", 0x1e62: "S\u0323",
	0x1e63: "s\u0323", 0x1e64: "S\u0301\u0307", 0x1e65: "s\u0301\u0307", 0x1e66: "S\u030c\u0307", 0x1e67: "s\u030c\u0307", 0x1e68: "S\u0323\u0307",
	0x1e69: "s\u0323\u0307", 0x1e6a: "T\u0307", 0x1e6b: "t\u0307", 0x1e6c: "T\u0323", 0x1e6d: "t\u0323", 0x1e6e: "T\u0331",
	0x1e6f: "t\u0331", 0x1e70: "T\u032d", 0x1e71: "t\u032d", 0x1e72: "U\u0324", 0x1e73: "u\u0324", 0x1e74: "U\u0330",
	0x1e75: "u\u0330", 0x1e76: "U\u032d", 0x1e77: "u\u032d", 0x1e78: "U\u0303\u0301", 0x1e79: "u\u0303\u0301", 0x1e7a: "U\u0304\u0308",
	0x1e7b: "u\u0304\u0308", 0x1e7c: "V\u0303", 0x1e7d: "v\u0303", 0x1e7e: "V\u0323", 0x1e7f: "v\u0323", 0x1e80: "W\u0300",
	0x1e81: "w\u0300", 0x1e82: "W\u0301", 0x1e83: "w\u0301", 0x1e84: "W\u0308", 0x1e85: "w\u0308", 0x1e86: "W\u0307",
	0x1e87: "w\u0307", 0x1e88: "W\u0323", 0x1e89: "w\u0323", 0x1e8a: "X\u0307", 0x1e8b: "x\u0307", 0x1e8c: "X\u0308",
	0x1e8d: "x\u0308", 0x1e8e: "Y\u0307", 0x1e8f: "y\u0307", 0x1e90: "Z\u0302", 0x1e91: "z\u0302", 0x1e92: "Z\u0323",
	0x1e93: "z\u0323", 0x1e94: "Z\u0331", 0x1e95: "z\u0331", 0x1e96: "h\u0331", 0x1e97: "t\u0308", 0x1e98: "w\u030a",
	0x1e99: "y\u030a", 0x1e9a: "a\u02be", 0x1e9b: "s\u0307", 0x1ea0: "A\u0323", 0x1ea1: "a\u0323", 0x1ea2: "A\u0309",
	0x1ea3: "a\u0309", 0x1ea4: "A\u0302\u0301", 0x1ea5: "a\u0302\u0301", 0x1ea6: "A\u0302\u0300", 0x1ea7: "a\u0302\u0300", 0x1ea8: "A\u0302\u0309",
	0x1ea9: "a\u0302\u0309", 0x1eaa: "A\u0302\u0303", 0x1eab: "a\u0302\u0303", 0x1eac: "A\u0323\u0302", 0x1ead: "a\u0323\u0302", 0x1eae: "A\u0306\u0301",
	0x1eaf: "a\u0306\u0301", 0x1eb0: "A\u0306\u0300", 0x1eb1: "a\u0306\u0300", 0x1eb2: "A\u0306\u0309", 0x1eb3: "a\u0306\u0309", 0x1eb4: "A\u0306\u0303",
	0x1eb5: "a\u0306\u0303", 0x1eb6: "A\u0323\u0306", 0x1eb7: "a\u0323\u0306", 0x1eb8: "E\u0323", 0x1eb9: "e\u0323", 0x1eba: "E\u0309",
	0x1ebb: "e\u0309", 0x1ebc: "E\u0303", 0x1ebd: "e\u0303", 0x1ebe: "E\u0302\u0301", 0x1ebf: "e\u0302\u0301", 0x1ec0: "E\u0302\u0300",
	0x1ec1: "e\u0302\u0300", 0x1ec2: "E\u0302\u0309", 0x1ec3: "e\u0302\u0309", 0x1ec4: "E\u0302\u0303", 0x1ec5: "e\u0302\u0303", 0x1ec6: "E\u0323\u0302",
	0x1ec7: "e\u0323\u0302", 0x1ec8: "I\u0309", 0x1ec9: "i\u0309", 0x1eca: "I\u0323", 0x1ecb: "i\u0323", 0x1ecc: "O\u0323",
	0x1ecd: "o\u0323", 0x1ece: "O\u0309", 0x1ecf: "o\u0309", 0x1ed0: "O\u0302\u0301", 0x1ed1: "o\u0302\u0301", 0x1ed2: "O\u0302\u0300",
	0x1ed3: "o\u0302\u0300", 0x1ed4: "O\u0302\u0309", 0x1ed5: "o\u0302\u0309", 0x1ed6: "O\u0302\u0303", 0x1ed7: "o\u0302\u0303", 0x1ed8: "O\u0323\u0302",
	0x1ed9: "o\u0323\u0302", 0x1eda: "O\u031b\u0301", 0x1edb: "o\u031b\u0301", 0x1edc: "O\u031b\u0300", 0x1edd: "o\u031b\u0300", 0x1ede: "O\u031b\u0309",
	0x1edf: "o\u031b\u0309", 0x1ee0: "O\u031b\u0303", 0x1ee1: "o\u031b\u0303", 0x1ee2: "O\u031b\u0323", 0x1ee3: "o\u031b\u0323", 0x1ee4: "U\u0323",
	0x1ee5: "u\u0323", 0x1ee6: "U\u0309", 0x1ee7: "u\u0309", 0x1ee8: "U\u031b\u0301", 0x1ee9: "u\u031b\u0301", 0x1eea: "U\u031b\u0300",
	0x1eeb: "u\u031b\u0300", 0x1eec: "U\u031b\u0309", 0x1eed: "u\u031b\u0309", 0x1eee: "U\u031b\u0303", 0x1eef: "u\u031b\u0303", 0x1ef0: "U\u031b\u0323",
	0x1ef1: "u\u031b\u0323", 0x1ef2: "Y\u0300", 0x1ef3: "y\u0300", 0x1ef4: "Y\u0323", 0x1ef5: "y\u0323", 0x1ef6: "Y\u0309",
	0x1ef7: "y\u0309", 0x1ef8: "Y\u0303", 0x1ef9: "y\u0303", 0x2000: " ", 0x2001: " ", 0x2002: " ",
	0x2003: " ", 0x2004: " ", 0x2005: " ", 0x2006: " ", 0x2007: " ", 0x2008: " ",
	0x2009: " ", 0x200a: " ", 0x2011: "\u2010", 0x2017: " \u0333", 0x2024: ".", 0x2025: "..",
	0x2026: "...", 0x202f: " ", 0x2033: "\u2032\u2032", 0x2034: "\u2032\u2032\u2032", 0x2036: "\u2035\u2035", 0x2037: "\u2035\u2035\u2035",
	0x203c: "!!", 0x203e: " \u0305", 0x2047: "??", 0x2048: "?!", 0x2049: "!?", 0x2057: "\u2032\u2032\u2032\u2032",
	0x205f: " ", 0x2070: "0", 0x2071: "i", 0x2074: "4", 0x2075: "5", 0x2076: "6",
	0x2077: "7", 0x2078: "8", 0x2079: "9", 0x207a: "+", 0x207b: "\u2212", 0x207c: "=",
	0x207d: "(", 0x207e: ")", 0x207f: "n", 0x2080: "0", 0x2081: "1", 0x2082: "2",
	0x2083: "3", 0x2084: "4", 0x2085: "5", 0x2086: "6", 0x2087: "7", 0x2088: "8",
	0x2089: "9", 0x208a: "+", 0x208b: "\u2212", 0x208c: "=", 0x208d: "(", 0x208e: ")",
	0x2090: "a", 0x2091: "e", 0x2092: "o", 0x2093: "x", 0x2094: "\u0259", 0x2095: "h",
	0x2096: "k", 0x2097: "l", 0x2098: "m", 0x2099: "n", 0x209a: "p", 0x209b: "s",
	0x209c: "t", 0xfb00: "ff", 0xfb01: "fi", 0xfb02: "fl", 0xfb03: "ffi", 0xfb04: "ffl",
	0xfb05: "st", 0xfb06: "st",
}
