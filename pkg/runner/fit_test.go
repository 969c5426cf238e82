package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
)

// On a narrow terminal the live line drops the time left, then the
// in-flight count, rather than wrap in the middle of a word.
func TestBarLineFitsTheTerminal(t *testing.T) {
	figures := snapshotText(attack.Snapshot{Elapsed: 2 * time.Second, Completed: 400, Errors: 3, P99: 12 * time.Millisecond, InFlight: 7})
	pos := "step 3 of at most 9, at most 1m20s left"
	used := len("step  2 ramp     300.0 qps ") + barWidth + 1
	for _, c := range []struct {
		width     int
		want, not []string
	}{
		{0, []string{pos, "in flight 7"}, nil},
		{200, []string{pos, "in flight 7"}, nil},
		{140, []string{"in flight 7"}, []string{"at most"}},
		{110, []string{"errors"}, []string{"at most", "in flight"}},
	} {
		got := fit(c.width, used, figures, pos)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("width %d: %q lacks %q", c.width, got, w)
			}
		}
		for _, w := range c.not {
			if strings.Contains(got, w) {
				t.Errorf("width %d: %q should drop %q", c.width, got, w)
			}
		}
		if c.width > 0 && used+len([]rune(got)) >= c.width && c.width >= 110 {
			t.Errorf("width %d: the line takes %d columns", c.width, used+len([]rune(got)))
		}
	}
}
