// Package examples holds the CI examples shipped with bestbefore (a GitHub
// Actions workflow and a plain shell gate) and the tests that keep them
// working; it has no code of its own.
package examples
