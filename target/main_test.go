package target_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/target"
)

// crasherEnv makes the test binary start a cluster, print the nodes' PIDs
// and wait to be killed: the test of what happens when a parent crashes.
const crasherEnv = "BESTBEFORE_TEST_CRASHER"

func TestMain(m *testing.M) {
	if handled, code := target.ChildMain(); handled {
		os.Exit(code)
	}
	if os.Getenv(crasherEnv) != "" {
		os.Unsetenv(crasherEnv)
		runCrasher()
	}
	os.Exit(m.Run())
}

func runCrasher() {
	c, err := target.StartCluster(contextBackground(), target.ClusterOptions{Nodes: 2, Node: target.Config{Workers: 1, Items: 200}})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("pids", c.PIDs()[0], c.PIDs()[1], c.BalancerPID())
	time.Sleep(time.Minute)
	os.Exit(0)
}
