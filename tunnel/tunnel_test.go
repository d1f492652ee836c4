package tunnel_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/astropulse/astroplane/internal/testkube"
	"github.com/astropulse/astroplane/tunnel"
)

var (
	agentOnce sync.Once
	agentBin  string
	agentErr  error
)

// agentBinary builds cmd/agent once per test binary (static, as shipped), into a temp
// directory; the Go build cache makes later builds cheap.
func agentBinary(t *testing.T) string {
	t.Helper()
	agentOnce.Do(func() {
		agentBin = filepath.Join(t.TempDir(), "astro-agent") // the one test using it outlives every use
		cmd := exec.Command("go", "build", "-ldflags", "-X main.version=v0.0.0-test", "-o", agentBin, "../cmd/agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			agentErr = fmt.Errorf("go build ./cmd/agent: %w\n%s", err, out)
		}
	})
	if agentErr != nil {
		t.Fatal(agentErr)
	}
	return agentBin
}

type plane struct {
	ca  *tunnel.CA
	reg *tunnel.MemRegistry
	srv *tunnel.Server
	ts  *httptest.Server
	dir string
}

func newPlane(t *testing.T) *plane {
	t.Helper()
	ca, err := tunnel.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	reg := tunnel.NewMemRegistry()
	srv := &tunnel.Server{CA: ca, Registry: reg, Replica: "api-0", HealthEvery: time.Second}
	cert, err := ca.ServerCertificate("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = srv.TLSConfig(cert)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return &plane{ca: ca, reg: reg, srv: srv, ts: ts, dir: dir}
}

type agentProc struct {
	cmd  *exec.Cmd
	done chan error
	log  *bytes.Buffer
}

// startAgent runs the agent binary with token (written to a file) and state dir.
func (p *plane) startAgent(t *testing.T, kubeconfig, token, state string) *agentProc {
	t.Helper()
	tokFile := state + "-token"
	if err := os.WriteFile(tokFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(agentBinary(t), "-endpoint", p.ts.URL, "-ca-file", filepath.Join(p.dir, "ca.pem"),
		"-token-file", tokFile, "-state-dir", state, "-kubeconfig", kubeconfig, "-region", "on-prem-1")
	buf := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{cmd: cmd, done: make(chan error, 1), log: buf}
	go func() { a.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if err := <-a.done; err != nil && t.Failed() {
			t.Logf("agent ended: %v", err)
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", buf.String())
		}
	})
	return a
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTunnelToARealAPIServer(t *testing.T) {
	kube := testkube.Start(t)
	agentBinary(t)
	p := newPlane(t)
	kubeconfig := filepath.Join(p.dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kube.Kubeconfig(), 0o600); err != nil {
		t.Fatal(err)
	}
	idA := tunnel.Identity{Org: "org-a", Cluster: "cluster-a"}
	idB := tunnel.Identity{Org: "org-b", Cluster: "cluster-b"}
	tokA, err := p.reg.AddCluster(idA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.reg.AddCluster(idB, time.Hour); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	stateA := filepath.Join(p.dir, "state-a")
	agentA := p.startAgent(t, kubeconfig, tokA, stateA)
	waitFor(t, "agent A connected", 20*time.Second, func() bool { return p.srv.Status(idA.Org, idA.Cluster).Connected })

	st := p.srv.Status(idA.Org, idA.Cluster)
	if st.Info.Version != "v0.0.0-test" || st.Info.KubernetesVersion == "" || st.Info.Region != "on-prem-1" || !st.Info.Healthy {
		t.Fatalf("agent info = %+v", st.Info)
	}
	if c, _ := p.reg.Cluster(idA); c.Conn == nil || c.Conn.Replica != "api-0" || c.Current == "" {
		t.Fatalf("registry after connect = %+v", c)
	}
	if key, err := os.ReadFile(filepath.Join(stateA, "key.pem")); err != nil || !bytes.Contains(key, []byte("PRIVATE KEY")) {
		t.Fatalf("agent key not kept in its state dir: %v", err)
	}

	// Through the tunnel: list namespaces, create a ConfigMap.
	cfg, err := p.srv.RESTConfig(idA.Org, idA.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BearerToken != "" || len(cfg.CertData) != 0 {
		t.Fatal("the tunnel's rest.Config must carry no credential of the cluster")
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ns := range nss.Items {
		found = found || ns.Name == "kube-system"
	}
	if !found {
		t.Fatalf("namespaces through the tunnel: %d, no kube-system", len(nss.Items))
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "through-tunnel", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	direct := kubernetes.NewForConfigOrDie(kube.RESTConfig())
	got, err := direct.CoreV1().ConfigMaps("default").Get(ctx, "through-tunnel", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("ConfigMap made through the tunnel, read directly: %v %v", got, err)
	}

	t.Run("the worker's internal proxy, relayed by another replica", func(t *testing.T) {
		key := tunnel.ProxyKey(bytes.Repeat([]byte("k"), 32))
		holder := httptest.NewServer(p.srv.ProxyHandler(key, "", nil))
		t.Cleanup(holder.Close)
		// Replica api-1 holds no tunnel: it relays to the holder the store names.
		other := &tunnel.Server{CA: p.ca, Registry: p.reg, Replica: "api-1"}
		relay := httptest.NewServer(other.ProxyHandler(key, "", func(_ *http.Request, org, cluster string) (string, error) {
			if org == idA.Org && cluster == idA.Cluster {
				return holder.URL, nil
			}
			return "", nil
		}))
		t.Cleanup(relay.Close)
		for _, base := range []string{holder.URL, relay.URL} {
			pc, err := key.ProxyConfig(base, idA.Org, idA.Cluster, time.Minute, rest.TLSClientConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kubernetes.NewForConfigOrDie(pc).CoreV1().ConfigMaps("default").Get(ctx, "through-tunnel", metav1.GetOptions{}); err != nil {
				t.Fatalf("through the proxy at %s: %v", base, err)
			}
		}
		// The worker's seam: a dynamic client through the relaying replica.
		dyn, err := tunnel.Proxied{Base: relay.URL, Key: key}.Dynamic(ctx, idA.Org, idA.Cluster)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dyn.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace("default").Get(ctx, "through-tunnel", metav1.GetOptions{}); err != nil {
			t.Fatalf("dynamic client through the proxy: %v", err)
		}
		// The API's seam: Local falls back to the proxy for a tunnel another replica holds.
		if cfg, err := (tunnel.Local{Server: other, Fallback: tunnel.Proxied{Base: relay.URL, Key: key}}).Config(ctx, idA.Org, idA.Cluster); err != nil || !strings.HasPrefix(cfg.Host, relay.URL) {
			t.Fatalf("Local on a replica without the tunnel: %v, %v", cfg, err)
		}
		// A credential for org B's cluster does not open org A's path; expired ones nothing.
		tokB, _ := key.Token(idB.Org, idB.Cluster, time.Minute)
		expired, _ := key.Token(idA.Org, idA.Cluster, -time.Second)
		for name, tok := range map[string]string{"other org": tokB, "expired": expired, "forged": "e30.x"} {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, holder.URL+tunnel.ProxyPrefix+idA.Org+"/"+idA.Cluster+"/api/v1/namespaces", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s credential: %d, want 401", name, resp.StatusCode)
			}
		}
	})

	// Another organization's IDs never reach A's agent.
	for _, id := range []tunnel.Identity{{Org: idB.Org, Cluster: idA.Cluster}, idB, {Org: idA.Org, Cluster: idB.Cluster}} {
		if _, err := p.srv.RESTConfig(id.Org, id.Cluster); !errors.Is(err, tunnel.ErrNotConnected) {
			t.Fatalf("RESTConfig(%s) = %v, want ErrNotConnected", id, err)
		}
	}

	outer := t // agents started in subtests live on
	t.Run("used token is refused", func(t *testing.T) {
		replay := p.startAgent(t, kubeconfig, tokA, filepath.Join(p.dir, "state-replay"))
		select {
		case err := <-replay.done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(replay.log.String(), "refused") {
				t.Fatalf("replayed token: exit %v, log %s", err, replay.log)
			}
			replay.done <- err // for the cleanup
		case <-time.After(15 * time.Second):
			t.Fatal("an agent with a used token is still running")
		}
		code, _ := p.register(t, tokA)
		if code != http.StatusForbidden {
			t.Fatalf("register with a used token: %d", code)
		}
		expired, _ := p.reg.AddCluster(tunnel.Identity{Org: "org-c", Cluster: "cluster-c"}, -time.Second)
		if code, _ := p.register(t, expired); code != http.StatusForbidden {
			t.Fatalf("register with an expired token: %d", code)
		}
	})

	t.Run("org A certificate cannot claim org B's cluster", func(t *testing.T) {
		// A certificate of the platform's CA naming org A with org B's cluster (the
		// store knows no such pair): refused at connect.
		if code := p.connectWith(t, p.ca, tunnel.Identity{Org: idA.Org, Cluster: idB.Cluster}); code != http.StatusForbidden {
			t.Fatalf("connect as org-a/cluster-b: %d, want 403", code)
		}
		// Claiming org B's pair with a certificate the platform did not issue (not its
		// current serial): refused.
		if code := p.connectWith(t, p.ca, idB); code != http.StatusForbidden {
			t.Fatalf("connect as org B with an unrecorded certificate: %d, want 403", code)
		}
		// Another CA's certificate does not even pass TLS.
		other, _ := tunnel.NewCA()
		if code := p.connectWith(t, other, idB); code != -1 && code != http.StatusUnauthorized {
			t.Fatalf("connect with a foreign CA's certificate: %d", code)
		}
		if p.srv.Status(idB.Org, idB.Cluster).Connected {
			t.Fatal("org B's cluster shows connected")
		}
	})

	t.Run("kill and restart", func(t *testing.T) {
		_ = agentA.cmd.Process.Kill()
		waitFor(t, "agent A disconnected", 10*time.Second, func() bool { return !p.srv.Status(idA.Org, idA.Cluster).Connected })
		if c, _ := p.reg.Cluster(idA); c.Conn != nil || c.LastSeen.IsZero() {
			t.Fatalf("registry after the agent died = %+v", c)
		}
		if _, err := p.srv.RESTConfig(idA.Org, idA.Cluster); !errors.Is(err, tunnel.ErrNotConnected) {
			t.Fatalf("RESTConfig with the agent gone: %v", err)
		}
		// Restarted with the same state (its token is used: it reconnects with its certificate).
		p.startAgent(outer, kubeconfig, tokA, stateA)
		waitFor(t, "agent A reconnected", 20*time.Second, func() bool { return p.srv.Status(idA.Org, idA.Cluster).Connected })
		if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "through-tunnel", metav1.GetOptions{}); err != nil {
			t.Fatalf("the earlier rest.Config after the reconnection: %v", err)
		}
	})

	t.Run("rotation without downtime", func(t *testing.T) {
		before := p.srv.Status(idA.Org, idA.Cluster).Serial
		if err := p.srv.Rotate(ctx, idA.Org, idA.Cluster); err != nil {
			t.Fatal(err)
		}
		// Asked by a replica without the tunnel, through the proxy of the one holding it.
		key := tunnel.ProxyKey(bytes.Repeat([]byte("r"), 32))
		holder := httptest.NewServer(p.srv.ProxyHandler(key, "", nil))
		defer holder.Close()
		if err := (tunnel.Proxied{Base: holder.URL, Key: key}).Rotate(ctx, idA.Org, idA.Cluster); err != nil {
			t.Fatalf("rotation through the proxy: %v", err)
		}
		waitFor(t, "agent A on its new certificate", 20*time.Second, func() bool {
			s := p.srv.Status(idA.Org, idA.Cluster)
			return s.Connected && s.Serial != before
		})
		for range 20 {
			if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
				t.Fatalf("request right after rotation: %v", err)
			}
		}
		c, _ := p.reg.Cluster(idA)
		if c.Current == before || c.Previous != "" {
			t.Fatalf("registry after rotation = %+v (old %s)", c, before)
		}
		if err := p.reg.Admit(ctx, idA, before); !errors.Is(err, tunnel.ErrRefused) {
			t.Fatalf("old certificate still admitted: %v", err)
		}
	})

	t.Run("unregistered cluster's agent is refused", func(t *testing.T) {
		p.reg.RemoveCluster(idA)
		p.srv.Disconnect(idA.Org, idA.Cluster)
		time.Sleep(1500 * time.Millisecond) // the agent retries (1 s backoff) and is refused
		if p.srv.Status(idA.Org, idA.Cluster).Connected {
			t.Fatal("an unregistered cluster's agent reconnected")
		}
	})
}

func (p *plane) register(t *testing.T, token string) (int, []byte) {
	t.Helper()
	_, csr := keyAndCSR(t)
	body, _ := json.Marshal(tunnel.CertRequest{Token: token, CSR: string(csr)})
	resp, err := p.ts.Client().Post(p.ts.URL+tunnel.RegisterPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

func keyAndCSR(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// connectWith dials ConnectPath with a certificate ca signs for id; the HTTP status,
// or -1 when TLS refused the certificate.
func (p *plane) connectWith(t *testing.T, ca *tunnel.CA, id tunnel.Identity) int {
	t.Helper()
	key, csr := keyAndCSR(t)
	iss, err := ca.SignAgent(csr, id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(iss.PEM)
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS13, RootCAs: pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{block.Bytes}, PrivateKey: key}},
	}}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, p.ts.URL+tunnel.ConnectPath, &websocket.DialOptions{HTTPClient: client})
	if err == nil {
		_ = ws.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		return -1
	}
	return resp.StatusCode
}
