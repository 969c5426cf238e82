package target

import (
	"os"
	"syscall"
)

// childAttr puts a node in its own process group (a Ctrl-C at the terminal
// reaches the parent, which stops the nodes in order) and asks the kernel
// to SIGKILL it if the parent dies, even by a crash.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the node's whole process group.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	return syscall.Kill(-p.Pid, sig)
}
