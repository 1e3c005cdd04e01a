package launch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Bounds on what a plugin can write into the host's log.
const (
	// maxLogLine is the most of one line the host keeps and logs; the rest
	// is cut, with a note saying so. A plugin that writes without line
	// breaks must not fill the host's memory or its log.
	maxLogLine = 16 << 10
	// maxLogLinesPerSecond is how many of a plugin's lines the host logs
	// in a second; the rest of that second's are dropped and counted in
	// one warning. The last lines kept for a crash's error include them.
	maxLogLinesPerSecond = 100
)

// pluginLog is the host's logger as go-plugin gets it. go-plugin notes a
// plugin's normal exit at info level; the host ends its plugins after
// every run and reports an abnormal exit as an error anyway, so the note
// goes to debug. So do go-plugin's complaints about a plugin the host
// killed on purpose (Client.Kill): its exit by SIGKILL, and that it did
// not exit gracefully when closed after.
type pluginLog struct {
	hclog.Logger
	killed *atomic.Bool
}

func (l pluginLog) Info(msg string, args ...any) {
	if msg == "plugin process exited" {
		l.Debug(msg, args...)
		return
	}
	l.Logger.Info(msg, args...)
}

func (l pluginLog) Warn(msg string, args ...any) {
	if l.killed.Load() {
		l.Debug(msg, args...)
		return
	}
	l.Logger.Warn(msg, args...)
}

func (l pluginLog) Error(msg string, args ...any) {
	if l.killed.Load() && msg == "plugin process exited" {
		l.Debug(msg, args...)
		return
	}
	l.Logger.Error(msg, args...)
}

// Named is what go-plugin logs a plugin's own lines through. It gets a
// logger that is switched off, so go-plugin leaves the lines alone: its
// parser panics on a "@message" that is not a string and turns every
// number into a float. The plugin's stderr reaches the host's log through
// tail instead.
func (l pluginLog) Named(string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard})
}

// tail receives a plugin's stderr. It logs each line through the host's
// logger, named after the plugin, and keeps the last lines for the error
// of a crashed run, rendering hclog's JSON lines as
// "[LEVEL] message key=value".
type tail struct {
	log hclog.Logger // nil logs nothing
	now func() time.Time

	mu      sync.Mutex
	max     int
	partial []byte
	cut     bool // the partial line passed maxLogLine; the rest is dropped
	inPanic bool // a panic started: the lines after it are its stack
	ring    []string
	// The rate limit: when the current second began, the lines logged in
	// it, and the lines dropped since the last warning about them.
	second  time.Time
	logged  int
	dropped int64
}

func newTail(max int, log hclog.Logger) *tail { return &tail{max: max, log: log, now: time.Now} }

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxLogLine - len(t.partial); len(chunk) > room {
			chunk, t.cut = chunk[:max(room, 0)], true
		}
		t.partial = append(t.partial, chunk...)
		if i < 0 {
			break
		}
		if len(t.partial) > 0 {
			t.line(t.partial)
		}
		t.partial, t.cut = t.partial[:0], false
		p = p[i+1:]
	}
	return n, nil
}

// line logs one complete line, at most maxLogLinesPerSecond a second,
// and keeps it in the ring.
func (t *tail) line(b []byte) {
	e, ok := parseLogLine(b)
	switch {
	case !ok:
		e = t.plain(b)
		t.keep(e.msg)
	case e.level < hclog.Trace || e.level > hclog.Error:
		// JSON without a level is not from hclog: shown as it came.
		t.keep(e.render())
		e = logEntry{level: hclog.Debug, msg: string(b)}
	default:
		t.keep(e.render())
	}
	if t.log == nil || e.level < t.log.GetLevel() || !t.allow() {
		return
	}
	t.log.Log(e.level, e.msg, e.args...)
}

