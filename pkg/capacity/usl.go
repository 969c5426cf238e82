package capacity

import (
	"errors"
	"fmt"
	"math"
)

// MinMeasurements is the fewest measurements FitUSL accepts: three
// coefficients need at least two more points than unknowns to say
// anything about the fit's quality.
const MinMeasurements = 5

// ErrInsufficientMeasurements is returned by FitUSL when there are too few
// usable measurements.
var ErrInsufficientMeasurements = fmt.Errorf("capacity: need at least %d measurements at distinct concurrency levels to fit the USL", MinMeasurements)

// ErrNoConvergence is returned when the fit cannot find a model.
var ErrNoConvergence = errors.New("capacity: the USL fit did not converge")

// Measurement is one observation: throughput X at concurrency N. For a
// load test step, N is the mean number of requests in flight (Little's law:
// achieved QPS × mean latency in seconds) and X the achieved QPS.
type Measurement struct {
	Concurrency float64
	Throughput  float64
}

// USLModel is the Universal Scalability Law fitted to measurements:
//
//	X(N) = λN / (1 + σ(N−1) + κN(N−1))
//
// σ (Sigma) is contention (the serial share), κ (Kappa) coherency (the
// cost of keeping shared state consistent), λ (Lambda) the throughput of
// one unit of concurrency without interference.
type USLModel struct {
	Sigma, Kappa, Lambda float64
	// R2 is the coefficient of determination of the fit.
	R2 float64
	// MaxMeasured is the largest concurrency among the measurements.
	MaxMeasured float64
	// N is how many measurements were fitted.
	N int
}

// ThroughputAt is the model's throughput at concurrency n.
func (m *USLModel) ThroughputAt(n float64) float64 {
	return m.Lambda * n / (1 + m.Sigma*(n-1) + m.Kappa*n*(n-1))
}

// Peak returns the concurrency at which throughput peaks,
// N* = sqrt((1−σ)/κ), and the throughput there. Without coherency cost
// (κ = 0) throughput never peaks: N* is +Inf and the throughput its
// asymptote λ/σ (+Inf too when σ = 0).
func (m *USLModel) Peak() (concurrency, throughput float64) {
	if m.Kappa <= 0 {
		if m.Sigma <= 0 {
			return math.Inf(1), math.Inf(1)
		}
		return math.Inf(1), m.Lambda / m.Sigma
	}
	n := math.Sqrt((1 - m.Sigma) / m.Kappa)
	return n, m.ThroughputAt(n)
}

// Warnings says when the model should be read with care.
func (m *USLModel) Warnings() []string {
	var w []string
	n, x := m.Peak()
	switch {
	case math.IsInf(n, 1):
		w = append(w, "no coherency cost found (κ = 0): the fit predicts no throughput peak; the measurements do not reach a retrograde region")
	case n > 2*m.MaxMeasured:
		w = append(w, fmt.Sprintf("the predicted peak (%.0f at concurrency %.1f) lies far beyond the measured range (up to %.1f): an extrapolation, not a measurement", x, n, m.MaxMeasured))
	}
	if m.R2 < 0.9 {
		w = append(w, fmt.Sprintf("poor fit (R² = %.2f): the USL does not describe these measurements well", m.R2))
	}
	return w
}

// FitUSL fits the Universal Scalability Law to measurements by nonlinear
// least squares (Levenberg–Marquardt, with σ kept in [0, 1] and κ, λ
// non-negative). Measurements with non-positive concurrency or throughput
// are ignored.
//
// Starting values come from the linearisation λN/X − 1 = σ(N−1) + κN(N−1):
// for a guess of λ (the best throughput per unit of concurrency seen),
// σ and κ follow by linear least squares. A few guesses of λ are tried and
// the fit with the smallest squared error is kept.
func FitUSL(ms []Measurement) (*USLModel, error) {
	var pts []Measurement
	distinct := map[float64]bool{}
	maxN := 0.0
	for _, m := range ms {
		if !(m.Concurrency > 0) || !(m.Throughput > 0) || math.IsInf(m.Concurrency, 0) || math.IsInf(m.Throughput, 0) {
			continue
		}
		pts = append(pts, m)
		distinct[m.Concurrency] = true
		maxN = max(maxN, m.Concurrency)
	}
	if len(distinct) < MinMeasurements {
		return nil, ErrInsufficientMeasurements
	}
	bestEff := 0.0
	for _, p := range pts {
		bestEff = max(bestEff, p.Throughput/p.Concurrency)
	}
	var best *USLModel
	bestSSR := math.Inf(1)
	for _, scale := range []float64{1, 1.1, 1.5, 2, 4} {
		start := linearStart(pts, bestEff*scale)
		m, ssr := levenbergMarquardt(pts, start)
		if ssr < bestSSR {
			best, bestSSR = m, ssr
		}
	}
	if best == nil || math.IsNaN(bestSSR) {
		return nil, ErrNoConvergence
	}
	var mean float64
	for _, p := range pts {
		mean += p.Throughput
	}
	mean /= float64(len(pts))
	var sst float64
	for _, p := range pts {
		sst += (p.Throughput - mean) * (p.Throughput - mean)
	}
	best.R2 = 1
	if sst > 0 {
		best.R2 = 1 - bestSSR/sst
	}
	best.MaxMeasured = maxN
	best.N = len(pts)
	return best, nil
}

