package traffic

import (
	"errors"
	"io"
	"math/rand/v2"
)

// ShuffleWindow is how many requests a shuffled source holds at once. A
// file shorter than this is shuffled whole; a longer one is shuffled window
// by window, so memory stays bounded for files of any size.
const ShuffleWindow = 65536

// Source yields requests endlessly, cycling through the file.
type Source struct {
	path    string
	shuffle bool
	rng     *rand.Rand
	r       *Reader
	// buf holds a window of raw lines: parsed requests cost several times
	// their bytes, and only the one being sent needs parsing.
	buf []rawLine
	pos int
	// Filter, when set, keeps only the requests for which it returns true
	// (sharding uses it to take a disjoint share of the lines).
	Filter func(*Request) bool
	// Cycles counts how many times the file was read to its end.
	Cycles int
}

// NewSource opens path for cycling replay. With shuffle, requests come in a
// seeded, reproducible random order.
func NewSource(path string, shuffle bool, seed int64) (*Source, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	return &Source{path: path, shuffle: shuffle, rng: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)), r: r}, nil
}

// Next returns the next request; at the end of the file it starts again.
func (s *Source) Next() (*Request, error) {
	if !s.shuffle {
		return s.nextRaw()
	}
	if s.pos >= len(s.buf) {
		if err := s.fill(); err != nil {
			return nil, err
		}
	}
	l := s.buf[s.pos]
	s.buf[s.pos] = rawLine{}
	s.pos++
	req, err := s.parse(l)
	if err != nil {
		return nil, err
	}
	return req, nil
}

type rawLine struct {
	b    []byte
	line int
}

func (s *Source) parse(l rawLine) (*Request, error) {
	req, err := ParseLine(l.b)
	if err != nil {
		var le *LineError
		if errors.As(err, &le) {
			le.File, le.Line = s.path, l.line
			return nil, le
		}
		return nil, &LineError{File: s.path, Line: l.line, Msg: err.Error()}
	}
	req.Line = l.line
	return req, nil
}

// readLine returns the next raw line whose request passes the filter.
func (s *Source) readLine() (rawLine, error) {
	for {
		b, n, err := s.r.nextLine()
		if err != nil {
			return rawLine{}, err
		}
		l := rawLine{b: b, line: n}
		if s.Filter == nil {
			return l, nil
		}
		req, err := s.parse(l)
		if err != nil {
			return rawLine{}, err
		}
		if s.Filter(req) {
			return l, nil
		}
	}
}

func (s *Source) fill() error {
	s.buf = s.buf[:0]
	s.pos = 0
	empty := false
	for len(s.buf) < ShuffleWindow {
		l, err := s.readLine()
		if err == io.EOF {
			if len(s.buf) > 0 {
				break
			}
			if empty {
				return ErrEmpty
			}
			empty = true
			if err := s.rewind(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		s.buf = append(s.buf, l)
	}
	s.rng.Shuffle(len(s.buf), func(i, j int) { s.buf[i], s.buf[j] = s.buf[j], s.buf[i] })
	return nil
}

func (s *Source) nextRaw() (*Request, error) {
	for tries := 0; tries < 2; tries++ {
		req, err := s.read()
		if err == io.EOF {
			if err := s.rewind(); err != nil {
				return nil, err
			}
			continue
		}
		return req, err
	}
	return nil, ErrEmpty
}

// read returns the next request passing the filter, or io.EOF.
func (s *Source) read() (*Request, error) {
	for {
		req, err := s.r.Next()
		if err != nil {
			return nil, err
		}
		if s.Filter == nil || s.Filter(req) {
			return req, nil
		}
	}
}

func (s *Source) rewind() error {
	s.r.Close()
	s.Cycles++
	r, err := Open(s.path)
	if err != nil {
		return err
	}
	s.r = r
	return nil
}

// Close releases the file.
func (s *Source) Close() error { return s.r.Close() }
