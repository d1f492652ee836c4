// Package testtemporal starts a real Temporal dev server (the Temporal CLI binary
// that `make test` installs into bin/) for integration tests.
package testtemporal

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
