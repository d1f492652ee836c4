package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one process of the run, its output in a log file of its own.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	// listening receives the address an API logs it listens on.
	listening chan string
	killed    bool

	mu  sync.Mutex
	mem memStats
}

// memStats are a process's resident set figures from /proc: the highest VmRSS seen
// by sampling and the kernel's own high-water mark, VmHWM, last read.
type memStats struct {
	PeakRSSMB, HWMMB float64
	Samples          int
}

// startProc starts bin with args and env (on top of ours), its output in
// dir/name.log.
func startProc(name, bin, dir string, env []string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath) //nolint:gosec // a file in the run's own directory
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, logPath: logPath, exited: make(chan struct{}), listening: make(chan string, 1)}
	// Not bound to ctx: the run stops its processes itself, in order.
	p.cmd = exec.Command(bin, args...) //nolint:gosec,noctx // the binaries named by the flags are the point
	p.cmd.Env = append(os.Environ(), env...)
	w := &listenWatcher{f: f, listening: p.listening}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	go func() {
		_ = p.cmd.Wait()
		_ = f.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL: no shutdown hook runs, as when a machine dies.
func (p *proc) kill() {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop interrupts the process and waits, killing it after 15 s.
func (p *proc) stop() {
	if !p.alive() {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// sample reads VmRSS and VmHWM of a live process.
func (p *proc) sample() {
	if !p.alive() {
		return
	}
	rss, hwm, ok := readMem(p.pid())
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mem.Samples++
	p.mem.PeakRSSMB = max(p.mem.PeakRSSMB, rss)
	p.mem.HWMMB = max(p.mem.HWMMB, hwm)
}

func (p *proc) memory() memStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mem
}

// readMem reads VmRSS and VmHWM (in MB) from /proc/PID/status.
func readMem(pid int) (rss, hwm float64, ok bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, false
	}
	return parseMem(string(raw))
}

// parseMem reads the VmRSS and VmHWM lines of a /proc/PID/status text, in MB.
func parseMem(status string) (rss, hwm float64, ok bool) {
	var seen int
	for line := range strings.SplitSeq(status, "\n") {
		for prefix, dst := range map[string]*float64{"VmRSS:": &rss, "VmHWM:": &hwm} {
			rest, found := strings.CutPrefix(line, prefix)
			if !found {
				continue
			}
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kb); err == nil {
				*dst = kb / 1024
				seen++
			}
		}
	}
	return rss, hwm, seen == 2
}

// sampleMemory samples every process of procs each interval until ctx ends.
func sampleMemory(ctx context.Context, interval time.Duration, procs []*proc) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, p := range procs {
			p.sample()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// listenWatcher writes a process's output to its log file and reports the address
// of the API's "api listening" line.
type listenWatcher struct {
	f         *os.File
	listening chan string
	line      []byte
	found     bool
}

func (w *listenWatcher) Write(b []byte) (int, error) {
	if !w.found {
		w.line = append(w.line, b...)
		for {
			i := bytes.IndexByte(w.line, '\n')
			if i < 0 {
				break
			}
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(w.line[:i], &rec) == nil && rec.Msg == "api listening" && rec.Addr != "" {
				w.found = true
				w.listening <- rec.Addr
				w.line = nil
				break
			}
			w.line = w.line[i+1:]
		}
	}
	return w.f.Write(b)
}
