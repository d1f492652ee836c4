// Package teststack runs Astro Plane's real binaries — cmd/api and cmd/worker, built
// once per test binary — as separate processes configured only through their
// environment, as production runs them, for the end-to-end and chaos tests: start
// them, stop them (interrupt) or kill them (SIGKILL, no goodbye), start them again,
// and call the API with the bootstrap key.
package teststack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/astropulse/astroplane/internal/apikey"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Build builds the api and worker binaries once for the whole test binary and
// returns their directory; Clean removes it.
func Build() (string, error) {
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "astro-teststack-bin-"); buildErr != nil {
			return
		}
		for _, cmd := range []string{"api", "worker"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, cmd), "github.com/astropulse/astroplane/cmd/"+cmd).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("build %s: %w\n%s", cmd, err, out)
				return
			}
		}
	})
	return binDir, buildErr
}

// Clean removes the binaries Build made; call it from TestMain after m.Run.
func Clean() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// Stack is the configuration of api and worker processes sharing one Temporal server
// and one store, and the address of its API. It is safe for concurrent use.
type Stack struct {
	// Bin is the directory of the api and worker binaries.
	Bin string
	// Env is every process's environment.
	Env []string
	// Key is the bootstrap API key (ASTRO_BOOTSTRAP_API_KEY).
	Key string

	mu     sync.Mutex
	apiURL string
}

// New prepares (but does not start) the processes of a stack on the Temporal server
// at temporalAddr and the store at databaseURL; extraEnv adds or overrides variables.
// The simulated cloud is instant unless extraEnv sets ASTRO_SIM_STEP_DELAY.
func New(bin, temporalAddr, databaseURL string, extraEnv ...string) *Stack {
	s := &Stack{Bin: bin, Key: apikey.Generate()}
	// The API binds a port of the kernel's choosing and logs it: no port is picked
	// free, released and raced for.
	s.Env = append(os.Environ(),
		"ASTRO_HTTP_ADDR=127.0.0.1:0",
		"ASTRO_DATABASE_URL="+databaseURL,
		"ASTRO_TEMPORAL_ADDRESS="+temporalAddr,
		"ASTRO_BOOTSTRAP_API_KEY="+s.Key,
		"ASTRO_LOG_FORMAT=json",
		"ASTRO_SIM_STEP_DELAY=0s",
	)
	s.Env = append(s.Env, extraEnv...)
	return s
}

// URL is the base URL of the API process started last.
func (s *Stack) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiURL
}

// Process is one running api or worker process.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	Log  *Log
	done chan struct{}
}

// Start runs the named binary (api or worker). For the api it waits until the
// process logs its listening address (which URL then returns), not until it is
// ready (WaitReady).
func (s *Stack) Start(name string) (*Process, error) {
	cmd := exec.Command(filepath.Join(s.Bin, name))
	cmd.Env = s.Env
	p := &Process{Name: name, Cmd: cmd, Log: NewLog(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	if name != "api" {
		return p, nil
	}
	select {
	case addr := <-p.Log.listening:
		s.mu.Lock()
		s.apiURL = "http://" + addr
		s.mu.Unlock()
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("api exited before listening:\n%s", p.Log)
	case <-time.After(60 * time.Second):
		p.Stop()
		return nil, fmt.Errorf("api did not log its listening address in 60s:\n%s", p.Log)
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop interrupts the process (as Ctrl-C or an orchestrator's stop would) and waits
// for it to exit, killing it after 15 seconds.
func (p *Process) Stop() {
	_ = p.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.Kill()
	}
}

// Kill ends the process with SIGKILL, as a crash or the OOM killer would, and waits
// for it to be gone.
func (p *Process) Kill() {
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// WaitReady waits until the API's /readyz answers 200 (its store and Temporal
// answer).
func (s *Stack) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("api not ready in %s", timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Do sends a request to the API with the bootstrap key (and header's fields, which
// may replace it) and decodes its JSON answer. An error is a request that got no
// answer, or an answer that is not JSON.
func (s *Stack) Do(ctx context.Context, method, path string, body any, header http.Header) (int, map[string]any, error) {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL()+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Astro-API-Key", s.Key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: %d, answer not JSON: %w: %.200s", method, path, resp.StatusCode, err, raw)
	}
	return resp.StatusCode, out, nil
}

// Log keeps a process's output and reports the address the API logs it listens on.
type Log struct {
	mu        sync.Mutex
	b         bytes.Buffer
	line      []byte
	listening chan string
}

// NewLog returns an empty log.
func NewLog() *Log { return &Log{listening: make(chan string, 1)} }

// Listening delivers the address of the first "api listening" line.
func (l *Log) Listening() <-chan string { return l.listening }

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	l.line = append(l.line, p...)
	for {
		i := bytes.IndexByte(l.line, '\n')
		if i < 0 {
			return len(p), nil
		}
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(l.line[:i], &rec) == nil && rec.Msg == "api listening" && rec.Addr != "" {
			select {
			case l.listening <- rec.Addr:
			default:
			}
		}
		l.line = l.line[i+1:]
	}
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
