// Package testreq decides what an integration test does when something it needs — the
// Temporal CLI, PostgreSQL, Chromium — is missing from the machine.
//
// By default the test fails, naming what is missing and how to get it: a plain
// `go test ./...` either runs the integration tests or says so loudly, never passes
// with them silently skipped. Setting ASTRO_TEST_SKIP_INTEGRATION=1 turns those
// failures into skips, for a quick unit-only run that knows what it leaves out.
package testreq

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
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

// Port returns a free loopback port for a server the test starts and that binds it
// itself. It is taken below the kernel's ephemeral range (32768 and up on Linux), so
// no outgoing connection or ":0" listener can take it between this check and its use,
// and a server restarted on it finds it free again.
func Port() (int, error) {
	for range 100 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		return port, l.Close()
	}
	return 0, errors.New("no free port in 20000-32000")
}
