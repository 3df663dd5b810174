package meilitest

import (
	"strings"
	"unicode/utf8"
)

// Highlighting and cropping of one text, modelled on milli's Matcher
// (search/new/matches): the text is split into word and separator tokens
// as charabia does, the query's terms are matched word by word (a phrase
// is one match over its words), the crop window is centred on the best
// interval of matches counting words, and the crop marker is written only
// where text was cut.

// textToken is one token of a text to format: a word or a separator.
type textToken struct {
	start, end int
	sep        bool
	hard       bool // a hard separator: charabia's context separators
	word       int  // index in the text's words (words only)
}

// textMatch is one match of the query in a text.
type textMatch struct {
	firstTok, lastTok   int   // token indices
	firstWord, lastWord int   // word positions
	ids                 []int // query positions the match covers
	hlEnd               int   // byte end of the highlighted part (a prefix match stops early)
}

// wordCount is the number of words the match covers.
func (m *textMatch) wordCount() int { return m.lastWord - m.firstWord + 1 }

// textTokens splits s into words (tokenize's) and separators. A separator
// token is one separator character, or `. ` / `, ` together (charabia's
// hard separators of two characters), or a configured separator token.
func (t *tokenizer) textTokens(s string) ([]textToken, []token) {
	words := t.tokenize(s, 0)
	out := make([]textToken, 0, 2*len(words)+1)
	seps := func(a, b int) {
		for i := a; i < b; {
			r, n := utf8.DecodeRuneInString(s[i:])
			if (r == '.' || r == ',') && i+n < b && s[i+n] == ' ' {
				out = append(out, textToken{start: i, end: i + n + 1, sep: true, hard: true})
				i += n + 1
				continue
			}
			if m, ok := t.sepAt(s, i); ok && m > 0 && i+m <= b {
				n = m
			}
			out = append(out, textToken{start: i, end: i + n, sep: true, hard: isHardSeparatorRune(r)})
			i += n
		}
	}
	cur := 0
	for wi, w := range words {
		seps(cur, w.start)
		out = append(out, textToken{start: w.start, end: w.end, word: wi})
		cur = w.end
	}
	seps(cur, len(s))
	return out, words
}

// findMatches matches the query's terms against the words of a text, in
// order: at each word the first term that matches it wins; a phrase takes
// its words at once.
func findMatches(tok *tokenizer, q *compiledQuery, s string, toks []textToken, words []token) []textMatch {
	if q == nil || len(q.terms) == 0 || len(words) == 0 {
		return nil
	}
	tokOf := make([]int, len(words)) // word index -> token index
	for i, tk := range toks {
		if !tk.sep {
			tokOf[tk.word] = i
		}
	}
	var out []textMatch
	for wi := 0; wi < len(words); wi++ {
		w := words[wi]
		if tok.stopWords[w.word] {
			continue
		}
		for ti := range q.terms {
			t := &q.terms[ti]
			ids := make([]int, t.wordCount())
			for k := range ids {
				ids[k] = t.pos + k
			}
			if t.phrase {
				if !phraseAt(words, wi, t.words, tok) {
					continue
				}
				last := wi + len(t.words) - 1
				out = append(out, textMatch{firstTok: tokOf[wi], lastTok: tokOf[last], firstWord: wi, lastWord: last, ids: ids, hlEnd: words[last].end})
				wi = last
				break
			}
			c := wordMatch(t, w.word)
			if c == 0 {
				continue
			}
			end := w.end
			if c&matchPrefix != 0 {
				end = w.start + prefixEnd(s[w.start:w.end], utf8.RuneCountInString(t.words[0]))
			}
			out = append(out, textMatch{firstTok: tokOf[wi], lastTok: tokOf[wi], firstWord: wi, lastWord: wi, ids: ids, hlEnd: end})
			break
		}
	}
	return out
}

