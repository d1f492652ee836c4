// Package e2e runs the real binaries — cmd/api and cmd/worker — as separate processes
// against a real Temporal dev server and a real PostgreSQL, configured only through
// their environment variables, as production runs them.
package e2e

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/internal/testpg"
	"github.com/astropulse/astroplane/internal/testreq"
	"github.com/astropulse/astroplane/internal/testtemporal"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpg.Stop()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// stack is the api and worker processes of one test.
type stack struct {
	t       *testing.T
	bin     string
	env     []string
	apiURL  string
	key     string
	workers []*exec.Cmd
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// build builds the api and worker once for all the tests of the package.
func build(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "astro-e2e-bin-"); buildErr != nil {
			return
		}
		for _, cmd := range []string{"api", "worker"} {
			if out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, cmd), "../cmd/"+cmd).CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %w\n%s", cmd, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func startStack(t *testing.T, databaseURL string, extraEnv ...string) *stack {
	t.Helper()
	dev := testtemporal.Start(t)
	s := newStack(t, dev.FrontendHostPort(), databaseURL, extraEnv...)
	s.startAll()
	return s
}

// newStack prepares (but does not start) the processes of a stack.
func newStack(t *testing.T, temporalAddr, databaseURL string, extraEnv ...string) *stack {
	t.Helper()
	s := &stack{
		t:   t,
		bin: build(t),
		key: apikey.Generate(),
	}
	// The API binds a port of the kernel's choosing and logs it: no port is picked
	// free, released and raced for.
	s.env = append(os.Environ(),
		"ASTRO_HTTP_ADDR=127.0.0.1:0",
		"ASTRO_DATABASE_URL="+databaseURL,
		"ASTRO_TEMPORAL_ADDRESS="+temporalAddr,
		"ASTRO_BOOTSTRAP_API_KEY="+s.key,
		"ASTRO_LOG_FORMAT=json",
		"ASTRO_SIM_STEP_DELAY=0s",
	)
	s.env = append(s.env, extraEnv...)
	return s
}

// startAll starts a worker and the API and waits until the API is ready.
func (s *stack) startAll() []*exec.Cmd {
	w := s.start("worker")
	s.workers = append(s.workers, w)
	a := s.start("api")
	s.waitReady()
	return []*exec.Cmd{w, a}
}

