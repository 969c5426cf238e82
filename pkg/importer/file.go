package importer

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// ImportFile converts the file in (decompressed when it ends in .gz) to
// the traffic file out (compressed when it ends in .gz). out is written
// under a temporary name and renamed at the end, so a failed import never
// leaves a partial traffic file behind. An input error is a
// *traffic.LineError; any other error is an I/O failure.
func ImportFile(in, out string, f Format, opts Options) (*Stats, error) {
	src, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var rd io.Reader = bufio.NewReaderSize(src, 64<<10)
	if strings.HasSuffix(in, ".gz") {
		gz, err := gzip.NewReader(rd)
		if err != nil {
			return nil, &traffic.LineError{File: in, Msg: "not a gzip file: " + err.Error()}
		}
		defer gz.Close()
		rd = gz
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return nil, err
	}
	w := traffic.NewWriter(tmp, strings.HasSuffix(out, ".gz"))
	if opts.Dir == "" {
		opts.Dir = filepath.Dir(in)
	}
	st, err := Import(rd, in, f, opts, w.Write)
	if cerr := w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s: %w", out, cerr)
	}
	if err == nil && st.Written == 0 {
		msg := fmt.Sprintf("no request could be imported (%d entries read, %d skipped)", st.Read, st.Skipped)
		if st.Filtered > 0 {
			msg = fmt.Sprintf("no request could be imported (%d entries read, %d left out by --host or --path-prefix, %d skipped)", st.Read, st.Filtered, st.Skipped)
		}
		if st.OneTurn > 0 {
			msg = fmt.Sprintf("no request could be imported (%d conversations read, %d of one turn left out, %d skipped)", st.Read, st.OneTurn, st.Skipped)
		}
		err = &traffic.LineError{File: in, Msg: msg}
	}
	if err != nil {
		os.Remove(tmp.Name())
		return st, err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		os.Remove(tmp.Name())
		return st, err
	}
	return st, nil
}
