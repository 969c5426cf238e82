package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/pace"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// Error is a problem with a scenario, located by file, line and field.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("scenario")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrInvalid is wrapped by every validation error, so callers can map it
// to exit code 2 with errors.Is.
var ErrInvalid = errors.New("scenario: invalid")

// Errors is a list of problems found in one scenario.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (es Errors) Is(target error) bool { return target == ErrInvalid }

// Load reads and validates the scenario at path, applying overrides
// (each "dotted.key=value") after the file and before validation.
func Load(path string, overrides []string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path, filepath.Dir(path), overrides)
}

// Parse reads a scenario from data. name is used in messages; dir is where
// relative paths resolve.
func Parse(data []byte, name, dir string, overrides []string) (*Scenario, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{yamlError(name, err, nil)}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, Errors{{File: name, Line: 1, Msg: "empty scenario"}}
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, Errors{{File: name, Line: doc.Line, Msg: "a scenario is a mapping of keys (name, target, traffic, load, slo, ...)"}}
	}
	lines := map[string]int{}
	indexLines(doc, "", lines)

	// Strict decode of the file as written: unknown keys and wrong types
	// are reported with the file's own line numbers.
	var s Scenario
	if err := strictDecode(data, &s); err != nil {
		return nil, Errors{yamlError(name, err, lines)}
	}
	if len(overrides) > 0 {
		for _, o := range overrides {
			if err := applySet(doc, o); err != nil {
				return nil, Errors{{File: "--set " + o, Msg: err.Error()}}
			}
		}
		blockStyle(doc) // one key a line, so an error's line names its field
		b, err := yaml.Marshal(doc)
		if err != nil {
			return nil, Errors{{File: name, Msg: err.Error()}}
		}
		s = Scenario{}
		if err := strictDecode(b, &s); err != nil {
			// Name the field from the merged document's own lines.
			var merged yaml.Node
			mlines := map[string]int{}
			if yaml.Unmarshal(b, &merged) == nil && len(merged.Content) > 0 {
				indexLines(merged.Content[0], "", mlines)
			}
			e := yamlError(name, err, mlines)
			e.File, e.Line = "--set", 0
			return nil, Errors{e}
		}
		for _, o := range overrides {
			k, _, _ := strings.Cut(o, "=")
			lines[strings.TrimSpace(k)] = -1
		}
	}
	s.Path = name
	s.Dir = dir
	s.Source = data
	s.Overrides = overrides
	s.lines = lines
	s.applyDefaults()
	if errs := s.Validate(); len(errs) > 0 {
		return nil, errs
	}
	return &s, nil
}

func strictDecode(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

var lineRE = regexp.MustCompile(`line (\d+): (.*)`)

// yamlError turns a yaml error into a located Error, naming the field when
// the line holds one.
func yamlError(name string, err error, lines map[string]int) *Error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	e := &Error{File: name, Msg: msg}
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
	}
	e.Msg = strings.ReplaceAll(e.Msg, "scenario.", "")
	for k := range removedKeys {
		if strings.Contains(e.Msg, "field "+k+" not found") {
			e.Msg += removedKeyHint(k)
		}
	}
	if e.Line > 0 && lines != nil {
		best := ""
		for k, l := range lines {
			if l == e.Line && len(k) > len(best) {
				best = k
			}
		}
		e.Field = best
	}
	e.Msg = unknownKey(e.Msg, e.Field)
	return e
}

// removedKeys are keys a scenario may not hold, with the reason.
var removedKeys = map[string]string{
	"allow_public": "only the command-line flag --allow-public opens the address guard; a scenario or --set cannot",
}

func removedKeyHint(k string) string {
	if why, ok := removedKeys[k]; ok {
		return ": " + why
	}
	return ""
}

// blockStyle turns flow mappings and sequences ({a: 1}, [1, 2]) into
// block style, recursively.
func blockStyle(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// indexLines records the line of every key, by dotted path.
func indexLines(n *yaml.Node, prefix string, lines map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if prefix != "" {
				p = prefix + "." + k.Value
			}
			lines[p] = k.Line
			indexLines(v, p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s.%d", prefix, i)
			lines[p] = c.Line
			indexLines(c, p, lines)
		}
	}
}