// plain reads a line that is not hclog's JSON at the level its prefix
// names; a panic and every line after it are errors, and one of hclog's
// lines cut at maxLogLine keeps its level.
func (t *tail) plain(b []byte) logEntry {
	s := string(b)
	if t.cut {
		s += fmt.Sprintf(" … (line cut at %d KiB)", maxLogLine>>10)
	}
	e := logEntry{level: hclog.Debug, msg: s}
	switch {
	case strings.HasPrefix(s, "[TRACE]"):
		e.level = hclog.Trace
	case strings.HasPrefix(s, "[DEBUG]"):
		e.level = hclog.Debug
	case strings.HasPrefix(s, "[INFO]"):
		e.level = hclog.Info
	case strings.HasPrefix(s, "[WARN]"):
		e.level = hclog.Warn
	case strings.HasPrefix(s, "[ERROR]"):
		e.level = hclog.Error
	case strings.HasPrefix(s, "panic: ") || strings.HasPrefix(s, "fatal error: "):
		t.inPanic = true
		e.level = hclog.Error
	case t.inPanic:
		e.level = hclog.Error
	case t.cut:
		e.level = cutLevel(b)
	}
	return e
}

// cutLevel is the level of one of hclog's JSON lines cut short, or debug.
// hclog writes its keys in order, so "@level" comes first or after
// "@caller".
func cutLevel(b []byte) hclog.Level {
	const key = `"@level":"`
	head := b[:min(len(b), 512)]
	i := bytes.Index(head, []byte(key))
	if i < 0 {
		return hclog.Debug
	}
	rest := head[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return hclog.Debug
	}
	if l := hclog.LevelFromString(string(rest[:j])); l >= hclog.Trace && l <= hclog.Error {
		return l
	}
	return hclog.Debug
}

// allow reports whether one more line may be logged this second. The
// first line of a new second warns about the lines dropped in the last.
func (t *tail) allow() bool {
	if now := t.now(); now.Sub(t.second) >= time.Second {
		t.warnDropped()
		t.second, t.logged = now, 0
	}
	if t.logged >= maxLogLinesPerSecond {
		t.dropped++
		return false
	}
	t.logged++
	return true
}

// warnDropped logs how many lines were dropped since it last did.
func (t *tail) warnDropped() {
	if t.dropped == 0 || t.log == nil {
		return
	}
	t.log.Warn(
		fmt.Sprintf("plugin logged more than %d lines a second; the lines beyond were dropped", maxLogLinesPerSecond),
		"dropped",
		t.dropped,
	)
	t.dropped = 0
}

// flush warns about lines dropped since the last warning; for when the
// plugin has ended.
func (t *tail) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.warnDropped()
}

func (t *tail) keep(s string) {
	t.ring = append(t.ring, s)
	if len(t.ring) > t.max {
		t.ring = t.ring[len(t.ring)-t.max:]
	}
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.ring...)
	if len(t.partial) > 0 {
		out = append(out, string(t.partial))
	}
	return out
}

// logEntry is one of hclog's JSON lines.
type logEntry struct {
	level hclog.Level
	msg   string
	args  []any // key, value, …, keys sorted
}

// parseLogLine reads one of hclog's JSON lines. Numbers keep their type:
// a whole number is an int64, anything else a float64; numbers inside
// nested values stay as written.
func parseLogLine(b []byte) (logEntry, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if dec.Decode(&raw) != nil || dec.More() {
		return logEntry{}, false
	}
	msg, ok := raw["@message"].(string)
	if !ok {
		return logEntry{}, false
	}
	level, _ := raw["@level"].(string)
	e := logEntry{level: hclog.LevelFromString(level), msg: msg}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if strings.HasPrefix(k, "@") {
			continue
		}
		v := raw[k]
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				v = i
			} else if f, err := n.Float64(); err == nil {
				v = f
			}
		}
		e.args = append(e.args, k, v)
	}
	return e, true
}

func (e logEntry) render() string {
	var b strings.Builder
	level := "?"
	if e.level != hclog.NoLevel {
		level = strings.ToUpper(e.level.String())
	}
	fmt.Fprintf(&b, "[%s] %s", level, e.msg)
	for i := 0; i+1 < len(e.args); i += 2 {
		fmt.Fprintf(&b, " %s=%v", e.args[i], e.args[i+1])
	}
	return b.String()
}
