package report_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/report"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// Installed on CI with: apt-get install -y chromium
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BESTBEFORE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found and CI is set: install it (apt-get install -y chromium) or set BESTBEFORE_CHROMIUM")
	}
	t.Skip("chromium not found: install it (apt-get install -y chromium) to run the browser test")
	return ""
}

// probeHead catches every script error, console error, failed resource and
// Content-Security-Policy violation from the start of the page.
const probeHead = `<script>
window.__errs = [];
window.addEventListener('error', function (e) {
  var t = e.target && e.target !== window ? (e.target.src || e.target.href || e.target.tagName) : '';
  window.__errs.push('error: ' + (e.message || t || 'unknown'));
}, true);
document.addEventListener('securitypolicyviolation', function (e) {
  window.__errs.push('csp: ' + e.violatedDirective + ' ' + e.blockedURI);
});
(function () {
  var ce = console.error;
  console.error = function () { window.__errs.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); ce.apply(console, arguments); };
})();
</script>
`

// probeTail checks, once the page has loaded, that every chart drew its
// data, that nothing was fetched and that the page fits the window's width,
// and writes the verdict into <body>.
const probeTail = `<script>
window.addEventListener('load', function () {
  var problems = window.__errs.slice();
  var names = [];
  document.querySelectorAll('svg[data-chart]').forEach(function (s) {
    var n = s.getAttribute('data-chart');
    names.push(n);
    var pts = parseInt(s.getAttribute('data-points'), 10);
    if (!(pts > 0)) problems.push(n + ': data-points=' + s.getAttribute('data-points'));
    var marks = 0;
    s.querySelectorAll('g.series path').forEach(function (p) { if ((p.getAttribute('d') || '').length > 3 && p.getTotalLength() > 0) marks++; });
    s.querySelectorAll('g.series circle').forEach(function (c) { if (c.getBBox().width > 0) marks++; });
    if (marks === 0) problems.push(n + ': no series drawn');
    var r = s.getBoundingClientRect();
    if (r.width < 200 || r.height < 100) problems.push(n + ': rendered ' + Math.round(r.width) + 'x' + Math.round(r.height));
  });
  if (names.length === 0) problems.push('no charts');
  // No text of a chart may print over another, or leave the chart.
  document.querySelectorAll('svg[data-chart]').forEach(function (s) {
    var n = s.getAttribute('data-chart'), sr = s.getBoundingClientRect();
    var boxes = [];
    s.querySelectorAll('text').forEach(function (t) {
      if (!t.textContent.trim()) return;
      var r = t.getBoundingClientRect();
      if (r.width === 0) return;
      if (r.left < sr.left - 0.5 || r.right > sr.right + 0.5 || r.top < sr.top - 0.5 || r.bottom > sr.bottom + 0.5) problems.push(n + ': "' + t.textContent + '" leaves the chart');
      boxes.push({t: t.textContent, r: r});
    });
    for (var i = 0; i < boxes.length; i++) for (var j = i + 1; j < boxes.length; j++) {
      var a = boxes[i].r, b = boxes[j].r;
      var w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 0.5 && h > 0.5) problems.push(n + ': "' + boxes[i].t + '" overlaps "' + boxes[j].t + '"');
    }
  });
  // From a laptop's width up, every table shows whole, without scrolling;
  // from a small laptop's (800 px), every table but the long data tables
  // (the steps, the plan month by month), which scroll in their box.
  document.querySelectorAll('.scroll').forEach(function (d) {
    var id = (d.closest('section, details') || {id: '?'}).id;
    if (window.innerWidth < 800 || (window.innerWidth < 1280 && (id === 'steps' || id === 'by-month'))) return;
    if (d.scrollWidth > d.clientWidth + 1) problems.push('table in #' + id + ' scrolls sideways: ' + d.scrollWidth + ' > ' + d.clientWidth);
  });
  // At any width, no table is cut off: it fits the window, or it sits in
  // a box that scrolls sideways to show the rest.
  document.querySelectorAll('table').forEach(function (t) {
    var box = t.closest('.scroll');
    var scrolls = box && ['auto', 'scroll'].indexOf(getComputedStyle(box).overflowX) >= 0;
    var r = t.getBoundingClientRect();
    if (!scrolls && r.right > window.innerWidth + 1) problems.push('table "' + (t.querySelector('th') || {textContent: ''}).textContent + '" in ' + (t.parentElement.tagName + '.' + t.parentElement.className) + ' is cut off at ' + Math.round(window.innerWidth) + ' px: it ends at ' + Math.round(r.right));
    if (scrolls && box.getBoundingClientRect().right > window.innerWidth + 1) problems.push('the scrolling box of the table in #' + t.closest('section').id + ' is wider than the window');
  });
  var res = performance.getEntriesByType('resource');
  if (res.length) problems.push('fetched: ' + res.map(function (x) { return x.name; }).join(' '));
  if (document.documentElement.scrollWidth > window.innerWidth + 1) problems.push('page wider than the window: ' + document.documentElement.scrollWidth + ' > ' + window.innerWidth);
  document.body.setAttribute('data-charts', names.join(','));
  document.body.setAttribute('data-problems', problems.join(' | '));
  document.body.setAttribute('data-verdict', problems.length ? 'fail' : 'ok');
});
</script>
`

