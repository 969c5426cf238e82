package sweep

import (
	"context"
	"errors"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/pace"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// ClosedLoop measures a target's raw capacity: conns connections, each
// sending the scenario's traffic back to back (its next request when its
// last is answered) for dur after warmup. The targets, traffic, guard,
// checks and accounting are a run's own. The step it returns is phase
// PhaseClosed, its offered rate the rate it achieved: there was no
// schedule, and its latency is from each request's actual send.
func ClosedLoop(ctx context.Context, cfg Config, conns int, warmup, dur time.Duration) (*result.Step, error) {
	if cfg.Stepper != nil {
		return nil, errors.New("sweep: a closed loop needs real targets")
	}
	stepper, prov, _, closeAll, err := prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	atk, ok := stepper.(*attack.Attacker)
	if !ok {
		return nil, errors.New("sweep: a closed loop needs the attacker")
	}
	feed := &attack.RateFeed{Arrivals: pace.NewConstant(1), Provider: prov}
	ss, err := atk.Closed(ctx, feed, conns, attack.StepSpec{Duration: warmup + dur, Warmup: warmup, Interval: cfg.Scenario.Load.Interval.D()})
	if ss == nil {
		return nil, err
	}
	st := BuildStep(0, PhaseClosed, 0, ss, StepResources{}, cfg.Scenario.Monitor.MaxSendLag.D())
	st.OfferedQPS = st.AchievedQPS
	return &st, err
}

// PhaseClosed is the phase of a closed-loop step (ClosedLoop).
const PhaseClosed = "closed"
