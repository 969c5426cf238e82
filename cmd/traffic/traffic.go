// Package traffic is the `bestbefore traffic` command: synth, import and
// inspect traffic files.
package traffic

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdSynth "github.com/bestbefore/bestbefore/cmd/trafficsynth"
	"github.com/bestbefore/bestbefore/pkg/importer"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// NewCmdTraffic builds `traffic` and its verbs.
func NewCmdTraffic(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "traffic",
		Short: "Synthesize, import and inspect traffic files",
	}
	cmd.AddCommand(cmdSynth.NewCmdSynth(f, nil))
	cmd.AddCommand(NewCmdImport(f, nil))
	cmd.AddCommand(NewCmdInspect(f, nil))
	return cmd
}

// ImportOptions holds the flags of `traffic import`.
type ImportOptions struct {
	IO          *iostreams.IOStreams
	From        string
	In, Out     string
	SkipInvalid bool
	Hosts       []string
	PathPrefix  string
	Model       string
	Redaction   cmdutil.Redaction
}

// NewCmdImport builds `traffic import`; runF replaces the action in tests.
func NewCmdImport(f *cmdutil.Factory, runF func(*ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "import --from nginx|apache|har|vegeta|csv|openai|sharegpt IN --out OUT",
		Short: "Convert access logs, HAR archives, vegeta targets or LLM prompts to a traffic file",
		Long: `Convert traffic from other tools to a bestbefore traffic file.

  nginx, apache  access logs: the combined or common format, or one JSON
                 object a line (nginx's log_format escape=json, with the
                 usual variable names: time_iso8601/time_local/msec,
                 request or request_method+request_uri, status,
                 http_referer, http_user_agent, request_body, host).
                 Times, methods, paths, statuses, Referer and User-Agent
                 are kept, and bodies when the log holds them. Requests
                 logged in the same second are spread evenly across it, so
                 timing: recorded does not send them in one burst.
                 OPTIONS * (server-wide) lines are skipped with a note.
  har            HAR 1.2 archives (browsers, Charles, Insomnia, mitmproxy),
                 a byte order mark allowed; bodies and statuses kept. A body
                 given only as params is rebuilt for its Content-Type
                 (form-urlencoded or multipart/form-data).
  vegeta         vegeta targets in either of its formats: JSON lines (body
                 in base64), or its HTTP format ("GET http://host/path",
                 "Name: value" headers, an "@file" body; blank-line
                 separated). A Host header is kept, and URL credentials
                 become a (redacted) Authorization header.
  openai         JSON lines of OpenAI-style requests: each line a
                 completion body (prompt) or chat completion body
                 (messages), or a line of OpenAI's Batch API input
                 ({"custom_id", "method", "url", "body"}). Model,
                 max_tokens and the rest are kept.
  sharegpt       a ShareGPT-style data set (a JSON array of
                 {"conversations": [{"from", "value"}, ...]}), the prompts
                 serving benchmarks replay: each conversation's first turn
                 becomes a chat completion asking for as many tokens as its
                 second turn holds (about four characters a token), so the
                 prompt and output lengths keep the data set's spread.
                 Conversations of one turn are left out.
                 Both ask for a stream with usage (stream: true,
                 stream_options.include_usage), so a replay times the
                 first token and counts output tokens as the server does;
                 --model names the model where a request names none.

Each imported request keeps the status it got (status in the traffic line):
the check "status: recorded" then expects a replay to get the same class.

A HAR or target file may name many origins: --host keeps the requests to
one (repeatable), --path-prefix those under a path; without them, more
than one origin is imported with a warning that counts them.

An input ending in .gz is decompressed; an output ending in .gz is compressed.
Secrets (headers, query, JSON and form fields; see the README) are redacted
unless --no-redact is given. An entry that cannot be converted stops the
import with its file and line (exit 2), or with --skip-invalid is counted
and reported at the end.`,
		Example: `  bestbefore traffic import --from nginx /var/log/nginx/access.log --out traffic.ndjson.gz
  bestbefore traffic import --from har page.har --host api.example.com --path-prefix /v1/ --out api.ndjson
  bestbefore traffic import --from vegeta targets.txt --out traffic.ndjson
  bestbefore traffic import --from sharegpt ShareGPT_V3_unfiltered_cleaned_split.json --model my-model --out prompts.ndjson.gz`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.In = args[0]
			if runF != nil {
				return runF(opts)
			}
			return importRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.From, "from", "", "input format: nginx, apache, har, vegeta, csv (a header naming method, url or path, body, content_type, header:NAME), openai or sharegpt (required)")
	cmdutil.FixedValues(cmd, "from", importer.FormatNames()...)
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "traffic file to write; .gz compresses (required)")
	cmd.Flags().BoolVar(&opts.SkipInvalid, "skip-invalid", false, "skip entries that cannot be converted, and report how many")
	cmd.Flags().StringArrayVar(&opts.Hosts, "host", nil, "keep only requests to this host (host or host:port; repeatable); entries naming no host are kept")
	cmd.Flags().StringVar(&opts.PathPrefix, "path-prefix", "", "keep only requests whose path starts with this, e.g. /v1/")
	cmd.Flags().StringVar(&opts.Model, "model", "", "with --from openai or sharegpt: the model of the requests that name none")
	cmdutil.RedactionFlags(cmd.Flags(), &opts.Redaction)
	return cmd
}

