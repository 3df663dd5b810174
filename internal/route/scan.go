package route

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"

	"github.com/miroirsearch/miroir/internal/jsonscan"
)

// maxDepth bounds nesting like encoding/json does, so a hostile payload
// cannot exhaust the stack.
const maxDepth = 10000

// errIncomplete means the input ended inside a value: a stream reader
// reads more and retries, a complete buffer reports malformed JSON.
var errIncomplete = errors.New("unexpected end of JSON input")

var errTrailing = errors.New("invalid character after top-level value")

// syntaxError is a grammar error at a byte offset of the scanned buffer.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.off) }

func badChar(b []byte, i int, ctx string) error {
	return &syntaxError{off: i, msg: fmt.Sprintf("invalid character %q %s", b[i], ctx)}
}

// errBadUTF8 is a string holding invalid UTF-8, reported by the
// validating scan (u set). The router then rescans without validation, so
// that a syntax error later in the document is reported first, as it was
// when UTF-8 was checked after the scan.
var errBadUTF8 = errors.New("invalid UTF-8 in string")

// strStop marks bytes that end the fast path inside a string; strStopU
// also the non-ASCII bytes, for the scan that validates UTF-8.
var strStop, strStopU = func() (t, u [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	u = t
	for c := 0x80; c < 0x100; c++ {
		u[c] = true
	}
	return t, u
}()

// SWAR constants: a byte broadcast over a 64-bit word.
const (
	lo8  = 0x0101010101010101
	hi8  = 0x8080808080808080
	bsl8 = '\\' * lo8
)

// stopWord flags (high bit of each byte) the bytes of the little-endian
// word x that end the fast path inside a string: a quote, a backslash or
// a control character. x^0x02 maps the quote 0x22 to 0x20 and keeps
// 0x00-0x1F below it, so one "less than 0x21" test finds both. Borrows
// may flag bytes above a flagged one, never below, so the lowest flag is
// exact.
func stopWord(x uint64) uint64 {
	y, s := x^(0x02*lo8), x^bsl8
	return ((y-0x21*lo8)&^y | (s-lo8)&^s) & hi8
}

// skipString validates the string starting at b[i] == '"' and returns the
// offset after its closing quote and whether it contains escapes. Plain
// runs are skipped eight bytes at a time. With u set it also validates
// UTF-8 (errBadUTF8): non-ASCII bytes may only occur in strings, so this
// checks a whole document's encoding without a pass of its own.
func skipString(b []byte, i int, u bool) (end int, escaped bool, err error) {
	var umask uint64
	stop := &strStop
	if u {
		umask, stop = hi8, &strStopU
	}
	i++
	for {
		for ; i+8 <= len(b); i += 8 {
			x := binary.LittleEndian.Uint64(b[i : i+8])
			if m := stopWord(x) | x&umask; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
		}
		for i < len(b) && !stop[b[i]] {
			i++
		}
		if i >= len(b) {
			return 0, escaped, errIncomplete
		}
		switch c := b[i]; c {
		case '"':
			return i + 1, escaped, nil
		case '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, escaped, errIncomplete
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					for j := i + 2; j < len(b); j++ {
						if jsonscan.Unhex(b[j]) < 0 {
							return 0, escaped, badChar(b, j, "in \\u hexadecimal character escape")
						}
					}
					return 0, escaped, errIncomplete
				}
				for j := i + 2; j < i+6; j++ {
					if jsonscan.Unhex(b[j]) < 0 {
						return 0, escaped, badChar(b, j, "in \\u hexadecimal character escape")
					}
				}
				i += 6
			default:
				return 0, escaped, badChar(b, i+1, "in string escape code")
			}
		default:
			if c < 0x80 {
				return 0, escaped, badChar(b, i, "in string literal")
			}
			// A run of multi-byte runes (a word in another script).
			for i < len(b) && b[i] >= 0x80 {
				n := runeLen(b, i)
				switch {
				case n < 0:
					return 0, escaped, errIncomplete // a rune cut by the buffer's end
				case n == 0:
					return 0, escaped, errBadUTF8
				}
				i += n
			}
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skipNumber validates the number starting at b[i]. A number running to
// the end of b is complete only if atEOF; the caller decides (inside an
// object or array it is always incomplete).
func skipNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
		if i >= len(b) {
			return 0, errIncomplete
		}
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		return 0, badChar(b, i, "in numeric literal")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) {
			return 0, errIncomplete
		}
		if !isDigit(b[i]) {
			return 0, badChar(b, i, "after decimal point in numeric literal")
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) {
			return 0, errIncomplete
		}
		if !isDigit(b[i]) {
			return 0, badChar(b, i, "in exponent of numeric literal")
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	return i, nil
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) {
			return 0, errIncomplete
		}
		if b[i+k] != lit[k] {
			return 0, badChar(b, i+k, "in literal "+lit)
		}
	}
	return i + len(lit), nil
}

