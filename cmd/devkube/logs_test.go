package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/cloud/sim/simnode"
)

// A container's log: the start-up lines, a request line per logEvery since, at most
// maxPast of them, then one line per logEvery for a follower until it leaves; no
// previous instance.
func TestAppLogs(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newAppLogs()
	l.now = func() time.Time { return now }
	c := simnode.Container{Namespace: "hello-world", Pod: "hello-world-abc-0", Name: "hello-world"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	past, _, err := l.Log(ctx, c, false)
	if err != nil || len(past) != 2 || !strings.Contains(past[0].Text, "starting") {
		t.Fatalf("at start: %v %v", past, err)
	}
	now = now.Add(3*logEvery + time.Second)
	past, _, _ = l.Log(ctx, c, false)
	if len(past) != 5 || !strings.Contains(past[4].Text, "status=200") || !past[4].Time.Equal(now.Add(-time.Second)) {
		t.Fatalf("after 3 periods: %v", past)
	}
	now = now.Add(10 * maxPast * logEvery)
	if past, _, _ = l.Log(ctx, c, false); len(past) > maxPast+3 {
		t.Fatalf("%d lines kept, want at most %d", len(past), maxPast+3)
	}
	if _, _, err := l.Log(ctx, c, true); !errors.Is(err, simnode.ErrNotFound) {
		t.Fatalf("previous: %v", err)
	}

	// Following, on the real clock: the next line comes within a period.
	l = newAppLogs()
	l.started[c] = time.Now().Add(-logEvery + 100*time.Millisecond)
	_, next, _ := l.Log(ctx, c, false)
	select {
	case line := <-next:
		if !strings.Contains(line.Text, "method=GET") {
			t.Fatalf("followed line %q", line.Text)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no line followed")
	}
	cancel()
	for range next { // closed once the follower leaves
	}
}