// phraseAt reports whether the phrase words start at word i (stop words
// of the phrase match any word; the words must be consecutive).
func phraseAt(toks []token, i int, words []string, tok *tokenizer) bool {
	if i+len(words) > len(toks) {
		return false
	}
	for k, w := range words {
		if k > 0 && toks[i+k].pos != toks[i].pos+k {
			return false
		}
		if tok.stopWords[w] {
			continue
		}
		if toks[i+k].word != w {
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

// intervalScore ranks an interval of matches as milli's
// best_match_interval does: distinct query words, then closeness, then
// matches in query order.
func intervalScore(ms []textMatch) [3]int {
	ids := map[int]bool{}
	order, dist := 0, 0
	tally := func(m *textMatch) {
		n := m.lastWord - m.firstWord // a phrase is ordered and tight
		order += n
		dist -= n
	}
	for i := range ms {
		m := &ms[i]
		if i+1 < len(ms) {
			next := &ms[i+1]
			if minInt(next.ids) > minInt(m.ids) {
				order++
			}
			if m.firstWord != m.lastWord {
				tally(m)
			}
			dist -= min(next.firstWord-m.lastWord, 7)
		} else if m.firstWord != m.lastWord {
			tally(m)
		}
		for _, id := range m.ids {
			ids[id] = true
		}
	}
	return [3]int{len(ids), dist, order}
}

// minInt is the smallest element of a non-empty list.
func minInt(l []int) int {
	m := l[0]
	for _, v := range l[1:] {
		m = min(m, v)
	}
	return m
}

// scoreGreater compares interval scores lexicographically.
func scoreGreater(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

// bestInterval returns the first and last match of the best interval of
// matches spanning fewer than crop words.
func bestInterval(ms []textMatch, crop int) (int, int) {
	found := false
	var best [2]int
	var bestScore [3]int
	save := func(f, l int) {
		sc := intervalScore(ms[f : l+1])
		if !found || scoreGreater(sc, bestScore) {
			found, best, bestScore = true, [2]int{f, l}, sc
		}
	}
	first := 0
	firstPos := ms[0].firstWord
	for i := range ms {
		nextLast := ms[i].lastWord
		if nextLast-firstPos < crop {
			continue
		}
		if i != 0 {
			save(first, i-1)
		}
		for {
			first++
			if first == len(ms) {
				first--
				break
			}
			firstPos = ms[first].firstWord
			if firstPos > nextLast || nextLast-firstPos < crop {
				break
			}
		}
	}
	last := len(ms) - 1
	if first != last || ms[first].wordCount() < crop {
		save(first, last)
	}
	if !found {
		return 0, 0
	}
	return best[0], best[1]
}

// cropBounds returns the byte range of the crop window: crop words around
// the best interval of matches, grown on both sides at once, preferring
// to stop on a hard separator (milli's crop_bounds).
func cropBounds(s string, toks []textToken, ms []textMatch, crop int) (int, int) {
	remaining := crop
	before, after := 0, 0 // next token index on each side (before goes down)
	if len(ms) > 0 {
		f, l := bestInterval(ms, crop)
		first, last := &ms[f], &ms[l]
		size := last.lastWord - first.firstWord + 1
		if size > crop {
			// a single phrase longer than the window: its first crop words
			words := 0
			for i := first.firstTok; i < len(toks); i++ {
				if !toks[i].sep {
					words++
					if words == crop {
						return toks[first.firstTok].start, toks[i].end
					}
				}
			}
			return toks[first.firstTok].start, len(s)
		}
		remaining = crop - size
		before, after = first.firstTok, last.lastTok+1
	}
	before-- // toks[:before+1] reversed
	for remaining > 0 {
		hasB, hasA := before >= 0, after < len(toks)
		switch {
		case hasB && hasA:
			b, a := toks[before], toks[after]
			switch {
			case b.sep && a.sep:
				if b.hard == a.hard {
					before--
					if remaining > 1 { // no separator left dangling before the marker
						after++
					}
				} else if b.hard {
					after++
				} else {
					before--
				}
			case !b.sep && a.sep:
				before--
				remaining--
			case b.sep && !a.sep:
				after++
				remaining--
			default:
				before--
				remaining--
				if remaining > 0 {
					after++
					remaining--
				}
			}
		case hasB:
			if !toks[before].sep {
				remaining--
			}
			before--
		case hasA:
			if !toks[after].sep {
				remaining--
			}
			after++
		default:
			remaining = 0
		}
	}
	start, end := 0, len(s)
	if before >= 0 {
		start = toks[before].end
	}
	if after < len(toks) {
		end = toks[after].start
	}
	return start, end
}

// formatText highlights and/or crops s (cropLen 0: no crop).
func formatText(tok *tokenizer, q *compiledQuery, s string, highlight bool, cropLen int, o *formatOptions) string {
	if s == "" || (!highlight && cropLen == 0) {
		return s
	}
	toks, words := tok.textTokens(s)
	ms := findMatches(tok, q, s, toks, words)
	start, end := 0, len(s)
	if cropLen > 0 {
		start, end = cropBounds(s, toks, ms, cropLen)
	}
	var b strings.Builder
	if start > 0 {
		b.WriteString(o.cropMarker)
	}
	cur := start
	if highlight {
		for i := range ms {
			m := &ms[i]
			mStart, mEnd := toks[m.firstTok].start, toks[m.lastTok].end
			if mEnd < start || mStart > end {
				continue // outside the crop window
			}
			mStart, mEnd = max(mStart, start), min(mEnd, end)
			hl := min(m.hlEnd, mEnd)
			b.WriteString(s[cur:mStart])
			b.WriteString(o.preTag)
			b.WriteString(s[mStart:hl])
			b.WriteString(o.postTag)
			b.WriteString(s[hl:mEnd])
			cur = mEnd
		}
	}
	b.WriteString(s[cur:end])
	if end < len(s) {
		b.WriteString(o.cropMarker)
	}
	return b.String()
}

// matchBounds returns the byte ranges of the query's matches in s, as
// _matchesPosition shows them: a phrase is one range.
func matchBounds(tok *tokenizer, q *compiledQuery, s string) [][2]int {
	toks, words := tok.textTokens(s)
	ms := findMatches(tok, q, s, toks, words)
	out := make([][2]int, len(ms))
	for i := range ms {
		st := toks[ms[i].firstTok].start
		out[i] = [2]int{st, ms[i].hlEnd - st}
	}
	return out
}
