package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
)

// pollInterval is how often a wait polls when the WebSocket stream is unavailable.
var pollInterval = 2 * time.Second

// terminal reports whether an operation status is final.
func terminal(s apiclient.ClusterOperationStatus) bool {
	switch s {
	case apiclient.ClusterOperationStatusSUCCEEDED, apiclient.ClusterOperationStatusFAILED, apiclient.ClusterOperationStatusCANCELLED,
		apiclient.ClusterOperationStatusREJECTED, apiclient.ClusterOperationStatusEXPIRED:
		return true
	}
	return false
}

// wait follows the cluster's operation (opID; empty: its latest) to its end, showing
// progress, and returns an error carrying the exit code unless it SUCCEEDED. Ctrl-C
// (ctx cancelled) and timeout detach without cancelling.
func (a *app) wait(ctx context.Context, s *session, cluster, opID string, timeout time.Duration) error {
	parent := ctx
	ctx, cancel := bounded(ctx, timeout)
	defer cancel()
	r := &renderer{a: a, live: isTerminal(a.stdout)}
	var p *apiclient.ClusterProgress
	err := errors.New("ASTROCTL_PROGRESS=poll")
	if os.Getenv("ASTROCTL_PROGRESS") != "poll" {
		p, err = a.stream(ctx, s, cluster, opID, r)
	}
	var f *fatal
	if errors.As(err, &f) {
		return f.err
	}
	if err != nil && ctx.Err() == nil {
		// No stream (an older server, a proxy without WebSocket) or it broke: poll.
		fmt.Fprintf(a.stderr, "(progress stream unavailable: %v; polling every %s)\n", err, pollInterval)
		p, err = a.poll(ctx, s, cluster, opID, r)
	}
	r.done()
	if ctx.Err() != nil {
		op := opID
		if p != nil {
			op = p.OperationId
		}
		how := fmt.Sprintf("Re-attach: astroctl clusters progress %s --watch --operation %s\nCancel:    astroctl clusters cancel %s", cluster, op, cluster)
		if parent.Err() != nil {
			fmt.Fprintf(a.stderr, "\nDetached: operation %s on cluster %s carries on.\n%s\n", op, cluster, how)
		} else {
			fmt.Fprintf(a.stderr, "Stopped waiting after %s: operation %s on cluster %s carries on.\n%s\n", timeout, op, cluster, how)
		}
		return stoppedCode(parent)
	}
	if err != nil {
		return err
	}
	return a.outcome(cluster, p)
}

// bounded is ctx bounded by timeout; 0: not bounded.
func bounded(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	return ctx, func() {}
}

// stoppedCode is the exit of a wait that stopped while its operation carries on:
// Ctrl-C (parent, the command's context, ended) detached; else --timeout passed.
func stoppedCode(parent context.Context) error {
	if parent.Err() != nil {
		return &silentError{exitDetached}
	}
	return &silentError{exitRunning}
}

// pollUntil calls check every pollInterval, for timeout at most (0: no bound), until
// it says done, and returns what it returned then. A check that is not done returns
// the error of a read that failed: the wait ends with it, unless the wait has stopped
// meanwhile. When the wait stops first (Ctrl-C, timeout), stopped is said on stderr and
// the exit code tells which (stoppedCode).
func (a *app) pollUntil(ctx context.Context, timeout time.Duration, stopped string, check func(ctx context.Context) (done bool, err error)) error {
	parent := ctx
	ctx, cancel := bounded(ctx, timeout)
	defer cancel()
	for {
		done, err := check(ctx)
		if done {
			return err
		}
		if err != nil && ctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(a.stderr, stopped)
			return stoppedCode(parent)
		case <-time.After(pollInterval):
		}
	}
}

// showChange prints line, indented, unless it is *last; then it is *last.
func (a *app) showChange(last *string, line string) {
	if line != *last {
		*last = line
		fmt.Fprintf(a.stdout, "  %s\n", line)
	}
}

