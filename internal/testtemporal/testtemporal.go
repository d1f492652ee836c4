// Package testtemporal starts a real Temporal dev server (the Temporal CLI binary
// that `make test` installs into bin/) for integration tests.
package testtemporal

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/internal/testreq"
)

// SearchAttributes are the custom search attributes the control plane uses; make run
// registers the same.
var SearchAttributes = temporal.NewSearchAttributes(
	temporal.NewSearchAttributeKeyKeyword("AstroOrgID").ValueSet(""),
	temporal.NewSearchAttributeKeyKeyword("AstroClusterName").ValueSet(""),
	temporal.NewSearchAttributeKeyKeyword("AstroOperationType").ValueSet(""),
	temporal.NewSearchAttributeKeyKeyword("AstroProvider").ValueSet(""),
)

// Start starts a dev server in memory for the test and stops it when the test ends.
// Without the CLI the test fails, or skips under testreq.SkipEnv.
func Start(t testing.TB) *testsuite.DevServer {
	t.Helper()
	cli := RequireCLI(t)
	port, err := testreq.Port()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := testsuite.StartDevServer(context.Background(), testsuite.DevServerOptions{
		ExistingPath: cli,
		ClientOptions: &client.Options{Namespace: "default", HostPort: fmt.Sprintf("127.0.0.1:%d", port),
			Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))},
		LogLevel:         "error",
		SearchAttributes: SearchAttributes,
		ExtraArgs:        []string{"--headless"},
		Stdout:           os.Stderr,
		Stderr:           os.Stderr,
	})
	if err != nil {
		t.Fatalf("start temporal dev server: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

// RequireCLI returns the Temporal CLI's path; without it the test fails, or skips
// under testreq.SkipEnv.
func RequireCLI(t testing.TB) string {
	t.Helper()
	cli := CLIPath()
	if cli == "" {
		testreq.Missing(t, "Temporal CLI not found", "run `make tools` (installs it into bin/) or set ASTRO_TEMPORAL_CLI")
	}
	return cli
}

// CLIPath finds the Temporal CLI: ASTRO_TEMPORAL_CLI, or bin/temporal in the
// repository above the working directory.
func CLIPath() string {
	if p := os.Getenv("ASTRO_TEMPORAL_CLI"); p != "" {
		return p
	}
	dir, _ := os.Getwd()
	for dir != "/" && dir != "." {
		p := filepath.Join(dir, "bin", "temporal")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return ""
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

// FileServer is a dev server that keeps its state in a file and listens on a fixed
// port, so that it can be stopped and started again on the same state and address,
// as production restarts its Temporal server.
type FileServer struct {
	cli, db string
	port    int
	mu      sync.Mutex
	srv     *testsuite.DevServer
}

// StartFile starts a dev server on the database file db (created if missing) and a
// port of its own, and stops it when the test ends. Without the CLI the test fails,
// or skips under testreq.SkipEnv.
func StartFile(t testing.TB, db string) *FileServer {
	t.Helper()
	port, err := testreq.Port()
	if err != nil {
		t.Fatal(err)
	}
	f := &FileServer{cli: RequireCLI(t), db: db, port: port}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	return f
}

// Address is the server's frontend host:port, the same across restarts.
func (f *FileServer) Address() string { return fmt.Sprintf("127.0.0.1:%d", f.port) }

// Start starts the server on its file and port; it returns once the server answers.
// Starting a running server does nothing.
func (f *FileServer) Start(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv != nil {
		return nil
	}
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: f.cli, DBFilename: f.db, LogLevel: "error",
		ClientOptions: &client.Options{HostPort: f.Address(), Namespace: "default",
			Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))},
		SearchAttributes: SearchAttributes, ExtraArgs: []string{"--headless"},
		Stdout: os.Stderr, Stderr: os.Stderr,
	})
	if err != nil {
		return fmt.Errorf("start temporal dev server on %s: %w", f.db, err)
	}
	f.srv = srv
	return nil
}

// Stop interrupts the server and waits for it to exit: a second server on the same
// file while the first still runs would corrupt it.
func (f *FileServer) Stop() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv == nil {
		return nil
	}
	srv := f.srv
	f.srv = nil
	srv.Client().Close()
	return srv.Stop()
}

// Restart stops the server and starts it again on the same file and port.
func (f *FileServer) Restart(ctx context.Context) error {
	// An interrupted dev server exits with an error status; it stopped all the same.
	_ = f.Stop()
	return f.Start(ctx)
}
