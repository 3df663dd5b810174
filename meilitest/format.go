package meilitest

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Formatting of hits: _formatted and _matchesPosition, as Meilisearch's
// HitMaker and format_fields build them.
//
//   - _formatted shows the attributes to highlight, the attributes to crop
//     and the attributes to retrieve (all restricted to the displayed
//     ones), and only when at least one attribute to highlight or crop
//     names a displayed field of the index;
//   - each leaf value is formatted on its own with the options of every
//     rule on its path (a rule on `a` applies to `a.b`, a rule on `a.b` to
//     the leaf `a`); numbers become strings (formatted like serde_json
//     prints them), booleans and null stay as they are;
//   - _matchesPosition covers every displayed attribute.

// formatRule is one attribute to highlight or crop.
type formatRule struct {
	name      string // "" with all
	all       bool   // "*": every displayed attribute
	highlight bool
	crop      int // 0: no crop
}

// formatOptions is what a search formats in its hits.
type formatOptions struct {
	rules      []formatRule
	retrieve   []string // attributesToRetrieve (nil: all)
	cropMarker string
	preTag     string
	postTag    string
}

// enabled reports whether hits get a _formatted.
func (o *formatOptions) enabled() bool { return len(o.rules) > 0 }

// leafOptions merges the rules that apply to the leaf at path key:
// highlighted when any rule says so, cropped with the first crop length.
func (o *formatOptions) leafOptions(key string) (highlight bool, crop int) {
	for _, r := range o.rules {
		if !r.all && !facetedBy(r.name, key) && !facetedBy(key, r.name) {
			continue
		}
		highlight = highlight || r.highlight
		if crop == 0 {
			crop = r.crop
		}
	}
	return highlight, crop
}

// facetedBy is milli's is_faceted_by: field is facet or lies under it.
func facetedBy(field, facet string) bool {
	return field == facet || strings.HasPrefix(field, facet+".")
}

// newFormatOptions builds the formatting of a search on ix from its
// request: attributes that name no displayed field of the index are
// ignored, as Meilisearch ignores names its fields map does not know.
func newFormatOptions(ix *index, p *searchParams) *formatOptions {
	fo := &formatOptions{retrieve: p.attributesToRetrieve, cropMarker: p.cropMarker, preTag: p.preTag, postTag: p.postTag}
	if ix == nil {
		return fo
	}
	st := ix.settings
	known := func(name string) bool {
		if !attrDisplayed(st, name) {
			return false
		}
		for _, d := range ix.documents() {
			if len(fieldValues(d.fields, name)) > 0 || hasPath(d.fields, name) {
				return true
			}
		}
		return false
	}
	for _, a := range p.attributesToHighlight {
		if a == "*" {
			fo.rules = append(fo.rules, formatRule{all: true, highlight: true})
		} else if known(a) {
			fo.rules = append(fo.rules, formatRule{name: a, highlight: true})
		}
	}
	for _, a := range p.attributesToCrop {
		name, n := a, p.cropLength
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			name = a[:i]
			if v, err := strconv.ParseUint(a[i+1:], 10, 32); err == nil {
				n = int(v)
			}
		}
		if name == "*" {
			fo.rules = append(fo.rules, formatRule{all: true, crop: n})
		} else if known(name) {
			fo.rules = append(fo.rules, formatRule{name: name, crop: n})
		}
	}
	return fo
}

// hasPath reports whether the dotted path names a value of fields, even
// null or an empty object.
func hasPath(fields map[string]any, path string) bool {
	if _, ok := fields[path]; ok {
		return true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := fields[path[:i]].(map[string]any); ok && hasPath(sub, path[i+1:]) {
			return true
		}
	}
	return false
}

