package indexuid

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for uid, want := range map[string]bool{
		"movies": true, "a-b_C9": true, "123": true, strings.Repeat("a", 400): true,
		"": false, strings.Repeat("a", 401): false, "a b": false, "a/b": false, "é": false, "a\n": false, "a.b": false,
	} {
		if got := Valid(uid); got != want {
			t.Errorf("Valid(%q) = %v, want %v", uid, got, want)
		}
	}
}
