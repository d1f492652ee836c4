package testreq

import (
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// recorder stands in for a test, noting whether Missing failed or skipped it; like a
// test's, its Fatalf and Skipf end the goroutine.
type recorder struct {
	testing.TB
	failed, skipped string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, a ...any) {
	r.failed = fmt.Sprintf(format, a...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, a ...any) {
	r.skipped = fmt.Sprintf(format, a...)
	runtime.Goexit()
}

// missing runs Missing as a test body would.
func missing(what, how string) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Missing(r, what, how)
	}()
	<-done
	return r
}

func TestMissingFailsUnlessSkipIsAskedFor(t *testing.T) {
	t.Setenv(SkipEnv, "")
	r := missing("Temporal CLI not found", "run make tools")
	if r.failed == "" || r.skipped != "" {
		t.Fatalf("by default: failed %q, skipped %q; want a failure", r.failed, r.skipped)
	}
	for _, want := range []string{"Temporal CLI not found", "run make tools", SkipEnv + "=1"} {
		if !strings.Contains(r.failed, want) {
			t.Errorf("failure %q lacks %q", r.failed, want)
		}
	}

	t.Setenv(SkipEnv, "1")
	if r = missing("Temporal CLI not found", "run make tools"); r.skipped == "" || r.failed != "" {
		t.Fatalf("with %s=1: failed %q, skipped %q; want a skip", SkipEnv, r.failed, r.skipped)
	}
}

func TestPortIsFreeAndBelowTheEphemeralRange(t *testing.T) {
	port, err := Port()
	if err != nil {
		t.Fatal(err)
	}
	if port < 20000 || port >= 32000 {
		t.Fatalf("port %d outside 20000-32000", port)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("port %d is not free: %v", port, err)
	}
	_ = l.Close()
}
