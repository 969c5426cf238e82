package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// LockFile is the file in an output directory a run holds locked while it
// writes there (ADR 33).
const LockFile = ".bestbefore.lock"

// ErrOutBusy is another run holding the output directory.
var ErrOutBusy = errors.New("output directory in use")

// outLock is an output directory held by this run.
type outLock struct{ f *os.File }

// Release lets another run use the directory. The lock file stays: a
// file removed while a third run opens it would let two runs lock two
// different files of one name.
func (l *outLock) Release() {
	if l != nil && l.f != nil {
		unlockFile(l.f)
		l.f.Close()
		l.f = nil
	}
}

// lockOut creates dir and takes its lock, without waiting: a directory
// another run holds is an error naming that run (its pid and start). The
// lock is the operating system's, so a run that dies releases it.
func lockOut(dir string) (*outLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("output directory %s: %w", dir, err)
	}
	busy, err := tryLockFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("output directory %s: locking %s: %w", dir, LockFile, err)
	}
	if busy {
		b := make([]byte, 256)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		holder := strings.Join(strings.Fields(string(b[:n])), " ")
		if holder == "" {
			holder = "another run"
		}
		return nil, badInput(fmt.Errorf("%w: %s is being written by %s; give this run another --out, or wait for that one", ErrOutBusy, dir, holder))
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("bestbefore pid %d, started %s\n", os.Getpid(), time.Now().Format(time.RFC3339))), 0)
	return &outLock{f: f}, nil
}

// claimOut prepares the run's output directory before any request is
// sent: the directory given (--out) is locked and must not hold a result
// already unless force; without one, a fresh directory
// reports/<name>-<time> (-2, -3, … when a run of the same second has it).
// With force the earlier result and reports are removed at once, so that
// a run that fails leaves none to pass for its own.
func claimOut(given, name string, force bool, now time.Time) (string, *outLock, error) {
	if given != "" {
		l, err := lockOut(given)
		if err != nil {
			return "", nil, err
		}
		if err := checkNoResult(given, force); err != nil {
			l.Release()
			return "", nil, err
		}
		return given, l, nil
	}
	base := filepath.Join("reports", fmt.Sprintf("%s-%s", SafeName(name), now.Format("20060102-150405")))
	for i := 1; i <= 1000; i++ {
		dir := base
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := os.Stat(dir); err == nil {
			continue // another run's, even finished
		}
		l, err := lockOut(dir)
		if errors.Is(err, ErrOutBusy) {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		if checkNoResult(dir, false) != nil {
			l.Release()
			continue
		}
		return dir, l, nil
	}
	return "", nil, fmt.Errorf("no free output directory next to %s: give one with --out", base)
}

// checkNoResult refuses a directory that holds a result already, naming
// it, unless force (which removes it and its reports).
func checkNoResult(dir string, force bool) error {
	path := filepath.Join(dir, "result.json")
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	if force {
		removeStale(dir, path)
		return nil
	}
	what := ""
	if r, err := result.Read(path); err == nil {
		what = fmt.Sprintf(" (%s, %s, started %s)", r.Name, r.Status, r.StartedAt.Format(time.RFC3339))
	}
	return badInput(fmt.Errorf("%s already holds a result%s: give this run another --out, or --force to replace it", path, what))
}
