package country

import (
	"strings"
	"testing"
)

func TestRegion(t *testing.T) {
	ix := New()
	for _, tc := range []struct{ in, want string }{
		{"Netherlands", "NL"},
		{"the Netherlands", "NL"},
		{" nederland ", "NL"},
		{"NLD", "NL"},
		{"nl", "NL"},
		{"Deutschland", "DE"},
		{"Österreich", "AT"},
		{"U.S.A.", "US"},
		{"United States of America", "US"},
		{"UK", "GB"},
		{"Côte d'Ivoire", "CI"},
		{"Bosnia & Herzegovina", "BA"},
		{"Guinea-Bissau", "GW"},
		{"België", "BE"},
		{"", ""},
		{"Atlantis", ""},
	} {
		if got := ix.Region(tc.in); got != tc.want {
			t.Errorf("Region(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A name listed under two codes would silently map to the later one.
func TestTableHasNoClashes(t *testing.T) {
	seen := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
		parts := strings.Split(line, "|")
		if len(parts[0]) != 2 || len(parts) < 3 || len(parts[1]) != 3 {
			t.Errorf("malformed line %q", line)
			continue
		}
		for _, name := range parts {
			k := key(name)
			if prev, ok := seen[k]; ok && prev != parts[0] {
				t.Errorf("%q maps to both %s and %s", name, prev, parts[0])
			}
			seen[k] = parts[0]
		}
	}
}
