package csvcontacts

import (
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

func TestConformance(t *testing.T) {
	path := writeFile(t, awkward)
	plugintest.SourceSuite{
		New:       func(log hclog.Logger) contract.Source { return New(log) },
		Config:    configFor(path, `, "default_region": "NL", "checkpoint_every": 2`),
		BadConfig: configFor(path, `, "default_region": "Holland"`),
		Change:    editFile(path),
	}.Run(t)
}

// editFile is the suite's Change: someone edits the file, contact 2
// changes, 8 is added, and 5's row is removed. A CSV file has no
// deletions to report, so 5 only has to be gone from the next full read.
func editFile(path string) func(*testing.T, string, []string) plugintest.Changes {
	return func(t *testing.T, _ string, _ []string) plugintest.Changes {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var kept []string
		for _, line := range strings.SplitAfter(string(b), "\n") {
			if !strings.HasPrefix(line, "5,") {
				kept = append(kept, line)
			}
		}
		kept = append(kept,
			"2,2026-06-01T10:00:00Z,Alan,Turing,Bletchley Park,030 1234567,DE,,\n",
			"8,2026-06-01T10:00:00Z,Katherine,Johnson,NASA,+1 757 864 1000,US,,\n")
		if err := os.WriteFile(path, []byte(strings.Join(kept, "")), 0o600); err != nil {
			t.Fatal(err)
		}
		return plugintest.Changes{Upserted: []string{"2", "8"}, Deleted: []string{"5"}}
	}
}
