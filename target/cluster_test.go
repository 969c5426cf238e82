package target_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/target"
)

func contextBackground() context.Context { return context.Background() }

// ownNodes lists the live processes started as nodes by this process,
// found by the environment the cluster gives them.
func ownNodes(t *testing.T) []int {
	t.Helper()
	marker := []byte(target.ParentEnv + "=" + strconv.Itoa(os.Getpid()) + "\x00")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		env, err := os.ReadFile(d + "/environ")
		if err != nil || !bytes.Contains(env, marker) {
			continue
		}
		if st, err := os.ReadFile(d + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
			continue // a zombie is dead
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		out = append(out, pid)
	}
	return out
}

func alive(pid int32) bool {
	err := syscall.Kill(int(pid), 0)
	if err != nil {
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(st), ") Z ")
}

func startCluster(t *testing.T, opts target.ClusterOptions) *target.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	opts.Stderr = &lockedWriter{w: &stderr}
	c, err := target.StartCluster(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if testing.Verbose() {
			t.Log(stderr.String())
		}
	})
	return c
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

type answer struct {
	code int
	node int
	err  error
}

func send(c *http.Client, url string) answer {
	resp, err := c.Post(url+"/v1/predict", "application/json", strings.NewReader(`{"query":"usb hub","k":3}`))
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	var r target.PredictResponse
	json.NewDecoder(resp.Body).Decode(&r)
	return answer{code: resp.StatusCode, node: r.Node}
}

