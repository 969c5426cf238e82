package target

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Environment variables a cluster sets for its node processes.
const (
	// ChildEnv carries a node's configuration as JSON; its presence makes
	// ChildMain run a node.
	ChildEnv = "BESTBEFORE_TARGET_NODE"
	// ParentEnv carries the parent's PID, so tools and tests can find a
	// cluster's processes.
	ParentEnv = "BESTBEFORE_TARGET_PARENT"
)

// readyPrefix starts the line a node writes on its standard output once it
// listens.
const readyPrefix = "bestbefore-target-node ready "

type childSpec struct {
	Config Config `json:"config"`
	// Listen is the address to bind; if it is taken, the node binds
	// 127.0.0.1:0 instead.
	Listen string `json:"listen"`
}

// ChildMain runs a node of a bundled cluster when this process was started
// as one (ChildEnv is set), and returns handled=false otherwise. Call it
// first thing in main, and in TestMain of any test package that starts a
// cluster:
//
//	if handled, code := target.ChildMain(); handled {
//		os.Exit(code)
//	}
//
// The node stops when its standard input closes (the parent died or closed
// the cluster) or on SIGTERM.
func ChildMain() (handled bool, exitCode int) {
	raw, ok := os.LookupEnv(ChildEnv)
	if !ok {
		return false, 0
	}
	os.Unsetenv(ChildEnv)
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "bestbefore target node: bad %s: %v\n", ChildEnv, err)
		return true, 2
	}
	if err := runNode(spec, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "bestbefore target node %d: %v\n", spec.Config.Index, err)
		return true, 1
	}
	return true, 0
}

func runNode(spec childSpec, stdin io.Reader, stdout, stderr io.Writer) error {
	n, err := NewNode(spec.Config)
	if err != nil {
		return err
	}
	defer n.Close()
	addr := spec.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: n, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stderr, "pid %d, %s, capacity %.0f QPS (%d workers, %v lookup)\n",
		os.Getpid(), url, n.CapacityQPS(), n.cfg.Workers, n.cfg.Lookup)
	fmt.Fprintf(stdout, "%s%s\n", readyPrefix, url)

	parentGone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, stdin)
		close(parentGone)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	select {
	case <-parentGone:
	case <-sig:
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n.ready.Store(false)
	srv.Shutdown(ctx)
	return nil
}
