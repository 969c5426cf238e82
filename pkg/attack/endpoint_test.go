package attack_test

import (
	"fmt"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// Grouping is bounded: at most traffic.MaxEndpoints groups by name, every
// other endpoint in one more group, whatever the traffic holds.
func TestGroupsAreBounded(t *testing.T) {
	var names []string
	for i := 0; i < 40; i++ {
		names = append(names, fmt.Sprintf("GET /r%d/{id}", i))
	}
	g := attack.NewGroups(names)
	if len(g.Names) != traffic.MaxEndpoints {
		t.Fatalf("%d groups by name, want %d", len(g.Names), traffic.MaxEndpoints)
	}
	if got := g.Of(&traffic.Request{Path: "/r3/77"}); got != 3 {
		t.Errorf("GET /r3/77 is in group %d, want 3", got)
	}
	other := uint16(traffic.MaxEndpoints)
	for _, p := range []string{"/r20/1", "/unknown", "/r3"} {
		if got := g.Of(&traffic.Request{Path: p}); got != other {
			t.Errorf("GET %s is in group %d, want the other group %d", p, got, other)
		}
	}
	if got := g.Of(&traffic.Request{Method: "POST", Path: "/r3/77"}); got != other {
		t.Errorf("POST /r3/77 is in group %d, want other: the method is part of the endpoint", got)
	}
}
