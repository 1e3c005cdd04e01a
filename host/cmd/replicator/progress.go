package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/term"

	"github.com/replicatorhq/replicator/host/runner"
)

// progress shows a run's counts: one line rewritten in place on a
// terminal, a log line every ten seconds otherwise, or when the log is
// JSON, whose every line must be JSON.
type progress struct {
	w        io.Writer
	name     string
	log      hclog.Logger
	terminal bool
	mu       sync.Mutex
	drawn    bool
}

func newProgress(w io.Writer, name string, log hclog.Logger, text bool) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, name: name, log: log, terminal: text && ok && term.IsTerminal(int(f.Fd()))}
}

func (p *progress) every() time.Duration {
	if p.terminal {
		return 250 * time.Millisecond
	}
	return 10 * time.Second
}

func (p *progress) update(s runner.Progress) {
	rate := 0.0
	if secs := s.Elapsed.Seconds(); secs > 0 {
		rate = float64(s.Read) / secs
	}
	if !p.terminal {
		p.log.Info("progress", "read", s.Read, "written", s.Written, "records_per_second", int64(rate), "elapsed", s.Elapsed.Round(time.Second))
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\x1b[K%s: read %s, written %s, %s records/s, %s elapsed",
		p.name, grouped(s.Read), grouped(s.Written), grouped(int64(rate)), s.Elapsed.Round(100*time.Millisecond))
	p.drawn = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// grouped writes n with thousands separators: 1234567 -> 1,234,567.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
