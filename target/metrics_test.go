package target_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/target"
)

func scrape(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

// promtool runs Prometheus' own linter on an exposition; under CI a
// missing promtool (Debian prometheus) fails the test.
func promtool(t *testing.T, name string, text []byte) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed (Debian prometheus); CI must check the /metrics expositions")
		}
		t.Skip("promtool not installed (Debian prometheus)")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics rejects %s: %v\n%s", name, err, out)
	}
}

var forwardedRe = regexp.MustCompile(`(?m)^bestbefore_balancer_forwarded_total\{code="200",node="(\d+)"\} (\d+)$`)

// The balancer's /metrics is its own, not a node's picked round robin: its
// forwarded counters only grow from scrape to scrape and add up to the
// requests sent. Bucket bounds are exact decimals. Every exposition
// passes promtool check metrics.
func TestMetricsExpositions(t *testing.T) {
	c := startCluster(t, target.ClusterOptions{Nodes: 2, Node: target.Config{Workers: 4, Items: 200}})
	post := func() {
		resp, err := http.Post(c.URL()+"/v1/predict", "application/json", strings.NewReader(`{"query":"pen","k":2}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	sum := func(b []byte) (total int, nodes int) {
		for _, m := range forwardedRe.FindAllSubmatch(b, -1) {
			n, _ := strconv.Atoi(string(m[2]))
			total += n
			nodes++
		}
		return
	}
	prev := 0
	for round := 1; round <= 4; round++ {
		for i := 0; i < 5; i++ {
			post()
		}
		b := scrape(t, c.URL()+"/metrics")
		total, nodes := sum(b)
		if total != 5*round || total < prev || nodes != 2 {
			t.Fatalf("scrape %d: forwarded %d over %d nodes after %d requests (previous %d):\n%s", round, total, nodes, 5*round, prev, b)
		}
		prev = total
		if round == 1 {
			promtool(t, "the balancer's /metrics", b)
		}
	}
	for _, n := range c.Nodes() {
		b := scrape(t, n.MetricsURL)
		promtool(t, "node "+strconv.Itoa(n.Index)+"'s /metrics", b)
		if m := regexp.MustCompile(`le="[^"]*\d{10,}[^"]*"`).Find(b); m != nil {
			t.Errorf("node %d: bucket bound with float noise: %s", n.Index, m)
		}
	}
}
