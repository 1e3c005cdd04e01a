package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestRunReloadsItsConfigurationFolder runs a folder of tenant files and
// changes it under the running host: an added tenant runs, a broken file
// is reported with its position while the others keep running, a changed
// tenant runs as changed, a removed one stops, SIGHUP reloads rather than
// ends the host, and a lock file updated by `init -upgrade` is followed.
func TestRunReloadsItsConfigurationFolder(t *testing.T) {
	w := newWorkspace(t, tenantConfig("alpha", 100, "1s"))
	w.mustRun("init", "-config", ".")
	cmd, log := w.startRun("-config", ".")
	waitLog(t, log, "run finished: pipeline=alpha", 1)

	w.write("beta.hcl", tenantConfig("beta", 100, "1s"))
	waitLog(t, log, "run finished: pipeline=beta run=1 outcome=succeeded read=100", 1)

	w.write("gamma.hcl", "pipeline \"gamma\" {\n  source = \n}\n")
	waitLog(t, log, "its pipelines are left out until it is fixed", 1)
	// The diagnostics follow that line in writes of their own.
	waitLog(t, log, "gamma.hcl line 2", 1)
	waitLog(t, log, "Invalid expression", 1)
	betas := strings.Count(log.String(), "run finished: pipeline=beta")
	waitLog(t, log, "run finished: pipeline=beta", betas+2)
	if err := os.Remove(w.path("gamma.hcl")); err != nil {
		t.Fatal(err)
	}

	// An attribute the plugin does not know is refused at the reload, with
	// its position, as validate reports it; delta never runs.
	w.write("delta.hcl", strings.Replace(tenantConfig("delta", 100, "1s"), "count       = 100", "count       = 100\n  colour      = \"red\"", 1))
	waitLog(t, log, "its pipelines are left out until it is fixed", 2)
	waitLog(t, log, "delta.hcl line 4", 1)
	waitLog(t, log, "Unsupported argument", 1)
	if err := os.Remove(w.path("delta.hcl")); err != nil {
		t.Fatal(err)
	}

	w.write("beta.hcl", tenantConfig("beta", 300, "1s"))
	waitLog(t, log, "outcome=succeeded read=200 written=200", 1)

	if err := os.Remove(w.path("replicator.hcl")); err != nil {
		t.Fatal(err)
	}
	waitLog(t, log, "pipeline removed; it stops after its run in flight: pipeline=alpha", 1)
	alphas := strings.Count(log.String(), "run finished: pipeline=alpha")
	betas = strings.Count(log.String(), "run finished: pipeline=beta")
	waitLog(t, log, "run finished: pipeline=beta", betas+3)
	if strings.Contains(log.String(), "pipeline=delta") {
		t.Errorf("delta ran from a configuration with errors:\n%s", log.String())
	}
	if n := strings.Count(log.String(), "run finished: pipeline=alpha"); n > alphas+1 {
		t.Errorf("alpha ran %d more times after it was removed", n-alphas)
	}

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, log, "reason=SIGHUP", 1)

	// A new build of the generator is refused until `init -upgrade`
	// records it; the running host follows the lock file.
	plugin := w.path("plugins/replicator-source-generator")
	f := openToWrite(t, plugin, os.O_WRONLY|os.O_APPEND)
	if _, err := f.Write([]byte("trailing bytes the ELF loader ignores")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitLog(t, log, "but the lock file records", 1)
	w.mustRun("init", "-upgrade", "-config", ".")
	betas = strings.Count(log.String(), "run finished: pipeline=beta")
	waitLog(t, log, "run finished: pipeline=beta", betas+1)
	stop(t, cmd, log)
}

// TestRunFollowsAChangeSavedWhileStarting saves a tenant file while
// `replicator run` is still starting, held up reaching its state
// database, after it has read the configuration: the host runs the new
// tenant once it has started, rather than missing the change.
func TestRunFollowsAChangeSavedWhileStarting(t *testing.T) {
	_, _ = fleetDatabase(t)
	url, reached, open := gateDatabase(t, os.Getenv("FLEET_DATABASE_URL"))
	t.Setenv("FLEET_DATABASE_URL", url)
	w := newWorkspace(t, fmt.Sprintf(`state {
  postgres       = env("FLEET_DATABASE_URL")
  encryption_key = %q
}
`, fleetKey)+tenantConfig("alpha", 100, "1h"))
	w.mustRun("init", "-config", ".")
	_, log := w.startRun("-config", ".")
	select {
	case <-reached:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the host did not reach its state database within two minutes:\n%s", log.String())
	}
	w.write("beta.hcl", tenantConfig("beta", 100, "1h"))
	open()
	waitLog(t, log, "run finished: pipeline=beta", 1)
}

// gateDatabase puts a gate before the PostgreSQL database of url, a
// connection string with host set to the server's socket folder: it
// returns the gate's connection string, a channel closed once a
// connection reaches the gate, and open, which lets that connection and
// every later one through to the server. Until then they wait.
func gateDatabase(t *testing.T, url string) (string, <-chan struct{}, func()) {
	t.Helper()
	var server string
	for _, kv := range strings.Fields(url) {
		if v, ok := strings.CutPrefix(kv, "host="); ok {
			server = v
		}
	}
	if server == "" {
		t.Fatalf("no host= in %q", url)
	}
	const socket = ".s.PGSQL.5432"
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, socket))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	reached, opened := make(chan struct{}), make(chan struct{})
	var once sync.Once
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			once.Do(func() { close(reached) })
			go func() {
				defer c.Close()
				<-opened
				s, err := net.Dial("unix", filepath.Join(server, socket))
				if err != nil {
					return
				}
				defer s.Close()
				go func() { _, _ = io.Copy(s, c) }()
				_, _ = io.Copy(c, s)
			}()
		}
	}()
	var openOnce sync.Once
	open := func() { openOnce.Do(func() { close(opened) }) }
	t.Cleanup(open) // the connections still waiting end at the server's
	return strings.Replace(url, "host="+server, "host="+dir, 1), reached, open
}
