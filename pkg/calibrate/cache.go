package calibrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/bestbefore/bestbefore/pkg/probe"
)

// Machine identifies where a calibration was measured. A cached figure is
// used only on the same host, CPU model and core budget.
type Machine struct {
	Hostname   string `json:"hostname"`
	CPUModel   string `json:"cpu_model"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	NumCPU     int    `json:"num_cpu"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

// CurrentMachine describes this process's machine.
func CurrentMachine() Machine {
	host, _ := os.Hostname()
	return Machine{
		Hostname: host, CPUModel: probe.CPUModel(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		NumCPU: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH,
	}
}

// Same reports whether m and o are the same machine with the same core
// budget: hostname, CPU model and GOMAXPROCS.
func (m Machine) Same(o Machine) bool {
	return m.Hostname == o.Hostname && m.CPUModel == o.CPUModel && m.GOMAXPROCS == o.GOMAXPROCS
}

// DefaultCachePath is where the last calibration is kept:
// os.UserCacheDir()/bestbefore/calibrate.json.
func DefaultCachePath() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "bestbefore", "calibrate.json"), nil
}

// Save writes the report to path atomically, creating its directory.
func Save(path string, r *Report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".calibrate-*.json")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// Load reads a report written by Save.
func Load(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("%s: schema %q, want %q", path, r.Schema, Schema)
	}
	return &r, nil
}

// Cached returns the calibration cached at path if it was measured on m
// and found a rate; nil otherwise (no file, another machine, unreadable).
func Cached(path string, m Machine) *Report {
	r, err := Load(path)
	if err != nil || !r.Found || r.RateQPS <= 0 || !r.Machine.Same(m) {
		return nil
	}
	return r
}

// Advice is the warning `run` gives when its ramp goes above what this
// machine was calibrated to generate; "" when it does not.
func Advice(peakQPS float64, r *Report) string {
	if r == nil || !r.Found || peakQPS <= r.RateQPS {
		return ""
	}
	return fmt.Sprintf("the ramp goes up to %.0f QPS, above the %.0f QPS this machine generated on schedule (send lag p99 under %gms) in `bestbefore calibrate` on %s; steps above it will likely saturate the generator and cannot set the best-before: lower load.max_qps, shard the load (run --shard) or use more cores",
		peakQPS, r.RateQPS, r.MaxSendLagMS, r.MeasuredAt.Format(time.DateOnly))
}

// IsNotExist reports whether err means no calibration is cached.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
