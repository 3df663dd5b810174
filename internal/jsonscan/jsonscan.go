// Package jsonscan holds the byte-level JSON primitives shared by the
// write path (internal/route, which validates every document) and the read
// path (internal/merge, which scans node responses): whitespace, hex digits
// and string unescaping. Each package keeps its own value skipper, since
// one validates the full grammar and the other only tracks structure.
package jsonscan

import (
	"unicode/utf16"
	"unicode/utf8"
)

// space marks JSON whitespace.
var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// IsSpace reports whether c is JSON whitespace (space, tab, CR, LF).
func IsSpace(c byte) bool { return space[c] }

// SkipSpace returns the offset of the first byte at or after b[i] that is
// not JSON whitespace (len(b) if there is none).
func SkipSpace(b []byte, i int) int {
	for i < len(b) && space[b[i]] {
		i++
	}
	return i
}

// Unhex returns the value of the hexadecimal digit c, or -1.
func Unhex(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// Hex4 reads the four hexadecimal digits s[i:i+4] of a \u escape; ok is
// false when there are fewer than four bytes or one is not a hex digit.
func Hex4(s []byte, i int) (r rune, ok bool) {
	if i+4 > len(s) {
		return 0, false
	}
	for _, c := range s[i : i+4] {
		h := Unhex(c)
		if h < 0 {
			return 0, false
		}
		r = r<<4 | h
	}
	return r, true
}

// AppendUnescaped appends the text of a JSON string body s (without its
// quotes), resolving escapes. A \u escape pair forming a UTF-16 surrogate
// pair becomes one rune; a lone or mismatched surrogate becomes U+FFFD, as
// in encoding/json. Other bytes are copied as they are (no UTF-8 or
// control character checks: the body is expected to have been scanned).
// ok is false on a malformed escape; dst then holds the text before it.
func AppendUnescaped(dst, s []byte) (out []byte, ok bool) {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(s) {
			return dst, false
		}
		switch s[i+1] {
		case '"', '\\', '/':
			dst = append(dst, s[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := Hex4(s, i+2)
			if !ok {
				return dst, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok2 := Hex4(s, i+2); ok2 && s[i] == '\\' && s[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						dst = utf8.AppendRune(dst, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, false
		}
		i += 2
	}
	return dst, true
}
