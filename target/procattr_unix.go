//go:build unix && !linux

package target

import (
	"os"
	"syscall"
)

// childAttr puts a node in its own process group. Without Pdeathsig, a node
// notices its parent's death by its standard input closing.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func signalGroup(p *os.Process, sig syscall.Signal) error {
	return syscall.Kill(-p.Pid, sig)
}