// formatted builds a hit's _formatted from its displayed fields.
func (o *formatOptions) formatted(tok *tokenizer, q *compiledQuery, displayedFields map[string]any) map[string]any {
	sel := displayedFields
	all := o.retrieve == nil || containsStar(o.retrieve)
	var paths []string
	for _, r := range o.rules {
		all = all || r.all
		paths = append(paths, r.name)
	}
	if !all {
		sel = selectPaths(displayedFields, append(paths, o.retrieve...))
	}
	out := make(map[string]any, len(sel))
	for k, v := range sel {
		if k == "_vectors" {
			continue
		}
		out[k] = o.formatValue(tok, q, k, v)
	}
	return out
}

// formatValue formats the value at path name, leaf by leaf.
func (o *formatOptions) formatValue(tok *tokenizer, q *compiledQuery, name string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = o.formatValue(tok, q, name+"."+k, e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = o.formatValue(tok, q, name, e)
		}
		return out
	}
	s, ok := leafText(v)
	if !ok {
		return v
	}
	hl, crop := o.leafOptions(name)
	return formatText(tok, q, s, hl, crop, o)
}

// leafText is the text Meilisearch formats for a leaf: strings as they
// are, numbers as serde_json prints them. Booleans and null are not text.
func leafText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return numberText(x), true
	case float64:
		return ryuFormat(x, 64), true
	case int:
		return strconv.Itoa(x), true
	}
	return "", false
}

// numberText prints a JSON number the way serde_json does after parsing
// it: integers that fit 64 bits as integers, everything else as an f64.
func numberText(n json.Number) string {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return strconv.FormatUint(u, 10)
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			if i == 0 { // serde_json reads -0 as the float -0.0
				return "-0.0"
			}
			return strconv.FormatInt(i, 10)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return ryuFormat(f, 64)
}

// ryuFormat prints a finite float like the ryu crate (serde_json's float
// printer): shortest digits, a decimal point always, exponent notation
// only for very large or small magnitudes.
func ryuFormat(f float64, bitSize int) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "null"
	}
	sign := ""
	if math.Signbit(f) {
		sign = "-"
		f = -f
	}
	if f == 0 {
		return sign + "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, bitSize) // d.ddde±xx
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	e10, _ := strconv.Atoi(exp)
	n := len(digits)
	kk := e10 + 1 // position of the decimal point after the first digit
	limit := 16
	if bitSize == 32 {
		limit = 13
	}
	switch {
	case kk >= n && kk <= limit:
		return sign + digits + strings.Repeat("0", kk-n) + ".0"
	case kk > 0 && kk <= limit:
		return sign + digits[:kk] + "." + digits[kk:]
	case kk > -5 && kk <= 0:
		return sign + "0." + strings.Repeat("0", -kk) + digits
	case n == 1:
		return sign + digits + "e" + strconv.Itoa(kk-1)
	default:
		return sign + digits[:1] + "." + digits[1:] + "e" + strconv.Itoa(kk-1)
	}
}

// matchPos is one entry of _matchesPosition.
type matchPos struct {
	Start   int   `json:"start"`
	Length  int   `json:"length"`
	Indices []int `json:"indices,omitempty"`
}

// matchesPosition computes _matchesPosition over the displayed fields.
func matchesPosition(tok *tokenizer, q *compiledQuery, fields map[string]any) map[string]any {
	out := map[string]any{}
	if q == nil || len(q.terms) == 0 {
		return out
	}
	var walk func(name string, v any, indices []int)
	walk = func(name string, v any, indices []int) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(name+"."+k, e, indices)
			}
			return
		case []any:
			for i, e := range x {
				walk(name, e, append(append([]int(nil), indices...), i))
			}
			return
		}
		s, ok := leafText(v)
		if !ok {
			return
		}
		bounds := matchBounds(tok, q, s)
		if len(bounds) == 0 {
			return
		}
		list, _ := out[name].([]matchPos)
		for _, b := range bounds {
			list = append(list, matchPos{Start: b[0], Length: b[1], Indices: indices})
		}
		out[name] = list
	}
	for k, v := range fields {
		if k == "_vectors" {
			continue
		}
		walk(k, v, nil)
	}
	return out
}
