// Package testmoto gives tests a real AWS emulator: moto's server (moto_server, part
// of this machine image and of CI's), started on a loopback port for one test and
// stopped when it ends. Point aws-sdk-go-v2 clients at URL (BaseEndpoint, or
// AWS_ENDPOINT_URL) with any static credentials; moto accepts every key.
//
// moto speaks the real wire protocols of EKS, EC2, IAM, STS and CloudFormation; it
// does not implement EKS version upgrades (UpdateClusterVersion,
// UpdateNodegroupVersion), which tests cover with a wire server of their own.
package testmoto

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/astropulse/astroplane/internal/testreq"
)

// Server is a running moto server.
type Server struct {
	// URL is its address, http://127.0.0.1:PORT.
	URL string
}

// Start starts a fresh moto server for t (its state is empty) and stops it when t
// ends. A machine without moto fails the test through testreq.Missing.
func Start(t testing.TB) *Server {
	t.Helper()
	cmd, err := command()
	if err != nil {
		testreq.Missing(t, "moto (the AWS emulator) is not installed", "install it with pip install 'moto[server]' (CI's image has it)")
	}
	port, err := testreq.Port()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Args = append(cmd.Args, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	logf, err := os.Create(filepath.Join(t.TempDir(), "moto.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		_ = logf.Close()
	})
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	if err := s.waitReady(done); err != nil {
		log, _ := os.ReadFile(logf.Name())
		t.Fatalf("moto: %v\n%s", err, log)
	}
	return s
}

// command is moto_server when it is on PATH, else python3 -m moto.server.
func command() (*exec.Cmd, error) {
	if p, err := exec.LookPath("moto_server"); err == nil {
		return exec.Command(p), nil
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil, err
	}
	if err := exec.Command(py, "-c", "import moto.server").Run(); err != nil {
		return nil, err
	}
	return exec.Command(py, "-m", "moto.server"), nil
}

// waitReady polls moto's own API until it answers (about a second; longer on a busy
// machine, as moto imports every service's models on start).
func (s *Server) waitReady(exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/moto-api/data.json", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("not ready within a minute")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Reset drops everything the server holds (moto's reset API), for a test that
// shares one server across cases.
func (s *Server) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(s.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reset moto: %s", resp.Status)
	}
}
