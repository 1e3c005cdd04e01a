//go:build !unix

package launch

import "os/exec"

// group does nothing where there are no process groups.
type group struct{ gone chan struct{} }

func newGroup(*exec.Cmd) *group { return &group{gone: make(chan struct{})} }

func (*group) started(*exec.Cmd) {}

func (*group) kill() {}

// killStarting kills the process of a plugin whose start is given up.
func killStarting(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
