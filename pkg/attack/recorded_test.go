package attack_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// With status: recorded, a replay of real traffic with its 404s counts
// them as the outcome they were recorded with, not as errors; a status
// of another class than the recorded one is an error either way.
func TestRecordedStatusCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("give"))
		w.WriteHeader(code)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	doer, err := attack.NewH1Doer(srv.URL, h1.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// give: what the server answers; status: what the line was recorded with.
	lines := []struct{ give, status int }{
		{200, 200}, // same: success
		{404, 404}, // the recorded 404 again: not an error
		{410, 404}, // another 4xx: the same class, not an error
		{200, 0},   // no recorded status: checked as usual
		{200, 304}, // a 304 replayed as 200: both successes
		{200, 404}, // a success where a 404 was recorded: check_failed
		{500, 200}, // a 5xx where a success was recorded: http_5xx
		{404, 0},   // a 404 nobody recorded: http_4xx
	}
	feed := &listFeed{}
	for i, l := range lines {
		feed.offsets = append(feed.offsets, time.Duration(i)*time.Millisecond)
		feed.reqs = append(feed.reqs, mustPrepare(t, &traffic.Request{Path: "/?give=" + strconv.Itoa(l.give), Status: l.status}, u))
	}
	check := attack.CheckSpec{RecordedStatus: true}
	a := attack.New(attack.Options{Targets: []attack.Target{{Base: u, Doer: doer}}, Checks: []attack.Check{check.Compile()}, RecordedStatus: true})
	defer a.Close()
	st, err := a.Step(context.Background(), feed, attack.StepSpec{Rate: 1000, Duration: 100 * time.Millisecond, Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 8 || st.Successes != 5 {
		t.Errorf("%d requests, %d successes (by class %v), want 8 and 5", st.Requests, st.Successes, st.ByClass)
	}
	for class, want := range map[string]int64{"check_failed": 1, "http_5xx": 1, "http_4xx": 1} {
		if st.ByClass[class] != want {
			t.Errorf("class %s: %d, want %d (all: %v; kinds %v)", class, st.ByClass[class], want, st.ByClass, st.Errors)
		}
	}
	// The error table's kinds: class, the status answered, a sample.
	want := []result.ErrorKind{
		{Class: "check_failed", Status: 200, Count: 1, Sample: "status 200, recorded 404"},
		{Class: "http_4xx", Status: 404, Count: 1, Sample: "HTTP 404 Not Found"},
		{Class: "http_5xx", Status: 500, Count: 1, Sample: "HTTP 500 Internal Server Error"},
	}
	if !reflect.DeepEqual(st.Errors, want) {
		t.Errorf("error kinds:\n got %+v\nwant %+v", st.Errors, want)
	}
}
