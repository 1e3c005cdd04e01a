package state_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/replicatorhq/replicator/host/state"
	"github.com/replicatorhq/replicator/host/state/statetest"
)

func TestFileConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Store {
		s, err := state.OpenFile(filepath.Join(t.TempDir(), "state.db"), state.FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestFileConformanceEncrypted runs the suite against a state file that
// encrypts credentials.
func TestFileConformanceEncrypted(t *testing.T) {
	keys, err := state.NewKeyring(strings.Repeat("ab", 32), "")
	if err != nil {
		t.Fatal(err)
	}
	statetest.Run(t, func(t *testing.T) state.Store {
		s, err := state.OpenFile(filepath.Join(t.TempDir(), "state.db"), state.FileOptions{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
