package policy

import (
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"alice": true, "a": true, "a1-b2": true,
		"a" + strings.Repeat("b", 39): true, // 40 characters
		"":                            false, "1abc": false, "-abc": false, "Alice": false, "a_b": false, "a.b": false, "a/b": false,
		"a" + strings.Repeat("b", 40): false, // 41 characters
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}
