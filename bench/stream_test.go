package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSummariseDelays(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := summariseDelays(d)
	require.Equal(t, delays{N: 200, P50ms: 101, P99ms: 199, MaxMs: 200}, s)
	require.Equal(t, delays{}, summariseDelays(nil))
}

// The report's (d) table names issue 11's bound beside every change, and says
// what was reported, received and missed.
func TestStreamTableShowsTheTarget(t *testing.T) {
	var b strings.Builder
	streamTable(&b, streamResults{Streams: 200, WindowSeconds: 20, StepDelayS: 10,
		All: delays{N: 10, P50ms: 5, P99ms: 42, MaxMs: 50}, Reported: 7, Received: 6, Missed: 1})
	out := b.String()
	require.Contains(t, out, "(d) 200 progress streams")
	require.Regexp(t, `\| \(d\) every change +\| +10 \| +5\.0 \| +42\.0 \| +50\.0 \| ≤ 100 ms`, out)
	require.Contains(t, out, "reports in the window: 7, received 6, missed 1")
}
