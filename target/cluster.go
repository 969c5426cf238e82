package target

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ClusterOptions configures a bundled cluster.
type ClusterOptions struct {
	// Nodes is the number of node processes (default 3).
	Nodes int
	// Node is every node's configuration (Index is set per node).
	Node Config
	// Listen is the balancer's address (default 127.0.0.1:0).
	Listen string
	// PublicAdmin lets clients that are not on loopback use the
	// balancer's /admin/ endpoints (kill, revive); by default they get 403
	// whatever address the balancer listens on.
	PublicAdmin bool
	// Stderr receives the nodes' diagnostics, each line prefixed by the
	// node; nil discards them (the last lines still appear in errors).
	Stderr io.Writer
	// Executable is the binary started for each node (default: this one,
	// os.Executable). It must call ChildMain first thing.
	Executable string
	// Args are the node processes' arguments (default DefaultChildArgs).
	Args []string
	// StartTimeout bounds the start of each node (default 20s).
	StartTimeout time.Duration
}

// DefaultChildArgs returns the arguments a node process gets. They matter
// only when the binary does not call ChildMain before parsing its command
// line: a test binary then runs no test (and the cluster reports that the
// node never became ready); bestbefore runs its hidden `target node`
// command.
func DefaultChildArgs(executable string) []string {
	base := strings.TrimSuffix(filepath.Base(executable), ".exe")
	if strings.HasSuffix(base, ".test") {
		return []string{"-test.run=^$", "-test.count=1"}
	}
	return []string{"target", "node"}
}

// Cluster is N node processes behind a round-robin balancer, all on
// loopback. The balancer runs in a process of its own, so neither the load
// generator's CPU nor a node's includes it. Admin endpoints on the
// balancer's address (loopback clients only, unless PublicAdmin): POST /admin/nodes/{i}/kill,
// POST /admin/nodes/{i}/revive, GET /admin/nodes.
type Cluster struct {
	opts  ClusterOptions
	bal   *nodeProc    // the balancer process
	admin *http.Server // the parent's admin server, behind the balancer's /admin/
	ctl   *http.Client // the parent's control requests to the balancer
	url   string

	mu     sync.Mutex
	nodes  []*nodeProc
	closed bool
}

type nodeProc struct {
	index  int
	cmd    *exec.Cmd
	url    string
	stdin  io.WriteCloser
	exited chan struct{}
	stderr *tailWriter
}

// NodeInfo describes one node, as GET /admin/nodes reports it.
type NodeInfo struct {
	Index      int     `json:"index"`
	URL        string  `json:"url"`
	MetricsURL string  `json:"metrics_url"`
	PID        int32   `json:"pid"`
	Running    bool    `json:"running"`
	InRotation bool    `json:"in_rotation"`
	Capacity   float64 `json:"capacity_qps"`
}

// StartCluster starts the node processes, waits until each listens, and
// starts the balancer. ctx bounds the start only; the cluster runs until
// Close. On error nothing is left running.
func StartCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Nodes < 1 || opts.Nodes > 64 {
		return nil, fmt.Errorf("target: nodes must be between 1 and 64, got %d", opts.Nodes)
	}
	opts.Node = opts.Node.WithDefaults()
	if err := opts.Node.Validate(); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("target: finding this executable to start nodes: %w", err)
		}
		opts.Executable = exe
	}
	if opts.Args == nil {
		opts.Args = DefaultChildArgs(opts.Executable)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 20 * time.Second
	}
	if opts.Stderr != nil {
		opts.Stderr = &lockedWriter{w: opts.Stderr} // processes write to it concurrently
	}
	c := &Cluster{opts: opts, nodes: make([]*nodeProc, opts.Nodes), ctl: &http.Client{Timeout: 5 * time.Second}}
	errs := make([]error, opts.Nodes)
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.nodes[i], errs[i] = c.startNode(ctx, i, "127.0.0.1:0")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.Close()
		return nil, err
	}
	// The parent's admin server: it owns the node processes.
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/nodes/{i}/kill", c.adminAction(c.Kill))
	mux.HandleFunc("POST /admin/nodes/{i}/revive", c.adminAction(c.Revive))
	mux.HandleFunc("GET /admin/nodes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.Nodes())
	})
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "admin endpoints: GET /admin/nodes, POST /admin/nodes/{i}/kill, POST /admin/nodes/{i}/revive")
	})
	c.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go c.admin.Serve(aln)

	urls := make([]string, opts.Nodes)
	for i, n := range c.nodes {
		urls[i] = n.url
	}
	spec, _ := json.Marshal(balancerSpec{Listen: opts.Listen, Nodes: urls, Admin: "http://" + aln.Addr().String(), PublicAdmin: opts.PublicAdmin})
	c.bal, err = c.startProc(ctx, BalancerEnv+"="+string(spec), "balancer")
	if err != nil {
		c.Close()
		return nil, err
	}
	c.url = c.bal.url
	for _, n := range c.nodes {
		go c.watch(n)
	}
	return c, nil
}

