package result_test

import (
	"reflect"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/result"
)

func TestTabulateErrors(t *testing.T) {
	steps := []result.Step{
		{Index: 0},
		{Index: 1, ErrorKinds: []result.ErrorKind{{Class: "http_5xx", Status: 503, Count: 2, Sample: "HTTP 503 Service Unavailable"}}},
		{Index: 2, ErrorKinds: []result.ErrorKind{
			{Class: "timeout", Count: 5, Sample: "attack: request timed out"},
			{Class: "http_5xx", Status: 503, Count: 4, Sample: "HTTP 503 Service Unavailable"},
			{Class: "http_5xx", Status: 500, Count: 1, Sample: "HTTP 500 Internal Server Error"},
		}},
		// A step written before error kinds: by class alone.
		{Index: 3, ErrorsByClass: map[string]int64{"timeout": 3}},
	}
	want := []result.ErrorRow{
		{Class: "timeout", Sample: "attack: request timed out", Count: 8, FirstStep: 2, LastStep: 3},
		{Class: "http_5xx", Status: 503, Sample: "HTTP 503 Service Unavailable", Count: 6, FirstStep: 1, LastStep: 2},
		{Class: "http_5xx", Status: 500, Sample: "HTTP 500 Internal Server Error", Count: 1, FirstStep: 2, LastStep: 2},
	}
	if got := result.TabulateErrors(steps); !reflect.DeepEqual(got, want) {
		t.Errorf("error table:\n got %+v\nwant %+v", got, want)
	}
	if got := result.TabulateErrors(steps[:1]); got != nil {
		t.Errorf("a run without errors has the table %+v", got)
	}
}

func TestMergeErrorKinds(t *testing.T) {
	a := []result.ErrorKind{{Class: "http_5xx", Status: 503, Count: 2}, {Class: "timeout", Count: 1, Sample: "late"}}
	b := []result.ErrorKind{{Class: "http_5xx", Status: 503, Count: 3, Sample: "HTTP 503 Service Unavailable"}, {Class: "refused", Count: 4, Sample: "connection refused"}}
	want := []result.ErrorKind{
		{Class: "http_5xx", Status: 503, Count: 5, Sample: "HTTP 503 Service Unavailable"},
		{Class: "refused", Count: 4, Sample: "connection refused"},
		{Class: "timeout", Count: 1, Sample: "late"},
	}
	if got := result.MergeErrorKinds(a, b); !reflect.DeepEqual(got, want) {
		t.Errorf("merged:\n got %+v\nwant %+v", got, want)
	}
	if a[0].Count != 2 {
		t.Error("MergeErrorKinds changed its first argument")
	}
}
