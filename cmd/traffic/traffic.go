// Package traffic is the `bestbefore traffic` command: synth, import and
// inspect traffic files.
package traffic

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdSynth "github.com/bestbefore/bestbefore/cmd/trafficsynth"
	"github.com/bestbefore/bestbefore/pkg/importer"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// NewCmdTraffic builds `traffic` and its verbs.
func NewCmdTraffic(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "traffic",
		Short: "Synthesize, import and inspect traffic files",
	}
	cmd.AddCommand(cmdSynth.NewCmdSynth(f))
	cmd.AddCommand(NewCmdImport(f, nil))
	cmd.AddCommand(NewCmdInspect(f, nil))
	return cmd
}

// ImportOptions holds the flags of `traffic import`.
type ImportOptions struct {
	IO          *cmdutil.Factory
	From        string
	In, Out     string
	SkipInvalid bool
	Redaction   cmdutil.Redaction
}

// NewCmdImport builds `traffic import`; runF replaces the action in tests.
func NewCmdImport(f *cmdutil.Factory, runF func(*ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{IO: f}
	cmd := &cobra.Command{
		Use:   "import --from nginx|apache|har|vegeta IN --out OUT",
		Short: "Convert access logs, HAR archives or vegeta targets to a traffic file",
		Long: `Convert traffic from other tools to a bestbefore traffic file.

  nginx, apache  combined (or common) access log lines; times, methods, paths,
                 Referer and User-Agent are kept. Logs hold no bodies.
  har            HAR 1.2 archives (browser dev tools, proxies); bodies kept.
  vegeta         vegeta JSON targets, one per line (body in base64).

An input ending in .gz is decompressed; an output ending in .gz is compressed.
Secret headers (Authorization, Proxy-Authorization, Cookie, X-Api-Key) are
redacted unless --no-redact is given. An entry that cannot be converted stops
the import with its file and line (exit 2), or with --skip-invalid is counted
and reported at the end.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.In = args[0]
			if runF != nil {
				return runF(opts)
			}
			return importRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.From, "from", "", "input format: nginx, apache, har or vegeta (required)")
	cmdutil.FixedValues(cmd, "from", "nginx", "apache", "har", "vegeta")
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "traffic file to write; .gz compresses (required)")
	cmd.Flags().BoolVar(&opts.SkipInvalid, "skip-invalid", false, "skip entries that cannot be converted, and report how many")
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
	ios := opts.IO.IOStreams
	iopts := importer.Options{SkipInvalid: opts.SkipInvalid}
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
	fmt.Fprintf(ios.ErrOut, "imported %d of %d entries from %s into %s", st.Written, st.Read, opts.In, opts.Out)
	if st.Redacted > 0 {
		fmt.Fprintf(ios.ErrOut, "; %d with secrets redacted", st.Redacted)
	}
	fmt.Fprintln(ios.ErrOut)
	if st.NoBody > 0 && (format == importer.Nginx || format == importer.Apache) {
		fmt.Fprintf(ios.ErrOut, "note: %d POST/PUT/PATCH requests imported without a body (access logs hold none)\n", st.NoBody)
	}
	if st.Skipped > 0 {
		fmt.Fprintf(ios.ErrOut, "skipped %d entries that could not be converted; the first:\n", st.Skipped)
		for _, e := range st.Errors {
			fmt.Fprintf(ios.ErrOut, "  %v\n", e)
		}
	}
	return nil
}

// InspectOptions holds the flags of `traffic inspect`.
type InspectOptions struct {
	IO   *cmdutil.Factory
	File string
	JSON bool
}

// NewCmdInspect builds `traffic inspect`; runF replaces the action in tests.
func NewCmdInspect(f *cmdutil.Factory, runF func(*InspectOptions) error) *cobra.Command {
	opts := &InspectOptions{IO: f}
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
	out := opts.IO.IOStreams.Out
	if opts.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(s)
	}
	return s.WriteText(out)
}