// skipValue validates the JSON value starting at b[i] (no leading
// whitespace) and returns the offset just after it; u validates the UTF-8
// of its strings too (see skipString).
func skipValue(b []byte, i int, depth int, u bool) (int, error) {
	if i >= len(b) {
		return 0, errIncomplete
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := skipString(b, i, u)
		return end, err
	case c == '{':
		return skipObject(b, i, depth+1, u)
	case c == '[':
		return skipArray(b, i, depth+1, u)
	case c == '-' || isDigit(c):
		return skipNumber(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	default:
		return 0, badChar(b, i, "looking for beginning of value")
	}
}

func skipObject(b []byte, i int, depth int, u bool) (int, error) {
	if depth > maxDepth {
		return 0, &syntaxError{off: i, msg: "exceeded max depth"}
	}
	i = jsonscan.SkipSpace(b, i+1)
	if i >= len(b) {
		return 0, errIncomplete
	}
	if b[i] == '}' {
		return i + 1, nil
	}
	for {
		if b[i] != '"' {
			return 0, badChar(b, i, "looking for beginning of object key string")
		}
		end, _, err := skipString(b, i, u)
		if err != nil {
			return 0, err
		}
		i, err = afterColon(b, end)
		if err != nil {
			return 0, err
		}
		if i, err = skipValue(b, i, depth, u); err != nil {
			return 0, err
		}
		var done bool
		if i, done, err = afterMember(b, i, '}'); err != nil || done {
			return i, err
		}
	}
}

// afterColon skips whitespace, the ':' after an object key, and the
// whitespace before the value.
func afterColon(b []byte, i int) (int, error) {
	i = jsonscan.SkipSpace(b, i)
	if i >= len(b) {
		return 0, errIncomplete
	}
	if b[i] != ':' {
		return 0, badChar(b, i, "after object key")
	}
	i = jsonscan.SkipSpace(b, i+1)
	if i >= len(b) {
		return 0, errIncomplete
	}
	return i, nil
}

// afterMember consumes the ',' or closing byte after a member or element;
// done reports the closing byte, in which case i is just past it.
func afterMember(b []byte, i int, closing byte) (next int, done bool, err error) {
	i = jsonscan.SkipSpace(b, i)
	if i >= len(b) {
		return 0, false, errIncomplete
	}
	switch b[i] {
	case ',':
		i = jsonscan.SkipSpace(b, i+1)
		if i >= len(b) {
			return 0, false, errIncomplete
		}
		return i, false, nil
	case closing:
		return i + 1, true, nil
	}
	if closing == '}' {
		return 0, false, badChar(b, i, "after object key:value pair")
	}
	return 0, false, badChar(b, i, "after array element")
}

func skipArray(b []byte, i int, depth int, u bool) (int, error) {
	if depth > maxDepth {
		return 0, &syntaxError{off: i, msg: "exceeded max depth"}
	}
	i = jsonscan.SkipSpace(b, i+1)
	if i >= len(b) {
		return 0, errIncomplete
	}
	if b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(b, i, depth, u); err != nil {
			return 0, err
		}
		var done bool
		if i, done, err = afterMember(b, i, ']'); err != nil || done {
			return i, err
		}
	}
}

// compactJSON renders a validated value compactly for error messages.
func compactJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return excerpt(raw)
	}
	return excerpt(buf.Bytes())
}

// malformed wraps a scanner error as Meilisearch's malformed_payload.
func malformed(index, line int, err error) *DocError {
	return docErr(index, line, CodeMalformedPayload, "The payload is not valid JSON: %v.", err)
}
