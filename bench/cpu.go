package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// cpuMeter reads the CPU time (user + system) of the processes a start runs on:
// this process (the API, its store driver, and the clients of both paths), the
// Temporal dev server and, when the benchmark started it, PostgreSQL. On two CPUs
// shared by all of them, a path's throughput follows the CPU it costs per start;
// (a) reports it so that a ratio can be explained, not only read. A server counts
// with its descendants (PostgreSQL's backends are the postmaster's children); a
// process that exits between two readings loses its time, which the API's pooled
// connections do not.
type cpuMeter struct {
	temporalPID, postgresPID int // 0: not measured
}

// cpuTimes are CPU seconds per process.
type cpuTimes struct{ process, temporal, postgres float64 }

func (m cpuMeter) read() cpuTimes {
	tree := readProcessTable()
	return cpuTimes{process: selfCPU(), temporal: tree.cpu(m.temporalPID), postgres: tree.cpu(m.postgresPID)}
}

// selfCPU is this process's CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// processTable is /proc read once: each process's parent and CPU seconds.
type processTable struct {
	parent map[int]int
	cpu0   map[int]float64
}

// userHZ is the unit of /proc's CPU times: USER_HZ, 100 on every Linux.
const userHZ = 100

func readProcessTable() processTable {
	t := processTable{parent: map[int]int{}, cpu0: map[int]float64{}}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(d, "stat")) //nolint:gosec // /proc's own files
		if err != nil {
			continue // gone in between
		}
		// The command name is in parentheses and may hold anything: the fields
		// follow its last ')': state, ppid, … utime (12th), stime (13th).
		s := string(raw)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		utime, _ := strconv.ParseFloat(f[11], 64)
		stime, _ := strconv.ParseFloat(f[12], 64)
		t.parent[pid] = ppid
		t.cpu0[pid] = (utime + stime) / userHZ
	}
	return t
}

// cpu is the CPU seconds of root and its living descendants; 0 for root 0.
func (t processTable) cpu(root int) float64 {
	if root == 0 {
		return 0
	}
	var total float64
	for pid, secs := range t.cpu0 {
		for p, depth := pid, 0; p > 0 && depth < 64; p, depth = t.parent[p], depth+1 { // a bound: a reused PID could make a loop
			if p == root {
				total += secs
				break
			}
		}
	}
	return total
}

// cpuTally adds up one path's CPU over its batches.
type cpuTally struct {
	sum    cpuTimes
	starts int
}

// during runs one batch of n starts and adds the CPU it took.
func (c *cpuTally) during(m cpuMeter, n int, batch func() error) error {
	before := m.read()
	err := batch()
	after := m.read()
	c.sum.process += spent(before.process, after.process)
	c.sum.temporal += spent(before.temporal, after.temporal)
	c.sum.postgres += spent(before.postgres, after.postgres)
	c.starts += n
	return err
}

// spent is the CPU time between two readings of a process tree; a process that
// exited in between takes its time with it, which can make the second reading the
// smaller: that counts as nothing, not as a negative cost.
func spent(before, after float64) float64 { return max(after-before, 0) }

// cpuCost is a path's CPU per start, in milliseconds.
type cpuCost struct {
	Process  float64 `json:"processMs"` // this process: the API, its store driver, the clients
	Temporal float64 `json:"temporalMs"`
	Postgres float64 `json:"postgresMs"` // 0 on SQLite, or on a server the benchmark did not start
	Total    float64 `json:"totalMs"`
}

func (c *cpuTally) perStart() cpuCost {
	if c.starts == 0 {
		return cpuCost{}
	}
	ms := func(secs float64) float64 { return secs * 1000 / float64(c.starts) }
	cost := cpuCost{Process: ms(c.sum.process), Temporal: ms(c.sum.temporal), Postgres: ms(c.sum.postgres)}
	cost.Total = cost.Process + cost.Temporal + cost.Postgres
	return cost
}