// accepted reports an operation the API accepted (line, on stdout) and waits for it,
// unless --no-wait: then follow says on stderr how to follow it.
func (a *app) accepted(line, follow string, wf waitFlags, wait func(timeout time.Duration) error) error {
	fmt.Fprintln(a.stdout, line)
	if wf.noWait {
		fmt.Fprintln(a.stderr, follow)
		return nil
	}
	return wait(wf.timeout)
}

// outcome reports a final progress and returns its exit code.
func (a *app) outcome(cluster string, p *apiclient.ClusterProgress) error {
	msg := str(p.Message)
	line := fmt.Sprintf("cluster/%s: %s %s", cluster, p.OperationType, a.statusColor(string(p.Status)))
	if msg != "" {
		line += ": " + msg
	}
	if p.Status == apiclient.ClusterOperationStatusSUCCEEDED {
		fmt.Fprintln(a.stdout, line)
		return nil
	}
	for _, s := range p.Steps {
		if s.Status == apiclient.ClusterProgressStepStatusFAILED {
			line += fmt.Sprintf("\n  step %s failed: %s", s.Name, str(s.Message))
		}
	}
	if p.LeftBehind != nil {
		for _, l := range *p.LeftBehind {
			line += fmt.Sprintf("\n  left behind: %s (%s: %s)", l.Resource, l.Step, l.Error)
		}
	}
	fmt.Fprintln(a.stderr, line)
	return &silentError{exitFailed}
}

// stream follows the WebSocket progress stream until the operation ends.
func (a *app) stream(ctx context.Context, s *session, cluster, opID string, r *renderer) (*apiclient.ClusterProgress, error) {
	u, err := url.Parse(strings.TrimRight(s.ctx.Server, "/") + "/api/v1/clusters/" + url.PathEscape(cluster) + "/progress/stream")
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	if opID != "" {
		u.RawQuery = url.Values{"operationId": {opID}}.Encode()
	}
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPHeader: s.headers(),
	})
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 && resp.StatusCode != http.StatusUpgradeRequired && resp.StatusCode != http.StatusNotImplemented {
			// The API refused (no such cluster, forbidden): polling would too.
			var body []byte
			if resp.Body != nil {
				body = readAll(resp)
			}
			return nil, &fatal{newAPIError(resp.StatusCode, body)}
		}
		return nil, err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(4 << 20)
	var last *apiclient.ClusterProgress
	for {
		var ev apiclient.ClusterProgressEvent
		if err := wsjson.Read(ctx, conn, &ev); err != nil {
			if last != nil && terminal(last.Status) {
				return last, nil
			}
			return last, fmt.Errorf("progress stream ended: %w", err)
		}
		switch ev.Type {
		case apiclient.ClusterProgressEventTypeError:
			return last, errors.New(str(ev.Error))
		case apiclient.ClusterProgressEventTypeProgress, apiclient.ClusterProgressEventTypeCompleted:
			if ev.Progress != nil {
				last = ev.Progress
				r.show(last)
			}
			if ev.Type == apiclient.ClusterProgressEventTypeCompleted && last != nil {
				_ = conn.Close(websocket.StatusNormalClosure, "")
				return last, nil
			}
		}
	}
}

// fatal is an error no fallback can help with.
type fatal struct{ err error }

func (f *fatal) Error() string { return f.err.Error() }
func (f *fatal) Unwrap() error { return f.err }