// applySet sets dotted.key=value in the mapping tree, creating mappings as
// needed. The value is parsed as YAML, so lists and numbers work.
func applySet(doc *yaml.Node, kv string) error {
	key, val, ok := strings.Cut(kv, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return fmt.Errorf("want key=value, e.g. load.max_qps=800")
	}
	if err := checkPath(reflect.TypeOf(Scenario{}), strings.Split(key, ".")); err != nil {
		return err
	}
	var v yaml.Node
	if err := yaml.Unmarshal([]byte(val), &v); err != nil {
		return fmt.Errorf("value: %v", err)
	}
	var valNode *yaml.Node
	if len(v.Content) == 0 {
		valNode = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}
	} else {
		valNode = v.Content[0]
	}
	cur := doc
	parts := strings.Split(key, ".")
	for i, p := range parts {
		if cur.Kind != yaml.MappingNode {
			return fmt.Errorf("%s is not a mapping", strings.Join(parts[:i], "."))
		}
		var next *yaml.Node
		for j := 0; j+1 < len(cur.Content); j += 2 {
			if cur.Content[j].Value == p {
				next = cur.Content[j+1]
				if i == len(parts)-1 {
					cur.Content[j+1] = valNode
				}
				break
			}
		}
		if i == len(parts)-1 {
			if next == nil {
				cur.Content = append(cur.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: p}, valNode)
			}
			return nil
		}
		if next == nil || next.Kind == yaml.ScalarNode && next.Tag == "!!null" {
			m := &yaml.Node{Kind: yaml.MappingNode}
			if next == nil {
				cur.Content = append(cur.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: p}, m)
			} else {
				*next = *m
				m = next
			}
			next = m
		}
		cur = next
	}
	return nil
}

// checkPath verifies that a dotted key names a field of t.
func checkPath(t reflect.Type, parts []string) error {
	for i, p := range parts {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldByTag(t, p)
			if !ok {
				return fmt.Errorf("unknown key %q (in %s)%s", strings.Join(parts[:i+1], "."), t.Name(), removedKeyHint(p))
			}
			t = f.Type
		case reflect.Map:
			t = t.Elem()
		case reflect.Slice:
			if _, err := strconv.Atoi(p); err != nil {
				return fmt.Errorf("%s is a list: use an index or set the whole list", strings.Join(parts[:i], "."))
			}
			t = t.Elem()
		default:
			return fmt.Errorf("%s takes a value, not keys", strings.Join(parts[:i], "."))
		}
	}
	return nil
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == name && tag != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// Line returns the line a dotted key was set on, 0 if unknown, -1 if it
// came from --set.
func (s *Scenario) Line(key string) int { return s.lines[key] }

func (s *Scenario) errf(field, format string, args ...any) *Error {
	e := &Error{File: s.Path, Field: field, Msg: fmt.Sprintf(format, args...)}
	l := s.lines[field]
	for l == 0 && strings.Contains(field, ".") {
		field = field[:strings.LastIndex(field, ".")]
		l = s.lines[field]
	}
	switch {
	case l > 0:
		e.Line = l
	case l < 0:
		e.File = "--set"
	}
	return e
}

