package logbuf

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestWritersAndReaderAtOnce(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				fmt.Fprintf(&b, "writer=%d line=%d\n", w, i)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.Lines("line=")); got != 400 {
		t.Errorf("%d lines, want 400", got)
	}
	if got := b.Lines("writer=2", "line=99"); !slices.Equal(got, []string{"writer=2 line=99"}) {
		t.Errorf("Lines(writer=2, line=99) = %q", got)
	}
}
