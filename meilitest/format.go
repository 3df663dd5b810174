package meilitest

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Formatting of hits: _formatted (highlight and crop) and _matchesPosition.
//
// Every query term (including the ones the matching strategy dropped for
// this document) is looked for in the attribute's words: exact, synonym,
// typo and prefix matches, like the search itself. A prefix match
// highlights only the matched prefix, as Meilisearch does. Cropping keeps
// cropLength words around the window with the most distinct matched
// terms; match positions are byte offsets.

type formatOptions struct {
	highlight    map[string]bool // attribute -> highlight ("*" for all)
	highlightAll bool
	crop         map[string]int // attribute -> crop length
	cropAll      int            // crop length for "*" (0: none)
	cropLength   int
	cropMarker   string
	preTag       string
	postTag      string
	matches      bool
}

func (o *formatOptions) enabled() bool {
	return o.highlightAll || len(o.highlight) > 0 || o.cropAll > 0 || len(o.crop) > 0
}

// attrOptions returns whether attribute name is highlighted and its crop
// length (0: not cropped).
func (o *formatOptions) attrOptions(name string) (bool, int) {
	hl := o.highlightAll || o.highlight[name] || o.highlight[topLevel(name)]
	crop := o.cropAll
	if c, ok := o.crop[name]; ok {
		crop = c
	} else if c, ok := o.crop[topLevel(name)]; ok {
		crop = c
	}
	return hl, crop
}

func topLevel(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[:i]
	}
	return name
}

// parseCropList parses attributesToCrop entries "attr" or "attr:len".
func parseCropList(list []string, def int) (map[string]int, int) {
	m := map[string]int{}
	all := 0
	for _, a := range list {
		n := def
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			if v, err := strconv.Atoi(a[i+1:]); err == nil {
				n = v
				a = a[:i]
			}
		}
		if a == "*" {
			all = n
			continue
		}
		m[a] = n
	}
	return m, all
}

// span is a matched byte range of a text.
type span struct {
	start, end int // bytes in the original text
	term       int
	wordIdx    int // index of the word among the text's tokens
}

// textMatches tokenizes s and returns its tokens and the spans matching
// the query's terms.
func textMatches(tok *tokenizer, q *compiledQuery, s string) ([]token, []span) {
	toks := tok.tokenize(s, 0)
	if q == nil || len(q.terms) == 0 {
		return toks, nil
	}
	var spans []span
	for i, tk := range toks {
		if tok.stopWords[tk.word] {
			continue
		}
		for ti := range q.terms {
			t := &q.terms[ti]
			if t.phrase {
				if phraseAt(toks, i, t.words, tok) {
					for k := range t.words {
						spans = append(spans, span{start: toks[i+k].start, end: toks[i+k].end, term: ti, wordIdx: i + k})
					}
				}
				continue
			}
			c := wordMatch(t, tk.word)
			if c == 0 {
				continue
			}
			end := tk.end
			if c&matchPrefix != 0 {
				end = prefixEnd(s[tk.start:tk.end], utf8.RuneCountInString(t.words[0])) + tk.start
			}
			spans = append(spans, span{start: tk.start, end: end, term: ti, wordIdx: i})
			break
		}
	}
	// phrases may produce duplicates with word terms; keep one per word
	sort.SliceStable(spans, func(a, b int) bool { return spans[a].start < spans[b].start })
	out := spans[:0]
	for _, sp := range spans {
		if len(out) > 0 && out[len(out)-1].start == sp.start {
			continue
		}
		out = append(out, sp)
	}
	return toks, out
}

func phraseAt(toks []token, i int, words []string, tok *tokenizer) bool {
	if i+len(words) > len(toks) {
		return false
	}
	for k, w := range words {
		if tok.stopWords[w] {
			continue
		}
		if toks[i+k].word != w {
			return false
		}
		if k > 0 && toks[i+k].pos != toks[i].pos+k {
			return false
		}
	}
	return true
}

