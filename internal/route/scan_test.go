package route

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// TestStopWord checks the SWAR string scanner's word test against the
// byte table for every byte value at every position.
func TestStopWord(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			for _, fill := range []byte{'a', 0xff, 0x80, 0x21, 0x7f, 0x1f} {
				var w [8]byte
				for k := range w {
					w[k] = fill
				}
				w[pos] = byte(c)
				x := uint64(0)
				for k := 7; k >= 0; k-- {
					x = x<<8 | uint64(w[k])
				}
				m := stopWord(x)
				// expected first stop index
				exp := -1
				for k := 0; k < 8; k++ {
					if strStop[w[k]] {
						exp = k
						break
					}
				}
				got := -1
				if m != 0 {
					got = 0
					for m&0xff == 0 {
						m >>= 8
						got++
					}
					if m&0x80 == 0 {
						t.Fatal("flag not high bit")
					}
				}
				if got != exp {
					t.Fatalf("c=%x pos=%d fill=%x: got %d want %d", c, pos, fill, got, exp)
				}
			}
		}
	}
}

// TestValidUTF8 compares validUTF8 with utf8.Valid on random byte strings
// biased towards ASCII with scattered multi-byte sequences, valid or not.
func TestValidUTF8(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pieces := []string{"a", "abcdefgh", "é", "東", "🚀", "\xff", "\xc3", "\xe6\x9d", "\xed\xa0\x80", "\xed\x9f\xbf", "\xe0\x9f\x80", "\xe0\xa0\x80", "\xc0\xaf", "\xc2\x80", "\xf0\x8f\x80\x80", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5", "\x80", "\uFFFD", " "}
	for range 50000 {
		var b []byte
		for range rng.IntN(30) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		if validUTF8(b) != utf8.Valid(b) {
			t.Fatalf("%q: validUTF8 %v, utf8.Valid %v", b, validUTF8(b), utf8.Valid(b))
		}
	}
}

// TestSkipStringUTF8 checks the validating string scan against
// utf8.Valid: a string scans with u set exactly when its body is valid
// UTF-8 (for bodies without quotes, backslashes or control characters),
// and a body cut inside a rune is incomplete, not invalid.
func TestSkipStringUTF8(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	pieces := []string{"a", "abcdefgh", "é", "東京", "🚀", "\xff", "\xc3", "\xe6\x9d", "\xed\xa0\x80", "\xed\x9f\xbf", "\xe0\x9f\x80", "\xc0\xaf", "\xf0\x8f\x80\x80", "\xf4\x90\x80\x80", "\xf5", "\x80", " "}
	for range 50000 {
		body := []byte{'"'}
		for range rng.IntN(20) {
			body = append(body, pieces[rng.IntN(len(pieces))]...)
		}
		valid := utf8.Valid(body[1:])
		s := append(append([]byte{}, body...), '"')
		end, _, err := skipString(s, 0, true)
		if valid != (err == nil) || (err == nil && end != len(s)) || (!valid && err != errBadUTF8) {
			t.Fatalf("%q: valid %v, got end %d err %v", s, valid, end, err)
		}
		if _, _, err := skipString(s, 0, false); err != nil {
			t.Fatalf("%q: lenient scan: %v", s, err)
		}
		if valid {
			// Every cut of a valid body is incomplete, never invalid.
			for k := 1; k < len(body); k++ {
				if _, _, err := skipString(body[:k], 0, true); err != errIncomplete {
					t.Fatalf("%q cut at %d: %v", body, k, err)
				}
			}
		}
	}
}
