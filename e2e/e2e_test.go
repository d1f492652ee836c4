// Package e2e runs the real binaries — cmd/api and cmd/worker — as separate processes
// against a real Temporal dev server and a real PostgreSQL, configured only through
// their environment variables, as production runs them.
package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/astropulse/astroplane/internal/testpg"
	"github.com/astropulse/astroplane/internal/testreq"
	"github.com/astropulse/astroplane/internal/teststack"
	"github.com/astropulse/astroplane/internal/testtemporal"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpg.Stop()
	teststack.Clean()
	os.Exit(code)
}

// stack is the api and worker processes of one test (teststack), failing the test
// where they do.
type stack struct {
	*teststack.Stack
	t       *testing.T
	workers []*teststack.Process
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
	bin, err := teststack.Build()
	if err != nil {
		t.Fatal(err)
	}
	return &stack{t: t, Stack: teststack.New(bin, temporalAddr, databaseURL, extraEnv...)}
}

// startAll starts a worker and the API and waits until the API is ready.
func (s *stack) startAll() []*teststack.Process {
	w := s.start("worker")
	s.workers = append(s.workers, w)
	a := s.start("api")
	s.waitReady()
	return []*teststack.Process{w, a}
}

// stop interrupts a process and waits for it to exit.
func (s *stack) stop(p *teststack.Process) { p.Stop() }

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

// start runs the named binary until the test ends (or it is killed), and shows its
// output if the test fails.
func (s *stack) start(name string) *teststack.Process {
	s.t.Helper()
	p, err := s.Start(name)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		if !p.Exited() { // not already stopped or killed by the test
			p.Stop()
		}
		if s.t.Failed() {
			s.t.Logf("%s output:\n%s", name, p.Log)
		}
	})
	return p
}

func (s *stack) waitReady() {
	s.t.Helper()
	if err := s.WaitReady(context.Background(), 30*time.Second); err != nil {
		s.t.Fatal(err)
	}
}

// call sends a request with the bootstrap key and decodes the JSON answer.
func (s *stack) call(method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	code, out, err := s.Do(context.Background(), method, path, body, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return code, out
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
	worker.Kill()
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
	url := "ws" + strings.TrimPrefix(s.URL(), "http") + "/api/v1/clusters/" + cluster + "/progress/stream?operationId=" + opID
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Astro-API-Key": {s.Key}}})
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
