package result_test

import (
	"encoding/json"
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
