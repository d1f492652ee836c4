// Package testreq decides what an integration test does when something it needs — the
// Temporal CLI, PostgreSQL, Chromium — is missing from the machine.
//
// By default the test fails, naming what is missing and how to get it: a plain
// `go test ./...` either runs the integration tests or says so loudly, never passes
// with them silently skipped. Setting ASTRO_TEST_SKIP_INTEGRATION=1 turns those
// failures into skips, for a quick unit-only run that knows what it leaves out.
package testreq

import (
	"os"
	"testing"
)

// SkipEnv is the variable that lets integration tests skip instead of fail when what
// they need is missing.
const SkipEnv = "ASTRO_TEST_SKIP_INTEGRATION"

// Missing stops the test because what it needs is missing: it fails, or skips when
// SkipEnv is 1. how says how to get it.
func Missing(t testing.TB, what, how string) {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("%s: skipped (%s=1); %s", what, SkipEnv, how)
	}
	t.Fatalf("%s; %s, or set %s=1 to skip the integration tests", what, how, SkipEnv)
}
