package target

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// Environment variables a cluster sets for its node processes.
const (
	// ChildEnv carries a node's configuration as JSON; its presence makes
	// ChildMain run a node.
	ChildEnv = "BESTBEFORE_TARGET_NODE"
	// BalancerEnv carries a cluster balancer's configuration as JSON; its
	// presence makes ChildMain run the balancer.
	BalancerEnv = "BESTBEFORE_TARGET_BALANCER"
	// ParentEnv carries the parent's PID, so tools and tests can find a
	// cluster's processes.
	ParentEnv = "BESTBEFORE_TARGET_PARENT"
)

// readyPrefix starts the line a node writes on its standard output once it
// listens.
const readyPrefix = "bestbefore-target-node ready "

// serverProtocols are what the nodes and the balancer speak on their one
// port: HTTP/1.1, and HTTP/2 in the clear (h2c, by prior knowledge) for
// gRPC.
func serverProtocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return p
}

type balancerSpec struct {
	Listen string   `json:"listen"`
	Nodes  []string `json:"nodes"`
	// Admin is the parent's admin server, where /admin/ requests go.
	Admin string `json:"admin"`
	// PublicAdmin lets clients off this machine reach /admin/ (kill and
	// revive nodes); by default only loopback clients may.
	PublicAdmin bool `json:"public_admin,omitempty"`
}

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
	if raw, ok := os.LookupEnv(BalancerEnv); ok {
		os.Unsetenv(BalancerEnv)
		var spec balancerSpec
		if err := json.Unmarshal([]byte(raw), &spec); err != nil {
			fmt.Fprintf(os.Stderr, "bestbefore target balancer: bad %s: %v\n", BalancerEnv, err)
			return true, 2
		}
		if err := runBalancer(spec, os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintf(os.Stderr, "bestbefore target balancer: %v\n", err)
			return true, 1
		}
		return true, 0
	}
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
	srv := &http.Server{Handler: n, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, Protocols: serverProtocols()}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stderr, "pid %d, %s, capacity %.0f QPS (%d workers, %v lookup)\n",
		os.Getpid(), url, n.CapacityQPS(), n.cfg.Workers, n.cfg.Lookup)
	fmt.Fprintf(stdout, "%s%s\n", readyPrefix, url)

	if err := waitForEnd(stdin, served); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n.ready.Store(false)
	srv.Shutdown(ctx)
	return nil
}

// waitForEnd returns when the parent closes stdin (or dies), on SIGTERM or
// SIGINT, or when the server stops.
func waitForEnd(stdin io.Reader, served <-chan error) error {
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
	return nil
}

// runBalancer serves the cluster's front address in its own process, so
// its CPU is neither the load generator's nor a node's. Control requests
// from the parent (loopback only) take nodes out of and back into the
// rotation; /admin/ requests are forwarded to the parent, which owns the
// node processes.
func runBalancer(spec balancerSpec, stdin io.Reader, stdout, stderr io.Writer) error {
	b, err := NewBalancer(spec.Nodes)
	if err != nil {
		return err
	}
	defer b.Close()
	admin, err := url.Parse(spec.Admin)
	if err != nil {
		return fmt.Errorf("admin address: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_bestbefore/nodes/{i}/disable", loopbackOnly(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.PathValue("i"))
		b.Disable(i)
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("POST /_bestbefore/nodes/{i}/enable", loopbackOnly(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.PathValue("i"))
		if err := b.SetURL(i, r.URL.Query().Get("url")); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("POST /_bestbefore/nodes/{i}/down", loopbackOnly(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.PathValue("i"))
		b.SetUp(i, false)
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("GET /_bestbefore/nodes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Up())
	})
	var adminProxy http.HandlerFunc = httputil.NewSingleHostReverseProxy(admin).ServeHTTP
	if !spec.PublicAdmin {
		adminProxy = loopbackOnly(adminProxy)
	}
	mux.Handle("/admin/", adminProxy)
	// The balancer's own metrics: forwarding /metrics round robin would
	// show a scraper each node's counters in turn (27, 0, 27, 0).
	mux.Handle("GET /metrics", b.MetricsHandler())
	mux.Handle("/", b)
	ln, err := net.Listen("tcp", spec.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, Protocols: serverProtocols()}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	u := "http://" + ln.Addr().String()
	fmt.Fprintf(stderr, "pid %d, %s, %d node(s)\n", os.Getpid(), u, len(spec.Nodes))
	fmt.Fprintf(stdout, "%s%s\n", readyPrefix, u)
	if err := waitForEnd(stdin, served); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	return nil
}

// loopbackOnly refuses clients that are not on this machine's loopback.
func loopbackOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			writeError(w, http.StatusForbidden, "admin endpoints answer loopback clients only (target serve --public-admin opens /admin/)")
			return
		}
		h(w, r)
	}
}

// IsLoopbackURL reports whether rawURL's host is a loopback address (or
// localhost): a server listening there is not reachable from other
// machines.
func IsLoopbackURL(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