func (s *Scenario) applyDefaults() {
	if s.Name == "" {
		base := filepath.Base(s.Path)
		s.Name = strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml")
	}
	if s.Traffic.Order == "" {
		s.Traffic.Order = "sequential"
	}
	if s.Traffic.Timing == "" {
		s.Traffic.Timing = "rate"
	}
	if s.Traffic.Speed == 0 {
		s.Traffic.Speed = 1
	}
	l := &s.Load
	if l.Arrival == "" {
		l.Arrival = "constant"
	}
	if l.StepDuration == 0 {
		l.StepDuration = Duration(5 * time.Second)
	}
	if l.Warmup == 0 && !s.set("load.warmup") {
		// One second, but never more than a fifth of the step.
		l.Warmup = Duration(min(time.Second, l.StepDuration.D()/5))
	}
	if l.StopAfterFailures == 0 {
		l.StopAfterFailures = 2
	}
	if l.Timeout == 0 {
		l.Timeout = Duration(2 * time.Second)
	}
	if l.MaxInFlight == 0 {
		l.MaxInFlight = 10000
	}
	if l.Interval == 0 {
		// One second, but never longer than a step.
		l.Interval = Duration(min(time.Second, l.StepDuration.D()))
	}
	if l.StepQPS == 0 && len(l.Steps) == 0 && l.StartQPS > 0 {
		l.StepQPS = l.StartQPS
	}
	for _, t := range []*Target{&s.Target, s.Target.Baseline, s.Target.Candidate} {
		if t != nil && t.Bundled != nil && t.Bundled.Nodes == 0 {
			t.Bundled.Nodes = 3
		}
	}
	if s.Capacity.Nodes == 0 && s.Target.Baseline != nil {
		switch b := s.Target.Baseline; {
		case b.Bundled != nil:
			s.Capacity.Nodes = b.Bundled.Nodes
		case len(b.URLs) > 0:
			s.Capacity.Nodes = len(b.URLs)
		}
	}
	if s.Capacity.Nodes == 0 {
		switch {
		case s.Target.Bundled != nil:
			s.Capacity.Nodes = s.Target.Bundled.Nodes
		case len(s.Target.URLs) > 0:
			s.Capacity.Nodes = len(s.Target.URLs)
		default:
			s.Capacity.Nodes = 1
		}
	}
	if s.Capacity.SafetyMargin == nil {
		m := 1.0
		s.Capacity.SafetyMargin = &m
	}
	if s.Target.MaxResponseBytes == 0 {
		s.Target.MaxResponseBytes = 10 << 20
	}
	if s.Monitor.Interval == 0 {
		s.Monitor.Interval = Duration(time.Second)
	}
	if s.Monitor.MaxSendLag == 0 {
		s.Monitor.MaxSendLag = Duration(DefaultMaxSendLag(s.SLO.Latency))
	}
	if s.AbortOn != nil && s.AbortOn.For == 0 {
		s.AbortOn.For = 2
	}
	if s.Limits.MaxDuration == 0 {
		s.Limits.MaxDuration = Duration(time.Hour)
	}
	if n := s.Capacity.NodeLoss; n != nil {
		if n.Duration == 0 {
			n.Duration = Duration(2 * l.StepDuration)
		}
		if n.At == nil {
			r := Ratio(0.5)
			n.At = &r
		}
	}
}

func (s *Scenario) set(key string) bool { _, ok := s.lines[key]; return ok }

// Bounds of a scenario, checked at validation so that a typo cannot run
// for an hour or start a runaway target.
const (
	// MaxQPS is the highest rate of any step (load.steps, load.max_qps).
	MaxQPS = 10_000_000
	// MaxSteps is the most steps a ramp may hold.
	MaxSteps = 10_000
	// MaxBundledWorkers and MaxBundledQueue bound a bundled node's pool.
	MaxBundledWorkers = 4096
	MaxBundledQueue   = 1 << 20
)