func (c *Cluster) startNode(ctx context.Context, i int, listen string) (*nodeProc, error) {
	cfg := c.opts.Node
	cfg.Index = i
	spec, _ := json.Marshal(childSpec{Config: cfg, Listen: listen})
	n, err := c.startProc(ctx, ChildEnv+"="+string(spec), fmt.Sprintf("node %d", i))
	if n != nil {
		n.index = i
	}
	return n, err
}

// startProc starts this executable again with env set, and waits for it
// to report the URL it listens on.
func (c *Cluster) startProc(ctx context.Context, env, name string) (*nodeProc, error) {
	cmd := exec.Command(c.opts.Executable, c.opts.Args...)
	cmd.Env = append(os.Environ(), env, ParentEnv+"="+strconv.Itoa(os.Getpid()))
	if os.Getenv("GOMAXPROCS") == "" {
		// A node's work is mostly waiting on its lookup; one P keeps the
		// scheduler from spinning on a laptop shared with the generator.
		cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
	}
	cmd.SysProcAttr = childAttr()
	tail := &tailWriter{prefix: name + ": ", out: c.opts.Stderr}
	cmd.Stderr = tail
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("target: starting %s (%s): %w", name, c.opts.Executable, err)
	}
	n := &nodeProc{cmd: cmd, stdin: stdin, exited: make(chan struct{}), stderr: tail}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), readyPrefix); ok {
				ready <- u
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		cmd.Wait()
		close(n.exited)
	}()
	timer := time.NewTimer(c.opts.StartTimeout)
	defer timer.Stop()
	fail := func(why string) (*nodeProc, error) {
		n.stop(0)
		msg := fmt.Sprintf("target: %s %s", name, why)
		if t := strings.TrimSpace(tail.String()); t != "" {
			msg += "; its last output:\n" + t
		}
		return nil, errors.New(msg)
	}
	select {
	case n.url = <-ready:
		return n, nil
	case <-n.exited:
		return fail(fmt.Sprintf("exited before listening (%v); a binary starting bundled targets must call target.ChildMain first (in main, or TestMain for tests)", cmd.ProcessState))
	case <-timer.C:
		return fail(fmt.Sprintf("did not start within %v", c.opts.StartTimeout))
	case <-ctx.Done():
		return fail("start interrupted: " + ctx.Err().Error())
	}
}

// control asks the balancer process to change node i's place in the
// rotation: action is disable, down, or enable (with the node's url).
func (c *Cluster) control(i int, action, nodeURL string) error {
	if c.bal == nil {
		return nil
	}
	u := fmt.Sprintf("%s/_bestbefore/nodes/%d/%s", c.url, i, action)
	if nodeURL != "" {
		u += "?url=" + url.QueryEscape(nodeURL)
	}
	resp, err := c.ctl.Post(u, "", nil)
	if err != nil {
		return fmt.Errorf("target: balancer: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("target: balancer: %s answered %s", action, resp.Status)
	}
	return nil
}

// watch takes a node out of the rotation as soon as its process exits.
func (c *Cluster) watch(n *nodeProc) {
	<-n.exited
	c.mu.Lock()
	current := !c.closed && c.nodes[n.index] == n
	c.mu.Unlock()
	if current {
		c.control(n.index, "down", "")
	}
}

// stop ends the node: its standard input closes and it gets SIGTERM; after
// grace, or at once with grace 0, its process group gets SIGKILL. It waits
// for the process to be reaped.
func (n *nodeProc) stop(grace time.Duration) {
	select {
	case <-n.exited:
		return
	default:
	}
	n.stdin.Close()
	if grace > 0 {
		signalGroup(n.cmd.Process, syscall.SIGTERM)
		select {
		case <-n.exited:
			return
		case <-time.After(grace):
		}
	}
	signalGroup(n.cmd.Process, syscall.SIGKILL)
	n.cmd.Process.Kill()
	<-n.exited
}

func (n *nodeProc) running() bool {
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// URL is the balancer's base URL.
func (c *Cluster) URL() string { return c.url }

// NodeURLs are the nodes' own base URLs, for client-side balancing.
func (c *Cluster) NodeURLs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.url
	}
	return out
}

