package traffic_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

func writeLines(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "{\"path\":\"/r/%d\"}\n", i)
	}
	p := filepath.Join(t.TempDir(), "t.ndjson")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func order(t *testing.T, path string, shuffle bool, seed int64, n int) []string {
	t.Helper()
	src, err := traffic.NewSource(path, shuffle, seed)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []string
	for i := 0; i < n; i++ {
		r, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Path)
	}
	return out
}

// Sequential replay follows the file and cycles through it; a shuffled
// replay is a seeded permutation of every line, the same for the same seed.
func TestSourceOrder(t *testing.T) {
	path := writeLines(t, 100)
	seq := order(t, path, false, 0, 250)
	for i, p := range seq {
		if want := fmt.Sprintf("/r/%d", i%100); p != want {
			t.Fatalf("sequential request %d is %s, want %s", i, p, want)
		}
	}
	a, b, c := order(t, path, true, 7, 100), order(t, path, true, 7, 100), order(t, path, true, 8, 100)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Error("the same seed gave two orders")
	}
	if strings.Join(a, ",") == strings.Join(c, ",") {
		t.Error("two seeds gave the same order")
	}
	seen := map[string]bool{}
	for _, p := range a {
		seen[p] = true
	}
	if len(seen) != 100 {
		t.Errorf("a shuffled pass holds %d distinct lines of 100", len(seen))
	}
	if strings.Join(a, ",") == strings.Join(seq[:100], ",") {
		t.Error("shuffle kept the file order")
	}
}
