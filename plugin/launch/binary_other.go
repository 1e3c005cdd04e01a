//go:build !linux

package launch

import (
	"os"
	"time"
)

// fileKey is not available here: every launch hashes its binary.
type fileKey struct{}

func (fileKey) changed() time.Time { return time.Time{} }

func statKey(*os.File) (fileKey, bool) { return fileKey{}, false }

func pathKey(string) (fileKey, bool) { return fileKey{}, false }

func execPath(_ *os.File, path string) (string, []*os.File) { return path, nil }
