package runner_test

import (
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/runner"
	"github.com/bestbefore/bestbefore/pkg/scenario"
)

// A scenario's target.bundled block sets the node's sizes; what it leaves
// unset keeps the service's defaults (p99 lookup 2.5 × the lookup, a
// queue of 4 × workers).
func TestBundledConfigFromAScenario(t *testing.T) {
	b := &scenario.Bundled{Nodes: 3, Workers: 16, Lookup: scenario.Duration(10 * time.Millisecond), Cache: -1, Flags: []string{"new-ranker=25%"}}
	fc := runner.BundledConfig(b)
	if fc.Workers != 16 || fc.Lookup != 10*time.Millisecond || fc.LookupP99 != 25*time.Millisecond || fc.Queue != 64 || fc.Cache != -1 || fc.CapacityQPS() != 1600 || fc.Validate() != nil {
		t.Errorf("BundledConfig(%+v) = %+v", b, fc)
	}
	if d := runner.BundledConfig(nil); d.CapacityQPS() != 400 {
		t.Errorf("no bundled block: %+v, want the defaults (400 QPS a node)", d)
	}
}
