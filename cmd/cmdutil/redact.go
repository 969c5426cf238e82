package cmdutil

import (
	"errors"
	"strings"

	"github.com/spf13/pflag"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// Redaction holds the flags that say which secrets a recording or an
// import keeps out of the traffic file.
type Redaction struct {
	Headers []string
	Fields  []string
	Keep    []string
	Off     bool
}

// RedactionHelp explains the defaults, for a command's long help.
func RedactionHelp() string {
	return `Secrets are redacted by default, in any letter case, keeping the key and
putting "` + traffic.Redacted + `" in place of the value so the traffic still replays:
  headers: ` + strings.Join(traffic.DefaultRedactHeaders, ", ") + `
  query parameters, JSON body fields (at any depth) and form fields:
    ` + strings.Join(traffic.DefaultRedactFields, ", ") + `
--redact-header and --redact-field add names, --keep-field takes a header or
field off the list, and only --no-redact records everything as it is.`
}

// RedactionFlags registers --redact-header, --redact-field, --keep-field
// and --no-redact.
func RedactionFlags(fs *pflag.FlagSet, r *Redaction) {
	fs.StringArrayVar(&r.Headers, "redact-header", nil, "another header whose values are replaced (repeatable, any case)")
	fs.StringArrayVar(&r.Fields, "redact-field", nil, "another query, JSON or form field whose values are replaced (repeatable, any case)")
	fs.StringArrayVar(&r.Keep, "keep-field", nil, "a default header or field that is not a secret here: keep it (repeatable)")
	fs.BoolVar(&r.Off, "no-redact", false, "record secrets as they are")
}

// Redactor builds the redactor the flags ask for (nil with --no-redact).
func (r Redaction) Redactor() (*traffic.Redactor, error) {
	if r.Off {
		if len(r.Headers)+len(r.Fields)+len(r.Keep) > 0 {
			return nil, errors.New("--no-redact contradicts --redact-header, --redact-field and --keep-field")
		}
		return nil, nil
	}
	return traffic.NewRedactor(r.Headers, r.Fields, r.Keep), nil
}
