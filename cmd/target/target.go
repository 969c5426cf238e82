// Package target is the `bestbefore target` command: it runs the bundled
// reference prediction service.
package target

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/target"
)

// ServeOptions holds the flags of `target serve`.
type ServeOptions struct {
	IO *iostreams.IOStreams
	// Executable is the binary a node is started from.
	Executable func() (string, error)
	Nodes      int
	Listen     string
	// PublicAdmin lets clients off this machine kill and revive nodes.
	PublicAdmin bool
	Node        target.Config
	// Ready, when set, is called once the cluster is up (tests).
	Ready func(*target.Cluster)
}

// NewCmdTarget builds `target` and its verbs.
func NewCmdTarget(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Run the bundled reference prediction service",
		Long: `The bundled reference prediction service ranks products for a query, behind
a simulated feature-store lookup, a worker pool, a bounded queue and an LRU
cache. Its capacity is set by configuration (workers / lookup per node), so
capacity tests against it have a known answer.`,
	}
	cmd.AddCommand(NewCmdServe(f, nil))
	cmd.AddCommand(newCmdNode())
	return cmd
}

// NewCmdServe builds `target serve`; opts.Ready, when set, is called with
// the running cluster.
func NewCmdServe(f *cmdutil.Factory, ready func(*target.Cluster)) *cobra.Command {
	opts := &ServeOptions{IO: f.IOStreams, Executable: f.Executable, Ready: ready}
	var lookup, lookupP99 time.Duration
	var flags []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Start N node processes behind a round-robin balancer on loopback, until Ctrl-C",
		Example: `  bestbefore target serve
  bestbefore target serve --nodes 2 --workers 16 --lookup 10ms --listen 127.0.0.1:9000
  bestbefore target serve --flag new-ranker=25%

  curl -s -XPOST localhost:8080/v1/predict -d '{"query":"wireless mouse","k":5}'
  curl -s -XPOST localhost:8080/admin/nodes/2/kill

  # The same port answers the Open Inference Protocol, REST and gRPC (h2c),
  # its scorer model behind a dynamic batcher:
  bestbefore target serve --max-batch 16 --max-queue-delay 5ms --batch-cost 20ms --row-cost 500us
  curl -s localhost:8080/v2/models/scorer
  bestbefore run --url grpc://127.0.0.1:8080 --call inference.GRPCInferenceService/ModelInfer --data @infer.json --rate 200`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Node.Lookup, opts.Node.LookupP99, opts.Node.Flags = lookup, lookupP99, flags
			return serveRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&opts.Nodes, "nodes", "n", 3, "node processes")
	fl.StringVar(&opts.Listen, "listen", "127.0.0.1:8080", "balancer address (one outside loopback is reachable from other machines)")
	fl.BoolVar(&opts.PublicAdmin, "public-admin", false, "let clients off this machine use /admin/ (kill, revive: no authentication)")
	fl.IntVar(&opts.Node.Workers, "workers", target.DefaultWorkers, "workers per node")
	fl.DurationVar(&lookup, "lookup", target.DefaultLookup, "mean feature-store lookup time")
	fl.DurationVar(&lookupP99, "lookup-p99", 0, "99th percentile of the lookup time (default 2.5 × --lookup)")
	fl.IntVar(&opts.Node.Queue, "queue", 0, "requests waiting per node before 503 (default 4 × --workers)")
	fl.IntVar(&opts.Node.Cache, "cache", target.DefaultCache, "LRU cache entries per node (negative: no cache)")
	fl.IntVar(&opts.Node.Items, "items", target.DefaultItems, "catalogue size")
	fl.Int64Var(&opts.Node.Seed, "seed", 0, "seed of the catalogue and lookup times")
	fl.StringArrayVar(&flags, "flag", nil, "feature flag, e.g. new-ranker=on, new-ranker=25% (repeatable)")
	fl.IntVar(&opts.Node.Batch.MaxBatch, "max-batch", target.DefaultMaxBatch, "OIP scorer: the most rows a batch holds")
	fl.DurationVar(&opts.Node.Batch.MaxQueueDelay, "max-queue-delay", target.DefaultMaxQueueDelay, "OIP scorer: how long a batch waits for more rows after its first request")
	fl.DurationVar(&opts.Node.Batch.BatchCost, "batch-cost", target.DefaultBatchCost, "OIP scorer: the time a batch takes, whatever its size")
	fl.DurationVar(&opts.Node.Batch.RowCost, "row-cost", target.DefaultRowCost, "OIP scorer: the time each row adds to its batch")
	fl.IntVar(&opts.Node.Batch.Instances, "instances", target.DefaultInstances, "OIP scorer: batches run at once per node")
	return cmd
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	ios := opts.IO
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Nodes < 1 || opts.Nodes > 64 {
		return cmdutil.BadInputf("--nodes: must be between 1 and 64, got %d", opts.Nodes)
	}
	cfg := opts.Node.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return cmdutil.BadInputf("target serve: %v", err)
	}
	errOut := &lockedWriter{w: ios.ErrOut} // the nodes write to it too
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	exe := ""
	if opts.Executable != nil {
		var err error
		if exe, err = opts.Executable(); err != nil {
			return cmdutil.RunFailed(err)
		}
	}
	c, err := target.StartCluster(ctx, target.ClusterOptions{
		Nodes: opts.Nodes, Node: cfg, Listen: opts.Listen, PublicAdmin: opts.PublicAdmin, Stderr: errOut, Executable: exe,
	})
	if err != nil {
		return cmdutil.RunFailed(err)
	}
	defer c.Close()
	if !target.IsLoopbackURL(c.URL()) {
		admin := "its /admin/ endpoints answer loopback clients only (--public-admin opens them)"
		if opts.PublicAdmin {
			admin = "anyone who reaches it can kill nodes through /admin/ (--public-admin), without authentication"
		}
		fmt.Fprintf(errOut, "warning: the balancer listens on %s, reachable from other machines; %s\n", c.URL(), admin)
	}
	fmt.Fprintf(ios.Out, "bundled prediction service: %d node(s), configured capacity %.0f QPS (%.0f a node: %d workers / %v lookup, p99 %v)\n",
		opts.Nodes, c.CapacityQPS(), c.NodeCapacityQPS(), cfg.Workers, cfg.Lookup, cfg.LookupP99)
	fmt.Fprintf(ios.Out, "balancer  %s   (POST /v1/predict; admin: GET /admin/nodes, POST /admin/nodes/{i}/kill|revive)\n", c.URL())
	fmt.Fprintf(ios.Out, "          the same port: the Open Inference Protocol, REST (/v2/models/%s/infer) and gRPC (grpc://%s), its batcher %.0f calls/s a node (batches of %d: %v + %v a row)\n",
		target.ScorerModel, strings.TrimPrefix(c.URL(), "http://"), cfg.Batch.CapacityQPS(), cfg.Batch.MaxBatch, cfg.Batch.BatchCost, cfg.Batch.RowCost)
	for _, n := range c.Nodes() {
		fmt.Fprintf(ios.Out, "node %d    %s   pid %d   metrics %s\n", n.Index, n.URL, n.PID, n.MetricsURL)
	}
	fmt.Fprintln(errOut, "Ctrl-C stops every node.")
	if opts.Ready != nil {
		opts.Ready(c)
	}
	<-ctx.Done()
	fmt.Fprintln(errOut, "stopping nodes...")
	return c.Close()
}

// newCmdNode is the hidden command a node process runs when the binary's
// main did not already hand over to target.ChildMain.
func newCmdNode() *cobra.Command {
	return &cobra.Command{
		Use:    "node",
		Short:  "Run one node of a bundled cluster (started by the cluster itself)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			handled, code := target.ChildMain()
			if !handled {
				return cmdutil.BadInputf("target node: started by `target serve` or a run, not by hand (%s is not set)", target.ChildEnv)
			}
			if code != 0 {
				return &cmdutil.ExitError{Code: code}
			}
			return nil
		},
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