// prefixEnd returns the byte length of the first n characters of s.
func prefixEnd(s string, n int) int {
	i := 0
	for k := 0; k < n && i < len(s); k++ {
		_, sz := utf8.DecodeRuneInString(s[i:])
		i += sz
	}
	return i
}

// formatText highlights and/or crops s.
func formatText(tok *tokenizer, q *compiledQuery, s string, highlight bool, cropLen int, o *formatOptions) string {
	toks, spans := textMatches(tok, q, s)
	start, end := 0, len(s)
	prefix, suffix := "", ""
	if cropLen > 0 && len(toks) > 0 {
		first, last := cropWindow(toks, spans, cropLen)
		start, end = toks[first].start, toks[last].end
		if first > 0 {
			prefix = o.cropMarker
		}
		if last < len(toks)-1 {
			suffix = o.cropMarker
		}
	} else if cropLen > 0 {
		return s
	}
	var b strings.Builder
	b.WriteString(prefix)
	cur := start
	if highlight {
		for _, sp := range spans {
			if sp.start < start || sp.end > end {
				continue
			}
			b.WriteString(s[cur:sp.start])
			b.WriteString(o.preTag)
			b.WriteString(s[sp.start:sp.end])
			b.WriteString(o.postTag)
			cur = sp.end
		}
	}
	b.WriteString(s[cur:end])
	b.WriteString(suffix)
	return b.String()
}

// cropWindow chooses the first and last token index of the crop.
func cropWindow(toks []token, spans []span, n int) (int, int) {
	if n >= len(toks) {
		return 0, len(toks) - 1
	}
	if len(spans) == 0 {
		return 0, n - 1
	}
	// best interval of matches spanning at most n words
	bestI, bestJ := 0, 0
	bestDistinct, bestCount := -1, -1
	for i := range spans {
		terms := map[int]bool{}
		for j := i; j < len(spans); j++ {
			if spans[j].wordIdx-spans[i].wordIdx+1 > n {
				break
			}
			terms[spans[j].term] = true
			if len(terms) > bestDistinct || (len(terms) == bestDistinct && j-i+1 > bestCount) {
				bestDistinct, bestCount = len(terms), j-i+1
				bestI, bestJ = i, j
			}
		}
	}
	first, last := spans[bestI].wordIdx, spans[bestJ].wordIdx
	rest := n - (last - first + 1)
	before := rest / 2
	after := rest - before
	first -= before
	last += after
	if first < 0 {
		last -= first
		first = 0
	}
	if last > len(toks)-1 {
		first -= last - (len(toks) - 1)
		last = len(toks) - 1
		if first < 0 {
			first = 0
		}
	}
	return first, last
}

// formatValue formats a field value: strings and numbers become formatted
// strings; arrays and objects are formatted element by element.
func formatValue(tok *tokenizer, q *compiledQuery, name string, v any, o *formatOptions) any {
	hl, crop := o.attrOptions(name)
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = formatValue(tok, q, name+"."+k, e, o)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = formatValue(tok, q, name, e, o)
		}
		return out
	}
	if !hl && crop == 0 {
		return v
	}
	s, ok := scalarText(v)
	if !ok {
		return v
	}
	if _, isBool := v.(bool); isBool {
		return v
	}
	return formatText(tok, q, s, hl, crop, o)
}

// matchesPosition computes _matchesPosition of the given fields.
func matchesPosition(tok *tokenizer, q *compiledQuery, fields map[string]any) map[string]any {
	out := map[string]any{}
	if q == nil || len(q.terms) == 0 {
		return out
	}
	type pos struct {
		Start   int   `json:"start"`
		Length  int   `json:"length"`
		Indices []int `json:"indices,omitempty"`
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
		s, ok := scalarText(v)
		if !ok {
			return
		}
		if _, isBool := v.(bool); isBool {
			return
		}
		_, spans := textMatches(tok, q, s)
		if len(spans) == 0 {
			return
		}
		list, _ := out[name].([]pos)
		for _, sp := range spans {
			list = append(list, pos{Start: sp.start, Length: sp.end - sp.start, Indices: indices})
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
