package traffic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Format is a file format Sniff recognizes in a line that is not a
// traffic line.
type Format string

// The formats a traffic file is mistaken for.
const (
	FormatUnknown    Format = ""
	FormatAccessLog  Format = "access log" // nginx or Apache, combined or common
	FormatNginxJSON  Format = "nginx JSON log"
	FormatHAR        Format = "HAR archive"
	FormatVegetaHTTP Format = "vegeta HTTP targets file"
	FormatVegetaJSON Format = "vegeta JSON targets file"
	FormatCSV        Format = "CSV file"
)

var (
	accessLogLine  = regexp.MustCompile(`^\S+ \S+ \S+ \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "`)
	vegetaHTTPLine = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|TRACE|CONNECT) https?://`)
)

// Sniff guesses the format of a file from its first line, which did not
// parse as a traffic line.
func Sniff(line []byte) Format {
	line = bytes.TrimPrefix(bytes.TrimSpace(line), []byte("\ufeff"))
	switch {
	case accessLogLine.Match(line):
		return FormatAccessLog
	case vegetaHTTPLine.Match(line):
		return FormatVegetaHTTP
	case csvHeader(line):
		return FormatCSV
	case bytes.Equal(line, []byte("{")):
		return FormatHAR // a pretty-printed JSON document: HAR archives are
	case len(line) > 0 && line[0] == '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(line, &m) != nil {
			if bytes.Contains(line, []byte(`"log"`)) {
				return FormatHAR
			}
			return FormatUnknown
		}
		has := func(k string) bool { _, ok := m[k]; return ok }
		switch {
		case has("log"):
			return FormatHAR
		case has("url") && has("method") && !has("path"):
			return FormatVegetaJSON
		case (has("request") || has("request_uri")) && (has("status") || has("time_local") || has("time_iso8601")):
			return FormatNginxJSON
		}
	}
	return FormatUnknown
}

// From is the `traffic import --from` value that reads files of format f,
// or "" for FormatUnknown.
func (f Format) From() string {
	switch f {
	case FormatAccessLog, FormatNginxJSON:
		return "nginx" // nginx and apache read the same formats
	case FormatHAR:
		return "har"
	case FormatVegetaHTTP, FormatVegetaJSON:
		return "vegeta"
	case FormatCSV:
		return "csv"
	}
	return ""
}

// Article is "a" or "an", as f's name needs.
func (f Format) Article() string {
	if f == FormatAccessLog || f == FormatNginxJSON {
		return "an"
	}
	return "a"
}

// Hint says how to convert a file of format f named name to a traffic
// file, or "" for FormatUnknown.
func (f Format) Hint(name string) string {
	from := f.From()
	if from == "" {
		return ""
	}
	return fmt.Sprintf("this looks like %s %s, not a traffic file (one JSON request a line); convert it with: bestbefore traffic import --from %s %s --out traffic.ndjson.gz", f.Article(), f, from, name)
}

// csvHeader says line looks like the header of a CSV file of requests: a
// comma-separated list naming a url or a path column.
func csvHeader(line []byte) bool {
	if len(line) == 0 || line[0] == '{' || !bytes.Contains(line, []byte(",")) {
		return false
	}
	for _, f := range bytes.Split(line, []byte(",")) {
		switch strings.ToLower(strings.Trim(strings.TrimSpace(string(f)), `"`)) {
		case "url", "path", "uri", "endpoint":
			return true
		}
	}
	return false
}
