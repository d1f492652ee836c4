package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasAnExample: `--help` of every command astroctl runs shows how.
func TestEveryCommandHasAnExample(t *testing.T) {
	root := newApp(strings.NewReader(""), io.Discard, io.Discard).rootCommand()
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Runnable() && !c.Hidden && c.Name() != "help" && !strings.HasPrefix(c.CommandPath(), "astroctl completion") && !strings.HasPrefix(c.CommandPath(), "astroctl infra") {
			n++
			if strings.TrimSpace(c.Example) == "" {
				t.Errorf("%s: no example in --help", c.CommandPath())
			}
		}
	}
	walk(root)
	if n < 30 {
		t.Fatalf("only %d commands walked", n)
	}
}
