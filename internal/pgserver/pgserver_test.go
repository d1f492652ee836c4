package pgserver_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/internal/pgserver"
	"github.com/astropulse/astroplane/internal/testreq"
)

// PID names the running postmaster, and nothing once the server is down.
func TestPIDIsThePostmasters(t *testing.T) {
	port, err := testreq.Port()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pgserver.Start(t.Context(), pgserver.Options{BinDir: os.Getenv("ASTRO_TEST_POSTGRES_BIN"), Port: port, Settings: []string{"fsync=off"}})
	if err != nil {
		testreq.Missing(t, "PostgreSQL not available: "+err.Error(), "install its server binaries (`make tools`)")
	}
	defer srv.Stop()
	pid, err := srv.PID()
	if err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	if args := strings.Split(string(cmdline), "\x00"); !strings.HasSuffix(args[0], "postgres") || !strings.Contains(string(cmdline), "-D") {
		t.Fatalf("process %d is %q, not a postmaster", pid, args)
	}
	if err := srv.Down(); err != nil {
		t.Fatal(err)
	}
	if pid, err := srv.PID(); err == nil {
		t.Fatalf("PID %d of a server that is down", pid)
	}
}
