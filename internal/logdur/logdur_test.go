package logdur

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// In JSON, a duration is its text, whether given to a call, to With, or to
// a logger derived with Named or ResetNamed.
func TestJSONDurationsAreText(t *testing.T) {
	var out strings.Builder
	log := Text(hclog.New(&hclog.LoggerOptions{Output: &out, JSONFormat: true}))
	log.Info("run finished", "took", 1234567891*time.Nanosecond, "read", 5)
	log.With("timeout", 5*time.Minute).Warn("slow")
	log.Named("a").ResetNamed("b").Log(hclog.Error, "stalled", "for", 2500*time.Microsecond)

	want := []map[string]any{
		{"took": "1.235s", "read": float64(5)},
		{"timeout": "5m0s"},
		{"for": "2.5ms", "@module": "b"},
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("line %d: %s = %#v, want %#v\n%s", i, k, got[k], v, line)
			}
		}
	}
}

func TestReadable(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1234567891 * time.Nanosecond: "1.235s",
		-1500 * time.Millisecond:     "-1.5s",
		2345678 * time.Nanosecond:    "2.346ms",
		999 * time.Nanosecond:        "999ns",
		90 * time.Minute:             "1h30m0s",
		0:                            "0s",
	} {
		if got := Readable(d); got != want {
			t.Errorf("Readable(%d) = %q, want %q", int64(d), got, want)
		}
	}
}

// Text of a logger Text made is that logger, not a second wrapping.
func TestTextOnce(t *testing.T) {
	log := Text(hclog.NewNullLogger())
	if Text(log) != log {
		t.Error("Text wrapped its own logger again")
	}
}
