// Package reload tells a long-running host when to read its configuration
// again: when a file of it changes on disk, or when asked (SIGHUP).
package reload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/replicatorhq/replicator/host/lockfile"
)

// DefaultSettle is how long the configuration must stay unchanged before
// a change is acted on: saving several files, or an editor's write and
// rename, makes one reload.
const DefaultSettle = 500 * time.Millisecond

// Watch calls reload, from its own goroutine, after the configuration at
// path (an .hcl file or a folder of them) or its lock file changed and
// then stayed unchanged for settle, and at once each time ask delivers.
// reason says why: "SIGHUP" or the files that changed. Watch returns when
// ctx is done, or at once with an error when path cannot be watched;
// ask still works then only if the caller keeps reading it itself.
func Watch(ctx context.Context, path string, settle time.Duration, ask <-chan os.Signal, reload func(reason string)) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("watch the configuration: %w", err)
	}
	dir, only := path, ""
	if !info.IsDir() {
		dir, only = filepath.Dir(path), filepath.Base(path)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch the configuration: %w", err)
	}
	defer w.Close()
	// The folder, not the files: editors and `replicator init` replace a
	// file by renaming a new one over it, which a watch on the old file
	// would not see.
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watch the configuration folder %s: %w", dir, err)
	}

	timer := time.NewTimer(settle)
	timer.Stop()
	defer timer.Stop()
	var changed []string
	for {
		select {
		case <-ctx.Done():
			return nil
		case sig, ok := <-ask:
			if !ok {
				ask = nil
				continue
			}
			reload(signalName(sig))
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("watch the configuration: the watcher stopped")
			}
			name := filepath.Base(ev.Name)
			if !relevant(name, only) || ev.Op == fsnotify.Chmod {
				continue
			}
			if !slices.Contains(changed, name) {
				changed = append(changed, name)
			}
			timer.Reset(settle)
		case <-timer.C:
			slices.Sort(changed)
			reload(strings.Join(changed, ", ") + " changed")
			changed = changed[:0]
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("watch the configuration: the watcher stopped")
			}
			// An overflow lost events: read everything again.
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				reload("too many changes to follow one by one")
				continue
			}
			return fmt.Errorf("watch the configuration: %w", err)
		}
	}
}

// relevant says whether a change to the file called name can change the
// configuration: its .hcl files (the one file only when a single file is
// loaded) and the lock file. The state file, temporary files and editors'
// backups are not.
func relevant(name, only string) bool {
	if name == lockfile.FileName {
		return true
	}
	if only != "" {
		return name == only
	}
	return strings.HasSuffix(name, ".hcl") && !strings.HasPrefix(name, ".")
}

func signalName(sig os.Signal) string {
	if sig == nil {
		return "asked"
	}
	if s := sig.String(); s == "hangup" {
		return "SIGHUP"
	}
	return sig.String()
}