// poll reads the operation's progress every pollInterval until it ends.
func (a *app) poll(ctx context.Context, s *session, cluster, opID string, r *renderer) (*apiclient.ClusterProgress, error) {
	params := &apiclient.GetClusterProgressParams{}
	if opID != "" {
		params.OperationId = &opID
	}
	for {
		resp, err := s.client.GetClusterProgressWithResponse(ctx, cluster, params)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err == nil {
			p, _, err := decode[apiclient.ClusterProgress](resp, resp.Body, nil)
			if err != nil {
				return nil, err
			}
			r.show(&p)
			if terminal(p.Status) {
				return &p, nil
			}
			if opID == "" {
				opID = p.OperationId
				params.OperationId = &opID
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// renderer shows progress: on a terminal, one line redrawn in place (percent, status,
// the running step and its activity) and a line per finished step; elsewhere (a log,
// a pipe), a line per finished step and one when the running step or status changes.
type renderer struct {
	a        *app
	live     bool
	reported map[string]apiclient.ClusterProgressStepStatus // finished steps printed
	last     string                                         // the live line drawn last
	lastKey  string                                         // what the last printed line said
	drawn    bool
}

func (r *renderer) show(p *apiclient.ClusterProgress) {
	if r.reported == nil {
		r.reported = map[string]apiclient.ClusterProgressStepStatus{}
	}
	var running, activity string
	for _, s := range p.Steps {
		switch s.Status {
		case apiclient.ClusterProgressStepStatusPENDING:
			continue
		case apiclient.ClusterProgressStepStatusRUNNING:
			if running == "" {
				running = s.Name
				activity = stepActivity(s)
			}
			continue
		}
		if r.reported[s.Name] == s.Status {
			continue
		}
		r.reported[s.Name] = s.Status
		r.clear()
		mark := map[apiclient.ClusterProgressStepStatus]string{
			apiclient.ClusterProgressStepStatusSUCCEEDED: r.a.paint("32", "✓"), apiclient.ClusterProgressStepStatusFAILED: r.a.paint("31", "✗"),
			apiclient.ClusterProgressStepStatusSKIPPED: "-", apiclient.ClusterProgressStepStatusCANCELLED: r.a.paint("31", "✗"),
		}[s.Status]
		line := fmt.Sprintf("  %s %s %s", mark, s.Name, strings.ToLower(string(s.Status)))
		if m := str(s.Message); m != "" {
			line += ": " + m
		}
		if s.StartedAt != nil && s.EndedAt != nil {
			line += fmt.Sprintf(" (%s)", s.EndedAt.Sub(*s.StartedAt).Round(time.Second))
		}
		fmt.Fprintln(r.a.stdout, line)
	}
	if terminal(p.Status) {
		return // the outcome says it
	}
	line := fmt.Sprintf("[%3d%%] %s %s", p.Percent, p.OperationType, p.Status)
	if running != "" {
		line += " · " + running
	}
	key := line
	if activity != "" {
		line += " (" + activity + ")"
	}
	if p.Status == apiclient.ClusterOperationStatusWAITINGFORAPPROVAL {
		if p.Approval != nil && p.Approval.RequestedFrom != nil {
			line += " · approval asked of " + strings.Join(*p.Approval.RequestedFrom, ", ")
		}
		if m := str(p.Message); m != "" {
			line += " · " + m
		}
		key = line
	}
	if r.live {
		if line != r.last {
			r.last = line
			fmt.Fprintf(r.a.stdout, "\r\x1b[K%s", line)
			r.drawn = true
		}
		return
	}
	// Between two steps the operation runs none for a moment: not worth a line.
	if key == r.lastKey || (running == "" && p.Status == apiclient.ClusterOperationStatusRUNNING) {
		return
	}
	r.lastKey = key
	fmt.Fprintln(r.a.stdout, line)
}

// stepActivity is the running step's activity and attempt, from its last heartbeat.
func stepActivity(s apiclient.ClusterProgressStep) string {
	if s.Detail == nil {
		return ""
	}
	act, _ := (*s.Detail)["activity"].(string)
	if n, ok := (*s.Detail)["attempt"].(float64); ok && n > 1 && act != "" {
		act += fmt.Sprintf(", attempt %d", int(n))
	}
	return act
}

// clear removes the live line before a permanent one is printed.
func (r *renderer) clear() {
	if r.live && r.drawn {
		fmt.Fprint(r.a.stdout, "\r\x1b[K")
		r.drawn = false
		r.last = ""
	}
}

func (r *renderer) done() {
	if r.live && r.drawn {
		fmt.Fprintln(r.a.stdout)
		r.drawn = false
	}
}

func readAll(resp *http.Response) []byte {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return b
}
