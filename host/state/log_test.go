package state

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTrimLog(t *testing.T) {
	var many []string
	for i := range 50 {
		many = append(many, fmt.Sprintf("line %d", i))
	}
	got := TrimLog(many)
	if len(got) != MaxLogLines || got[0] != "line 30" || got[len(got)-1] != "line 49" {
		t.Errorf("50 short lines keep %q, want the newest %d, oldest first", got, MaxLogLines)
	}

	long := strings.Repeat("é", MaxLogLineBytes) // two bytes each
	got = TrimLog([]string{"first", long})
	if len(got) != 2 || got[0] != "first" || !strings.HasSuffix(got[1], " … (cut)") || len(got[1]) > MaxLogLineBytes+len(" … (cut)") || !utf8.ValidString(got[1]) {
		t.Errorf("a long line is kept as %d bytes (valid UTF-8: %v)", len(got[1]), utf8.ValidString(got[1]))
	}

	big := strings.Repeat("x", MaxLogLineBytes-1)
	got = TrimLog([]string{"a", big, big, big, big, big})
	size := 0
	for _, l := range got {
		size += len(l)
	}
	if size > MaxLogBytes || len(got) != MaxLogBytes/MaxLogLineBytes || got[len(got)-1] != big {
		t.Errorf("lines of %d bytes: kept %d lines, %d bytes; want the newest that fit %d bytes", len(big), len(got), size, MaxLogBytes)
	}
	if TrimLog(nil) != nil {
		t.Error("no lines trim to some")
	}
}
