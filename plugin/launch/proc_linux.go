package launch

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// askPidfd has the kernel store the plugin's pidfd in *fd as it starts it
// (Linux 5.3 and later), or -1.
func askPidfd(attr *syscall.SysProcAttr, fd *int) { attr.PidFD = fd }

// watchExit calls exited once the process behind pidfd has exited, then
// closes pidfd. The wait leaves the process to be reaped by go-plugin
// (WNOWAIT): until then its id stays taken, so exited acts on the plugin's
// group for sure. The wait holds a thread while the plugin runs, as
// os/exec's Wait does. A kernel that cannot wait on a pidfd (before 5.4)
// leaves the group to Close.
func watchExit(pidfd int, exited func()) {
	go func() {
		defer unix.Close(pidfd)
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PIDFD, pidfd, &info, unix.WEXITED|unix.WNOWAIT, nil)
			switch {
			case errors.Is(err, unix.EINTR):
				continue
			case err == nil, errors.Is(err, unix.ECHILD): // ECHILD: reaped already
				exited()
			}
			return
		}
	}()
}
