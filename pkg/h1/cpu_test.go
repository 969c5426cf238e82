package h1_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/h1"
)

// The CPU-per-request measurement runs the server and each client in
// processes of their own (this test binary, re-executed with H1_ROLE set),
// pinned to different cores when taskset exists, and reads the client's
// own getrusage around its request loop: what the generator would cost.
//
//	H1_CPU=1 go test -run TestCPUPerRequest -v ./pkg/h1/
func TestMain(m *testing.M) {
	switch os.Getenv("H1_ROLE") {
	case "server":
		os.Exit(cpuServer())
	case "client":
		os.Exit(cpuClient())
	}
	os.Exit(m.Run())
}

// cpuServer serves the fixed response until stdin closes.
func cpuServer() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveFixed(c, []byte(benchResponse))
		}
	}()
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// cpuClient sends H1_N requests with H1_KIND ("h1", "std" or "none") over H1_CONC
// workers, paced at H1_QPS when set (an open-loop schedule), and prints
// the CPU time it spent per request in nanoseconds.
func cpuClient() int {
	n, _ := strconv.Atoi(os.Getenv("H1_N"))
	conc, _ := strconv.Atoi(os.Getenv("H1_CONC"))
	qps, _ := strconv.ParseFloat(os.Getenv("H1_QPS"), 64)
	conc = max(conc, 1)
	var d h1.Doer = noop{}
	switch os.Getenv("H1_KIND") {
	case "std":
		s, err := h1.NewStd("http://"+os.Getenv("H1_ADDR"), h1.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		d = s
	case "h1":
		d = h1.NewClient(os.Getenv("H1_ADDR"), h1.Options{})
	}
	raw := benchRequest()
	run := func(count int) error {
		work := make(chan struct{}, conc)
		var wg sync.WaitGroup
		var failed error
		var once sync.Once
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var resp h1.Response
				for range work {
					if err := d.Do(raw, time.Now().Add(5*time.Second), false, &resp); err != nil {
						once.Do(func() { failed = err })
					}
				}
			}()
		}
		start := time.Now()
		for i := range count {
			if qps > 0 {
				time.Sleep(time.Until(start.Add(time.Duration(float64(i) / qps * float64(time.Second)))))
			}
			work <- struct{}{}
		}
		close(work)
		wg.Wait()
		return failed
	}
	if err := run(max(n/10, 100)); err != nil { // warm up the pool
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	runtime.GC()
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	if err := run(n); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	wall := time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(syscall.TimevalToNsec(after.Utime) - syscall.TimevalToNsec(before.Utime) +
		syscall.TimevalToNsec(after.Stime) - syscall.TimevalToNsec(before.Stime))
	user := time.Duration(syscall.TimevalToNsec(after.Utime) - syscall.TimevalToNsec(before.Utime))
	fmt.Println(cpu.Nanoseconds()/int64(n), user.Nanoseconds()/int64(n), int64(float64(n)/wall.Seconds()))
	return 0
}

// noop sends nothing: the cost of the measuring loop and its pacing.
type noop struct{}

func (noop) Do([]byte, time.Time, bool, *h1.Response) error { return nil }
func (noop) CloseIdle()                                     {}

func pinned(cpu string, args ...string) *exec.Cmd {
	if path, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() >= 2 {
		return exec.Command(path, append([]string{"-c", cpu}, args...)...)
	}
	return exec.Command(args[0], args[1:]...)
}

func TestCPUPerRequest(t *testing.T) {
	if os.Getenv("H1_CPU") == "" {
		t.Skip("set H1_CPU=1 to measure the client's CPU per request (takes about a minute)")
	}
	srv := pinned("1", os.Args[0])
	srv.Env = append(os.Environ(), "H1_ROLE=server")
	stdin, _ := srv.StdinPipe()
	stdout, _ := srv.StdoutPipe()
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); srv.Wait() }()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr = strings.TrimSpace(addr)

	rounds, _ := strconv.Atoi(os.Getenv("H1_ROUNDS"))
	if rounds <= 0 {
		rounds = 5
	}
	for _, mode := range []struct {
		name      string
		n, conc   int
		qps       string
		fixedRate bool
	}{
		{name: "closed loop, 1 connection", n: 30000, conc: 1},
		{name: "closed loop, 4 connections", n: 30000, conc: 4},
		{name: "open loop, 5000 QPS, 16 workers", n: 15000, conc: 16, qps: "5000"},
	} {
		got := map[string][]int64{}
		user := map[string][]int64{}
		rate := map[string][]int64{}
		for range rounds {
			for _, kind := range []string{"h1", "std", "none"} {
				c := pinned("0", os.Args[0])
				c.Env = append(os.Environ(), "H1_ROLE=client", "H1_KIND="+kind, "H1_ADDR="+addr,
					"H1_N="+strconv.Itoa(mode.n), "H1_CONC="+strconv.Itoa(mode.conc), "H1_QPS="+mode.qps)
				out, err := c.Output()
				if err != nil {
					t.Fatalf("%s client: %v", kind, err)
				}
				var cpu, u, r int64
				if _, err := fmt.Sscan(string(out), &cpu, &u, &r); err != nil {
					t.Fatalf("%s client printed %q", kind, out)
				}
				got[kind] = append(got[kind], cpu)
				user[kind] = append(user[kind], u)
				rate[kind] = append(rate[kind], r)
			}
		}
		med := func(v []int64) int64 { slices.Sort(v); return v[len(v)/2] }
		h, s := med(got["h1"]), med(got["std"])
		t.Logf("%s: CPU per request h1 %.1f µs (user %.1f, %d req/s), net/http %.1f µs (user %.1f, %d req/s), ratio %.2f; medians of %d runs",
			mode.name, float64(h)/1e3, float64(med(user["h1"]))/1e3, med(rate["h1"]),
			float64(s)/1e3, float64(med(user["std"]))/1e3, med(rate["std"]), float64(h)/float64(s), rounds)
		t.Logf("%s: the loop and its pacing alone (no request sent) %.1f µs (user %.1f)",
			mode.name, float64(med(got["none"]))/1e3, float64(med(user["none"]))/1e3)
	}
}