// MetricsURLs are the nodes' /metrics endpoints.
func (c *Cluster) MetricsURLs() []string {
	out := c.NodeURLs()
	for i := range out {
		out[i] += "/metrics"
	}
	return out
}

// PIDs are the nodes' process IDs (a revived node has a new one).
func (c *Cluster) PIDs() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int32, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = int32(n.cmd.Process.Pid)
	}
	return out
}

// CapacityQPS is the configured capacity of the whole cluster.
func (c *Cluster) CapacityQPS() float64 {
	return float64(c.opts.Nodes) * c.opts.Node.CapacityQPS()
}

// NodeCapacityQPS is the configured capacity of one node.
func (c *Cluster) NodeCapacityQPS() float64 { return c.opts.Node.CapacityQPS() }

// Config is the nodes' configuration.
func (c *Cluster) Config() Config { return c.opts.Node }

// Nodes describes every node.
func (c *Cluster) Nodes() []NodeInfo {
	up := c.rotation()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]NodeInfo, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = NodeInfo{Index: i, URL: n.url, MetricsURL: n.url + "/metrics", PID: int32(n.cmd.Process.Pid),
			Running: n.running(), InRotation: i < len(up) && up[i], Capacity: c.opts.Node.CapacityQPS()}
	}
	return out
}

// rotation asks the balancer process which nodes it routes to.
func (c *Cluster) rotation() []bool {
	var up []bool
	resp, err := c.ctl.Get(c.url + "/_bestbefore/nodes")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&up)
	return up
}

// BalancerPID is the balancer process's ID.
func (c *Cluster) BalancerPID() int32 { return int32(c.bal.cmd.Process.Pid) }

// ErrNodeIndex is returned for a node index outside the cluster.
var ErrNodeIndex = errors.New("target: no such node")

// Kill takes node i out of the rotation and kills its process with
// SIGKILL: requests in flight on it fail, as on a machine that dies.
func (c *Cluster) Kill(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("target: cluster closed")
	}
	if i < 0 || i >= len(c.nodes) {
		return fmt.Errorf("%w: %d (the cluster has nodes 0-%d)", ErrNodeIndex, i, len(c.nodes)-1)
	}
	n := c.nodes[i]
	if !n.running() {
		return fmt.Errorf("target: node %d is not running", i)
	}
	if err := c.control(i, "disable", ""); err != nil {
		return err
	}
	n.stop(0)
	return nil
}

// Revive starts node i again, on its former address when it is free, and
// puts it back in the rotation once it listens.
func (c *Cluster) Revive(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("target: cluster closed")
	}
	if i < 0 || i >= len(c.nodes) {
		return fmt.Errorf("%w: %d (the cluster has nodes 0-%d)", ErrNodeIndex, i, len(c.nodes)-1)
	}
	old := c.nodes[i]
	if old.running() {
		return fmt.Errorf("target: node %d is running", i)
	}
	n, err := c.startNode(context.Background(), i, strings.TrimPrefix(old.url, "http://"))
	if err != nil {
		return err
	}
	c.nodes[i] = n
	go c.watch(n)
	return c.control(i, "enable", n.url)
}

// Close stops the balancer and every node, and waits for their processes.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	nodes := append([]*nodeProc(nil), c.nodes...)
	c.mu.Unlock()
	if c.bal != nil {
		c.bal.stop(2 * time.Second)
	}
	if c.admin != nil {
		c.admin.Close()
	}
	var wg sync.WaitGroup
	for _, n := range nodes {
		if n == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.stop(2 * time.Second)
		}()
	}
	wg.Wait()
	return nil
}

func (c *Cluster) adminAction(action func(int) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(r.PathValue("i"))
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("node index %q is not a number", r.PathValue("i")))
			return
		}
		if err := action(i); err != nil {
			code := http.StatusConflict
			if errors.Is(err, ErrNodeIndex) {
				code = http.StatusNotFound
			}
			writeError(w, code, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, c.Nodes()[i])
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// tailWriter prefixes a node's stderr lines for out and keeps the last
// few kilobytes for error messages.
type tailWriter struct {
	mu     sync.Mutex
	prefix string
	out    io.Writer
	buf    []byte
	line   []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	if t.out != nil {
		t.line = append(t.line, p...)
		for {
			i := strings.IndexByte(string(t.line), '\n')
			if i < 0 {
				break
			}
			fmt.Fprintf(t.out, "%s%s\n", t.prefix, t.line[:i])
			t.line = t.line[i+1:]
		}
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
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
