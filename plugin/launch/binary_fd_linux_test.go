package launch

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// fdHook calls call once, the first time a log line holding msg is
// written.
type fdHook struct {
	msg  []byte
	once sync.Once
	call func()
}

func (h *fdHook) Write(p []byte) (int, error) {
	if bytes.Contains(p, h.msg) {
		h.once.Do(h.call)
	}
	return len(p), nil
}

// os/exec hands a child its descriptors at 0, 1 and 2, and, when its own
// status pipe got a lower number, moves that pipe to the number just
// above the highest of them, overwriting whatever the child had there. A
// binary launched through /proc/self/fd/N whose N is that number runs the
// pipe instead: "fork/exec /proc/self/fd/N: permission denied". Here the
// descriptors are laid out so that it is: the binary right above four
// free numbers (the plugin's stdout and stderr pipes take them), and two
// numbers below those freed just before the fork, as a busy host's other
// work frees them, for the status pipe.
func TestStartRunsTheBinaryWhateverTheDescriptorNumbers(t *testing.T) {
	path := buildGenerator(t)
	hc, err := NewHostCert()
	if err != nil {
		t.Fatal(err)
	}
	b := NewBinaries()
	b.now = func() time.Time { return time.Unix(0, 0) } // each Open opens the file anew
	defer b.Close()
	// The first launch makes what a process makes once (the runtime's
	// poller), so that the numbers below stay as laid out.
	startAndClose(t, b, path, Config{Kind: KindSource, HostCert: hc})

	// A number the process frees meanwhile (a pipe of the launch before,
	// closed as it ends) spoils a layout: such tries do not count.
	launched := 0
	for try := 0; launched < 3; try++ {
		if try == 50 {
			t.Fatalf("the descriptors could be laid out for %d launches of 50 tries", launched)
		}
		if launchAboveFreedDescriptors(t, b, path, hc) {
			launched++
		}
	}
}

// launchAboveFreedDescriptors lays the descriptors out and launches the
// plugin; it returns false, launching nothing, when the binary did not
// get the number meant for it.
func launchAboveFreedDescriptors(t *testing.T, b *Binaries, path string, hc *HostCert) bool {
	t.Helper()
	// Seven consecutive numbers, d[0] .. d[6], above every one in use: a
	// new descriptor takes the lowest free number, so the opens fill the
	// gaps first.
	var all, d []*os.File
	defer func() {
		for _, f := range all {
			f.Close()
		}
	}()
	for len(d) < 7 {
		if len(all) == 1000 {
			t.Fatal("no seven consecutive descriptors in a thousand")
		}
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, f)
		if len(d) > 0 && f.Fd() != d[len(d)-1].Fd()+1 {
			d = d[:0]
		}
		d = append(d, f)
	}
	want := d[6].Fd()
	d[6].Close()
	bin, err := b.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Release()
	if bin.file.Fd() != want {
		return false
	}
	for _, f := range d[2:6] {
		f.Close()
	}
	// go-plugin logs "starting plugin" once it has made the plugin's
	// stdout and stderr pipes, right before it starts the process.
	hook := &fdHook{msg: []byte("starting plugin"), call: func() {
		d[0].Close()
		d[1].Close()
	}}
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: hook})
	startAndClose(t, b, path, Config{Binary: bin, Kind: KindSource, HostCert: hc, Logger: log})
	return true
}

// startAndClose starts cfg, with the binary at path when cfg has none,
// and closes it.
func startAndClose(t *testing.T, b *Binaries, path string, cfg Config) {
	t.Helper()
	if cfg.Binary == nil {
		bin, err := b.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer bin.Release()
		cfg.Binary = bin
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start the plugin: %v", err)
	}
	c.Close()
}
