// Package logdur makes an hclog logger write durations as text, such as
// took=1.234s. hclog's JSON format writes a time.Duration as its integer
// count of nanoseconds, which nobody reads; the host and the plugins wrap
// their loggers with Text so that both formats read alike.
package logdur

import (
	"time"

	"github.com/hashicorp/go-hclog"
)

// Text returns a logger that writes to l, with every time.Duration value
// written as text, rounded to keep it short (see Readable). The loggers
// derived from it (With, Named, ResetNamed) do the same.
func Text(l hclog.Logger) hclog.Logger {
	if _, ok := l.(logger); ok {
		return l
	}
	return logger{l}
}

// Readable is d as text, without the digits below what a person reads:
// to the millisecond from a second up, to the microsecond from a
// millisecond up.
func Readable(d time.Duration) string {
	switch abs := max(d, -d); {
	case abs >= time.Second:
		d = d.Round(time.Millisecond)
	case abs >= time.Millisecond:
		d = d.Round(time.Microsecond)
	}
	return d.String()
}

type logger struct{ hclog.Logger }

// texts returns args with each time.Duration value replaced by its text;
// args is key, value, …, and keys are left alone.
func texts(args []any) []any {
	var out []any
	for i := 1; i < len(args); i += 2 {
		d, ok := args[i].(time.Duration)
		if !ok {
			continue
		}
		if out == nil {
			out = append([]any(nil), args...)
		}
		out[i] = Readable(d)
	}
	if out == nil {
		return args
	}
	return out
}

func (l logger) Log(level hclog.Level, msg string, args ...any) {
	l.Logger.Log(level, msg, texts(args)...)
}

func (l logger) Trace(msg string, args ...any) { l.Logger.Trace(msg, texts(args)...) }
func (l logger) Debug(msg string, args ...any) { l.Logger.Debug(msg, texts(args)...) }
func (l logger) Info(msg string, args ...any)  { l.Logger.Info(msg, texts(args)...) }
func (l logger) Warn(msg string, args ...any)  { l.Logger.Warn(msg, texts(args)...) }
func (l logger) Error(msg string, args ...any) { l.Logger.Error(msg, texts(args)...) }

func (l logger) With(args ...any) hclog.Logger { return logger{l.Logger.With(texts(args)...)} }
func (l logger) Named(name string) hclog.Logger {
	return logger{l.Logger.Named(name)}
}
func (l logger) ResetNamed(name string) hclog.Logger {
	return logger{l.Logger.ResetNamed(name)}
}
