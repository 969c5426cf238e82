// Package scenarios holds the scenario files bestbefore ships and the
// traffic they replay, embedded so `bestbefore demo` works from any
// directory.
package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/bestbefore/bestbefore/pkg/scenario"
)

// The bundled traffic is made by (see README.md):
//go:generate go run .. traffic synth --out traffic/demo.ndjson.gz --requests 25000 --seed 1
//go:generate go run .. traffic synth --api oip-grpc --out traffic/oip.ndjson.gz --requests 5000 --seed 1
//go:generate go run .. traffic synth --api openai-chat --out traffic/chat.ndjson.gz --requests 5000 --seed 1

// FS holds the shipped scenarios (demo.yaml, oip.yaml, ci.yaml, ...) and
// their traffic (traffic/demo.ndjson.gz, traffic/oip.ndjson.gz).
//
//go:embed *.yaml traffic/*.ndjson.gz
var FS embed.FS

// Names lists the embedded scenarios, e.g. "demo.yaml".
func Names() []string {
	m, _ := fs.Glob(FS, "*.yaml")
	return m
}

// Extract writes every embedded file under dir (keeping the traffic/
// subdirectory), so a scenario's relative traffic path resolves there.
func Extract(dir string) error {
	return fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := FS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}

// WriteScenario writes the embedded scenario name ("demo.yaml") and the
// traffic it replays under dir, as a starting point for one's own: it
// never replaces a file there. It returns the paths written.
func WriteScenario(name, dir string) ([]string, error) {
	b, err := FS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("no bundled scenario %q (have %v)", name, Names())
	}
	s, err := scenario.Parse(b, name, ".", nil)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{name: b}
	if t := s.Traffic.File; t != "" {
		tb, err := FS.ReadFile(filepath.ToSlash(t))
		if err != nil {
			return nil, fmt.Errorf("%s: traffic %s is not bundled: %w", name, t, err)
		}
		files[filepath.ToSlash(t)] = tb
	}
	var paths []string
	for p := range files {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if _, err := os.Stat(dst); err == nil {
			return nil, fmt.Errorf("%s exists already: give another directory", dst)
		}
		paths = append(paths, dst)
	}
	sort.Strings(paths)
	for p, b := range files {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// Load extracts the embedded files into dir and loads the named scenario
// ("demo" or "demo.yaml") from there, applying overrides.
func Load(name, dir string, overrides []string) (*scenario.Scenario, error) {
	if filepath.Ext(name) == "" {
		name += ".yaml"
	}
	if _, err := fs.Stat(FS, name); err != nil {
		return nil, fmt.Errorf("no bundled scenario %q (have %v)", name, Names())
	}
	if err := Extract(dir); err != nil {
		return nil, err
	}
	return scenario.Load(filepath.Join(dir, name), overrides)
}
