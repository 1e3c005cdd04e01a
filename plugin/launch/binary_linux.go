package launch

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// fileKey identifies a file and its last change.
type fileKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime syscall.Timespec
}

func (k fileKey) changed() time.Time {
	return time.Unix(k.ctime.Unix())
}

func keyOf(fi os.FileInfo) (fileKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	return fileKey{
		dev:   uint64(st.Dev), //nolint:unconvert // Dev is uint32 on some Linux architectures
		ino:   st.Ino,
		size:  st.Size,
		mtime: st.Mtim,
		ctime: st.Ctim,
	}, true
}

func statKey(f *os.File) (fileKey, bool) {
	fi, err := f.Stat()
	if err != nil {
		return fileKey{}, false
	}
	return keyOf(fi)
}

func pathKey(path string) (fileKey, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileKey{}, false
	}
	return keyOf(fi)
}

// execFD is the descriptor the child has the plugin's binary at: the
// first after stdin, stdout and stderr, where os/exec puts ExtraFiles[0].
const execFD = 3

// execPath names the open file f as the child sees it, so that the kernel
// executes the very file that was hashed, and returns the files the child
// must be given for that. The child gets f as descriptor 3 and executes
// /proc/self/fd/3: f's own number in the host would not do, as os/exec may
// put its status pipe at that number in the child before the exec (it
// moves a low pipe above the descriptors it hands over, and the host's
// other work frees low numbers at any time), and the plugin would not
// start ("permission denied"). The plugin keeps descriptor 3, its own
// binary read-only, and inherits nothing else. Without /proc (a bare
// chroot) it is the path, checked just before.
func execPath(f *os.File, path string) (string, []*os.File) {
	if _, err := os.Stat(fmt.Sprintf("/proc/self/fd/%d", f.Fd())); err != nil {
		return path, nil
	}
	return fmt.Sprintf("/proc/self/fd/%d", execFD), []*os.File{f}
}
