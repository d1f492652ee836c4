// Command astroctl drives the Astro Plane API from the command line: log in, apply
// the users' manifests (clusters, application profiles, applications), watch the
// operations they start, and read what exists. `astroctl --help` lists the commands
// and the exit codes; docs/cli.md has examples.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the process's exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// Ctrl-C cancels ctx: a wait detaches (the operation carries on) and says so.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp(stdin, stdout, stderr)
	root := app.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	var quiet *silentError
	if !errors.As(err, &quiet) {
		fmt.Fprintln(stderr, "Error: "+err.Error())
	}
	return code
}
