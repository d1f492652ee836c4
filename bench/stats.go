package main

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// stats summarises the latencies of one batch of calls.
type stats struct {
	N         int     `json:"n"`
	PerSecond float64 `json:"perSecond"`
	P50ms     float64 `json:"p50Ms"`
	P99ms     float64 `json:"p99Ms"`
}

func summarise(lat []time.Duration, wall time.Duration) stats {
	lat = slices.Clone(lat)
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	return stats{N: len(lat), PerSecond: float64(len(lat)) / wall.Seconds(), P50ms: pct(0.50), P99ms: pct(0.99)}
}

// batch is one measured batch: its summary and its raw latencies (for the pooled
// figures over all rounds).
type batch struct {
	stats
	lat  []time.Duration
	wall time.Duration
}

// measure runs n calls of fn at the given concurrency and summarises them.
func measure(n, parallel int, fn func(i int) error) (batch, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range parallel {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := fn(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	return batch{stats: summarise(lat, wall), lat: lat, wall: wall}, firstErr
}

// path is one way of doing a thing (the API, the raw SDK) over all rounds.
type path struct {
	// Pooled summarises every call of every round together; its perSecond is calls
	// over the summed wall time of the rounds.
	Pooled stats   `json:"pooled"`
	Rounds []stats `json:"rounds"`
	lat    []time.Duration
	wall   time.Duration
}

func (p *path) add(b batch) {
	p.Rounds = append(p.Rounds, b.stats)
	p.lat = append(p.lat, b.lat...)
	p.wall += b.wall
	p.Pooled = summarise(p.lat, p.wall)
}

// spread is how a ratio varied over the rounds: each round's value, their median,
// quartiles and range.
type spread struct {
	Median float64   `json:"median"`
	Q1     float64   `json:"q1"`
	Q3     float64   `json:"q3"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Rounds []float64 `json:"rounds"`
}

func spreadOf(vals []float64) spread {
	s := spread{Rounds: vals}
	if len(vals) == 0 {
		return s
	}
	sorted := slices.Clone(vals)
	slices.Sort(sorted)
	s.Median, s.Q1, s.Q3 = quantile(sorted, 0.5), quantile(sorted, 0.25), quantile(sorted, 0.75)
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	return s
}

// quantile interpolates linearly between the closest ranks of sorted.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(pos)
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (pos-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// ratios returns, per round, f of the two paths' batches of that round.
func ratios(a, b *path, f func(a, b stats) float64) spread {
	var vals []float64
	for i := range min(len(a.Rounds), len(b.Rounds)) {
		vals = append(vals, f(a.Rounds[i], b.Rounds[i]))
	}
	return spreadOf(vals)
}

func p50(a, b stats) float64        { return a.P50ms / b.P50ms }
func p99(a, b stats) float64        { return a.P99ms / b.P99ms }
func throughput(a, b stats) float64 { return a.PerSecond / b.PerSecond }
