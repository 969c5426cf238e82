//go:build race

package probe_test

// raceEnabled: the race detector shadows memory, so a child's RSS is
// larger than what it touched.
const raceEnabled = true
