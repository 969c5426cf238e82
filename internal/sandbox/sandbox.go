// Package sandbox runs a test in network and mount namespaces of its own
// (unshare --net --mount), where the only interface is loopback. Guard
// tests alias "public" addresses (8.8.8.8, 169.254.169.254) onto that
// loopback, so a guard that fails sends nothing anywhere; disk tests mount
// a small tmpfs that no other process sees.
//
// It needs Linux, root and util-linux's unshare plus iproute2's ip. Where
// they are missing the test is skipped, unless BESTBEFORE_REQUIRE_SANDBOX
// is set (CI sets it where unshare works), and then it fails.
package sandbox

import (
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

const (
	insideEnv  = "BESTBEFORE_SANDBOX"
	requireEnv = "BESTBEFORE_REQUIRE_SANDBOX"
)

// Enter runs the calling top-level test again, in fresh namespaces, and
// returns false once that run is over (the test passes or fails with it).
// Inside the namespaces it returns true, after checking that loopback is
// the only interface and bringing it up; the test then does its work.
//
//	if !sandbox.Enter(t) {
//		return
//	}
func Enter(t *testing.T) bool {
	t.Helper()
	if strings.Contains(t.Name(), "/") {
		t.Fatalf("sandbox.Enter is for top-level tests, not %s", t.Name())
	}
	switch os.Getenv(insideEnv) {
	case t.Name():
		isolated(t)
		return true
	case "":
	default:
		t.Skipf("this process runs sandboxed test %s", os.Getenv(insideEnv))
	}
	if why := unavailable(); why != "" {
		if os.Getenv(requireEnv) != "" {
			t.Fatalf("sandbox required (%s is set) but unavailable: %s", requireEnv, why)
		}
		t.Skipf("no sandbox: %s", why)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--net", "--mount", "--propagation", "private", exe,
		"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$", "-test.count=1", "-test.v"}
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), insideEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in the sandbox: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("the sandboxed test did not pass:\n%s", out)
	}
	t.Logf("in the sandbox:\n%s", out)
	return false
}

// unavailable says why namespaces cannot be made here, or "".
func unavailable() string {
	if runtime.GOOS != "linux" {
		return "namespaces need Linux"
	}
	if os.Geteuid() != 0 {
		return "namespaces need root"
	}
	for _, tool := range []string{"unshare", "ip", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed"
		}
	}
	if out, err := exec.Command("unshare", "--net", "--mount", "true").CombinedOutput(); err != nil {
		return "unshare --net --mount: " + strings.TrimSpace(string(out)) + " " + err.Error()
	}
	return ""
}

// isolated fails the test unless loopback is the only interface, then
// brings loopback up.
func isolated(t *testing.T) {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Name != "lo" {
			t.Fatalf("not an empty network namespace: interface %s exists; refusing to go on", i.Name)
		}
	}
	run(t, "ip", "link", "set", "lo", "up")
}

// Alias adds addr (e.g. 8.8.8.8) to the sandbox's loopback, so a server
// can listen there and a client reach it without leaving the namespace.
func Alias(t *testing.T, addr string) {
	t.Helper()
	if os.Getenv(insideEnv) == "" {
		t.Fatal("sandbox.Alias outside the sandbox")
	}
	bits := "/32"
	if strings.Contains(addr, ":") {
		bits = "/128"
	}
	run(t, "ip", "addr", "add", addr+bits, "dev", "lo")
}

// Tmpfs mounts a tmpfs of size bytes on dir, in the sandbox's own mount
// namespace; it is unmounted when the test ends.
func Tmpfs(t *testing.T, dir string, size int) {
	t.Helper()
	if os.Getenv(insideEnv) == "" {
		t.Fatal("sandbox.Tmpfs outside the sandbox")
	}
	run(t, "mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size), "tmpfs", dir)
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
