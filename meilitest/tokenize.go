package meilitest

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenizing, modelled on Meilisearch's tokenizer (charabia):
//   - words are runs of characters that are not separators; separators are
//     whitespace and Unicode punctuation (charabia's default separator list
//     is essentially that), adjusted by the separatorTokens and
//     nonSeparatorTokens settings; dictionary entries are kept whole;
//   - Han, Hiragana and Katakana characters are one word each (a crude
//     stand-in for charabia's dictionary segmenters);
//   - words are lowercased and folded (é -> e, æ -> ae, combining marks
//     dropped);
//   - positions: the first word of a value is at 0, a word after a "hard"
//     separator (charabia's context separators: `. `, `, `, `!`, `?`, `:`,
//     `;`, `…`, ...) is 8 further, any other word 1 further; the elements of
//     an array are separated like a hard separator. Stop words keep their
//     position but never match.

// token is one word of a text: its folded form and where it is.
type token struct {
	word       string // normalized (lowercased, folded)
	start, end int    // byte offsets in the source text
	pos        int    // word position inside the attribute
}

// hardGap is the position gap after a hard separator (Meilisearch's
// MAX_DISTANCE).
const hardGap = 8

// tokenizer holds the settings that change tokenizing.
type tokenizer struct {
	extraSeps   []string        // separatorTokens
	nonSeps     map[rune]bool   // single-rune nonSeparatorTokens
	nonSepMulti []string        // multi-rune nonSeparatorTokens
	dictionary  []string        // normalized dictionary entries, longest first
	stopWords   map[string]bool // normalized
}

func newTokenizer(st *settings) *tokenizer {
	t := &tokenizer{nonSeps: map[rune]bool{}, stopWords: map[string]bool{}}
	if st == nil {
		return t
	}
	for _, s := range st.SeparatorTokens {
		if s != "" {
			t.extraSeps = append(t.extraSeps, s)
		}
	}
	for _, s := range st.NonSeparatorTokens {
		if utf8.RuneCountInString(s) == 1 {
			r, _ := utf8.DecodeRuneInString(s)
			t.nonSeps[r] = true
		} else if s != "" {
			t.nonSepMulti = append(t.nonSepMulti, s)
		}
	}
	for _, d := range st.Dictionary {
		if d != "" {
			t.dictionary = append(t.dictionary, strings.ToLower(d))
		}
	}
	sort.Slice(t.dictionary, func(i, j int) bool { return len(t.dictionary[i]) > len(t.dictionary[j]) })
	sort.Slice(t.extraSeps, func(i, j int) bool { return len(t.extraSeps[i]) > len(t.extraSeps[j]) })
	for _, w := range st.StopWords {
		t.stopWords[normalizeWord(w)] = true
	}
	return t
}

// isSeparatorRune reports whether r separates words by default.
func isSeparatorRune(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsPunct(r) || r == utf8.RuneError
}

// isHardSeparatorRune reports runes that are always hard separators.
func isHardSeparatorRune(r rune) bool {
	switch r {
	case '!', '?', ':', ';', '¡', '¿', '§', '¶', '…', '。', '、', '！', '？', '：', '；', '‼', '‽':
		return true
	}
	return false
}

// isIdeographic reports runes that form a word on their own.
func isIdeographic(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r)
}

