package history

import (
	"context"
	"errors"
	"fmt"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// ErrNoBaseline is a store that holds no run a comparison can take as
// its baseline.
var ErrNoBaseline = errors.New("no baseline in the history")

// noBaseline says which runs were looked for; it is ErrNoBaseline.
type noBaseline struct{ msg string }

func (e noBaseline) Error() string        { return e.msg }
func (e noBaseline) Is(target error) bool { return target == ErrNoBaseline }

// Baseline loads the baseline of a comparison from the store: the last n
// completed runs of the candidate's scenario on branch, on the
// candidate's machine, leaving out the candidate's own runs (candIDs),
// with the names that cite them (store#id).
func (s *Store) Baseline(ctx context.Context, cand *result.Result, candIDs map[string]bool, branch string, n int) ([]*result.Result, []string, error) {
	machine := Machine(cand.Manifest)
	runs, err := s.List(ctx, Filter{Scenario: cand.Name, Machine: machine, Branch: branch, Status: result.StatusCompleted})
	if err != nil {
		return nil, nil, err
	}
	var out []*result.Result
	var ids []string
	for _, r := range runs {
		if len(out) == n {
			break
		}
		if candIDs[r.ID] {
			continue
		}
		res, err := s.Result(ctx, r.ID)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, res)
		ids = append(ids, s.Name()+"#"+ShortID(r.ID))
	}
	if len(out) == 0 {
		return nil, nil, noBaseline{fmt.Sprintf("no completed run of scenario %q on branch %s on %s in %s; store some with bestbefore history add", cand.Name, branch, machine, s.Name())}
	}
	return out, ids, nil
}
