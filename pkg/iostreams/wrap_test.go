package iostreams_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bestbefore/bestbefore/pkg/iostreams"
)

func TestWrapNeverBreaksAWord(t *testing.T) {
	s := "Node http://127.0.0.1:18082 was stopped 5 s into a hold at 346 QPS: the remaining nodes held the load. Errors from the loss to recovery: 7. FAIL latency.p99,latency.p999,error_rate,target_cpu"
	for _, width := range []int{20, 40, 60, 80, 100, 160} {
		got := iostreams.Wrap(s, width, 4)
		if strings.Join(strings.Fields(got), "") != strings.Join(strings.Fields(s), "") {
			t.Fatalf("width %d: the text changed:\n%s", width, got)
		}
		for i, line := range strings.Split(got, "\n") {
			if i > 0 && !strings.HasPrefix(line, "    ") {
				t.Errorf("width %d: line %d %q lacks the indent", width, i, line)
			}
			if n := utf8.RuneCountInString(line); n > width && strings.Contains(strings.TrimSpace(line), " ") {
				t.Errorf("width %d: line %d is %d columns: %q", width, i, n, line)
			}
		}
		// Every word of the text is whole on some line.
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
			if !strings.Contains(got, w) {
				t.Errorf("width %d: %q was broken", width, w)
			}
		}
	}
	if got := iostreams.Wrap("short", 80, 2); got != "short" {
		t.Errorf("short text changed: %q", got)
	}
}
