// Package sockdir gives the plugins of one host process a folder for their
// Unix sockets. A plugin removes its socket when it exits cleanly, but not
// when it is killed with its host; the host removes the folders of hosts
// that are gone when it starts, so killed runs leave nothing behind.
package sockdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Base is the folder holding one folder per host process, named after its
// process ID: replicator-UID in the system's temporary folder.
func Base() string {
	return filepath.Join(os.TempDir(), "replicator-"+strconv.Itoa(os.Getuid()))
}

// Create makes the folder of this process under base, after removing the
// folders of processes that no longer exist. remove deletes the folder.
func Create(base string) (dir string, remove func() error, err error) {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", nil, fmt.Errorf("creating the plugin socket folder %s: %w", base, err)
	}
	fi, err := os.Lstat(base)
	if err != nil {
		return "", nil, fmt.Errorf("creating the plugin socket folder %s: %w", base, err)
	}
	// In a shared temporary folder, someone else could have made it first.
	if st, ok := fi.Sys().(*syscall.Stat_t); !fi.IsDir() || (ok && int(st.Uid) != os.Getuid()) || fi.Mode().Perm()&0o077 != 0 {
		return "", nil, fmt.Errorf("plugin socket folder %s is not a folder of this user with mode 0700; remove it, or set TMPDIR to another folder", base)
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		return "", nil, fmt.Errorf("reading the plugin socket folder %s: %w", base, err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		_ = os.RemoveAll(filepath.Join(base, e.Name())) // best effort: another host may race us to it
	}
	dir = filepath.Join(base, strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", nil, fmt.Errorf("creating the plugin socket folder %s: %w", dir, err)
	}
	return dir, func() error { return os.RemoveAll(dir) }, nil
}

// alive reports whether a process with this ID exists. One that belongs to
// another user counts as alive: its folder is not ours to judge.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
