package deploy_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/internal/testpg"
	"github.com/astropulse/astroplane/internal/testreq"
	"github.com/astropulse/astroplane/internal/testtemporal"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpg.Stop()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// The chart's containers, run as the real binaries with exactly the environment
// their pods would get (ConfigMap, values, Secret keys), on a real PostgreSQL and
// Temporal: the migrations job's command migrates and exits 0, the API answers its
// startup, liveness and readiness probes (store and Temporal reachable), and the
// worker answers its liveness probe. So every value the chart sets is one the
// processes accept, and every probe is a path they serve.
func TestHelmChartContainersRun(t *testing.T) {
	began := time.Now()
	bin := buildBinaries(t)
	built := time.Since(began)
	pg := testpg.Require(t)
	temporal := testtemporal.Start(t)
	apiPort, metricsPort := freePort(t), freePort(t)
	values := map[string]any{
		"temporal": map[string]any{"address": temporal.FrontendHostPort()},
		"database": map[string]any{"url": pg.NewDatabase(t)},
		"secrets": map[string]any{"encryptionKey": randomKey(t), "approvalSigningKey": randomKey(t),
			"bootstrapAPIKey": apikey.Generate()},
		"config":  map[string]any{"logLevel": "info", "publicURL": "https://astro.example.com"},
		"api":     map[string]any{"containerPort": apiPort},
		"metrics": map[string]any{"enabled": true, "port": metricsPort},
	}
	objs := render(t, values)
	var job batchv1.Job
	objs.get(t, "Job", "astro-astroplane-migrations", &job)
	var api, worker appsv1.Deployment
	objs.get(t, "Deployment", "astro-astroplane-api", &api)
	objs.get(t, "Deployment", "astro-astroplane-worker", &worker)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	migrations := job.Spec.Template.Spec.Containers[0]
	out, err := containerCmd(ctx, t, bin, objs, migrations).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "schema up to date") {
		t.Fatalf("the migrations job's container: %v\n%s", err, out)
	}

	apiC := api.Spec.Template.Spec.Containers[0]
	apiExited := start(t, containerCmd(ctx, t, bin, objs, apiC))
	for _, probe := range []*corev1.Probe{apiC.StartupProbe, apiC.LivenessProbe, apiC.ReadinessProbe} {
		waitProbe(ctx, t, apiC, probe, apiExited)
	}

	workerC := worker.Spec.Template.Spec.Containers[0]
	workerExited := start(t, containerCmd(ctx, t, bin, objs, workerC))
	waitProbe(ctx, t, workerC, workerC.LivenessProbe, workerExited)
	t.Logf("binaries built in %s; servers up, migrated, API ready and worker live %s later",
		built.Round(time.Millisecond), (time.Since(began) - built).Round(time.Millisecond))
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// buildBinaries builds cmd/api and cmd/worker once for the test binary, into a
// directory TestMain removes.
func buildBinaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "astro-deploy-bin-"); buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", buildDir+"/", "../cmd/api", "../cmd/worker").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build the api and worker: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir // removed by TestMain
}

// containerCmd is c's command with the environment its pod would get: the
// ConfigMaps of envFrom, then env values and Secret keys (an optional key the
// Secret lacks is left out, as the kubelet does). The test's own ASTRO_* and OTEL_*
// variables are not passed on.
func containerCmd(ctx context.Context, t *testing.T, bin string, objs chart, c corev1.Container) *exec.Cmd {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Fatalf("container %s: envFrom %+v: the test knows ConfigMaps only", c.Name, from)
		}
		var cm corev1.ConfigMap
		objs.get(t, "ConfigMap", from.ConfigMapRef.Name, &cm)
		for k, v := range cm.Data {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			var s corev1.Secret
			objs.get(t, "Secret", ref.Name, &s)
			v, ok := s.StringData[ref.Key]
			if !ok && (ref.Optional == nil || !*ref.Optional) {
				t.Fatalf("container %s: %s from Secret %s key %s, which it lacks", c.Name, e.Name, ref.Name, ref.Key)
			}
			if ok {
				env[e.Name] = v
			}
		default:
			t.Fatalf("container %s: %s from %+v: the test knows Secret keys only", c.Name, e.Name, e.ValueFrom)
		}
	}
	args := slices.Concat(c.Command[1:], c.Args)
	cmd := exec.CommandContext(ctx, filepath.Join(bin, filepath.Base(c.Command[0])), args...)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ASTRO_") && !strings.HasPrefix(kv, "OTEL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// start runs cmd until the test ends, and returns a channel closed when it exits;
// its output is shown if the test fails.
func start(t *testing.T, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	cmd.Stderr = cmd.Stdout
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		<-done
		if t.Failed() {
			mu.Lock()
			t.Logf("%s:\n%s", filepath.Base(cmd.Path), out.String())
			mu.Unlock()
		}
	})
	return done
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// waitProbe polls the HTTP probe of container c, on loopback, until it answers 2xx;
// it fails the test when the process exits first.
func waitProbe(ctx context.Context, t *testing.T, c corev1.Container, p *corev1.Probe, exited <-chan struct{}) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Fatalf("container %s: probe %+v is not an HTTP GET", c.Name, p)
	}
	port := containerPort(c, p.HTTPGet.Port.String())
	if port == 0 {
		port = p.HTTPGet.Port.IntValue()
	}
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, p.HTTPGet.Path)
	client := &http.Client{Timeout: 3 * time.Second}
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-exited:
			t.Fatalf("container %s exited before its probe GET %s answered 2xx (last: %s)", c.Name, url, last)
		case <-ctx.Done():
			t.Fatalf("container %s: probe GET %s never answered 2xx (last: %s)", c.Name, url, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := testreq.Port()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}
