package scenarios_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/runner"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/traffic"
	"github.com/bestbefore/bestbefore/scenarios"
	"github.com/bestbefore/bestbefore/target"
)

// TestShippedScenarios loads every scenario file in this directory, so the
// shipped examples cannot rot, and checks their traffic reads, their
// bundled target's configuration is valid, and that the demo and ci ramps
// cross the bundled cluster's configured capacity in the time they promise.
func TestShippedScenarios(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	embedded := scenarios.Names()
	if strings.Join(embedded, ",") != strings.Join(files, ",") {
		t.Errorf("embedded %v, on disk %v", embedded, files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			s, err := scenario.Load(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := traffic.Count(s.Resolve(s.Traffic.File))
			if err != nil {
				t.Fatal(err)
			}
			if s.Target.Bundled == nil {
				return
			}
			cfg := runner.BundledConfig(s.Target.Bundled)
			if err := cfg.Validate(); err != nil {
				t.Fatalf("target.bundled: %v", err)
			}
			capacity := float64(s.Target.Bundled.Nodes) * cfg.CapacityQPS()
			if sum, err := traffic.InspectFile(s.Resolve(s.Traffic.File)); err == nil && sum.Completions != nil {
				// Completions: what continuous batching serves of
				// prompts and outputs this long (prompt tokens as
				// inspect estimates them, about as many as the model
				// counts).
				c := sum.Completions
				out := c.MaxTokens.Mean
				capacity = float64(s.Target.Bundled.Nodes) * cfg.LLM.TokensPerSecond(int(c.PromptTokens.Mean), int(math.Round(out))) / out
			}
			rates := s.Rates()
			if f == "soak.yaml" {
				// A soak holds one rate well inside what N-1 nodes carry.
				if len(rates) != 1 || rates[0] > capacity*float64(s.Target.Bundled.Nodes-1)/float64(s.Target.Bundled.Nodes)/2 {
					t.Errorf("soak rates %v: want one rate under half the N-1 capacity", rates)
				}
				return
			}
			if rates[0] >= capacity || rates[len(rates)-1] <= capacity {
				t.Errorf("ramp %v..%v does not cross the capacity %v", rates[0], rates[len(rates)-1], capacity)
			}
			// Steps up to the first one past capacity and one more (the ramp
			// stops after 2 failures), plus refinement steps.
			steps := 0
			for _, r := range rates {
				steps++
				if r > capacity {
					break
				}
			}
			steps += s.Load.StopAfterFailures - 1 + s.Load.Refine
			total := float64(steps) * s.Load.StepDuration.D().Seconds()
			t.Logf("%s: %d requests of traffic, capacity %.0f QPS, ramp %v, about %.0f s", f, n, capacity, rates, total)
			if f == "demo.yaml" && (total < 25 || total > 45) {
				t.Errorf("demo ramp takes about %.0f s, want 30-40", total)
			}
			if f == "ci.yaml" && total > 30 {
				t.Errorf("ci ramp takes about %.0f s, want it short", total)
			}
		})
	}
}

func TestLoadEmbedded(t *testing.T) {
	dir := t.TempDir()
	s, err := scenarios.Load("demo", dir, []string{"load.max_qps=1500"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Load.MaxQPS != 1500 || s.Target.Bundled.Nodes != 3 {
		t.Errorf("loaded %+v", s.Load)
	}
	if _, err := os.Stat(s.Resolve(s.Traffic.File)); err != nil {
		t.Errorf("traffic not extracted: %v", err)
	}
	if _, err := scenarios.Load("nope", dir, nil); err == nil || !strings.Contains(err.Error(), "demo.yaml") {
		t.Errorf("unknown scenario: %v", err)
	}
	if _, err := fs.Stat(scenarios.FS, "traffic/demo.ndjson.gz"); err != nil {
		t.Error(err)
	}
}

// TestDemoTrafficPassesChecks replays the head of the bundled traffic
// against a bundled node: every request is accepted and keeps the demo's
// checks (status 200, predictions.0.id present).
func TestDemoTrafficPassesChecks(t *testing.T) {
	n, err := target.NewNode(target.Config{Workers: 8, Lookup: 100 * time.Microsecond, LookupP99: 200 * time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n)
	defer func() { srv.Close(); n.Close() }()
	r, err := traffic.Open("traffic/demo.ndjson.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; i < 300; i++ {
		req, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		hr, _ := http.NewRequest(req.MethodOrGet(), srv.URL+req.Path, bytes.NewReader(req.BodyBytes()))
		hr.Header = req.Header.Clone()
		resp, err := srv.Client().Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Predictions []struct {
				ID string `json:"id"`
			} `json:"predictions"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil || len(body.Predictions) == 0 || body.Predictions[0].ID == "" {
			t.Fatalf("line %d (%s): status %d, %v, %+v", req.Line, req.Body, resp.StatusCode, err, body)
		}
	}
}
