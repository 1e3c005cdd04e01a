//go:build unix && !linux

package launch

import "syscall"

// Without pidfds the host does not watch for the plugin's exit: Close ends
// the plugin's group.
func askPidfd(*syscall.SysProcAttr, *int) {}

func watchExit(int, func()) {}
