package attack_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/attack"
)

func TestChecks(t *testing.T) {
	two, three, ok := 2, 3, 200
	body := []byte(`{"model":"v1","predictions":[{"id":"a","score":0.9},{"id":"b","score":0.5}],"cached":false}`)
	hdr := func(name string) (string, bool) {
		if name == "Content-Type" {
			return "application/json", true
		}
		return "", false
	}
	tests := []struct {
		name string
		spec attack.CheckSpec
		resp attack.Response
		fail bool
	}{
		{"status ok", attack.CheckSpec{Status: &ok}, attack.Response{Status: 200}, false},
		{"status wrong", attack.CheckSpec{Status: &ok}, attack.Response{Status: 201}, true},
		{"json path", attack.CheckSpec{JSONPath: "predictions.1.id"}, attack.Response{Body: body}, false},
		{"json path missing", attack.CheckSpec{JSONPath: "predictions.2.id"}, attack.Response{Body: body}, true},
		{"json key missing", attack.CheckSpec{JSONPath: "model.name"}, attack.Response{Body: body}, true},
		{"min items", attack.CheckSpec{JSONPath: "predictions", MinItems: &two}, attack.Response{Body: body}, false},
		{"too few items", attack.CheckSpec{JSONPath: "predictions", MinItems: &three}, attack.Response{Body: body}, true},
		{"not an array", attack.CheckSpec{JSONPath: "model", MinItems: &two}, attack.Response{Body: body}, true},
		{"not json", attack.CheckSpec{JSONPath: "model"}, attack.Response{Body: []byte("<html>")}, true},
		{"truncated json", attack.CheckSpec{JSONPath: "model"}, attack.Response{Body: body[:40]}, true},
		{"contains", attack.CheckSpec{Contains: `"cached":false`}, attack.Response{Body: body}, false},
		{"header equals", attack.CheckSpec{Header: "Content-Type", Equals: "application/json"}, attack.Response{Header: hdr}, false},
		{"header missing", attack.CheckSpec{Header: "X-Model"}, attack.Response{Header: hdr}, true},
	}
	for _, tt := range tests {
		msg := tt.spec.Compile()(&tt.resp)
		if (msg != "") != tt.fail {
			t.Errorf("%s: check said %q, want failure %v", tt.name, msg, tt.fail)
		}
	}
}

func BenchmarkJSONCheck(b *testing.B) {
	body := []byte(`{"model":"v1","predictions":[` + `{"id":"a","score":0.9,"title":"wireless mouse with a long name"},` +
		`{"id":"b","score":0.5,"title":"usb c charger"},{"id":"c","score":0.4,"title":"keyboard"},{"id":"d","score":0.3,"title":"x"}],"cached":false}`)
	one := 1
	c := attack.CheckSpec{JSONPath: "predictions", MinItems: &one}.Compile()
	r := &attack.Response{Body: body}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if c(r) != "" {
			b.Fatal("check failed")
		}
	}
}

// FuzzJSONCheck holds the scanner to encoding/json: on valid documents
// both find the same path, and no input makes it panic.
func FuzzJSONCheck(f *testing.F) {
	f.Add([]byte(`{"predictions":[{"id":"a"},{"id":"b"}]}`), "predictions.1.id")
	f.Add([]byte(`{"a":{"b":[1,2,{"c":"x\"y"}]}}`), "a.b.2.c")
	f.Add([]byte(`[1, 2, 3]`), "2")
	f.Add([]byte(`{"a": "}"}`), "a")
	f.Add([]byte(`{"a":`), "a")
	f.Add([]byte(`{"a\u0062":1}`), "ab")
	f.Add([]byte(`{"a":[1],"a":2}`), "a.0")
	f.Add([]byte("{\"\xff\":1}"), "\xff")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		zero := 0
		c := attack.CheckSpec{JSONPath: path, MinItems: &zero}.Compile()
		_ = c(&attack.Response{Body: body})
		c = attack.CheckSpec{JSONPath: path}.Compile()
		got := c(&attack.Response{Body: body}) == ""
		var doc any
		if json.Unmarshal(body, &doc) != nil || path == "" {
			return
		}
		want := true
		cur := doc
		for _, part := range strings.Split(path, ".") {
			switch v := cur.(type) {
			case map[string]any:
				next, ok := v[part]
				if !ok {
					want = false
				}
				cur = next
			case []any:
				i, err := strconv.Atoi(part)
				if err != nil || i < 0 || i >= len(v) || strconv.Itoa(i) != part {
					want = false
				} else {
					cur = v[i]
				}
			default:
				want = false
			}
			if !want {
				break
			}
		}
		if got != want {
			t.Errorf("path %q in %q: scanner says %v, encoding/json %v", path, body, got, want)
		}
	})
}
