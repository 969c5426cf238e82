package traffic_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// A file of another format given as a traffic file is named, with the
// import that converts it, instead of "malformed JSON: invalid character".
func TestReaderNamesTheFormatOfAFileThatIsNotTraffic(t *testing.T) {
	cases := map[string]struct {
		text string
		want string
	}{
		"access.log":  {`10.0.0.7 - alice [25/Nov/2026:14:03:07 +0000] "POST /v1/predict HTTP/1.1" 200 88 "-" "curl/8"` + "\n", "an access log, not a traffic file (one JSON request a line); convert it with: bestbefore traffic import --from nginx "},
		"targets.txt": {"GET http://127.0.0.1:8080/v1/items\nX-A: 1\n\n", "a vegeta HTTP targets file, not a traffic file"},
		"page.har":    {"\ufeff{\n  \"log\": {\n", "a HAR archive, not a traffic file (one JSON request a line); convert it with: bestbefore traffic import --from har "},
		"t.jsonl":     {`{"method":"GET","url":"http://127.0.0.1/a"}` + "\n", "--from vegeta"},
		"nginx.json":  {`{"time_local":"25/Nov/2026:14:03:07 +0000","request":"GET / HTTP/1.1","status":"200"}` + "\n", "an nginx JSON log"},
	}
	for name, c := range cases {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, []byte(c.text), 0o644)
		r, err := traffic.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Next()
		r.Close()
		var le *traffic.LineError
		if !errors.As(err, &le) || le.Line != 1 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want line 1 and %q", name, err, c.want)
		}
	}
	// A traffic file with a bad line later on gets no hint.
	p := filepath.Join(t.TempDir(), "t.ndjson")
	os.WriteFile(p, []byte("{\"path\":\"/a\"}\nGET http://127.0.0.1/a\n"), 0o644)
	r, _ := traffic.Open(p)
	defer r.Close()
	r.Next()
	if _, err := r.Next(); err == nil || strings.Contains(err.Error(), "convert it") {
		t.Errorf("line 2: %v, want malformed JSON without a hint", err)
	}
}
