package route

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// validUTF8 is utf8.Valid tuned for text that is mostly ASCII with
// scattered multi-byte runes (accented words): utf8.Valid leaves its
// eight-bytes-at-a-time loop for good at the first non-ASCII byte, this
// one returns to it after each run of multi-byte runes, which it checks
// inline (the same acceptance rules: no overlong forms, no surrogates,
// nothing above U+10FFFF).
func validUTF8(p []byte) bool {
	i, n := 0, len(p)
	for {
		for ; i+8 <= n; i += 8 {
			if m := binary.LittleEndian.Uint64(p[i:i+8]) & hi8; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
		}
		for i < n && p[i] < utf8.RuneSelf {
			i++
		}
		if i >= n {
			return true
		}
		for i < n && p[i] >= utf8.RuneSelf {
			c := p[i]
			switch {
			case c >= 0xC2 && c <= 0xDF:
				if i+1 >= n || p[i+1]&0xC0 != 0x80 {
					return false
				}
				i += 2
			case c >= 0xE0 && c <= 0xEF:
				lo, hi := byte(0x80), byte(0xBF)
				if c == 0xE0 {
					lo = 0xA0 // overlong
				} else if c == 0xED {
					hi = 0x9F // surrogates
				}
				if i+2 >= n || p[i+1] < lo || p[i+1] > hi || p[i+2]&0xC0 != 0x80 {
					return false
				}
				i += 3
			case c >= 0xF0 && c <= 0xF4:
				lo, hi := byte(0x80), byte(0xBF)
				if c == 0xF0 {
					lo = 0x90 // overlong
				} else if c == 0xF4 {
					hi = 0x8F // above U+10FFFF
				}
				if i+3 >= n || p[i+1] < lo || p[i+1] > hi || p[i+2]&0xC0 != 0x80 || p[i+3]&0xC0 != 0x80 {
					return false
				}
				i += 4
			default:
				return false
			}
		}
	}
}

// runeLen returns the length of the valid multi-byte rune starting at
// b[i] (b[i] >= 0x80), 0 when it is invalid, or -1 when b ends inside
// what could still be a valid rune.
func runeLen(b []byte, i int) int {
	c := b[i]
	switch {
	case c >= 0xC2 && c <= 0xDF:
		if i+1 >= len(b) {
			return -1
		}
		if b[i+1]&0xC0 != 0x80 {
			return 0
		}
		return 2
	case c >= 0xE0 && c <= 0xEF:
		lo, hi := byte(0x80), byte(0xBF)
		if c == 0xE0 {
			lo = 0xA0 // overlong
		} else if c == 0xED {
			hi = 0x9F // surrogates
		}
		if i+1 < len(b) && (b[i+1] < lo || b[i+1] > hi) {
			return 0
		}
		if i+2 >= len(b) {
			return -1
		}
		if b[i+2]&0xC0 != 0x80 {
			return 0
		}
		return 3
	case c >= 0xF0 && c <= 0xF4:
		lo, hi := byte(0x80), byte(0xBF)
		if c == 0xF0 {
			lo = 0x90 // overlong
		} else if c == 0xF4 {
			hi = 0x8F // above U+10FFFF
		}
		if i+1 < len(b) && (b[i+1] < lo || b[i+1] > hi) {
			return 0
		}
		if i+2 < len(b) && b[i+2]&0xC0 != 0x80 {
			return 0
		}
		if i+3 >= len(b) {
			return -1
		}
		if b[i+3]&0xC0 != 0x80 {
			return 0
		}
		return 4
	}
	return 0
}
