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

// execPath names the open file f, so that the kernel executes the very
// file that was hashed. The descriptor is close-on-exec: the kernel
// resolves the path before it closes it, and the plugin inherits nothing.
// Without /proc (a bare chroot) it is the path, checked just before.
func execPath(f *os.File, path string) string {
	fdPath := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	if _, err := os.Stat(fdPath); err != nil {
		return path
	}
	return fdPath
}
