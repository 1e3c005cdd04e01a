package launch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// racyWindow is how close to the last change of a file its hash may be
// taken and still be reused. Filesystem timestamps advance in coarse
// ticks, so a file rewritten within the tick it was hashed in could keep
// its size, mtime and ctime; a hash taken that close to the last change
// is used once and taken again next time (git calls this "racy").
const racyWindow = 2 * time.Second

// Binaries opens plugin binaries and hashes each once per change of its
// file, instead of once per launch. It is safe for concurrent use; one
// host process keeps one.
//
// Soundness: a Binary keeps the file it hashed open. It is reused only
// while the path still names the same file (device and inode) with the
// same size, mtime and ctime, both by the path and by the open file;
// any write, chmod, truncation, or rename over the path changes one of
// them, ctime cannot be set by a user, and an open file's inode cannot be
// reused for another file. On Linux the plugin is launched through that
// open file, handed to the child (see execPath), so the program that runs
// is the one that was hashed even if the path is replaced between the
// check and the launch; elsewhere it is launched by path right after the
// check.
type Binaries struct {
	hashing sync.Mutex // one hash at a time, so that a burst of launches hashes once
	mu      sync.Mutex
	byPath  map[string]*Binary
	hashes  int
	now     func() time.Time
}

// NewBinaries returns an empty cache.
func NewBinaries() *Binaries {
	return &Binaries{byPath: map[string]*Binary{}, now: time.Now}
}

// Binary is a plugin binary, open and hashed. Pass it in Config.Binary to
// launch it, and Release it once the plugin has started.
type Binary struct {
	Path   string
	SHA256 string // hex

	owner   *Binaries
	file    *os.File
	key     fileKey
	reuse   bool // the hash may serve later launches
	refs    int  // launches holding the file; guarded by owner.mu
	retired bool // no longer cached: closed when refs reach 0
}

// Open returns the binary at path with its sha256, hashing the file only
// when it is not the file hashed before.
func (b *Binaries) Open(path string) (*Binary, error) {
	if bin := b.cached(path); bin != nil {
		return bin, nil
	}
	b.hashing.Lock()
	defer b.hashing.Unlock()
	if bin := b.cached(path); bin != nil {
		return bin, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open plugin binary: %w", err)
	}
	before, okBefore := statKey(f)
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		f.Close()
		return nil, fmt.Errorf("hash plugin binary %s: %w", path, err)
	}
	after, okAfter := statKey(f)
	if okBefore && okAfter && before != after {
		f.Close()
		return nil, fmt.Errorf("plugin binary %s changed while it was being verified; retry once it is in place", path)
	}
	bin := &Binary{Path: path, SHA256: hex.EncodeToString(h.Sum(nil)), owner: b, file: f, key: after, refs: 1}
	bin.reuse = okAfter && b.now().Sub(after.changed()) > racyWindow
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hashes++
	if old := b.byPath[path]; old != nil {
		old.retire()
	}
	if bin.reuse {
		bin.refs++ // the cache's own
		b.byPath[path] = bin
	} else {
		delete(b.byPath, path)
		bin.retired = true
	}
	return bin, nil
}

// cached returns the cached binary of path when path still names the file
// that was hashed, unchanged.
func (b *Binaries) cached(path string) *Binary {
	b.mu.Lock()
	defer b.mu.Unlock()
	bin := b.byPath[path]
	if bin == nil {
		return nil
	}
	byPath, ok := pathKey(path)
	if !ok || byPath != bin.key {
		return nil
	}
	if byFile, ok := statKey(bin.file); !ok || byFile != bin.key {
		return nil
	}
	bin.refs++
	return bin
}

// Hashes returns how many times a binary was read and hashed.
func (b *Binaries) Hashes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hashes
}

// Close closes the cached files not in use by a launch.
func (b *Binaries) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for path, bin := range b.byPath {
		bin.retire()
		delete(b.byPath, path)
	}
}

// Release says the launch that opened bin no longer needs its file.
func (bin *Binary) Release() {
	bin.owner.mu.Lock()
	defer bin.owner.mu.Unlock()
	bin.unref()
}

// retire drops the cache's reference. owner.mu is held.
func (bin *Binary) retire() {
	if !bin.retired {
		bin.retired = true
		bin.unref()
	}
}

func (bin *Binary) unref() {
	bin.refs--
	if bin.refs == 0 {
		bin.file.Close()
	}
}

// command returns the command that runs bin: through its open file where
// the system allows it, with the plugin's path as its name either way.
func (bin *Binary) command(ctx context.Context) *exec.Cmd {
	path, files := execPath(bin.file, bin.Path)
	cmd := exec.CommandContext(ctx, path)
	cmd.Args[0] = bin.Path
	cmd.ExtraFiles = files
	return cmd
}

// checkSum fails when bin is not the binary the caller pinned.
func (bin *Binary) checkSum(want string) error {
	if want != "" && !strings.EqualFold(want, bin.SHA256) {
		return fmt.Errorf("start plugin %s: its sha256 %s does not match the pinned %s", bin.Path, bin.SHA256, want)
	}
	return nil
}
