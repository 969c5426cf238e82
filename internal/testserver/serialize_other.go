//go:build !unix

package testserver

import "testing"

// Serialize is a no-op where file locks are not available.
func Serialize(t testing.TB) {}
