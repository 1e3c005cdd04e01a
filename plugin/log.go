package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// maxLogLine bounds one log line of a plugin as the host keeps it: a
// plugin that writes without line breaks must not fill the host's memory.
const maxLogLine = 64 << 10

// pluginLog is the host's logger as go-plugin gets it. go-plugin notes a
// plugin's normal exit at info level; the host ends its plugins after
// every run and reports an abnormal exit as an error anyway, so the note
// goes to debug.
type pluginLog struct{ hclog.Logger }

func (l pluginLog) Info(msg string, args ...any) {
	if msg == "plugin process exited" {
		l.Debug(msg, args...)
		return
	}
	l.Logger.Info(msg, args...)
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

	mu      sync.Mutex
	max     int
	partial []byte
	cut     bool // the partial line passed maxLogLine; the rest is dropped
	inPanic bool // a panic started: the lines after it are its stack
	ring    []string
}

func newTail(max int, log hclog.Logger) *tail { return &tail{max: max, log: log} }

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

// line logs one complete line and keeps it in the ring.
func (t *tail) line(b []byte) {
	e, ok := parseLogLine(b)
	if !ok {
		s := string(b)
		if t.cut {
			s += " … (line cut at 64 KiB)"
		}
		t.keep(s)
		t.logPlain(s)
		return
	}
	t.keep(e.render())
	if t.log == nil {
		return
	}
	switch e.level {
	case hclog.Trace:
		t.log.Trace(e.msg, e.args...)
	case hclog.Debug:
		t.log.Debug(e.msg, e.args...)
	case hclog.Info:
		t.log.Info(e.msg, e.args...)
	case hclog.Warn:
		t.log.Warn(e.msg, e.args...)
	case hclog.Error:
		t.log.Error(e.msg, e.args...)
	default:
		// JSON without a level is not from hclog: shown as it came.
		t.log.Debug(string(b))
	}
}

// logPlain logs a line that is not hclog's JSON, at the level its prefix
// names; a panic and every line after it are errors.
func (t *tail) logPlain(s string) {
	if t.log == nil {
		return
	}
	switch {
	case strings.HasPrefix(s, "[TRACE]"):
		t.log.Trace(s)
	case strings.HasPrefix(s, "[DEBUG]"):
		t.log.Debug(s)
	case strings.HasPrefix(s, "[INFO]"):
		t.log.Info(s)
	case strings.HasPrefix(s, "[WARN]"):
		t.log.Warn(s)
	case strings.HasPrefix(s, "[ERROR]"):
		t.log.Error(s)
	case strings.HasPrefix(s, "panic: ") || strings.HasPrefix(s, "fatal error: "):
		t.inPanic = true
		t.log.Error(s)
	case t.inPanic:
		t.log.Error(s)
	default:
		t.log.Debug(s)
	}
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