// browserWidths are the windows a page is checked in. The variants of a
// page (another node-loss timing, another plan) are checked at a laptop's
// width only: their charts differ, their layout does not.
var browserWidths = []struct{ name, window string }{{"laptop", "1280,900"}, {"wide", "1400,900"}, {"narrow", "800,900"}, {"phone", "390,844"}}

func TestHTMLInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	// Chromium takes both cores for a few seconds: not while a load test
	// measures capacity in another package.
	testserver.Serialize(t)
	instant := loadFixture(t)
	zero := 0.0
	instant.NodeLoss.RecoverS = &zero
	// Every objective a run judges by default (throughput and steady
	// have the longest labels): the Objectives table at its widest.
	full := loadFixture(t)
	thr, steady := 0.97, 0.005
	full.Objectives["throughput"], full.Objectives["steady"] = thr, steady
	for _, page := range []struct {
		name string
		r    *result.Result
	}{{"fixture", full}, {"instant-recovery", instant}} {
		t.Run(page.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := report.HTML(&buf, page.r, fixedOptions()); err != nil {
				t.Fatal(err)
			}
			checkInBrowser(t, chromium, page.name, buf.String(), report.ChartNames, page.name == "fixture")
		})
	}
}

// The plan's page passes the same checks: charts drawn, no label over
// another, nothing fetched, tables whole.
func TestPlanHTMLInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	testserver.Serialize(t)
	for name, v := range planViews(t) {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := report.PlanHTML(&buf, v, fixedOptions()); err != nil {
				t.Fatal(err)
			}
			checkInBrowser(t, chromium, "plan-"+name, buf.String(), report.PlanChartNames, name == "history")
		})
	}
}

// checkInBrowser has Chromium check the page at a laptop's width and, for
// the main page of a kind (all), at a wide screen's and a phone's; it
// saves a laptop screenshot of a main page.
func checkInBrowser(t *testing.T, chromium, name, page string, chartNames []string, all bool) {
	// The report itself runs no script; the probe needs inline scripts.
	page = strings.Replace(page, "script-src 'none'", "script-src 'unsafe-inline'", 1)
	page = strings.Replace(page, "<head>\n", "<head>\n"+probeHead, 1)
	page = strings.Replace(page, "</body>", probeTail+"</body>", 1)

	artifacts := os.Getenv("BESTBEFORE_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	} else if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}

	verdictRe := regexp.MustCompile(`<body[^>]*data-verdict="(\w+)"`)
	attr := func(dom, name string) string {
		m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(dom)
		if m == nil {
			return ""
		}
		return m[1]
	}
	widths := browserWidths
	if !all {
		widths = widths[:1]
	}
	for _, size := range widths {
		shot := all && size.name == "laptop"
		t.Run(size.name, func(t *testing.T) {
			t.Parallel()
			dom := runChromium(t, chromium, size.window, "--dump-dom", "file://"+file)
			m := verdictRe.FindStringSubmatch(dom)
			if m == nil {
				t.Fatalf("no verdict in the dumped DOM (%d bytes): the probe did not run", len(dom))
			}
			charts := strings.Split(attr(dom, "data-charts"), ",")
			if m[1] != "ok" {
				t.Fatalf("browser found problems: %s", attr(dom, "data-problems"))
			}
			if len(charts) != len(chartNames) {
				t.Errorf("browser saw charts %v, want %v", charts, chartNames)
			}
			if !shot {
				return
			}
			png := filepath.Join(artifacts, name+"-"+size.name+".png")
			runChromium(t, chromium, strings.Replace(size.window, ",900", ",4200", 1), "--screenshot="+png, "file://"+file)
			if st, err := os.Stat(png); err != nil || st.Size() < 10_000 {
				t.Fatalf("screenshot %s: %v", png, err)
			}
			t.Logf("screenshot: %s", png)
		})
	}
}

func runChromium(t *testing.T, chromium, window string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
		// No network: every host fails to resolve and any proxy use goes nowhere.
		"--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
		"--user-data-dir=" + t.TempDir(), "--window-size=" + window, "--virtual-time-budget=3000",
	}
	cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", chromium, err, tail(stderr.String(), 2000))
	}
	return stdout.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