// linearStart solves λN/X − 1 = σ(N−1) + κN(N−1) for σ, κ by least squares.
func linearStart(pts []Measurement, lambda float64) [3]float64 {
	var a11, a12, a22, b1, b2 float64
	for _, p := range pts {
		u := p.Concurrency - 1
		v := p.Concurrency * (p.Concurrency - 1)
		y := lambda*p.Concurrency/p.Throughput - 1
		a11 += u * u
		a12 += u * v
		a22 += v * v
		b1 += u * y
		b2 += v * y
	}
	sigma, kappa := 0.0, 0.0
	if det := a11*a22 - a12*a12; det != 0 {
		sigma = (b1*a22 - b2*a12) / det
		kappa = (a11*b2 - a12*b1) / det
	}
	sigma = math.Min(math.Max(sigma, 0), 1)
	if kappa < 0 || math.IsNaN(kappa) {
		kappa = 0
	}
	return [3]float64{sigma, kappa, lambda}
}

func sumSquares(pts []Measurement, p [3]float64) float64 {
	m := USLModel{Sigma: p[0], Kappa: p[1], Lambda: p[2]}
	var s float64
	for _, q := range pts {
		r := q.Throughput - m.ThroughputAt(q.Concurrency)
		s += r * r
	}
	return s
}

func clampParams(p [3]float64) [3]float64 {
	p[0] = math.Min(math.Max(p[0], 0), 1)
	p[1] = math.Max(p[1], 0)
	p[2] = math.Max(p[2], 1e-300)
	return p
}

// levenbergMarquardt minimises the squared error from start, projecting
// each step onto the bounds. It returns the model and its squared error.
func levenbergMarquardt(pts []Measurement, start [3]float64) (*USLModel, float64) {
	p := clampParams(start)
	ssr := sumSquares(pts, p)
	mu := 1e-3
	for iter := 0; iter < 500; iter++ {
		var jtj [3][3]float64
		var jtr [3]float64
		for _, q := range pts {
			n := q.Concurrency
			d := 1 + p[0]*(n-1) + p[1]*n*(n-1)
			x := p[2] * n / d
			r := q.Throughput - x
			j := [3]float64{
				-p[2] * n * (n - 1) / (d * d),     // ∂X/∂σ
				-p[2] * n * n * (n - 1) / (d * d), // ∂X/∂κ
				n / d,                             // ∂X/∂λ
			}
			for a := range 3 {
				jtr[a] += j[a] * r
				for b := range 3 {
					jtj[a][b] += j[a] * j[b]
				}
			}
		}
		improved := false
		for try := 0; try < 30; try++ {
			var A [3][3]float64
			for a := range 3 {
				for b := range 3 {
					A[a][b] = jtj[a][b]
				}
				A[a][a] += mu * math.Max(jtj[a][a], 1e-300)
			}
			delta, ok := solve3(A, jtr)
			if !ok {
				mu *= 10
				continue
			}
			next := clampParams([3]float64{p[0] + delta[0], p[1] + delta[1], p[2] + delta[2]})
			nssr := sumSquares(pts, next)
			if nssr < ssr {
				rel := (ssr - nssr) / math.Max(ssr, 1e-300)
				p, ssr = next, nssr
				mu = math.Max(mu/10, 1e-12)
				improved = true
				if rel < 1e-14 {
					return &USLModel{Sigma: p[0], Kappa: p[1], Lambda: p[2]}, ssr
				}
				break
			}
			mu *= 10
		}
		if !improved {
			break
		}
	}
	return &USLModel{Sigma: p[0], Kappa: p[1], Lambda: p[2]}, ssr
}

// solve3 solves A x = b by Gaussian elimination with partial pivoting.
func solve3(A [3][3]float64, b [3]float64) ([3]float64, bool) {
	for c := range 3 {
		piv := c
		for r := c + 1; r < 3; r++ {
			if math.Abs(A[r][c]) > math.Abs(A[piv][c]) {
				piv = r
			}
		}
		if A[piv][c] == 0 || math.IsNaN(A[piv][c]) {
			return [3]float64{}, false
		}
		A[c], A[piv] = A[piv], A[c]
		b[c], b[piv] = b[piv], b[c]
		for r := c + 1; r < 3; r++ {
			f := A[r][c] / A[c][c]
			for k := c; k < 3; k++ {
				A[r][k] -= f * A[c][k]
			}
			b[r] -= f * b[c]
		}
	}
	var x [3]float64
	for r := 2; r >= 0; r-- {
		s := b[r]
		for k := r + 1; k < 3; k++ {
			s -= A[r][k] * x[k]
		}
		x[r] = s / A[r][r]
	}
	return x, true
}
