//go:build !unix

package target

import (
	"os"
	"syscall"
)

func childAttr() *syscall.SysProcAttr { return nil }

func signalGroup(p *os.Process, sig syscall.Signal) error { return p.Kill() }