// tokenize splits s into words. Positions start at base.
func (t *tokenizer) tokenize(s string, base int) []token {
	var toks []token
	pos := base
	first := true
	hard := false // a hard separator was seen since the previous word
	i := 0
	emit := func(start, end int) {
		w := normalizeWord(s[start:end])
		if w == "" {
			return
		}
		if !first {
			if hard {
				pos += hardGap
			} else {
				pos++
			}
		}
		first = false
		hard = false
		toks = append(toks, token{word: w, start: start, end: end, pos: pos})
	}
	for i < len(s) {
		// dictionary entries are words even when they contain separators
		if n := t.dictMatch(s, i); n > 0 {
			emit(i, i+n)
			i += n
			continue
		}
		if n, isSep := t.sepAt(s, i); isSep {
			r, _ := utf8.DecodeRuneInString(s[i:])
			if isHardSeparatorRune(r) {
				hard = true
			} else if (r == '.' || r == ',') && i+n < len(s) {
				if r2, _ := utf8.DecodeRuneInString(s[i+n:]); unicode.IsSpace(r2) {
					hard = true
				}
			}
			i += n
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if isIdeographic(r) {
			emit(i, i+n)
			i += n
			continue
		}
		start := i
		for i < len(s) {
			if t.dictMatch(s, i) > 0 && i > start {
				break
			}
			if _, isSep := t.sepAt(s, i); isSep {
				break
			}
			r, n := utf8.DecodeRuneInString(s[i:])
			if isIdeographic(r) {
				break
			}
			i += n
		}
		emit(start, i)
	}
	return toks
}

// sepAt reports whether a separator starts at s[i:], and its byte length.
func (t *tokenizer) sepAt(s string, i int) (int, bool) {
	for _, m := range t.nonSepMulti {
		if strings.HasPrefix(s[i:], m) {
			return 0, false
		}
	}
	for _, sep := range t.extraSeps {
		if strings.HasPrefix(s[i:], sep) {
			return len(sep), true
		}
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if t.nonSeps[r] {
		return 0, false
	}
	if isSeparatorRune(r) {
		return n, true
	}
	return 0, false
}

// dictMatch returns the byte length of a dictionary entry starting at
// s[i:] at a word boundary, or 0.
func (t *tokenizer) dictMatch(s string, i int) int {
	if len(t.dictionary) == 0 {
		return 0
	}
	if i > 0 {
		if _, isSep := t.sepAt(s, i-1); !isSep {
			// only at the start of a word; checking the previous byte is
			// enough for ASCII boundaries, good enough for a test double
			r, _ := utf8.DecodeLastRuneInString(s[:i])
			if !isSeparatorRune(r) {
				return 0
			}
		}
	}
	for _, d := range t.dictionary {
		if len(s)-i >= len(d) && strings.EqualFold(s[i:i+len(d)], d) {
			end := i + len(d)
			if end == len(s) {
				return len(d)
			}
			if _, isSep := t.sepAt(s, end); isSep {
				return len(d)
			}
		}
	}
	return 0
}

// normalizeWord lowercases and folds a word: diacritics are removed and a
// few ligatures expanded, as Meilisearch's normalizers do for Latin script.
func normalizeWord(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if unicode.Is(unicode.Mn, r) {
			continue // combining marks
		}
		r = unicode.ToLower(r)
		if f, ok := foldTable[r]; ok {
			b.WriteString(f)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// foldTable maps lowercase Latin letters with diacritics to their base.
var foldTable = func() map[rune]string {
	m := map[rune]string{}
	groups := map[string]string{
		"a":  "àáâãäåāăąǎǟǡǻȁȃȧḁạảấầẩẫậắằẳẵặ",
		"c":  "çćĉċčḉ",
		"d":  "ďđḋḍḏḑḓð",
		"e":  "èéêëēĕėęěȅȇȩḕḗḙḛḝẹẻẽếềểễệ",
		"g":  "ĝğġģǧǵḡ",
		"h":  "ĥħȟḣḥḧḩḫẖ",
		"i":  "ìíîïĩīĭįıǐȉȋḭḯỉị",
		"j":  "ĵǰ",
		"k":  "ķǩḱḳḵ",
		"l":  "ĺļľŀłḷḹḻḽ",
		"n":  "ñńņňŉǹṅṇṉṋ",
		"o":  "òóôõöøōŏőơǒǫǭǿȍȏȫȭȯȱṍṏṑṓọỏốồổỗộớờởỡợ",
		"r":  "ŕŗřȑȓṙṛṝṟ",
		"s":  "śŝşšșṡṣṥṧṩ",
		"t":  "ţťŧțṫṭṯṱẗ",
		"u":  "ùúûüũūŭůűųưǔǖǘǚǜȕȗṳṵṷṹṻụủứừửữự",
		"w":  "ŵẁẃẅẇẉẘ",
		"y":  "ýÿŷȳẏẙỳỵỷỹ",
		"z":  "źżžẑẓẕ",
		"ae": "æǣǽ",
		"oe": "œ",
		"th": "þ",
	}
	for base, letters := range groups {
		for _, r := range letters {
			m[r] = base
		}
	}
	return m
}()

// queryToken is one element of a parsed query.
type queryToken struct {
	words    []string // normalized words (several for a phrase)
	phrase   bool
	negative bool
	pos      int  // query position of the first word
	stop     bool // a stop word outside a phrase
}

// parseQuery splits a query into words, "phrases" and -negative words, the
// way Meilisearch's query parser does. trailingSep reports whether the query
// ends with a separator (then its last word is not a prefix).
func (t *tokenizer) parseQuery(q string) (toks []queryToken, trailingSep bool) {
	pos := 0
	i := 0
	for i < len(q) {
		// find the next quote
		j := strings.IndexByte(q[i:], '"')
		var segment string
		if j < 0 {
			segment = q[i:]
			i = len(q)
		} else {
			segment = q[i : i+j]
			i += j
		}
		// plain words
		for _, tk := range t.splitNegatives(segment) {
			tk.pos = pos
			if len(tk.words) == 1 && t.stopWords[tk.words[0]] {
				tk.stop = true
			}
			toks = append(toks, tk)
			pos++
		}
		if i >= len(q) {
			break
		}
		// q[i] == '"'
		end := strings.IndexByte(q[i+1:], '"')
		var inner string
		if end < 0 {
			inner = q[i+1:]
			i = len(q)
		} else {
			inner = q[i+1 : i+1+end]
			i = i + 1 + end + 1
		}
		negative := false
		if before, ok := strings.CutSuffix(segment, "-"); ok {
			r, _ := utf8.DecodeLastRuneInString(before)
			negative = before == "" || unicode.IsSpace(r)
		}
		var words []string
		for _, tk := range t.tokenize(inner, 0) {
			words = append(words, tk.word)
		}
		if len(words) == 0 {
			continue
		}
		toks = append(toks, queryToken{words: words, phrase: true, negative: negative, pos: pos})
		pos += len(words)
	}
	if q != "" {
		r, _ := utf8.DecodeLastRuneInString(q)
		if r == '"' {
			trailingSep = true
		} else if _, isSep := t.sepAt(q, len(q)-utf8.RuneLen(r)); isSep && r != utf8.RuneError {
			trailingSep = true
		}
	}
	return toks, trailingSep
}

// splitNegatives tokenizes a quote-free segment, marking words written
// with a leading '-' (at the start or after whitespace) as negative.
func (t *tokenizer) splitNegatives(seg string) []queryToken {
	var out []queryToken
	for _, tk := range t.tokenize(seg, 0) {
		neg := false
		if tk.start > 0 && seg[tk.start-1] == '-' {
			if tk.start == 1 {
				neg = true
			} else if r, _ := utf8.DecodeLastRuneInString(seg[:tk.start-1]); unicode.IsSpace(r) {
				neg = true
			}
		}
		out = append(out, queryToken{words: []string{tk.word}, negative: neg})
	}
	return out
}