// targetURLProblem says what is wrong with a target URL, or "" when it can
// be loaded: http or https, a host, a port in 1-65535 when one is given, no
// user information, query or fragment (the traffic supplies them), and a
// path the wire accepts.
func targetURLProblem(raw string) string {
	if raw == "" {
		return ""
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < ' ' || c == 0x7f {
			return fmt.Sprintf("%q holds a control character (0x%02x): a URL cannot hold CR, LF, NUL or another control byte", raw, c)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Sprintf("%q is not a URL: %v", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q is not an http:// or https:// URL", raw)
	case u.Hostname() == "":
		return fmt.Sprintf("%q names no host: write e.g. http://127.0.0.1:8080", raw)
	case u.User != nil:
		return fmt.Sprintf("%q holds user information: put credentials in target.headers (Authorization)", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Sprintf("%q holds a query or fragment: the traffic file gives each request its own", raw)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("%q: port %s is not in 1-65535", raw, p)
		}
	}
	if p := u.EscapedPath(); p != "" {
		if err := h1.CheckTarget(p); err != nil {
			return fmt.Sprintf("%q: path: %s", raw, wireMsg(err))
		}
	}
	return ""
}

// reservedHeader reports a header bestbefore writes itself.
func reservedHeader(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Host", "Content-Length", "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Te", "Trailer", "Upgrade":
		return true
	}
	return false
}

// wireMsg is the message of an h1 check without its sentinel prefix.
func wireMsg(err error) string {
	return strings.TrimPrefix(err.Error(), h1.ErrNotWireSafe.Error()+": ")
}

// Validate checks values that decode but make no sense.
func (s *Scenario) Validate() Errors {
	var errs Errors
	add := func(field, format string, args ...any) { errs = append(errs, s.errf(field, format, args...)) }

	t := s.Target
	nTargets := 0
	if t.URL != "" {
		nTargets++
	}
	if len(t.URLs) > 0 {
		nTargets++
	}
	if t.Bundled != nil {
		nTargets++
	}
	if t.Baseline != nil || t.Candidate != nil {
		nTargets++
		if t.Baseline == nil || t.Candidate == nil {
			add("target", "a live A/B run needs both baseline and candidate")
		}
		for name, side := range map[string]*Target{"baseline": t.Baseline, "candidate": t.Candidate} {
			if side == nil {
				continue
			}
			n := 0
			for _, set := range []bool{side.URL != "", len(side.URLs) > 0, side.Bundled != nil} {
				if set {
					n++
				}
			}
			if n != 1 {
				add("target."+name, "set exactly one of url, urls or bundled")
			}
			if side.Baseline != nil || side.Candidate != nil {
				add("target."+name, "a side cannot itself be an A/B pair")
			}
			if msg := targetURLProblem(side.URL); msg != "" {
				add("target."+name+".url", "%s", msg)
			}
			for i, u := range side.URLs {
				if msg := targetURLProblem(u); msg != "" {
					add(fmt.Sprintf("target.%s.urls.%d", name, i), "%s", msg)
				}
			}
		}
		if s.Capacity.NodeLoss != nil && s.Capacity.NodeLoss.Verify {
			add("capacity.node_loss", "node-loss verification is not available in a live A/B run")
		}
	}
	switch {
	case nTargets == 0:
		add("target", "set one of url, urls or bundled")
	case nTargets > 1:
		add("target", "set only one of url, urls, bundled or baseline/candidate")
	}
	for i, u := range append([]string{t.URL}, t.URLs...) {
		if u == "" {
			continue
		}
		field := "target.url"
		if i > 0 {
			field = fmt.Sprintf("target.urls.%d", i-1)
		}
		if msg := targetURLProblem(u); msg != "" {
			add(field, "%s", msg)
		}
	}
	for _, side := range []*Target{&s.Target, t.Baseline, t.Candidate} {
		if side == nil {
			continue
		}
		names := make([]string, 0, len(side.Headers))
		for k := range side.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		prefix := "target.headers"
		if side == t.Baseline {
			prefix = "target.baseline.headers"
		} else if side == t.Candidate {
			prefix = "target.candidate.headers"
		}
		for _, k := range names {
			if err := h1.CheckHeaderName(k); err != nil {
				add(prefix+"."+k, "%s", wireMsg(err))
			} else if err := h1.CheckHeaderValue(side.Headers[k]); err != nil {
				add(prefix+"."+k, "%s", wireMsg(err))
			} else if reservedHeader(k) {
				add(prefix+"."+k, "%s is written by bestbefore itself (from the URL and the body) and cannot be set", http.CanonicalHeaderKey(k))
			}
		}
	}
	if b := t.Bundled; b != nil {
		if b.Nodes < 1 || b.Nodes > 64 {
			add("target.bundled.nodes", "must be between 1 and 64, got %d", b.Nodes)
		}
		if b.Workers < 0 || b.Workers > MaxBundledWorkers {
			add("target.bundled.workers", "must be between 0 (the default, %d) and %d, got %d", 8, MaxBundledWorkers, b.Workers)
		}
		if b.Queue < 0 || b.Queue > MaxBundledQueue {
			add("target.bundled.queue", "must be between 0 (the default, 4 × workers) and %d, got %d", MaxBundledQueue, b.Queue)
		}
	}
	if t.MaxResponseBytes < 0 {
		add("target.max_response_bytes", "must not be negative")
	}
	if s.Traffic.File == "" {
		add("traffic.file", "required: the NDJSON traffic file to replay")
	}
	switch s.Traffic.Order {
	case "sequential", "shuffle":
	default:
		add("traffic.order", "must be sequential or shuffle, got %q", s.Traffic.Order)
	}
	switch s.Traffic.Timing {
	case "rate", "recorded":
	default:
		add("traffic.timing", "must be rate or recorded, got %q", s.Traffic.Timing)
	}
	if s.Traffic.Speed <= 0 || math.IsNaN(s.Traffic.Speed) {
		add("traffic.speed", "must be positive, got %v", s.Traffic.Speed)
	}

	l := s.Load
	if !slices.Contains(pace.Processes, l.Arrival) {
		add("load.arrival", "must be one of %s, got %q", strings.Join(pace.Processes, ", "), l.Arrival)
	}
	switch {
	case l.Burstiness != 0 && l.Arrival != pace.ProcessBursty:
		add("load.burstiness", "applies to arrival: bursty only (arrival is %s)", l.Arrival)
	case l.Burstiness < 0 || math.IsNaN(l.Burstiness) || l.Burstiness > 100:
		add("load.burstiness", "must be a gamma shape above 0 and at most 100 (1 is Poisson, below 1 burstier), got %v", l.Burstiness)
	}
	if len(l.Steps) > 0 {
		if len(l.Steps) > MaxSteps {
			add("load.steps", "%d steps is more than the %d a ramp may hold", len(l.Steps), MaxSteps)
		}
		for i, q := range l.Steps {
			switch {
			case !(q > 0) || math.IsInf(q, 0):
				add(fmt.Sprintf("load.steps.%d", i), "rate must be positive, got %v", q)
			case q > MaxQPS:
				add(fmt.Sprintf("load.steps.%d", i), "%v is beyond what any generator can send (at most %v)", q, float64(MaxQPS))
			}
		}
	} else {
		if !(l.StartQPS > 0) || math.IsInf(l.StartQPS, 0) {
			add("load.start_qps", "must be positive, got %v", l.StartQPS)
		}
		if l.StepQPS < 0 || math.IsNaN(l.StepQPS) {
			add("load.step_qps", "must not be negative, got %v", l.StepQPS)
		}
		if l.MaxQPS < 0 || math.IsNaN(l.MaxQPS) {
			add("load.max_qps", "must not be negative, got %v", l.MaxQPS)
		}
		if l.MaxQPS > 0 && l.MaxQPS < l.StartQPS {
			add("load.max_qps", "%v is below start_qps %v", l.MaxQPS, l.StartQPS)
		}
		if l.MaxQPS == 0 {
			add("load.max_qps", "required: the ramp's upper bound")
		}
		if l.MaxQPS > MaxQPS {
			add("load.max_qps", "%v is beyond what any generator can send (at most %v)", l.MaxQPS, float64(MaxQPS))
		}
		if l.StepQPS > 0 && l.MaxQPS <= MaxQPS && (l.MaxQPS-l.StartQPS)/l.StepQPS >= MaxSteps {
			add("load.step_qps", "%v from %v to %v makes more than the %d steps a ramp may hold", l.StepQPS, l.StartQPS, l.MaxQPS, MaxSteps)
		}
	}
	if l.StepDuration.D() < 100*time.Millisecond {
		add("load.step_duration", "must be at least 100ms, got %v", l.StepDuration.D())
	}
	if l.Warmup < 0 || l.Warmup >= l.StepDuration {
		add("load.warmup", "must be between 0 and step_duration (%v), got %v", l.StepDuration.D(), l.Warmup.D())
	}
	if l.Refine < 0 || l.Refine > 20 {
		add("load.refine", "must be between 0 and 20, got %d", l.Refine)
	}
	if l.StopAfterFailures < 1 {
		add("load.stop_after_failures", "must be at least 1, got %d", l.StopAfterFailures)
	}
	if l.Timeout <= 0 {
		add("load.timeout", "must be positive, got %v", l.Timeout.D())
	}
	if l.MaxInFlight < 1 {
		add("load.max_in_flight", "must be at least 1, got %d", l.MaxInFlight)
	}
	if l.Interval <= 0 || l.Interval > l.StepDuration {
		add("load.interval", "must be positive and at most step_duration, got %v", l.Interval.D())
	}

	keys := make([]string, 0, len(s.SLO.Latency))
	for k := range s.SLO.Latency {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := result.LatencyQuantile(k); !ok {
			add("slo.latency."+k, "unknown percentile %q: use %s", k, strings.Join(result.LatencyKeys(), ", "))
		}
		if s.SLO.Latency[k] <= 0 {
			add("slo.latency."+k, "must be positive")
		}
	}
	checkRatio := func(field string, r *Ratio) {
		if r != nil && (*r < 0 || *r > 1 || math.IsNaN(float64(*r))) {
			add(field, "must be between 0%% and 100%%, got %v%%", float64(*r)*100)
		}
	}
	checkRatio("slo.error_rate", s.SLO.ErrorRate)
	checkRatio("slo.target_cpu", s.SLO.TargetCPU)
	checkRatio("slo.throughput", s.SLO.Throughput)
	checkRatio("slo.steady", s.SLO.Steady)
	for i, c := range s.Checks {
		f := fmt.Sprintf("checks.%d", i)
		if c.Status == nil && c.Header == "" && c.JSONPath == "" && c.BodyHas == "" {
			add(f, "a check needs status, header, json or contains")
		}
		if c.Status != nil && !c.Status.Recorded && (c.Status.Code < 100 || c.Status.Code > 599) {
			add(f+".status", "must be an HTTP status (100-599) or recorded, got %d", c.Status.Code)
		}
		if c.MinItems != nil && c.JSONPath == "" {
			add(f+".min_items", "needs json: the path of the array")
		}
		if c.HeaderIs != "" && c.Header == "" {
			add(f+".equals", "needs header: the header to compare")
		}
	}
	if s.Capacity.Nodes < 1 {
		add("capacity.nodes", "must be at least 1, got %d", s.Capacity.Nodes)
	}
	if m := *s.Capacity.SafetyMargin; !(m > 0 && m <= 1) {
		add("capacity.safety_margin", "must be in (0, 1], got %v", m)
	}
	if n := s.Capacity.NodeLoss; n != nil && n.Verify {
		if s.Capacity.Nodes < 2 {
			add("capacity.node_loss", "node loss needs at least 2 nodes")
		}
		if t.Bundled == nil && n.Command == "" {
			add("capacity.node_loss.command", "required for a target that is not bundled: the command that takes a node out")
		}
		checkRatio("capacity.node_loss.at", n.At)
	}
	if a := s.AbortOn; a != nil {
		checkRatio("abort_on.error_rate", a.ErrorRate)
		if a.For < 1 {
			add("abort_on.for", "must be at least 1")
		}
	}
	if s.Monitor.Interval <= 0 {
		add("monitor.interval", "must be positive")
	}
	if s.Limits.MaxDuration <= 0 {
		add("limits.max_duration", "must be positive")
	}
	return errs
}

// SafetyMarginValue returns the safety margin (default 1).
func (s *Scenario) SafetyMarginValue() float64 {
	if s.Capacity.SafetyMargin == nil {
		return 1
	}
	return *s.Capacity.SafetyMargin
}

// Resolve returns p relative to the scenario's directory.
func (s *Scenario) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || s.Dir == "" {
		return p
	}
	return filepath.Join(s.Dir, p)
}

