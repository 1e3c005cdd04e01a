package sockdir

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// deadPID returns the ID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestCreateRemovesFoldersOfGoneHosts(t *testing.T) {
	base := filepath.Join(t.TempDir(), "replicator-sockets")
	if err := os.Mkdir(base, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(base, strconv.Itoa(deadPID(t)))
	live := filepath.Join(base, strconv.Itoa(os.Getppid()))
	other := filepath.Join(base, "notes")
	for _, d := range []string{stale, live, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(stale, "plugin123"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	dir, remove, err := Create(base)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(base, strconv.Itoa(os.Getpid())); dir != want {
		t.Errorf("folder %s, want %s", dir, want)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("folder of a gone host kept: %v", err)
	}
	for _, d := range []string{live, other, dir} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	if err := remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("folder left after remove: %v", err)
	}
}

func TestCreateRefusesAnOpenBase(t *testing.T) {
	base := filepath.Join(t.TempDir(), "replicator-sockets")
	if err := os.Mkdir(base, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Create(base); err == nil {
		t.Fatal("a folder others may write to was used")
	}
}