func importRun(opts *ImportOptions) error {
	if opts.From == "" || opts.Out == "" {
		return cmdutil.BadInputf("traffic import: --from and --out are required")
	}
	format, err := importer.ParseFormat(opts.From)
	if err != nil {
		return cmdutil.BadInputf("traffic import: --from: %v", err)
	}
	if opts.PathPrefix != "" && !strings.HasPrefix(opts.PathPrefix, "/") {
		return cmdutil.BadInputf("traffic import: --path-prefix %q: a path starts with /", opts.PathPrefix)
	}
	ios := opts.IO
	if opts.Model != "" && format != importer.OpenAI && format != importer.ShareGPT {
		return cmdutil.BadInputf("traffic import: --model applies to --from openai and sharegpt")
	}
	iopts := importer.Options{SkipInvalid: opts.SkipInvalid, Hosts: opts.Hosts, PathPrefix: opts.PathPrefix, Model: opts.Model}
	if iopts.Redactor, err = opts.Redaction.Redactor(); err != nil {
		return cmdutil.BadInputf("traffic import: %v", err)
	}
	st, err := importer.ImportFile(opts.In, opts.Out, format, iopts)
	if err != nil {
		var le *traffic.LineError
		if errors.As(err, &le) || errors.Is(err, fs.ErrNotExist) {
			return cmdutil.BadInput(fmt.Errorf("traffic import: %w", err))
		}
		return cmdutil.RunFailed(fmt.Errorf("traffic import: %w", err))
	}
	w := ios.ErrOut
	fmt.Fprintf(w, "imported %d of %d entries from %s into %s", st.Written, st.Read, opts.In, opts.Out)
	if st.Redacted > 0 {
		fmt.Fprintf(w, "; %d with secrets redacted", st.Redacted)
	}
	fmt.Fprintln(w)
	if st.OneTurn > 0 {
		fmt.Fprintf(w, "left out %s of one turn: no answer to take an output length from\n", count(st.OneTurn, "conversation", "conversations"))
	}
	if st.Filtered > 0 {
		fmt.Fprintf(w, "left out %s by --host/--path-prefix\n", count(st.Filtered, "entry", "entries"))
	}
	if len(st.Origins) > 1 && len(opts.Hosts) == 0 && opts.PathPrefix == "" {
		fmt.Fprintf(w, "warning: %s names %d origins, all imported to be replayed against one target; keep one with --host (and --path-prefix):\n", opts.In, len(st.Origins))
		top := st.TopOrigins(10)
		for _, o := range top {
			fmt.Fprintf(w, "  %6d  %s\n", o.Count, o.Name)
		}
		if rest := len(st.Origins) - len(top); rest > 0 {
			fmt.Fprintf(w, "  and %d more\n", rest)
		}
	}
	if st.Statuses > 0 {
		fmt.Fprintf(w, "kept the recorded status of %s: the check \"status: recorded\" expects a replay to get the same class\n", count(st.Statuses, "request", "requests"))
	}
	if st.LogBodies > 0 {
		fmt.Fprintf(w, "kept the body of %s from the log ($request_body)\n", count(st.LogBodies, "request", "requests"))
	}
	if st.NoBody > 0 && (format == importer.Nginx || format == importer.Apache) {
		fmt.Fprintf(w, "note: %s imported without a body (the log holds none for them)\n", count(st.NoBody, "POST/PUT/PATCH request", "POST/PUT/PATCH requests"))
	}
	if st.Spread > 0 {
		fmt.Fprintf(w, "note: %s shared their logged second with others; they were spread evenly across it, in log order\n", count(st.Spread, "request", "requests"))
	}
	if st.Asterisk > 0 {
		fmt.Fprintf(w, "note: skipped %s (OPTIONS *, e.g. Apache's internal dummy connections): they name no resource\n", count(st.Asterisk, "server-wide request", "server-wide requests"))
	}
	if st.NoRequest > 0 {
		fmt.Fprintf(w, "note: skipped %s logged without a request (\"-\": a connection closed or timed out before sending one)\n", count(st.NoRequest, "line", "lines"))
	}
	if st.RemoteUser > 0 {
		fmt.Fprintf(w, "note: %s made by an authenticated user ($remote_user); the log holds no credentials, so they are replayed without them\n", count(st.RemoteUser, "request was", "requests were"))
	}
	if st.Skipped > 0 {
		fmt.Fprintf(w, "skipped %d entries that could not be converted; the first:\n", st.Skipped)
		for _, e := range st.Errors {
			fmt.Fprintf(w, "  %v\n", e)
		}
	}
	return nil
}

// count writes n with the singular or plural noun.
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// InspectOptions holds the flags of `traffic inspect`.
type InspectOptions struct {
	IO   *iostreams.IOStreams
	File string
	JSON bool
}

// NewCmdInspect builds `traffic inspect`; runF replaces the action in tests.
func NewCmdInspect(f *cmdutil.Factory, runF func(*InspectOptions) error) *cobra.Command {
	opts := &InspectOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Validate a traffic file and summarize it: rates, methods, paths, bodies, repeats",
		Long: `Validate every line of a traffic file (exit 2 naming the first bad line)
and summarize it: requests, time span, mean and peak rate with a sparkline,
methods, top paths, body sizes, header names, and the share of repeated
requests (same method, path and body: what a cache would see).
Memory stays bounded for files of any length.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return inspectRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the summary as JSON")
	return cmd
}

func inspectRun(opts *InspectOptions) error {
	s, err := traffic.InspectFile(opts.File)
	if err != nil {
		var le *traffic.LineError
		if errors.As(err, &le) || errors.Is(err, traffic.ErrEmpty) || errors.Is(err, fs.ErrNotExist) {
			if errors.Is(err, traffic.ErrEmpty) {
				err = fmt.Errorf("%s: %w", opts.File, err)
			}
			return cmdutil.BadInput(err)
		}
		return cmdutil.RunFailed(err)
	}
	out := opts.IO.Out
	if opts.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(s)
	}
	return s.WriteText(out)
}
