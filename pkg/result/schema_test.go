package result_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/result"
)

func TestSchemaRejectsBrokenResults(t *testing.T) {
	bad := []string{
		`{}`,
		`{"schema":"bestbefore.result/v2"}`,
		`not json`,
	}
	for _, b := range bad {
		if err := result.ValidateJSON([]byte(b)); err == nil {
			t.Errorf("%s validated, want an error", b)
		}
	}
	r := &result.Result{Schema: result.SchemaV1, Name: "x", Status: "weird", Steps: []result.Step{}}
	b, _ := json.Marshal(r)
	if err := result.ValidateJSON(b); err == nil {
		t.Error("status weird validated")
	}
	r.Status = result.StatusCompleted
	r.Manifest.Tool, r.Manifest.CPUs = "bestbefore", 1
	b, _ = json.Marshal(r)
	if err := result.ValidateJSON(b); err != nil {
		t.Errorf("an empty completed result does not validate: %v", err)
	}
}

// Every mutation a hand-edited or corrupted file could carry is refused
// by Decode, the one reader, with the field named.
func TestDecodeRefusesMutatedResults(t *testing.T) {
	b, err := os.ReadFile("../report/testdata/result.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := result.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("the fixture itself: %v", err)
	}
	mutations := []struct {
		name  string
		edit  func(m map[string]any)
		field string
	}{
		{"status passed", func(m map[string]any) { m["status"] = "passed" }, "/status"},
		{"phase warmup", func(m map[string]any) { step(m, 0)["phase"] = "warmup" }, "/steps/0/phase"},
		{"negative p99", func(m map[string]any) { step(m, 0)["latency_ms"].(map[string]any)["p99"] = -1 }, "/steps/0/latency_ms/p99"},
		{"missing histogram", func(m map[string]any) { delete(step(m, 0), "histogram") }, "/steps/0"},
		{"send lag a string", func(m map[string]any) { step(m, 0)["generator"].(map[string]any)["send_lag_p99_ms"] = "x" }, "/steps/0/generator/send_lag_p99_ms"},
		{"shard index a string", func(m map[string]any) {
			m["shard"] = map[string]any{"index": "a", "count": 2, "plan_fingerprint": "x", "start_at": "2026-01-01T00:00:00Z"}
		}, "/shard/index"},
		{"held yes", func(m map[string]any) {
			m["node_loss"] = map[string]any{"qps": 1, "node": "n", "lost_at_s": 1, "held": "yes", "transition_errors": 0, "time_to_recover_s": nil, "never_recovered": false, "step": 0, "restored": true}
		}, "/node_loss/held"},
		{"histogram not base64", func(m map[string]any) { step(m, 0)["histogram"] = "not base64!" }, "/steps/0/histogram"},
		{"requests a float", func(m map[string]any) { step(m, 0)["requests"] = 1.5 }, "/steps/0/requests"},
		{"cpus negative", func(m map[string]any) { m["manifest"].(map[string]any)["cpus"] = -2 }, "/manifest/cpus"},
		{"error class unknown", func(m map[string]any) { step(m, 0)["errors_by_class"] = map[string]any{"gremlins": 1} }, "/steps/0/errors_by_class"},
		{"unknown field", func(m map[string]any) { step(m, 0)["p99"] = 3 }, "/steps/0"},
		{"objective latency key unknown", func(m map[string]any) {
			m["objectives"].(map[string]any)["latency_ms"] = map[string]any{"p42": 5}
		}, "/objectives/latency_ms"},
		{"more successes than requests", func(m map[string]any) {
			s := step(m, 0)
			s["successes"] = s["requests"].(float64) + 1
		}, "steps[0].successes"},
		{"histogram short of requests", func(m map[string]any) {
			s := step(m, 0)
			s["requests"] = s["requests"].(float64) + 10
			s["successes"] = s["successes"].(float64) + 10
		}, "steps[0].histogram"},
		{"errors by class disagree", func(m map[string]any) { step(m, 0)["errors_by_class"] = map[string]any{"timeout": 5} }, "steps[0].errors_by_class"},
		{"best-before step out of range", func(m map[string]any) { m["best_before"].(map[string]any)["step"] = 99 }, "best_before.step"},
	}
	for _, mu := range mutations {
		t.Run(mu.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			mu.edit(m)
			doc, _ := json.Marshal(m)
			_, err := result.Decode(bytes.NewReader(doc))
			if err == nil || !errors.Is(err, result.ErrCorrupt) || !strings.Contains(err.Error(), mu.field) {
				t.Errorf("Decode: %v; want ErrCorrupt naming %s", err, mu.field)
			}
		})
	}
}

func step(m map[string]any, i int) map[string]any {
	return m["steps"].([]any)[i].(map[string]any)
}

// The objectives section of result.schema.json, as published, is the one
// validation makes from the catalogue: an objective added to the
// catalogue without the file brought up to date fails here.
func TestSchemaFileObjectivesMatchCatalogue(t *testing.T) {
	var file map[string]any
	if err := json.Unmarshal(result.JSONSchema, &file); err != nil {
		t.Fatal(err)
	}
	doc, err := result.SchemaDocument()
	if err != nil {
		t.Fatal(err)
	}
	for _, def := range []string{"objectives", "error_class", "errors_by_class"} {
		want, _ := json.Marshal(doc["$defs"].(map[string]any)[def])
		got, _ := json.Marshal(file["$defs"].(map[string]any)[def])
		if !bytes.Equal(normalizeJSON(t, got), normalizeJSON(t, want)) {
			t.Errorf("result.schema.json $defs.%s is\n%s\nthe catalogue makes\n%s", def, got, want)
		}
	}
}

func normalizeJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return out
}
