package target_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdTarget "github.com/bestbefore/bestbefore/cmd/target"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/target"
)

func TestMain(m *testing.M) {
	if handled, code := target.ChildMain(); handled {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func TestServe(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Executable: os.Executable}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pids []int32
	cmd := cmdTarget.NewCmdServe(f, func(c *target.Cluster) {
		defer cancel() // stop once checked
		pids = c.PIDs()
		resp, err := http.Post(c.URL()+"/v1/predict", "application/json", strings.NewReader(`{"query":"pen","k":2}`))
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		var r target.PredictResponse
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 || len(r.Predictions) != 2 {
			t.Errorf("predict through the balancer: %d %v %+v", resp.StatusCode, err, r)
		}
	})
	cmd.SetArgs([]string{"--nodes", "2", "--listen", "127.0.0.1:0", "--workers", "3", "--lookup", "10ms", "--items", "300"})
	cmd.SetContext(ctx)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "configured capacity 600 QPS (300 a node") || strings.Count(out.String(), "\nnode ") != 2 {
		t.Errorf("stdout:\n%s", out.String())
	}
	if len(pids) != 2 {
		t.Fatalf("pids %v", pids)
	}
	for _, pid := range pids {
		if p, err := os.FindProcess(int(pid)); err == nil && p.Signal(syscall.Signal(0)) == nil {
			t.Errorf("node %d still running after serve returned", pid)
		}
	}
}

func TestServe_BadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--nodes", "0"},
		{"--workers", "-2"},
		{"--lookup", "10ms", "--lookup-p99", "5ms"},
		{"--flag", "new-ranker=sometimes"},
	} {
		ios, _, _, _ := iostreams.Test()
		cmd := cmdTarget.NewCmdServe(&cmdutil.Factory{IOStreams: ios, Executable: os.Executable}, nil)
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.Execute(); cmdutil.CodeOf(err) != cmdutil.ExitBadInput {
			t.Errorf("%v: %v (exit %d), want exit 2", args, err, cmdutil.CodeOf(err))
		}
	}
}

// Listening outside loopback says so, and that /admin/ still answers
// loopback clients only unless --public-admin.
func TestServe_WarnsWhenReachable(t *testing.T) {
	for _, public := range []bool{false, true} {
		ios, _, _, errOut := iostreams.Test()
		f := &cmdutil.Factory{IOStreams: ios, Executable: os.Executable}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := cmdTarget.NewCmdServe(f, func(c *target.Cluster) { cancel() })
		args := []string{"--nodes", "1", "--listen", "0.0.0.0:0", "--workers", "2", "--items", "100"}
		if public {
			args = append(args, "--public-admin")
		}
		cmd.SetArgs(args)
		cmd.SetContext(ctx)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		cancel()
		msg := errOut.String()
		if !strings.Contains(msg, "warning: the balancer listens on http://") || !strings.Contains(msg, "reachable from other machines") {
			t.Errorf("public=%v: no warning in stderr:\n%s", public, msg)
		}
		if want := map[bool]string{false: "loopback clients only", true: "anyone who reaches it can kill nodes"}[public]; !strings.Contains(msg, want) {
			t.Errorf("public=%v: stderr lacks %q:\n%s", public, want, msg)
		}
	}
}
