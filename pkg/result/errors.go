package result

import "sort"

// ErrorKind is one kind of failed request in a step: its class and, for
// an HTTP status error or a failed check, the status the target answered.
type ErrorKind struct {
	Class string `json:"class"`
	// Status is the HTTP status answered, 0 (left out) when no answer came.
	Status int   `json:"status,omitempty"`
	Count  int64 `json:"count"`
	// Sample is the first message seen of this kind in the step.
	Sample string `json:"sample,omitempty"`
}

// ErrorRow is one line of a run's error table: a kind of error over the
// whole run, and the steps it was first and last seen in (step indexes).
type ErrorRow struct {
	Class     string `json:"class"`
	Status    int    `json:"status,omitempty"`
	Sample    string `json:"sample,omitempty"`
	Count     int64  `json:"count"`
	FirstStep int    `json:"first_step"`
	LastStep  int    `json:"last_step"`
}

// TabulateErrors gathers the steps' kinds of error into the run's error
// table, most frequent first. A step written without error kinds counts
// by class alone.
func TabulateErrors(steps []Step) []ErrorRow {
	type key struct {
		class  string
		status int
	}
	rows := map[key]*ErrorRow{}
	add := func(s *Step, k key, n int64, sample string) {
		if n <= 0 {
			return
		}
		r := rows[k]
		if r == nil {
			r = &ErrorRow{Class: k.class, Status: k.status, FirstStep: s.Index, LastStep: s.Index}
			rows[k] = r
		}
		r.Count += n
		if r.Sample == "" {
			r.Sample = sample
		}
		r.FirstStep, r.LastStep = min(r.FirstStep, s.Index), max(r.LastStep, s.Index)
	}
	for i := range steps {
		s := &steps[i]
		if len(s.ErrorKinds) == 0 {
			for c, n := range s.ErrorsByClass {
				add(s, key{c, 0}, n, "")
			}
			continue
		}
		for _, k := range s.ErrorKinds {
			add(s, key{k.Class, k.Status}, k.Count, k.Sample)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	out := make([]ErrorRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		return frequentFirst(out[i].Count, out[j].Count, out[i].Class, out[j].Class, out[i].Status, out[j].Status)
	})
	return out
}

// SortErrorKinds orders kinds of error most frequent first, then by class
// and status: the order of every error list bestbefore writes.
func SortErrorKinds(ks []ErrorKind) {
	sort.Slice(ks, func(i, j int) bool {
		return frequentFirst(ks[i].Count, ks[j].Count, ks[i].Class, ks[j].Class, ks[i].Status, ks[j].Status)
	})
}

// MergeErrorKinds adds b's kinds of error into a's (shards of one step),
// most frequent first; a kind keeps the first sample found.
func MergeErrorKinds(a, b []ErrorKind) []ErrorKind {
	if len(b) == 0 {
		return a
	}
	out := append([]ErrorKind(nil), a...)
next:
	for _, k := range b {
		for i := range out {
			if out[i].Class == k.Class && out[i].Status == k.Status {
				out[i].Count += k.Count
				if out[i].Sample == "" {
					out[i].Sample = k.Sample
				}
				continue next
			}
		}
		out = append(out, k)
	}
	SortErrorKinds(out)
	return out
}

// frequentFirst orders kinds of error: most frequent first, then by class
// and status.
func frequentFirst(ni, nj int64, ci, cj string, si, sj int) bool {
	if ni != nj {
		return ni > nj
	}
	if ci != cj {
		return ci < cj
	}
	return si < sj
}