// Rates returns the planned ramp rates in order.
func (s *Scenario) Rates() []float64 {
	l := s.Load
	if len(l.Steps) > 0 {
		return append([]float64(nil), l.Steps...)
	}
	var out []float64
	if l.StepQPS == 0 {
		return []float64{l.StartQPS}
	}
	for i := 0; ; i++ {
		q := l.StartQPS + float64(i)*l.StepQPS
		if q > l.MaxQPS+1e-9 {
			break
		}
		out = append(out, q)
		if len(out) > 10000 {
			break
		}
	}
	return out
}

// EffectiveYAML renders the scenario after defaults and overrides.
func (s *Scenario) EffectiveYAML() string {
	b, err := yaml.Marshal(s)
	if err != nil {
		return ""
	}
	return string(b)
}

// DefaultMaxSendLag is the send lag p99 above which a step counts as
// limited by the generator, when the scenario does not say: 1 ms, or a
// tenth of the tightest latency objective when that is larger. Latency is
// measured from the intended send time, so lag is never hidden; it can
// only make the target look slower, and a lag that small beside the
// objective cannot change a verdict. A generator sharing a laptop's cores
// with the target seldom keeps 1 ms at the p99.
func DefaultMaxSendLag(latency map[string]Duration) time.Duration {
	lag := time.Millisecond
	var tightest time.Duration
	for k, d := range latency {
		if k == "max" || d <= 0 {
			continue
		}
		if tightest == 0 || d.D() < tightest {
			tightest = d.D()
		}
	}
	if tightest/10 > lag {
		lag = tightest / 10
	}
	return lag
}
