package cmd_test

import (
	"os"
	"testing"

	"github.com/bestbefore/bestbefore/target"
)

func TestMain(m *testing.M) {
	if handled, code := target.ChildMain(); handled {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
