package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

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
		if t == sloType {
			// slo: holds the catalogue's objectives, not fields.
			rest := strings.Join(parts[i:], ".")
			if _, ok := result.LookupSLO(rest); ok || len(sloKeysAt(rest)) > 0 {
				return nil
			}
			prefix := strings.Join(parts[i:len(parts)-1], ".")
			return fmt.Errorf("%s", unknownSLO(prefix, parts[len(parts)-1]))
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
		s.Monitor.MaxSendLag = Duration(DefaultMaxSendLag(s.SLO))
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
func DefaultMaxSendLag(slo SLO) time.Duration {
	lag := time.Millisecond
	var tightest time.Duration
	for k, v := range slo.Bounds {
		if !strings.HasPrefix(k, "latency.") || k == "latency.max" || v <= 0 {
			continue
		}
		if d := time.Duration(v * float64(time.Millisecond)); tightest == 0 || d < tightest {
			tightest = d
		}
	}
	if tightest/10 > lag {
		lag = tightest / 10
	}
	return lag
}
