package testgrpc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The example servers of grpc-go this package builds, by name.
var examples = map[string]string{
	"greeter":    "google.golang.org/grpc/examples/helloworld/greeter_server",
	"reflection": "google.golang.org/grpc/examples/features/reflection/server",
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
	binDir  string
)

// Example starts one of grpc-go's example servers ("greeter": helloworld's
// Greeter; "reflection": Greeter and Echo with server reflection) and
// returns its loopback address. It builds the server from ./examples, a
// module of its own, once per test binary. Without Go or the module proxy
// the test is skipped, except under CI, where it fails.
func Example(tb testing.TB, name string) string {
	tb.Helper()
	bin, err := buildExample(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("building grpc-go's example %s: %v", name, err)
		}
		tb.Skipf("cannot build grpc-go's example %s: %v", name, err)
	}
	for attempt := 0; ; attempt++ {
		port := freePort(tb)
		cmd := exec.Command(bin, "-port", strconv.Itoa(port))
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if waitPort(addr, 10*time.Second) {
			tb.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})
			return addr
		}
		cmd.Process.Kill()
		cmd.Wait()
		if attempt == 2 {
			tb.Fatalf("grpc-go's example %s did not listen on %s", name, addr)
		}
	}
}

func buildExample(name string) (string, error) {
	pkg, ok := examples[name]
	if !ok {
		return "", fmt.Errorf("no example %q", name)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := built[name]; ok {
		return b, nil
	}
	if binDir == "" {
		d, err := os.MkdirTemp("", "testgrpc-")
		if err != nil {
			return "", err
		}
		binDir = d
	}
	bin := filepath.Join(binDir, name)
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = filepath.Join(Dir(), "examples")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	built[name] = bin
	return bin, nil
}

func freePort(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitPort(addr string, d time.Duration) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
