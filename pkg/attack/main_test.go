package attack_test

import (
	"os"
	"testing"

	"github.com/bestbefore/bestbefore/internal/teststream"
)

func TestMain(m *testing.M) {
	if teststream.ChildMain() || genChild() {
		return
	}
	os.Exit(m.Run())
}
