package run

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/rpc"
	"github.com/bestbefore/bestbefore/pkg/runner"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// OneLine holds the flags of a run without a scenario file: one URL, one
// request shape, a fixed rate or a ramp, objectives in one flag.
type OneLine struct {
	URL      string
	Method   string
	Headers  []string
	Body     string
	Rate     float64
	Duration string
	MaxQPS   float64
	SLO      string
	Print    bool
	// Protocol and CAFile are target.protocol and target.ca_file.
	Protocol, CAFile string
	// Call and Data are a grpc:// URL's method and message (protobuf
	// JSON, or @FILE); Protoset, Protos and ImportPaths are
	// target.grpc's (default: server reflection).
	Call, Data          string
	Protoset            string
	Protos, ImportPaths []string
	// Name names the run (scenario name): what history files it under.
	Name string
}

// identity is a one-line run's name unless --name gives one: its request
// shape and target (method, host:port, path, and a hash of the body and
// headers), or the target and the traffic file. Runs of one shape against
// one service are one series in history; another service on the same
// host, or another request, is another.
func (o *OneLine) identity(u *url.URL, line []byte, trafficFile string) string {
	if o.Name != "" {
		return o.Name
	}
	if trafficFile != "" {
		return u.Host + " " + filepath.Base(trafficFile)
	}
	var req traffic.Request
	_ = json.Unmarshal(line, &req)
	name := req.MethodOrGet() + " " + u.Host + u.Path
	if isGRPC(u) {
		name = "gRPC " + u.Host + req.Path
	}
	if len(req.Header) > 0 || len(req.BodyBytes()) > 0 {
		sum := sha256.Sum256(line)
		name += " #" + hex.EncodeToString(sum[:4])
	}
	return name
}

// oneLineName is the scenario's name in messages about it.
const oneLineName = "--url"

// requestFile is the traffic file a one-line run writes its request to.
const requestFile = "request.ndjson"

// build returns the scenario a one-line run stands for, as YAML that the
// scenario parser reads with a file's defaults and checks, and the one
// traffic line of its request shape (nil with trafficFile, a file of the
// user's). Bad flags are exit 2, naming the flag.
func (o *OneLine) build(trafficFile string) (yamlDoc []byte, line []byte, err error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && !isGRPC(u)) || u.Host == "" {
		return nil, nil, cmdutil.BadInputf("--url %q: want an http://, https:// or grpc:// URL, e.g. http://127.0.0.1:8080/v1/predict or grpc://127.0.0.1:50051", o.URL)
	}
	base := &url.URL{Scheme: u.Scheme, Host: u.Host}
	grpcTarget, err := o.grpcSection(u, trafficFile)
	if err != nil {
		return nil, nil, err
	}
	type load struct {
		Steps        []float64 `yaml:"steps,omitempty"`
		StepDuration string    `yaml:"step_duration,omitempty"`
		StartQPS     float64   `yaml:"start_qps,omitempty"`
		StepQPS      float64   `yaml:"step_qps,omitempty"`
		MaxQPS       float64   `yaml:"max_qps,omitempty"`
	}
	doc := struct {
		Name    string            `yaml:"name"`
		Target  map[string]any    `yaml:"target"`
		Traffic map[string]string `yaml:"traffic"`
		Load    load              `yaml:"load"`
		SLO     map[string]any    `yaml:"slo,omitempty"`
	}{Name: u.Hostname(), Target: map[string]any{"url": base.String()}}
	if grpcTarget != nil {
		doc.Target["grpc"] = grpcTarget
	}
	if o.Protocol != "" {
		doc.Target["protocol"] = o.Protocol
	}
	if o.CAFile != "" {
		ca, err := filepath.Abs(o.CAFile)
		if err != nil {
			return nil, nil, cmdutil.BadInput(err)
		}
		doc.Target["ca_file"] = ca
	}
	switch {
	case o.Rate > 0 && o.MaxQPS > 0:
		return nil, nil, cmdutil.BadInputf("--rate runs one step at a fixed rate, --max-qps ramps to a limit: give one")
	case o.Rate < 0 || o.MaxQPS < 0:
		return nil, nil, cmdutil.BadInputf("--rate and --max-qps must be positive")
	case o.Rate > 0:
		doc.Load.Steps = []float64{o.Rate}
		doc.Load.StepDuration = o.Duration
		if o.Duration == "" {
			doc.Load.StepDuration = "30s"
		}
	case o.Duration != "":
		return nil, nil, cmdutil.BadInputf("--duration is the length of a --rate run; a ramp's steps are load.step_duration (--set load.step_duration=%s)", o.Duration)
	default:
		max := o.MaxQPS
		if max == 0 {
			max = 1000
		}
		doc.Load.StartQPS, doc.Load.StepQPS, doc.Load.MaxQPS = max/10, max/10, max
	}
	if o.SLO != "" {
		if doc.SLO, err = parseSLO(o.SLO); err != nil {
			return nil, nil, err
		}
	}
	if trafficFile != "" {
		doc.Traffic = map[string]string{"file": trafficFile}
	} else {
		doc.Traffic = map[string]string{"file": requestFile}
		req := &traffic.Request{Method: strings.ToUpper(o.Method), Path: u.RequestURI()}
		if req.Method == "GET" {
			req.Method = ""
		}
		if isGRPC(u) {
			req.Method, req.Path = "", rpc.MethodPath(o.Call)
		}
		for _, h := range o.Headers {
			k, v, ok := strings.Cut(h, ":")
			if !ok || strings.TrimSpace(k) == "" {
				return nil, nil, cmdutil.BadInputf("--header %q: want \"Name: value\"", h)
			}
			if req.Header == nil {
				req.Header = http.Header{}
			}
			req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		flag, value := "--body", o.Body
		if isGRPC(u) {
			flag, value = "--data", o.Data
		}
		if value != "" {
			body := []byte(value)
			if name, ok := strings.CutPrefix(value, "@"); ok {
				if body, err = os.ReadFile(name); err != nil {
					return nil, nil, cmdutil.BadInputf("%s %s: %v", flag, value, err)
				}
			}
			req.SetBody(body)
			if req.Method == "" && !isGRPC(u) {
				req.Method = http.MethodPost
			}
		}
		if err := req.Validate(); err != nil {
			return nil, nil, cmdutil.BadInputf("--url, --method, --header, --body: the request: %v", err)
		}
		if line, err = json.Marshal(req); err != nil {
			return nil, nil, err
		}
	}
	doc.Name = o.identity(u, line, trafficFile)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, nil, err
	}
	return b.Bytes(), line, nil
}

