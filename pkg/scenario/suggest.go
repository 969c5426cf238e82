package scenario

import (
	"reflect"
	"regexp"
	"sort"
	"strings"
)

var unknownFieldRE = regexp.MustCompile(`field (\S+) not found in type \S+`)

// unknownKey rewrites the YAML decoder's "field step_qsp not found in
// type LoadSpec" as a user reads it: "unknown key load.step_qsp; did you
// mean load.step_qps?", or the keys the section takes when none is
// close. path is the dotted key the error's line holds, when known.
func unknownKey(msg, path string) string {
	m := unknownFieldRE.FindStringSubmatchIndex(msg)
	if m == nil {
		return msg
	}
	key := msg[m[2]:m[3]]
	parent := ""
	if path != "" && (path == key || strings.HasSuffix(path, "."+key)) {
		parent = strings.TrimSuffix(strings.TrimSuffix(path, key), ".")
	}
	full := key
	if parent != "" {
		full = parent + "." + key
	}
	out := "unknown key " + full
	keys := keysAt(reflect.TypeOf(Scenario{}), parent)
	if best := closest(key, keys); best != "" {
		if parent != "" {
			best = parent + "." + best
		}
		out += "; did you mean " + best + "?"
	} else if len(keys) > 0 {
		where := parent
		if where == "" {
			where = "a scenario"
		}
		out += " (" + where + " takes: " + strings.Join(keys, ", ") + ")"
	}
	return msg[:m[0]] + out + msg[m[1]:]
}

// keysAt lists the YAML keys of the struct at the dotted path below t
// (list indexes skipped), sorted; nil when the path leads elsewhere.
func keysAt(t reflect.Type, path string) []string {
	parts := strings.Split(path, ".")
	for i, part := range parts {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t == sloType {
			return sloKeysAt(strings.Join(parts[i:], "."))
		}
		if part == "" || isIndex(part) {
			continue
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByKey(t, part)
		if !ok {
			return nil
		}
		t = f.Type
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t == sloType {
		return sloKeysAt("")
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if k := yamlKey(t.Field(i)); k != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func isIndex(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if yamlKey(t.Field(i)) == key {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// yamlKey is the key a field is read from; "" for fields YAML skips.
func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	switch name {
	case "-":
		return ""
	case "":
		if strings.Contains(tag, "inline") {
			return ""
		}
		return strings.ToLower(f.Name)
	}
	return name
}

// closest is the key nearest to k by edit distance, when near enough to
// be a typo (at most a third of its length, at least 1); "" otherwise.
func closest(k string, keys []string) string {
	best, bestD := "", len(k)/3+1
	if bestD < 2 {
		bestD = 2
	}
	for _, c := range keys {
		if d := editDistance(k, c); d < bestD || (d == bestD && best == "" && d <= 2) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein distance (adjacent swaps count
// once: step_qsp → step_qps is 1).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
