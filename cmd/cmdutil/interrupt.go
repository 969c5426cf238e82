package cmdutil

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type abortKey struct{}

// Interrupts makes Ctrl-C (and SIGTERM) stop a run in steps, so that an
// impatient user still gets the partial result:
//
//   - the first signal cancels the returned context: the run stops
//     sending, waits for its requests in flight (each bounded by the
//     request timeout) and writes its partial result;
//   - the second closes abort: the run stops waiting for those requests
//     and writes what it has at once;
//   - the third exits at once with 130, writing nothing more.
//
// stop releases the signals. Called again under a context it returned
// (run --repeat around run), it hands back the same context and abort
// channel instead of counting the signals twice.
func Interrupts(ctx context.Context, errOut io.Writer) (_ context.Context, abort <-chan struct{}, stop func()) {
	if ab, ok := ctx.Value(abortKey{}).(chan struct{}); ok {
		return ctx, ab, func() {}
	}
	ab := make(chan struct{})
	ctx, cancel := context.WithCancel(context.WithValue(ctx, abortKey{}, ab))
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case <-sigs:
			}
			n++
			switch n {
			case 1:
				if errOut != nil {
					fmt.Fprintln(errOut, "interrupt: stopping; waiting for the requests in flight, then writing the partial result (Ctrl-C again: stop waiting)")
				}
				cancel()
			case 2:
				if errOut != nil {
					fmt.Fprintln(errOut, "interrupt: not waiting for the requests in flight; writing the partial result now (Ctrl-C again: exit at once, writing nothing)")
				}
				close(ab)
			default:
				if errOut != nil {
					fmt.Fprintln(errOut, "interrupt: exiting at once")
				}
				os.Exit(ExitInterrupted)
			}
		}
	}()
	return ctx, ab, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
