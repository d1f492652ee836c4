package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/internal/testreq"
)

// The dev server gets make run's start-dev arguments, flag for flag, with the
// benchmark's directory and ports.
func TestRunScriptArgsAreMakeRuns(t *testing.T) {
	vars := map[string]string{"DATA": "/tmp/d", "TEMPORAL_PORT": "21001", "TEMPORAL_UI_PORT": "21002"}
	args, err := runScriptArgs("../scripts/run.sh", vars)
	require.NoError(t, err)
	line := strings.Join(args, " ")
	require.True(t, strings.HasPrefix(line, "server start-dev "), line)
	for _, want := range []string{
		"--db-filename /tmp/d/temporal.db", "--port 21001", "--ui-port 21002",
		"--sqlite-pragma journal_mode=wal", "--sqlite-pragma synchronous=normal",
		"--search-attribute AstroOrgID=Keyword", "--search-attribute AstroProvider=Keyword",
	} {
		require.Contains(t, line, want)
	}
	for _, a := range args {
		require.NotContains(t, a, "$")
		require.NotContains(t, a, ">")
	}
}

func TestRunScriptArgsRefuseUnknownVariables(t *testing.T) {
	script := filepath.Join(t.TempDir(), "run.sh")
	body := "#!/bin/sh\nbin/temporal server start-dev \\\n  --db-filename \"$DATA/t.db\" --port \"${NEW_KNOB}\" > log 2>&1 &\n"
	require.NoError(t, os.WriteFile(script, []byte(body), 0o600))
	_, err := runScriptArgs(script, map[string]string{"DATA": "/d"})
	require.ErrorContains(t, err, "$NEW_KNOB")

	args, err := runScriptArgs(script, map[string]string{"DATA": "/d", "NEW_KNOB": "1"})
	require.NoError(t, err)
	require.Equal(t, []string{"server", "start-dev", "--db-filename", "/d/t.db", "--port", "1"}, args)
}

func TestShellWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`a  "b c" 'd $e' ""`, []string{"a", "b c", "d $e", ""}},
		{`a b # c d`, []string{"a", "b"}},
		{`x=a#b`, []string{"x=a#b"}},
	} {
		got, err := shellWords(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	_, err := shellWords(`a "b`)
	require.Error(t, err)
}

func TestSpread(t *testing.T) {
	s := spreadOf([]float64{1.4, 1.0, 1.2, 1.8, 1.6})
	require.InDelta(t, 1.4, s.Median, 1e-9)
	require.InDelta(t, 1.2, s.Q1, 1e-9)
	require.InDelta(t, 1.6, s.Q3, 1e-9)
	require.InDelta(t, 1.0, s.Min, 1e-9)
	require.InDelta(t, 1.8, s.Max, 1e-9)
	require.Equal(t, []float64{1.4, 1.0, 1.2, 1.8, 1.6}, s.Rounds, "rounds stay in their order")

	even := spreadOf([]float64{2, 1})
	require.InDelta(t, 1.5, even.Median, 1e-9)
	require.Zero(t, spreadOf(nil).Median)
}

// A -pg-setting is name=value that pg_ctl's option line can carry (it splits on
// spaces); it reaches the server the benchmark starts, which otherwise keeps
// PostgreSQL's durable defaults.
func TestPGSettingsReachTheServer(t *testing.T) {
	var c config
	for _, bad := range []string{"fsync", "=off", "fsync=o ff", "a='b'", `a="b"`, "a=\tb"} {
		require.Error(t, c.addPGSetting(bad), bad)
	}
	require.NoError(t, c.addPGSetting("fsync=off"))
	require.NoError(t, c.addPGSetting("work_mem=7MB"))
	require.Equal(t, []string{"fsync=off", "work_mem=7MB"}, c.pgSettings)

	show := func(pg *postgres, name string) string {
		db, err := sql.Open("pgx", pg.adminURL)
		require.NoError(t, err)
		defer db.Close()
		var v string
		require.NoError(t, db.QueryRowContext(t.Context(), "SHOW "+name).Scan(&v))
		return v
	}
	bin := os.Getenv("ASTRO_TEST_POSTGRES_BIN")
	pg, err := startPostgres(t.Context(), bin, c.pgSettings)
	if err != nil {
		testreq.Missing(t, "PostgreSQL not available: "+err.Error(), "install its server binaries (`make tools`)")
	}
	defer pg.close(context.WithoutCancel(t.Context()))
	require.Equal(t, "off", show(pg, "fsync"))
	require.Equal(t, "7MB", show(pg, "work_mem"))

	durable, err := startPostgres(t.Context(), bin, nil)
	require.NoError(t, err)
	defer durable.close(context.WithoutCancel(t.Context()))
	require.Equal(t, "on", show(durable, "fsync"), "no setting: PostgreSQL's durable default")
	require.Equal(t, "on", show(durable, "synchronous_commit"))
}
