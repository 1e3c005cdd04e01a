package e2e

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"syscall"
	"testing"
)

// TestRunSurvivesSIGHUPWhileStarting sends SIGHUP to `replicator run`
// while it is still starting, held up connecting to its state database
// (a listener here that never answers): the host must not die of it,
// as a reload asked for at that moment is no reason to stop; SIGTERM
// then stops it.
func TestRunSurvivesSIGHUPWhileStarting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	w := newWorkspace(t, fmt.Sprintf(`state {
  postgres       = "postgres://replicator@%s/replicator?sslmode=disable"
  encryption_key = %q
}
`, l.Addr(), fleetKey)+generatorConfig(10, 5, ""))
	w.mustRun("init")
	cmd, log := w.startRun()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The host now waits for the database's answer, before any pipeline
	// runs.
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("replicator run, starting, died of %v:\n%s", ws.Signal(), log.String())
		}
	}
}