func TestCluster_RoundRobinKillRevive(t *testing.T) {
	c := startCluster(t, target.ClusterOptions{Nodes: 2, Node: target.Config{Workers: 8, Lookup: 5 * time.Millisecond, Items: 500}})
	if got := c.CapacityQPS(); got != 2*1600 {
		t.Errorf("CapacityQPS = %v, want 3200", got)
	}
	if len(c.NodeURLs()) != 2 || len(c.MetricsURLs()) != 2 || len(c.PIDs()) != 2 {
		t.Fatalf("urls %v metrics %v pids %v", c.NodeURLs(), c.MetricsURLs(), c.PIDs())
	}
	for _, pid := range append(c.PIDs(), c.BalancerPID()) {
		if pid == int32(os.Getpid()) || !alive(pid) {
			t.Fatalf("pid %d is not a separate live process", pid)
		}
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	seen := map[int]int{}
	for i := 0; i < 20; i++ {
		a := send(hc, c.URL())
		if a.err != nil || a.code != 200 {
			t.Fatalf("request %d: %v %d", i, a.err, a.code)
		}
		seen[a.node]++
	}
	if seen[0] != 10 || seen[1] != 10 {
		t.Errorf("round robin over 2 nodes gave %v, want 10 each", seen)
	}

	// Requests in flight on the killed node fail and reach the client.
	slow := startCluster(t, target.ClusterOptions{Nodes: 2, Node: target.Config{Workers: 16, Lookup: 300 * time.Millisecond, LookupP99: 300 * time.Millisecond, Items: 500}})
	var wg sync.WaitGroup
	answers := make([]answer, 8)
	for i := range answers {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = send(hc, slow.URL()) }()
	}
	time.Sleep(100 * time.Millisecond)
	killedPID := slow.PIDs()[1]
	resp, err := http.Post(slow.URL()+"/admin/nodes/1/kill", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("kill: %v %v", err, resp)
	}
	resp.Body.Close()
	killedAt := time.Now()
	wg.Wait()
	failed := 0
	for _, a := range answers {
		switch {
		case a.err == nil && a.code == 200 && a.node == 0:
		case a.err == nil && a.code == 200:
			t.Errorf("a request on node %d succeeded although the node was killed", a.node)
		default:
			failed++
		}
	}
	if failed != 4 {
		t.Errorf("%d of 8 requests in flight failed, want the 4 on the killed node: %+v", failed, answers)
	}
	if alive(killedPID) {
		t.Errorf("killed node %d still alive", killedPID)
	}
	// Within a second the balancer routes everything to the survivor.
	for i := 0; i < 6; i++ {
		a := send(hc, slow.URL())
		if a.err != nil || a.code != 200 || a.node != 0 {
			t.Errorf("after kill, request %d: %+v", i, a)
		}
	}
	if d := time.Since(killedAt); d > 3*time.Second {
		t.Logf("note: slow machine, %v", d)
	}
	var infos []target.NodeInfo
	getJSON(t, slow.URL()+"/admin/nodes", &infos)
	if infos[1].Running || infos[1].InRotation || !infos[0].InRotation {
		t.Errorf("admin nodes after kill: %+v", infos)
	}
	// Killing it twice is a conflict; an unknown node is not found.
	for path, code := range map[string]int{"/admin/nodes/1/kill": 409, "/admin/nodes/7/kill": 404, "/admin/nodes/x/kill": 400, "/admin/nodes/0/revive": 409} {
		resp, err := http.Post(slow.URL()+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("POST %s: %d, want %d", path, resp.StatusCode, code)
		}
	}

	// Revive brings it back, in a new process.
	resp, err = http.Post(slow.URL()+"/admin/nodes/1/revive", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revive: %v %v", err, resp)
	}
	resp.Body.Close()
	if pid := slow.PIDs()[1]; pid == killedPID || !alive(pid) {
		t.Errorf("revived node pid %d (was %d)", pid, killedPID)
	}
	seen = map[int]int{}
	for i := 0; i < 4; i++ {
		a := send(hc, slow.URL())
		if a.err != nil || a.code != 200 {
			t.Fatalf("after revive: %+v", a)
		}
		seen[a.node]++
	}
	if seen[1] == 0 {
		t.Errorf("revived node gets no traffic: %v", seen)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestCluster_DeadNodeLeavesRotationWithinASecond(t *testing.T) {
	// A node that dies on its own (not through Kill) is dropped by the
	// balancer within a second, and the failure is not retried elsewhere.
	c := startCluster(t, target.ClusterOptions{Nodes: 3, Node: target.Config{Workers: 4, Lookup: time.Millisecond, Items: 300}})
	pid := c.PIDs()[2]
	syscall.Kill(int(pid), syscall.SIGKILL)
	time.Sleep(time.Second)
	hc := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 9; i++ {
		if a := send(hc, c.URL()); a.err != nil || a.code != 200 || a.node == 2 {
			t.Errorf("request %d a second after node 2 died: %+v", i, a)
		}
	}
}

func TestCluster_CloseLeavesNoProcess(t *testing.T) {
	c, err := target.StartCluster(context.Background(), target.ClusterOptions{Nodes: 3, Node: target.Config{Workers: 1, Items: 200}})
	if err != nil {
		t.Fatal(err)
	}
	pids := append(c.PIDs(), c.BalancerPID())
	if n := len(ownNodes(t)); n < 4 {
		t.Fatalf("found %d processes of the cluster, want 3 nodes and the balancer", n)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("node %d alive after Close", pid)
		}
	}
	if left := ownNodes(t); len(left) > 0 {
		// Other tests of this package may run clusters in parallel; none do.
		t.Errorf("node processes left after Close: %v", left)
	}
	if resp, err := http.Get(c.URL() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("balancer still answers after Close")
	}
}

func TestCluster_FailedStartLeavesNoProcess(t *testing.T) {
	// The node processes start but cannot get ready in time: StartCluster
	// fails and takes down what it started.
	_, err := target.StartCluster(context.Background(), target.ClusterOptions{Nodes: 2, StartTimeout: time.Millisecond, Node: target.Config{Workers: 1}})
	if err == nil || !strings.Contains(err.Error(), "did not start within") {
		t.Fatalf("err = %v", err)
	}
	if left := ownNodes(t); len(left) > 0 {
		t.Errorf("node processes left after a failed start: %v", left)
	}

	// A binary that does not run nodes is reported clearly.
	_, err = target.StartCluster(context.Background(), target.ClusterOptions{Nodes: 1, Executable: "/bin/true"})
	if err == nil || !strings.Contains(err.Error(), "ChildMain") {
		t.Errorf("err = %v", err)
	}
	_, err = target.StartCluster(context.Background(), target.ClusterOptions{Nodes: 1, Node: target.Config{Flags: []string{"bogus"}}})
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("bad flag: err = %v", err)
	}
}

func TestCluster_NodesDieWithACrashedParent(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crasherEnv+"=1")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("crasher: %v", err)
	}
	var a, b, bal int32
	if _, err := fmt.Sscanf(line, "pids %d %d %d", &a, &b, &bal); err != nil {
		t.Fatalf("crasher said %q", line)
	}
	if !alive(a) || !alive(b) || !alive(bal) {
		t.Fatalf("nodes %d %d, balancer %d not running", a, b, bal)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for (alive(a) || alive(b) || alive(bal)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, pid := range []int32{a, b, bal} {
		if alive(pid) {
			t.Errorf("process %d outlived its crashed parent", pid)
		}
	}
}
