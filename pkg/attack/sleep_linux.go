//go:build linux

package attack

import (
	"context"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The pacer's clock. The Go runtime's timers wait in the network poller
// with millisecond resolution, so a 200 µs sleep takes about a
// millisecond: too coarse for pacing thousands of requests a second.
//
//   - With two Ps or more, short waits sleep in nanosleep(2), which wakes
//     within tens of microseconds (default timer slack, 50 µs).
//   - With a single P a thread in nanosleep would hold the only P while the
//     workers that read responses wait (measured: a 0.1 ms server looked
//     like 6 ms), so short waits read a timerfd through the network poller
//     instead: the P is free for the workers, and the wake-up is as exact
//     as nanosleep's. The timerfd is set and read with raw system calls
//     (see adr/0021).
//   - Long waits (over 3 ms) and any failure fall back to the runtime's
//     timer, which also watches ctx.
type sleeper struct {
	fd  int
	rc  syscall.RawConn
	f   *os.File
	buf [8]byte
	rd  func(fd uintptr) bool
}

func newSleeper() *sleeper {
	s := &sleeper{fd: -1}
	if runtime.GOMAXPROCS(0) >= 2 {
		return s
	}
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return s
	}
	f := os.NewFile(uintptr(fd), "pacer-timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return s
	}
	s.fd, s.rc, s.f = fd, rc, f
	s.rd = func(fd uintptr) bool {
		_, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&s.buf[0])), uintptr(len(s.buf)))
		return e != unix.EAGAIN
	}
	return s
}

func (s *sleeper) close() {
	if s.f != nil {
		s.f.Close()
		s.f, s.fd = nil, -1
	}
}

// timerfd waits d on the timerfd and reports whether it could.
func (s *sleeper) timerfd(d time.Duration) bool {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if _, _, e := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(s.fd), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); e != 0 {
		return false
	}
	return s.rc.Read(s.rd) == nil
}

// until sleeps until due or until ctx is done, whichever is first, and
// reports whether ctx ended it.
func (s *sleeper) until(ctx context.Context, due time.Time) bool {
	for {
		if ctx.Err() != nil {
			return true
		}
		d := time.Until(due)
		if d <= 0 {
			return false
		}
		single := runtime.GOMAXPROCS(0) < 2
		if d <= 3*time.Millisecond {
			if single && s.fd >= 0 && s.timerfd(d) {
				continue
			}
			if !single {
				// No runtime.Gosched() before blocking: it sends the pacer
				// to the global run queue behind every goroutine handling a
				// response, and measured, it tripled the send lag's p99. An
				// idle P steals the worker just handed a request.
				ts := unix.NsecToTimespec(int64(d))
				_ = unix.Nanosleep(&ts, nil)
				continue
			}
		}
		wait := d
		if d > 3*time.Millisecond {
			wait = d - 2*time.Millisecond // the rest on the precise clock
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return true
		}
	}
}
