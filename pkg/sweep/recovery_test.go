package sweep

import (
	"testing"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// The demo's case: a node stopped 4.003 s into a hold, its in-flight
// requests (due in the second before) failing with it, every later
// request served. The errors happened at the loss, so the first clean
// second starts after it: recovery took time (about 1 s), never "0 s"
// beside errors.
func TestRecoveryAfterErrorsAtTheLoss(t *testing.T) {
	tl := make([]result.TimelinePoint, 8)
	for i := range tl {
		tl[i] = result.TimelinePoint{OffsetS: float64(i), Requests: 738, P99MS: 50}
	}
	tl[3].Errors = 5
	lost := 4.003
	rec := recovery(tl, lost, lost-2, 1, 100, true)
	if rec < 0 || !(tl[rec].OffsetS-lost > 0) {
		t.Fatalf("recovery at interval %d (%.3f s after the loss); want one starting after the loss", rec, tl[max(rec, 0)].OffsetS-lost)
	}
	if rec != 5 {
		t.Errorf("recovery at interval %d, want 5 (the first second that starts after the failures)", rec)
	}
	// No error with the loss: the second in which it fell counts.
	tl[3].Errors = 0
	if rec := recovery(tl, lost, lost-2, 1, 100, true); rec != 4 {
		t.Errorf("no errors: recovery at interval %d, want 4", rec)
	}
	// Errors to the end: never.
	tl[7].Errors = 1
	if rec := recovery(tl, lost, lost-2, 1, 100, true); rec != -1 {
		t.Errorf("errors in the last interval: recovery at %d, want never (-1)", rec)
	}
}
