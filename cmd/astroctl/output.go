package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// table is rows under a header; wide columns are shown with -o wide only.
type table struct {
	header []string
	wide   []string
	rows   [][]string // each row: header's columns, then wide's
}

func (a *app) checkOutput() error {
	switch a.output {
	case "table", "wide", "json", "yaml":
		return nil
	}
	return withCode(exitValidation, fmt.Errorf("-o %s: one of table, wide, json, yaml", a.output))
}

// outputSession checks -o, then opens the session: what a command that prints an
// answer does first.
func (a *app) outputSession() (*session, error) {
	if err := a.checkOutput(); err != nil {
		return nil, err
	}
	return a.session()
}

// print writes raw (the API's data, JSON) as -o asks: json and yaml as the API answered
// it, table and wide as t.
func (a *app) print(raw json.RawMessage, t table) error {
	switch a.output {
	case "json":
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		out, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(a.stdout, string(out))
		return err
	case "yaml":
		out, err := yaml.JSONToYAML(raw)
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(out)
		return err
	}
	return a.printTable(a.stdout, t)
}

// getOrList prints the resource args name (one's answer), or when args name none the
// list (list's answer), as -o asks; show makes the table of either.
func getOrList[T any](a *app, cmd *cobra.Command, args []string,
	one func(ctx context.Context, s *session, name string) (response, []byte, error),
	list func(ctx context.Context, s *session) (response, []byte, error),
	show func(...T) table) error {
	s, err := a.outputSession()
	if err != nil {
		return err
	}
	if len(args) == 1 {
		x, raw, err := decode[T](one(cmd.Context(), s, args[0]))
		if err != nil {
			return err
		}
		return a.print(raw, show(x))
	}
	xs, raw, err := decode[[]T](list(cmd.Context(), s))
	if err != nil {
		return err
	}
	return a.print(raw, show(xs...))
}

func (a *app) printTable(w io.Writer, t table) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	n := len(t.header)
	head := t.header
	if a.output == "wide" {
		head = append(append([]string{}, t.header...), t.wide...)
		n = len(head)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range t.rows {
		if len(r) > n {
			r = r[:n]
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// age is how long ago t was, kubectl-style: 45s, 12m, 3h, 5d.
func age(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// paint colours s with the ANSI code when on a terminal.
func (a *app) paint(code, s string) string {
	if !a.color() {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// statusColor colours a status: green done, red failed, yellow in progress.
func (a *app) statusColor(s string) string {
	switch s {
	case "READY", "SUCCEEDED", "Healthy", "Synced", "CONNECTED", "active":
		return a.paint("32", s)
	case "FAILED", "CANCELLED", "REJECTED", "EXPIRED", "Degraded", "revoked", "expired":
		return a.paint("31", s)
	}
	return a.paint("33", s)
}
