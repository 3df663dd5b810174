package jsonscan

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestSkipSpace(t *testing.T) {
	for _, tc := range []struct {
		in   string
		i    int
		want int
	}{
		{"", 0, 0},
		{"x", 0, 0},
		{" \t\r\nx", 0, 4},
		{"a  ", 1, 3},
		{"\v\f x", 0, 0}, // not JSON whitespace
		{"\u00a0x", 0, 0},
		{"   ", 3, 3},
	} {
		if got := SkipSpace([]byte(tc.in), tc.i); got != tc.want {
			t.Errorf("SkipSpace(%q, %d) = %d, want %d", tc.in, tc.i, got, tc.want)
		}
	}
	for c := 0; c < 256; c++ {
		want := c == ' ' || c == '\t' || c == '\n' || c == '\r'
		if IsSpace(byte(c)) != want {
			t.Errorf("IsSpace(%#x) = %v", c, !want)
		}
	}
}

func TestHex4(t *testing.T) {
	for _, tc := range []struct {
		in   string
		i    int
		want rune
		ok   bool
	}{
		{"0000", 0, 0, true},
		{"00e9", 0, 0xe9, true},
		{"FFFF", 0, 0xffff, true},
		{"aBcD", 0, 0xabcd, true},
		{`\ud83d`, 2, 0xd83d, true},
		{"123", 0, 0, false},
		{"12345", 2, 0, false},
		{"12g4", 0, 0, false},
		{"-123", 0, 0, false},
		{"", 0, 0, false},
	} {
		r, ok := Hex4([]byte(tc.in), tc.i)
		if r != tc.want || ok != tc.ok {
			t.Errorf("Hex4(%q, %d) = %#x, %v; want %#x, %v", tc.in, tc.i, r, ok, tc.want, tc.ok)
		}
	}
	for c := 0; c < 256; c++ {
		want := rune(-1)
		switch {
		case c >= '0' && c <= '9':
			want = rune(c - '0')
		case c >= 'a' && c <= 'f':
			want = rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			want = rune(c-'A') + 10
		}
		if got := Unhex(byte(c)); got != want {
			t.Errorf("Unhex(%#x) = %d, want %d", c, got, want)
		}
	}
}

func TestAppendUnescaped(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{``, ``, true},
		{`plain`, `plain`, true},
		{`caf\u00e9`, "café", true},
		{`\"\\\/\b\f\n\r\t`, "\"\\/\b\f\n\r\t", true},
		{`a\u0000b`, "a\x00b", true},
		{`\ud83d\ude00x`, "😀x", true},
		{`\uD83D\uDE00`, "😀", true},
		{`\ud83d`, "\ufffd", true},               // lone high surrogate
		{`\ude00`, "\ufffd", true},               // lone low surrogate
		{`\ude00\ud83d`, "\ufffd\ufffd", true},   // reversed pair
		{`\ud83dx\ude00`, "\ufffdx\ufffd", true}, // split pair
		{`\ud83d\u0041`, "\ufffdA", true},        // high then non-surrogate
		{`\ud83d\ud83d\ude00`, "\ufffd😀", true},  // high, then a pair
		{`\ud83d\n`, "\ufffd\n", true},
		{`日本\u65e5`, "日本日", true},
		{"raw\x01ctl", "raw\x01ctl", true}, // copied as is
		{`ab\`, `ab`, false},
		{`ab\x`, `ab`, false},
		{`ab\u12`, `ab`, false},
		{`ab\u12g4`, `ab`, false},
		{`\ud83d\uZZZZ`, "\ufffd", false},
		{`\ud83d\u12`, "\ufffd", false},
	} {
		got, ok := AppendUnescaped([]byte(">"), []byte(tc.in))
		if string(got) != ">"+tc.want || ok != tc.ok {
			t.Errorf("AppendUnescaped(%q) = %q, %v; want %q, %v", tc.in, got[1:], ok, tc.want, tc.ok)
		}
	}
}

// FuzzAppendUnescaped: never panics, and on every string body
// encoding/json accepts (in valid UTF-8, which encoding/json would
// replace) it yields what encoding/json decodes.
func FuzzAppendUnescaped(f *testing.F) {
	for _, s := range []string{``, `plain`, `caf\u00e9`, `\"\\\/\b\f\n\r\t`, `\ud83d\ude00x`,
		`\ud83d`, `\ude00\ud83d`, `\ud83d\u0041`, `ab\u12`, `\ud83d\uZZZZ`, `\`, `x\u`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		got, ok := AppendUnescaped(nil, s)
		if !utf8.Valid(s) {
			return
		}
		quoted := make([]byte, 0, len(s)+2)
		quoted = append(append(append(quoted, '"'), s...), '"')
		var want string
		if json.Unmarshal(quoted, &want) != nil {
			return
		}
		if !ok || string(got) != want {
			t.Fatalf("AppendUnescaped(%q) = %q, %v; encoding/json %q", s, got, ok, want)
		}
	})
}

func BenchmarkAppendUnescaped(b *testing.B) {
	s := []byte(`caf\u00e9 cr\u00e8me \"quoted\" \ud83d\ude80 na\u00efve and a longer plain tail of text`)
	var dst []byte
	for b.Loop() {
		dst, _ = AppendUnescaped(dst[:0], s)
	}
}