func isGRPC(u *url.URL) bool { return u.Scheme == "grpc" || u.Scheme == "grpcs" }

// grpcSection checks the gRPC flags against the URL and returns the
// target.grpc section they stand for (nil: none, or not a gRPC URL).
func (o *OneLine) grpcSection(u *url.URL, trafficFile string) (map[string]any, error) {
	if !isGRPC(u) {
		for flag, set := range map[string]bool{"--call": o.Call != "", "--data": o.Data != "", "--protoset": o.Protoset != "", "--proto": len(o.Protos) > 0, "--import-path": len(o.ImportPaths) > 0} {
			if set {
				return nil, cmdutil.BadInputf("%s is for grpc:// URLs (an HTTP request's body is --body)", flag)
			}
		}
		return nil, nil
	}
	switch {
	case o.Body != "":
		return nil, cmdutil.BadInputf("--body is for HTTP: a gRPC call's message is --data '{...}' (protobuf JSON)")
	case o.Method != "" && !strings.EqualFold(o.Method, "GET") && !strings.EqualFold(o.Method, "POST"):
		return nil, cmdutil.BadInputf("--method is for HTTP: a gRPC call names its method with --call package.Service/Method")
	case o.Call == "" && trafficFile == "":
		return nil, cmdutil.BadInputf("--url %s: name the method to call, --call package.Service/Method (or give --traffic)", o.URL)
	case o.Call != "" && trafficFile != "":
		return nil, cmdutil.BadInputf("--call makes the one request of the run; --traffic gives a file of them: give one")
	case u.Path != "" && u.Path != "/":
		return nil, cmdutil.BadInputf("--url %s: a gRPC URL is a host and a port; the method is --call", o.URL)
	}
	g := map[string]any{}
	if o.Protoset != "" {
		p, err := filepath.Abs(o.Protoset)
		if err != nil {
			return nil, cmdutil.BadInput(err)
		}
		g["protoset"] = p
	}
	if len(o.Protos) > 0 {
		paths := o.ImportPaths
		if len(paths) == 0 {
			paths = []string{"."}
		}
		var abspaths []string
		for _, p := range paths {
			a, err := filepath.Abs(p)
			if err != nil {
				return nil, cmdutil.BadInput(err)
			}
			abspaths = append(abspaths, a)
		}
		g["proto"], g["import_paths"] = o.Protos, abspaths
	} else if len(o.ImportPaths) > 0 {
		return nil, cmdutil.BadInputf("--import-path is where --proto files are found: give --proto")
	}
	if len(g) == 0 {
		return nil, nil
	}
	return g, nil
}

