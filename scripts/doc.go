// Package scripts holds the project's shell scripts (scripts/ci-gate.sh,
// the performance gate) and the tests that keep their plumbing honest; it
// has no code of its own.
package scripts
