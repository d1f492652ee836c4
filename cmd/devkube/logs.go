package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/astropulse/astroplane/cloud/sim/simnode"
)

// logEvery is how often a simulated container writes a line.
const logEvery = 5 * time.Second

// maxPast bounds the lines a container's log holds.
const maxPast = 500

// appLogs is the simulated node's LogSource: every container writes a few start-up
// lines when first asked for, then a request line every logEvery, computed from the
// time rather than stored, so a long make run holds nothing per line. There is no
// previous instance of any container.
type appLogs struct {
	now func() time.Time

	mu      sync.Mutex
	started map[simnode.Container]time.Time
}

var _ simnode.LogSource = (*appLogs)(nil)

func newAppLogs() *appLogs {
	return &appLogs{now: time.Now, started: map[simnode.Container]time.Time{}}
}

// start records when c started (now, the first time it is named).
func (l *appLogs) start(c simnode.Container) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.started[c]
	if !ok {
		t = l.now()
		l.started[c] = t
	}
	return t
}

// Log implements simnode.LogSource.
func (l *appLogs) Log(ctx context.Context, c simnode.Container, previous bool) ([]simnode.Line, <-chan simnode.Line, error) {
	if previous {
		return nil, nil, simnode.ErrNotFound
	}
	t0 := l.start(c)
	past := []simnode.Line{
		{Time: t0, Text: fmt.Sprintf("level=info msg=\"starting\" container=%s pod=%s/%s (simulated by make run's devkube)", c.Name, c.Namespace, c.Pod)},
		{Time: t0, Text: "level=info msg=\"listening\" addr=:8080"},
	}
	now := l.now()
	n := 1
	if first := now.Sub(t0)/logEvery - maxPast; first > 0 {
		n = int(first)
	}
	for ; t0.Add(time.Duration(n) * logEvery).Before(now); n++ {
		past = append(past, request(t0, n))
	}
	next := make(chan simnode.Line)
	go func() {
		defer close(next)
		for {
			at := t0.Add(time.Duration(n) * logEvery)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(at)):
			}
			select {
			case <-ctx.Done():
				return
			case next <- request(t0, n):
			}
			n++
		}
	}()
	return past, next, nil
}

// request is the n-th request line of a container started at t0.
func request(t0 time.Time, n int) simnode.Line {
	paths := []string{"/", "/healthz", "/latency", "/"}
	return simnode.Line{Time: t0.Add(time.Duration(n) * logEvery),
		Text: fmt.Sprintf("level=info msg=\"request\" method=GET path=%s status=200 duration=%d.%dms", paths[n%len(paths)], n%7+1, n%10)}
}