// stop interrupts a process and waits for it to exit.
func (s *stack) stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// waitProgress waits until the progress status of the cluster's operation is status.
func (s *stack) waitProgress(cluster, opID, status string) {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last any
	for time.Now().Before(deadline) {
		code, body := s.call(http.MethodGet, "/api/v1/clusters/"+cluster+"/progress?operationId="+opID, nil)
		if code == http.StatusOK {
			if last = body["data"].(map[string]any)["status"]; last == status {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("operation %s never reached %s (last %v)", opID, status, last)
}

// start runs the named binary until the test ends (or it is killed).
func (s *stack) start(name string) *exec.Cmd {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, name))
	cmd.Env = s.env
	logs := &processLog{listening: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	if name == "api" {
		select {
		case addr := <-logs.listening:
			s.apiURL = "http://" + addr
		case <-time.After(60 * time.Second):
			s.stop(cmd)
			s.t.Fatalf("api did not log its listening address:\n%s", logs.String())
		}
	}
	s.t.Cleanup(func() {
		if cmd.ProcessState == nil { // not already stopped or killed by the test
			s.stop(cmd)
		}
		if s.t.Failed() {
			s.t.Logf("%s output:\n%s", name, logs.String())
		}
	})
	return cmd
}

func (s *stack) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.apiURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatal("api not ready in 30s")
}

// call sends a request with the bootstrap key and decodes the JSON answer.
func (s *stack) call(method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, s.apiURL+path, r)
	req.Header.Set("X-Astro-API-Key", s.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		s.t.Fatalf("%s %s: decode answer: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// processLog keeps a process's output and reports the address the API logs it
// listens on.
type processLog struct {
	mu        sync.Mutex
	b         bytes.Buffer
	line      []byte
	listening chan string
}

func (l *processLog) Write(p []byte) (int, error) {
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

func (l *processLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stablePort returns a port for a server that must come back on the same one.
func stablePort(t *testing.T) int {
	t.Helper()
	port, err := testreq.Port()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func gkeManifest(name string) map[string]any {
	return map[string]any{
		"apiVersion": "platform.astropulse.io/v1",
		"kind":       "K8sCluster",
		"spec": map[string]any{
			"clusterName": name, "provider": "gcp", "region": "us-central1",
			"provisioner": map[string]any{"type": "gke", "gke": map[string]any{
				"projectId": "my-project-123456", "credentials": map[string]any{"type": "dynamic"}}},
			"clusterSpec": map[string]any{"dataPlane": map[string]any{"nodeGroups": []any{
				map[string]any{"name": "default-pool", "minNode": 1, "maxNode": 5, "instanceType": "ondemand",
					"machineTypes": []any{"e2-standard-2"}, "labels": map[string]any{"environment": "dev"}}}}},
		},
	}
}

// TestBinariesOnPostgres runs the api and worker binaries on PostgreSQL: the
// bootstrap key set through ASTRO_BOOTSTRAP_API_KEY authenticates, clusters list
// empty, and a deploy reaches READY through Temporal.
func TestBinariesOnPostgres(t *testing.T) {
	pg := testpg.Require(t)
	s := startStack(t, pg.NewDatabase(t))

	status, body := s.call(http.MethodGet, "/api/v1/clusters", nil)
	if status != http.StatusOK || len(body["data"].([]any)) != 0 {
		t.Fatalf("list clusters on a fresh install: %d %v", status, body)
	}
	status, body = s.call(http.MethodPost, "/api/v1/clusters", gkeManifest("analytics"))
	if status != http.StatusAccepted {
		t.Fatalf("deploy: %d %v", status, body)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body = s.call(http.MethodGet, "/api/v1/clusters/analytics", nil)
		if st := body["data"].(map[string]any)["status"]; st == "READY" {
			break
		} else if st == "FAILED" || time.Now().After(deadline) {
			t.Fatalf("cluster did not become READY: %v", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestWorkerKilledMidDeploy kills the worker (SIGKILL, no goodbye) while a deploy is in
// the middle of its control plane, starts a new one, and sees the same operation
// finish: the workflow's state is on the Temporal server, and the interrupted
// activity is retried on the new worker once its heartbeat times out.
func TestWorkerKilledMidDeploy(t *testing.T) {
	s := startStack(t, "sqlite://"+filepath.Join(t.TempDir(), "astro.db"), "ASTRO_SIM_STEP_DELAY=1s")
	worker := s.workers[0]
	status, body := s.call(http.MethodPost, "/api/v1/clusters", gkeManifest("survivor"))
	if status != http.StatusAccepted {
		t.Fatalf("deploy: %d %v", status, body)
	}
	opID := body["data"].(map[string]any)["operationId"].(string)
	events := s.stream("survivor", opID)
	s.waitPhase(opID, "control-plane", "wait-active")
	if err := worker.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = worker.Wait()
	killedAt := time.Now()
	s.start("worker")

	deadline := time.Now().Add(90 * time.Second)
	for {
		_, body = s.call(http.MethodGet, "/api/v1/clusters/survivor/progress?operationId="+opID, nil)
		p := body["data"].(map[string]any)
		if p["status"] == "SUCCEEDED" {
			break
		}
		if p["status"] == "FAILED" || time.Now().After(deadline) {
			t.Fatalf("deploy did not finish after the worker restart: %v", p)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, body = s.call(http.MethodGet, "/api/v1/clusters/survivor", nil)
	if body["data"].(map[string]any)["status"] != "READY" {
		t.Fatalf("cluster after restart: %v", body)
	}

	// The progress stream opened before the kill carried on to the end.
	var last streamEvent
	after := 0
	for ev := range events {
		if ev.at.After(killedAt) {
			after++
		}
		last = ev
	}
	if last.Type != "completed" || last.Progress["status"] != "SUCCEEDED" || after < 2 {
		t.Fatalf("stream across the restart: last %+v, %d events after the kill", last, after)
	}
}

type streamEvent struct {
	at       time.Time
	Type     string         `json:"type"`
	Progress map[string]any `json:"progress"`
}

// stream follows the operation's progress over the WebSocket; the channel closes when
// the server ends the stream.
func (s *stack) stream(cluster, opID string) <-chan streamEvent {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	url := "ws" + strings.TrimPrefix(s.apiURL, "http") + "/api/v1/clusters/" + cluster + "/progress/stream?operationId=" + opID
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Astro-API-Key": {s.key}}})
	if err != nil {
		cancel()
		s.t.Fatalf("open progress stream: %v", err)
	}
	out := make(chan streamEvent, 100)
	go func() {
		defer cancel()
		defer close(out)
		defer conn.CloseNow()
		for {
			var ev streamEvent
			if err := wsjson.Read(ctx, conn, &ev); err != nil {
				return
			}
			ev.at = time.Now()
			out <- ev
		}
	}()
	return out
}

// waitPhase waits until the operation's progress is in one of phases.
func (s *stack) waitPhase(opID string, phases ...string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		status, body := s.call(http.MethodGet, "/api/v1/clusters/survivor/progress?operationId="+opID, nil)
		if status == http.StatusOK {
			phase := body["data"].(map[string]any)["phase"]
			for _, p := range phases {
				if phase == p {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("operation %s never reached %v", opID, phases)
}
