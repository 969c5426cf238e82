package run_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdRun "github.com/bestbefore/bestbefore/cmd/run"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/shard"
)

func parseFlags(t *testing.T, args ...string) (*cmdRun.Options, error) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Version: "test", Executable: os.Executable}
	var got *cmdRun.Options
	c := cmdRun.NewCmdRun(f, func(_ context.Context, o *cmdRun.Options) error { got = o; return nil })
	c.SilenceUsage, c.SilenceErrors = true, true
	c.SetArgs(args)
	err := c.ExecuteContext(context.Background())
	return got, err
}

func TestShardFlags(t *testing.T) {
	before := time.Now()
	o, err := parseFlags(t, "s.yaml", "--shard", "2/3", "--start-at", "+30s")
	if err != nil {
		t.Fatal(err)
	}
	if o.ShardSpec != (shard.Spec{Index: 2, Count: 3}) {
		t.Errorf("shard %+v, want 2/3", o.ShardSpec)
	}
	if d := o.StartAtTime.Sub(before); d < 30*time.Second || d > 40*time.Second {
		t.Errorf("+30s starts %v from now", d)
	}
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	o, err = parseFlags(t, "s.yaml", "--shard", "1/1", "--start-at", at.Format(time.RFC3339))
	if err != nil || !o.StartAtTime.Equal(at) {
		t.Errorf("RFC 3339 start: %v, %v; want %v", o.StartAtTime, err, at)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--shard", "2/3"}, "--shard needs --start-at"},
		{[]string{"--start-at", "+1s"}, "--start-at needs --shard"},
		{[]string{"--shard", "4/3", "--start-at", "+1s"}, "--shard: shard \"4/3\""},
		{[]string{"--shard", "0/3", "--start-at", "+1s"}, "numbered from 1"},
		{[]string{"--shard", "1/3", "--start-at", "soon"}, "--start-at: start-at \"soon\""},
		{[]string{"--shard", "1/3", "--start-at", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}, "in the past"},
	} {
		_, err := parseFlags(t, append([]string{"s.yaml"}, tc.args...)...)
		if cmdutil.CodeOf(err) != cmdutil.ExitBadInput || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (exit %d), want exit 2 and %q", tc.args, err, cmdutil.CodeOf(err), tc.want)
		}
	}
}