// SLONames lists the names --slo takes, in catalogue order.
func SLONames() []string {
	var out []string
	for i := range result.Catalogue {
		out = append(out, result.Catalogue[i].Names()...)
	}
	return out
}

// parseSLO reads "p99=100ms,errors=0.1%" into the slo: section, checking
// each value with the scenario's own unit rules.
func parseSLO(s string) (map[string]any, error) {
	out := map[string]any{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, cmdutil.BadInputf("--slo %q: want key=value pairs, e.g. p99=100ms,errors=0.1%%", kv)
		}
		ob, known := result.LookupName(k)
		if !known {
			return nil, cmdutil.BadInputf("--slo %s: unknown objective %q (%s)", kv, k, strings.Join(SLONames(), ", "))
		}
		if _, err := scenario.ParseBound(ob, v); err != nil {
			return nil, cmdutil.BadInputf("--slo %s: %v", kv, err)
		}
		m := out
		parts := strings.Split(ob.SLO, ".")
		for _, g := range parts[:len(parts)-1] {
			sub, _ := m[g].(map[string]any)
			if sub == nil {
				sub = map[string]any{}
				m[g] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = v
	}
	return out, nil
}

// oneLineScenario points ro at the scenario a one-line run stands for
// (its traffic file is in it); a run from a file is left as it is. done
// is true when --print-scenario printed it and nothing is to run.
func oneLineScenario(opts *Options, ro *runner.Options) (cleanup func(), done bool, err error) {
	if opts.OneLine.URL == "" {
		return func() {}, false, nil
	}
	data, dir, cleanup, done, err := prepareOneLine(opts)
	if err != nil || done {
		return cleanup, done, err
	}
	ro.ScenarioPath, ro.ScenarioData, ro.ScenarioName, ro.ScenarioDir, ro.TrafficOverride = "", data, oneLineName, dir, ""
	return cleanup, false, nil
}

// prepareOneLine turns a one-line run into the scenario the runner reads:
// printed and done with --print-scenario, else written with its request
// to a temporary directory that cleanup removes.
func prepareOneLine(opts *Options) (data []byte, dir string, cleanup func(), done bool, err error) {
	cleanup = func() {}
	tf := ""
	if opts.Traffic != "" {
		if tf, err = filepath.Abs(opts.Traffic); err != nil {
			return nil, "", cleanup, false, cmdutil.BadInput(err)
		}
	}
	data, line, err := opts.OneLine.build(tf)
	if err != nil {
		return nil, "", cleanup, false, err
	}
	if opts.OneLine.Print {
		out := opts.IO.Out
		fmt.Fprintln(out, "# The scenario this command line stands for: save it, then bestbefore run FILE.yaml")
		out.Write(data)
		if line != nil {
			// The scenario refers to the request file: write it, here,
			// where the scenario saved beside it finds it.
			if err := writeRequestFile(requestFile, append(line, '\n')); err != nil {
				return nil, "", cleanup, false, err
			}
			fmt.Fprintf(out, "# %s, beside this file, holds the request (one traffic line):\n#   %s\n", requestFile, line)
			fmt.Fprintf(opts.IO.ErrOut, "wrote %s (the request the scenario replays); keep it beside the scenario\n", requestFile)
		}
		return nil, "", cleanup, true, nil
	}
	dir, err = os.MkdirTemp("", "bestbefore-url-")
	if err != nil {
		return nil, "", cleanup, false, cmdutil.RunFailed(err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	if line != nil {
		if err := os.WriteFile(filepath.Join(dir, requestFile), append(line, '\n'), 0o644); err != nil {
			cleanup()
			return nil, "", func() {}, false, cmdutil.RunFailed(err)
		}
	}
	return data, dir, cleanup, false, nil
}

// writeRequestFile writes the request file --print-scenario refers to,
// leaving one that already holds the same request, refusing another.
func writeRequestFile(path string, line []byte) error {
	if old, err := os.ReadFile(path); err == nil {
		if bytes.Equal(old, line) {
			return nil
		}
		return cmdutil.BadInputf("--print-scenario: %s exists with another request; run it from another directory, or remove it", path)
	}
	if err := os.WriteFile(path, line, 0o644); err != nil {
		return cmdutil.RunFailed(fmt.Errorf("--print-scenario: %w", err))
	}
	return nil
}
