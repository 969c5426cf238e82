// Package record is the `bestbefore record` command: a recording reverse
// proxy.
package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/record"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// Options holds the flags of `record`.
type Options struct {
	IO          *iostreams.IOStreams
	Upstream    string
	Listen      string
	Out         string
	Redaction   cmdutil.Redaction
	AllowPublic bool
	Force       bool
	Timeout     time.Duration
	Sample      float64
	Seed        uint64
	MaxBody     string
	Duration    time.Duration
	Progress    time.Duration
	// Ready, when set, receives the address listened on (tests).
	Ready func(addr string)
}

// NewCmdRecord builds `record`; runF replaces the action in tests.
func NewCmdRecord(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "record --upstream URL [--listen ADDR] --out FILE[.gz]",
		Short: "Record traffic through a reverse proxy into a traffic file, secrets redacted",
		Long: `Run a reverse proxy that forwards every request and its response to
--upstream as they are (hop-by-hop fields aside; the client's address is
appended to X-Forwarded-For) and appends each request to a traffic file.

` + cmdutil.RedactionHelp() + `

--out appends to an existing traffic file (a new gzip member for .gz); a
file that does not end in a whole line is refused, and --force starts it
afresh. Lines reach the file every second, whole lines only; a .gz file
closes a gzip member every second, so a recording killed outright keeps
all but its last second. Ctrl-C (or SIGTERM) stops the proxy, writes what
is pending and closes the file cleanly. If the disk cannot keep up,
recordings are dropped and counted rather than slowing the traffic.

The upstream is dialed through the same address guard as a run: loopback
and private addresses only, unless --allow-public. An upstream that does
not answer within --upstream-timeout gets the client a 504.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Upstream, "upstream", "", "base URL requests are forwarded to (required)")
	fl.StringVar(&opts.Listen, "listen", "127.0.0.1:8089", "address to listen on")
	fl.StringVarP(&opts.Out, "out", "o", "", "traffic file to append to; .gz compresses (required)")
	cmdutil.RedactionFlags(fl, &opts.Redaction)
	fl.BoolVar(&opts.AllowPublic, "allow-public", false, "allow an upstream outside loopback and private address ranges")
	fl.BoolVar(&opts.Force, "force", false, "replace an existing --out file instead of appending to it")
	fl.DurationVar(&opts.Timeout, "upstream-timeout", record.DefaultUpstreamTimeout, "longest wait for the upstream's response header; past it the client gets 504")
	fl.Float64Var(&opts.Sample, "sample", 1, "fraction of requests recorded, in (0, 1]")
	fl.Uint64Var(&opts.Seed, "seed", 1, "seed of the sampling")
	fl.StringVar(&opts.MaxBody, "max-body", "1MiB", "longest body stored; longer ones are stored truncated (e.g. 64KiB, 0 for none)")
	fl.DurationVar(&opts.Duration, "duration", 0, "stop after this long (default: until interrupted)")
	fl.DurationVar(&opts.Progress, "progress", 5*time.Second, "interval of the progress line on stderr (0: none)")
	return cmd
}

// ParseSize reads a byte count such as 1048576, 64KiB, 1MiB, 10kB or 2MB.
func ParseSize(s string) (int, error) {
	units := []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"kB", 1000}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	mult := 1
	num := strings.TrimSpace(s)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > (1<<31)/mult {
		return 0, fmt.Errorf("%q is not a size like 65536, 64KiB or 1MiB", s)
	}
	return n * mult, nil
}

// Run records until ctx is done, SIGINT or SIGTERM arrives, or the
// duration passes.
func Run(ctx context.Context, opts *Options) error {
	ios := opts.IO
	if opts.Upstream == "" || opts.Out == "" {
		return cmdutil.BadInputf("record: --upstream and --out are required")
	}
	up, err := url.Parse(opts.Upstream)
	if err != nil || up.Host == "" || (up.Scheme != "http" && up.Scheme != "https") {
		return cmdutil.BadInputf("record: --upstream: %q is not an http:// or https:// URL", opts.Upstream)
	}
	if opts.Sample <= 0 || opts.Sample > 1 {
		return cmdutil.BadInputf("record: --sample: %v is not a fraction in (0, 1]", opts.Sample)
	}
	maxBody, err := ParseSize(opts.MaxBody)
	if err != nil {
		return cmdutil.BadInputf("record: --max-body: %v", err)
	}
	if maxBody == 0 {
		maxBody = -1 // store no body
	}
	red, err := opts.Redaction.Redactor()
	if err != nil {
		return cmdutil.BadInputf("record: %v", err)
	}
	if opts.Timeout <= 0 {
		return cmdutil.BadInputf("record: --upstream-timeout must be positive, got %v", opts.Timeout)
	}
	guard := h1.Guard{AllowPublic: opts.AllowPublic}
	if !opts.AllowPublic {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", up.Hostname())
		cancel()
		for _, ip := range ips {
			if !guard.Allowed(ip) {
				return cmdutil.BadInputf("record: --upstream %s resolves to %s, %s", up.Redacted(), ip, h1.Refusal(ip))
			}
		}
		_ = err // an unresolvable upstream is reported per request (502), as it may come up later
	}
	gz := strings.HasSuffix(opts.Out, ".gz")
	if !opts.Force {
		if err := traffic.CheckAppendable(opts.Out, gz); err != nil {
			return cmdutil.BadInputf("record: --out: %v (--force replaces the file)", err)
		}
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return cmdutil.BadInputf("record: --listen %s: %v", opts.Listen, err)
	}
	mode := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if opts.Force {
		mode = os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	}
	file, err := os.OpenFile(opts.Out, mode, 0o600)
	if err != nil {
		ln.Close()
		return cmdutil.RunFailed(fmt.Errorf("record: %w", err))
	}
	rec, err := record.New(record.Options{
		Upstream: up, Out: file, Gzip: gz, Guard: guard, UpstreamTimeout: opts.Timeout,
		Redactor: red, Sample: opts.Sample, Seed: opts.Seed, MaxBody: maxBody,
	})
	if err != nil {
		ln.Close()
		file.Close()
		return cmdutil.BadInput(err)
	}

	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	srv := &http.Server{Handler: rec, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	if !isLoopback(ln.Addr()) {
		fmt.Fprintf(ios.ErrOut, "warning: listening on %s, reachable from other machines\n", addr)
	}
	redaction := "secrets redacted"
	if red == nil {
		redaction = "NOT redacting secrets (--no-redact)"
	}
	fmt.Fprintf(ios.ErrOut, "recording http://%s -> %s into %s (%s); Ctrl-C to stop\n", addr, up, opts.Out, redaction)
	if opts.Ready != nil {
		opts.Ready(addr)
	}

	start := time.Now()
	var tick <-chan time.Time
	if opts.Progress > 0 {
		t := time.NewTicker(opts.Progress)
		defer t.Stop()
		tick = t.C
	}
	var serveErr error
	last, lastAt := int64(0), start
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case serveErr = <-served:
			break loop
		case now := <-tick:
			st := rec.Stats()
			rate := float64(st.Seen-last) / now.Sub(lastAt).Seconds()
			last, lastAt = st.Seen, now
			progress(ios.ErrOut, st, rate)
		}
	}
	// Stop accepting, let requests in flight finish (bounded), then close
	// the file so every line and the gzip trailer are written.
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutCtx)
	cerr := rec.Close()
	st := rec.Stats()
	fmt.Fprintf(ios.ErrOut, "recorded %d of %d requests into %s (%s) in %s", st.Recorded, st.Seen, opts.Out, human(st.Bytes), time.Since(start).Round(time.Second))
	if st.Skipped > 0 {
		fmt.Fprintf(ios.ErrOut, ", %d left out by sampling", st.Skipped)
	}
	fmt.Fprintln(ios.ErrOut)
	if st.Dropped > 0 {
		fmt.Fprintf(ios.ErrOut, "warning: %d recordings dropped because writing fell behind\n", st.Dropped)
	}
	if st.Withheld > 0 {
		fmt.Fprintf(ios.ErrOut, "note: %d truncated bodies withheld: they could not be redacted\n", st.Withheld)
	}
	if cerr != nil {
		return cmdutil.RunFailed(fmt.Errorf("record: writing %s: %w", opts.Out, cerr))
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return cmdutil.RunFailed(fmt.Errorf("record: %w", serveErr))
	}
	return nil
}

func progress(w io.Writer, st record.Stats, rate float64) {
	fmt.Fprintf(w, "recorded %d requests, %s, %.1f req/s", st.Recorded, human(st.Bytes), rate)
	if st.Dropped > 0 {
		fmt.Fprintf(w, ", %d dropped", st.Dropped)
	}
	fmt.Fprintln(w)
}

func human(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
