package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/astropulse/astroplane/internal/testreq"
	"github.com/astropulse/astroplane/internal/teststack"
	"github.com/astropulse/astroplane/internal/testtemporal"
)

// makeRun starts `make run` in the repository in its own process group, on ports of
// its own and a data folder of the test's, and returns its command and output.
func makeRun(t *testing.T, env ...string) (*exec.Cmd, *teststack.Log) {
	t.Helper()
	cmd := exec.Command("make", "--no-print-directory", "run")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), append([]string{"ASTRO_DATA_DIR=" + t.TempDir()}, env...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := teststack.NewLog()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return cmd, out
}

func ports(t *testing.T, n int) []string {
	t.Helper()
	var ps []string
	for range n {
		ps = append(ps, fmt.Sprint(stablePort(t)))
	}
	return ps
}

// A second `make run` on a busy port says so before building anything.
func TestMakeRunRefusesABusyPortBeforeBuilding(t *testing.T) {
	testtemporal.RequireCLI(t) // make run would otherwise install it first
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	p := ports(t, 2)
	cmd, out := makeRun(t, "TEMPORAL_PORT="+p[0], "TEMPORAL_UI_PORT="+p[1], fmt.Sprintf("ASTRO_HTTP_ADDR=127.0.0.1:%d", port))
	err = cmd.Wait()
	if err == nil {
		t.Fatalf("make run on a busy port succeeded:\n%s", out)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("Port %d is already in use", port)) {
		t.Fatalf("no word of the busy port:\n%s", out)
	}
	if strings.Contains(out.String(), "go build") {
		t.Fatalf("built before noticing the busy port:\n%s", out)
	}
}

// Ctrl-C (SIGINT to the whole foreground group, as a terminal sends it) stops the
// stack with one "Stopping…" and no warnings.
func TestMakeRunStopsCleanlyOnCtrlC(t *testing.T) {
	testtemporal.RequireCLI(t)
	if _, err := exec.LookPath("curl"); err != nil {
		testreq.Missing(t, "curl not found", "install curl (make run waits for the API with it)")
	}
	p := ports(t, 3)
	cmd, out := makeRun(t, "TEMPORAL_PORT="+p[0], "TEMPORAL_UI_PORT="+p[1], "ASTRO_HTTP_ADDR=127.0.0.1:"+p[2])
	deadline := time.Now().Add(5 * time.Minute)
	for !strings.Contains(out.String(), "Ctrl-C stops everything") {
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("make run did not come up:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	before := len(out.String())
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		// make itself dies of the SIGINT, as programs do on Ctrl-C; anything else is a
		// failure of the stack's shutdown.
		var exit *exec.ExitError
		if err != nil && !(errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT) {
			t.Errorf("make run ended with %v after Ctrl-C, want a clean exit or SIGINT", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("make run did not stop on Ctrl-C:\n%s", out)
	}
	tail := out.String()[before:]
	if n := strings.Count(tail, "Stopping…"); n != 1 {
		t.Errorf("%d × Stopping… after Ctrl-C:\n%s", n, tail)
	}
	for _, bad := range []string{"WARN", "ERROR", "warning", "Terminated", "Interrupt", "***"} {
		if strings.Contains(tail, bad) {
			t.Errorf("%q after Ctrl-C:\n%s", bad, tail)
		}
	}
	if !bytes.Contains([]byte(tail), []byte("Stopped.")) {
		t.Errorf("no Stopped. after Ctrl-C:\n%s", tail)
	}
}

// `make help` lists every documented target, wrapped to 80 columns.
func TestMakeHelpListsEveryTargetWithin80Columns(t *testing.T) {
	out, err := exec.Command("make", "--no-print-directory", "-C", "..", "help").CombinedOutput()
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("line of %d columns: %q", n, line)
		}
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(makefile), "\n") {
		target, _, documented := strings.Cut(line, ": ")
		if documented && strings.Contains(line, " ## ") && !strings.ContainsAny(target, " \t$") &&
			!strings.Contains(string(out), "  "+target+" ") {
			t.Errorf("target %q missing from make help:\n%s", target, out)
		}
	}
}
