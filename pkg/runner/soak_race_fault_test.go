//go:build race

package runner_test

// raceEnabled is true under -race, whose shadow memory inflates RSS.
const raceEnabled = true
