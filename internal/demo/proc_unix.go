//go:build unix && !linux

package main

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup keeps Ctrl-C in the terminal from reaching the child: the
// demo forwards one interrupt itself, so commands stop cleanly and in order.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
