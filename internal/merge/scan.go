// Package merge holds the mechanics of merging Meilisearch search
// responses from several nodes: a lean scanner that finds hits and the few
// fields ordering needs without decoding documents, the k-way merge with
// Meilisearch's orders, distinct, facet merging, and splicing the merged
// response back together from the nodes' raw bytes.
package merge

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/miroirsearch/miroir/internal/jsonscan"
)

// ErrSyntax reports a node response that is not the JSON it should be.
var ErrSyntax = errors.New("merge: malformed JSON")

func syntaxErr(b []byte, i int, what string) error {
	if i >= len(b) {
		return fmt.Errorf("%w: unexpected end of input (%s)", ErrSyntax, what)
	}
	return fmt.Errorf("%w: unexpected %q at offset %d (%s)", ErrSyntax, b[i], i, what)
}

// skipString returns the offset after the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, syntaxErr(b, len(b), "unterminated string")
		}
		j += k
		// count the backslashes before the quote
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1, nil
		}
		j++
	}
}

// special marks the bytes the nested-value skipper must look at.
var special = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// skipNested returns the offset after the object or array at b[i].
func skipNested(b []byte, i int) (int, error) {
	depth := 0
	for j := i; j < len(b); j++ {
		c := b[j]
		if !special[c] {
			continue
		}
		switch c {
		case '"':
			e, err := skipString(b, j)
			if err != nil {
				return 0, err
			}
			j = e - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, syntaxErr(b, len(b), "unterminated object or array")
}

// scalarEnd marks the bytes that end a number or literal.
var scalarEnd = [256]bool{',': true, '}': true, ']': true, ' ': true, '\t': true, '\n': true, '\r': true}

// SkipValue returns the offset after the JSON value starting at b[i]
// (whitespace already skipped). It checks structure, not every grammar
// detail: node responses come from Meilisearch.
func SkipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, syntaxErr(b, i, "value expected")
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		return skipNested(b, i)
	case ',', ':', '}', ']':
		return 0, syntaxErr(b, i, "value expected")
	}
	j := i
	for j < len(b) && !scalarEnd[b[j]] {
		j++
	}
	return j, nil
}

// ObjectIter walks the members of one JSON object.
type ObjectIter struct {
	b     []byte
	i     int
	ks    int // start of the last key, its opening quote
	ke    int // after the last key's closing quote
	err   error
	first bool
	done  bool
}

// NewObjectIter starts walking the object at b[i] (whitespace allowed).
func NewObjectIter(b []byte, i int) ObjectIter {
	i = jsonscan.SkipSpace(b, i)
	it := ObjectIter{b: b, i: i + 1, first: true}
	if i >= len(b) || b[i] != '{' {
		it.err = syntaxErr(b, i, "object expected")
		it.done = true
	}
	return it
}

// Next returns the next member: its key as written between the quotes
// (escapes not resolved) and the value's extent. ok is false at the end of
// the object or on error (see Err).
func (it *ObjectIter) Next() (key []byte, vs, ve int, ok bool) {
	if it.done {
		return nil, 0, 0, false
	}
	b := it.b
	i := jsonscan.SkipSpace(b, it.i)
	if i < len(b) && b[i] == '}' && it.first {
		it.i, it.done = i+1, true
		return nil, 0, 0, false
	}
	if !it.first {
		if i < len(b) && b[i] == '}' {
			it.i, it.done = i+1, true
			return nil, 0, 0, false
		}
		if i >= len(b) || b[i] != ',' {
			return it.fail(syntaxErr(b, i, "',' or '}' expected"))
		}
		i = jsonscan.SkipSpace(b, i+1)
	}
	it.first = false
	if i >= len(b) || b[i] != '"' {
		return it.fail(syntaxErr(b, i, "member key expected"))
	}
	ke, err := skipString(b, i)
	if err != nil {
		return it.fail(err)
	}
	key = b[i+1 : ke-1]
	it.ks, it.ke = i, ke
	i = jsonscan.SkipSpace(b, ke)
	if i >= len(b) || b[i] != ':' {
		return it.fail(syntaxErr(b, i, "':' expected"))
	}
	vs = jsonscan.SkipSpace(b, i+1)
	ve, err = SkipValue(b, vs)
	if err != nil {
		return it.fail(err)
	}
	it.i = ve
	return key, vs, ve, true
}

func (it *ObjectIter) fail(err error) ([]byte, int, int, bool) {
	it.err, it.done = err, true
	return nil, 0, 0, false
}

// Err is the error that stopped the walk, if any.
func (it *ObjectIter) Err() error { return it.err }

// RawKey is the last key returned by Next with its quotes.
func (it *ObjectIter) RawKey() []byte { return it.b[it.ks:it.ke] }

// End is the offset after the object's closing brace (valid once Next
// returned false without error).
func (it *ObjectIter) End() int { return it.i }

// ArrayIter walks the elements of one JSON array.
type ArrayIter struct {
	b     []byte
	i     int
	err   error
	first bool
	done  bool
}

// NewArrayIter starts walking the array at b[i] (whitespace allowed).
func NewArrayIter(b []byte, i int) ArrayIter {
	i = jsonscan.SkipSpace(b, i)
	it := ArrayIter{b: b, i: i + 1, first: true}
	if i >= len(b) || b[i] != '[' {
		it.err = syntaxErr(b, i, "array expected")
		it.done = true
	}
	return it
}

// Next returns the extent of the next element.
func (it *ArrayIter) Next() (vs, ve int, ok bool) {
	if it.done {
		return 0, 0, false
	}
	b := it.b
	i := jsonscan.SkipSpace(b, it.i)
	if i < len(b) && b[i] == ']' {
		it.i, it.done = i+1, true
		return 0, 0, false
	}
	if !it.first {
		if i >= len(b) || b[i] != ',' {
			it.err, it.done = syntaxErr(b, i, "',' or ']' expected"), true
			return 0, 0, false
		}
		i = jsonscan.SkipSpace(b, i+1)
	}
	it.first = false
	ve, err := SkipValue(b, i)
	if err != nil {
		it.err, it.done = err, true
		return 0, 0, false
	}
	it.i = ve
	return i, ve, true
}

// Err is the error that stopped the walk, if any.
func (it *ArrayIter) Err() error { return it.err }

// ParseFloat reads a JSON number; ok is false for anything else.
func ParseFloat(v []byte) (float64, bool) {
	if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}

// ParseInt reads a JSON integer (a float is truncated); ok false otherwise.
func ParseInt(v []byte) (int64, bool) {
	if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return n, true
	}
	f, ok := ParseFloat(v)
	return int64(f), ok
}

// Unquote returns the text of the JSON string v (with its quotes); ok is
// false when v is not a string.
func Unquote(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s), true
	}
	out, ok := jsonscan.AppendUnescaped(make([]byte, 0, len(s)), s)
	return string(out), ok
}

// AppendString appends s as a JSON string.
func AppendString(dst []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\\ufffd"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
