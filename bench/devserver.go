package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// devServer is a Temporal dev server started with make run's flags, and a client of it.
type devServer struct {
	cmd    *exec.Cmd
	tc     client.Client
	addr   string
	logf   *os.File
	exited chan struct{}
}

// runScriptArgs reads the `bin/temporal server start-dev …` command of scripts/run.sh
// (make run) and returns its arguments after the binary, with the script's
// variables replaced by vars and the output redirections dropped. The benchmark's
// server is therefore the server make run starts, flag for flag (file store, SQLite
// pragmas, log level, search attributes); a variable the script uses there that vars
// does not name is an error, so a new setting cannot be skipped silently.
func runScriptArgs(script string, vars map[string]string) ([]string, error) {
	raw, err := os.ReadFile(script) //nolint:gosec // the script named by -run-script is read on purpose
	if err != nil {
		return nil, err
	}
	joined := strings.ReplaceAll(string(raw), "\\\n", " ")
	var line string
	for l := range strings.SplitSeq(joined, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "bin/temporal ") && strings.Contains(t, " server start-dev") {
			line = t
			break
		}
	}
	if line == "" {
		return nil, fmt.Errorf("%s: no `bin/temporal server start-dev` command", script)
	}
	words, err := shellWords(line)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", script, err)
	}
	var args []string
	for _, w := range words[1:] {
		if strings.HasPrefix(w, ">") || strings.HasPrefix(w, "2>") || w == "&" {
			break
		}
		v, err := expand(w, vars)
		if err != nil {
			return nil, fmt.Errorf("%s: start-dev argument %q: %w", script, w, err)
		}
		args = append(args, v)
	}
	return args, nil
}

// shellWords splits a command line as the shell would for the quoting run.sh uses:
// blanks separate words, single quotes keep text as it is, double quotes keep blanks.
// Variables stay unexpanded ($NAME, ${NAME}) for expand.
func shellWords(line string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // a word has started (it may be empty: "")
		quote rune
	)
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words, in = append(words, cur.String()), false
				cur.Reset()
			}
		case r == '#' && !in:
			return words, nil // a comment ends the line
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// expand replaces $NAME and ${NAME} in w by vars[NAME]; a name vars lacks is an error.
func expand(w string, vars map[string]string) (string, error) {
	var missing []string
	out := os.Expand(w, func(name string) string {
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("uses $%s, which the benchmark does not set", strings.Join(missing, ", $"))
	}
	return out, nil
}

// freePort returns a free loopback port below the kernel's ephemeral range (as
// internal/testreq.Port does), so no outgoing connection takes it before the server
// binds it.
func freePort(ctx context.Context) (int, error) {
	for range 100 {
		port := 20000 + rand.IntN(12000) //nolint:gosec // a port number, not a secret
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		return port, l.Close()
	}
	return 0, errors.New("no free port in 20000-32000")
}

// startDevServer starts the Temporal CLI's dev server with make run's arguments (from
// script) in dir, with its own ports, and dials it. It returns the server and its
// arguments as run.
func startDevServer(ctx context.Context, cli, script, dir string) (*devServer, []string, error) {
	port, err := freePort(ctx)
	if err != nil {
		return nil, nil, err
	}
	uiPort, err := freePort(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, err
	}
	args, err := runScriptArgs(script, map[string]string{
		"DATA": dir, "TEMPORAL_PORT": strconv.Itoa(port), "TEMPORAL_UI_PORT": strconv.Itoa(uiPort),
	})
	if err != nil {
		return nil, nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "temporal.log")) //nolint:gosec // a file in the benchmark's own directory
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(cli, args...) //nolint:gosec,noctx // the CLI named by -temporal with make run's flags is the point; stopped by stop(), not by a context
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, nil, fmt.Errorf("start %s: %w", cli, err)
	}
	d := &devServer{cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port), logf: logf, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.exited) }()
	if d.tc, err = d.dial(ctx); err != nil {
		d.stop()
		return nil, nil, fmt.Errorf("temporal dev server (log in %s): %w", logf.Name(), err)
	}
	return d, args, nil
}

// dial connects to the server once it answers health checks and knows the default
// namespace.
func (d *devServer) dial(ctx context.Context) (client.Client, error) {
	// Stopping the worker of (b) cancels its hour-long activities; that noise is expected.
	quiet := tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	deadline := time.Now().Add(30 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return nil, errors.New("exited during start")
		case <-time.After(100 * time.Millisecond):
		}
		tc, err := client.Dial(client.Options{HostPort: d.addr, Namespace: "default", Logger: quiet})
		if err != nil {
			lastErr = err
			continue
		}
		if _, err = tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err == nil {
			_, err = tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
		}
		if err == nil {
			return tc, nil
		}
		lastErr = err
		tc.Close()
	}
	return nil, fmt.Errorf("not ready in 30s: %w", lastErr)
}

// stop closes the client and stops the server, waiting for it to exit (a second
// server on the same file would corrupt it).
func (d *devServer) stop() {
	if d.tc != nil {
		d.tc.Close()
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
	_ = d.logf.Close()
}
