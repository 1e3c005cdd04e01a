package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Pinger is a Store that can tell cheaply whether it answers, such as a
// database's connection pool; a readiness probe calls it, so it must be
// cheap and hold nothing another process needs.
type Pinger interface {
	Ping(ctx context.Context) error
}

// CheckFileHealth tells cheaply whether the state file at path is there,
// a regular file, and whole as far as its header says: it reads the two
// meta pages and the file's size, without bbolt and without the file's
// lock, so a readiness probe calling it never keeps `replicator status`,
// `sync` or `state backup` out of the file. Damage inside data pages is
// found when the file is opened, not here.
func CheckFileHealth(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("state file %s is missing", path)
	case err != nil:
		return fmt.Errorf("checking state file %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("state file %s is not a regular file", path)
	case fi.Size() == 0:
		return fmt.Errorf("%w: %s is empty (0 bytes)", ErrDamaged, path)
	}
	// A writer may grow the file and commit a meta page recording the new
	// size between checkFile's look at the size and at the meta pages:
	// that file looks short but is not, and its size has changed since.
	for range 3 {
		err = checkFile(path)
		if err == nil {
			return nil
		}
		now, statErr := os.Stat(path)
		if statErr != nil || now.Size() == fi.Size() {
			break
		}
		fi = now
	}
	return fmt.Errorf("%w: %s cannot be read (%w)", ErrDamaged, path, err)
}
