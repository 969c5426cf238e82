package probe_test

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary act as a target process that burns a
// known share of one core and holds a known amount of touched memory:
// BESTBEFORE_PROBE_CHILD=MiB:duty:seconds. It prints "ready" once the
// memory is touched, answers each line on stdin with its own CPU seconds
// (getrusage), and exits after the given seconds or when stdin closes.
const childEnv = "BESTBEFORE_PROBE_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(child(spec))
	}
	os.Exit(m.Run())
}

func child(spec string) int {
	var mib int
	var duty, secs float64
	parts := strings.Split(spec, ":")
	if len(parts) != 3 {
		fmt.Fprintln(os.Stderr, "bad child spec", spec)
		return 2
	}
	mib, _ = strconv.Atoi(parts[0])
	duty, _ = strconv.ParseFloat(parts[1], 64)
	secs, _ = strconv.ParseFloat(parts[2], 64)
	runtime.GOMAXPROCS(1)

	buf := make([]byte, mib<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	deadline := time.Now().Add(time.Duration(secs * float64(time.Second)))
	quit := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			fmt.Printf("%d\n", int64(cpuSeconds()*1e9))
		}
		close(quit)
	}()
	fmt.Println("ready")

	// Each period, spin until the process has used duty × period of CPU
	// time (not wall time, so preemption by other load does not count as
	// work), then sleep out the period.
	const period = 20 * time.Millisecond
	busy := duty * period.Seconds()
	sink := 0
	for time.Now().Before(deadline) {
		select {
		case <-quit:
			return 0
		default:
		}
		start := time.Now()
		c0 := cpuSeconds()
		for cpuSeconds()-c0 < busy && time.Since(start) < period {
			sink++
		}
		time.Sleep(period - time.Since(start))
	}
	runtime.KeepAlive(buf)
	_ = sink
	return 0
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
