package result

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// DefaultThroughput is the least share of the scheduled arrivals a step
// must deliver when the scenario does not say: below it the target's
// queue grows for as long as the load lasts, whatever a short step's
// latency shows.
const DefaultThroughput = 0.97

// docPath splits an objective's Doc path into its group (latency_ms, or
// "" for a top-level key) and its name.
func docPath(doc string) (group, name string) {
	if g, n, ok := strings.Cut(doc, "."); ok {
		return g, n
	}
	return "", doc
}

// LookupDoc returns the catalogue entry result.json holds at doc
// (latency_ms.p99, error_rate).
func LookupDoc(doc string) (*Objective, bool) {
	return lookup(func(ob *Objective) bool { return ob.Doc == doc })
}

// MarshalJSON writes each bound at its catalogue entry's Doc path, the
// groups (latency_ms) first, then the others in catalogue order.
func (o Objectives) MarshalJSON() ([]byte, error) {
	groups := map[string]*bytes.Buffer{}
	var order []string
	var top bytes.Buffer
	for _, ob := range Catalogue {
		v, ok := o[ob.Key]
		if !ok {
			continue
		}
		num, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("objective %s: %w", ob.Key, err)
		}
		group, name := docPath(ob.Doc)
		buf := &top
		if group != "" {
			if groups[group] == nil {
				groups[group] = &bytes.Buffer{}
				order = append(order, group)
			}
			buf = groups[group]
		}
		if buf.Len() > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(strconv.Quote(name) + ":")
		buf.Write(num)
	}
	for k := range o {
		if _, ok := LookupObjective(k); !ok {
			return nil, fmt.Errorf("result: objective %q is not in the catalogue", k)
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, g := range order {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(g) + ":{" + groups[g].String() + "}")
	}
	if top.Len() > 0 {
		if len(order) > 0 {
			b.WriteByte(',')
		}
		b.Write(top.Bytes())
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes; a key the catalogue does
// not hold is an error, as the schema says.
func (o *Objectives) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	out := Objectives{}
	for k, v := range raw {
		var num float64
		if err := json.Unmarshal(v, &num); err == nil {
			ob, ok := LookupDoc(k)
			if !ok {
				return fmt.Errorf("unknown objective %q", k)
			}
			out[ob.Key] = num
			continue
		}
		var group map[string]float64
		if err := json.Unmarshal(v, &group); err != nil {
			return fmt.Errorf("objective %q: want a number or an object of numbers", k)
		}
		for name, num := range group {
			ob, ok := LookupDoc(k + "." + name)
			if !ok {
				return fmt.Errorf("unknown objective %q", k+"."+name)
			}
			out[ob.Key] = num
		}
	}
	*o = out
	return nil
}

// objectivesSchema is the JSON Schema of the objectives: section, made
// from the catalogue: each entry a number at its Doc path, above zero
// when Positive, at most 1 when a share; nothing else.
func objectivesSchema() map[string]any {
	props := map[string]any{}
	for _, ob := range Catalogue {
		leaf := map[string]any{"type": "number"}
		if ob.Positive {
			leaf["exclusiveMinimum"] = 0
		} else {
			leaf["minimum"] = 0
		}
		if ob.Unit == UnitShare {
			leaf["maximum"] = 1
		}
		group, name := docPath(ob.Doc)
		if group == "" {
			props[name] = leaf
			continue
		}
		g, ok := props[group].(map[string]any)
		if !ok {
			g = map[string]any{"type": "object", "properties": map[string]any{}, "additionalProperties": false}
			props[group] = g
		}
		g["properties"].(map[string]any)[name] = leaf
	}
	return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
}
