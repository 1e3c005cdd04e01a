//go:build unix

package launch

import (
	"os/exec"
	"sync"
	"syscall"
)

// group is a plugin's process group. The plugin leads it, and the
// processes it starts join it unless they leave on purpose (setsid,
// setpgid). Once the plugin has exited the host kills the whole group, so
// that nothing it started outlives it: not a helper left running, nor one
// that holds the plugin's output open, which go-plugin would wait for.
type group struct {
	pidfd int // the plugin's pidfd where the kernel makes one, else -1
	pgid  int // the plugin's process id; 0 when it did not start
	once  sync.Once
	// gone is closed once the plugin exited by itself and its group was
	// killed; it stays open where the exit is not watched (see watchExit).
	gone chan struct{}
}

// newGroup has cmd start the plugin in a process group of its own.
func newGroup(cmd *exec.Cmd) *group {
	g := &group{pidfd: -1, gone: make(chan struct{})}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	askPidfd(cmd.SysProcAttr, &g.pidfd)
	return g
}

// started notes the plugin's process once cmd has started, or failed to,
// and watches for its exit where it can.
func (g *group) started(cmd *exec.Cmd) {
	if cmd.Process != nil {
		g.pgid = cmd.Process.Pid
	}
	if g.pidfd >= 0 {
		watchExit(g.pidfd, func() {
			g.kill()
			close(g.gone)
		})
	}
}

// kill kills every process left in the group, once the plugin has exited
// or is being ended. The group's id is the plugin's process id, which the
// kernel hands out again only once the plugin is reaped and nothing is
// left in its group, and then only after the ids wrapped around.
func (g *group) kill() {
	g.once.Do(func() {
		if g.pgid > 0 {
			_ = syscall.Kill(-g.pgid, syscall.SIGKILL)
		}
	})
}

// killStarting kills the process group of a plugin whose start is given
// up: its process has started, but started may not have been called yet.
func killStarting(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
