// Package testkube gives tests a real Kubernetes API server: etcd and kube-apiserver,
// built from Go modules into bin/ by `make tools` (see hack/kube), started on loopback
// ports for one test and stopped when it ends.
//
// There is no controller-manager, scheduler or kubelet: objects are stored, validated,
// defaulted and admitted exactly as a cluster would, but nothing reconciles them (no
// pods run, no `default` ServiceAccount appears in a new namespace, a Job never
// finishes). Clients authenticate with a bearer token of a system:masters user;
// RBAC is on, so tokens of other users (Options.Users) are authorized by the roles
// the test binds. The server trusts kubelets whose serving certificate chains to
// Cluster.KubeletCACert (--kubelet-certificate-authority), so a test can run a
// kubelet endpoint of its own (cloud/sim/simnode) and read pods/log through it.
package testkube

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/astropulse/astroplane/internal/testreq"
)

// BinDirEnv names a directory holding etcd and kube-apiserver, instead of bin/ in
// the repository above the working directory.
const BinDirEnv = "ASTRO_KUBE_BIN_DIR"

// Options adjust the API server a test starts.
type Options struct {
	// Users are extra users the server authenticates, by name: each gets a token of
	// its own (Cluster.Tokens) and belongs to no group, so it can do only what the
	// test's RBAC bindings allow.
	Users []string
	// ExtraArgs are appended to kube-apiserver's flags (e.g.
	// "--disable-admission-plugins=ServiceAccount").
	ExtraArgs []string
}

// Cluster is a running etcd and kube-apiserver.
type Cluster struct {
	// URL is the API server's address, https://127.0.0.1:PORT.
	URL string
	// Token is a bearer token of "admin", a member of system:masters.
	Token string
	// Tokens are the bearer tokens of Options.Users, by user name.
	Tokens map[string]string
	// CAData is the PEM certificate the server's serving certificate chains to.
	CAData []byte
	// Dir holds the servers' data, keys and logs (etcd.log, kube-apiserver.log).
	Dir string
	// KubeletCACert and KubeletCAKey (PEM) are the CA the server verifies kubelets'
	// serving certificates with, when it proxies pods/log, exec and the like to a
	// node (see cloud/sim/simnode).
	KubeletCACert, KubeletCAKey []byte
}

// RESTConfig returns a client configuration for the admin user.
func (c *Cluster) RESTConfig() *rest.Config {
	return c.RESTConfigFor("")
}

// RESTConfigFor returns a client configuration for one of Options.Users ("" for admin).
func (c *Cluster) RESTConfigFor(user string) *rest.Config {
	token := c.Token
	if user != "" {
		token = c.Tokens[user]
	}
	return &rest.Config{
		Host:            c.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData},
		QPS:             100,
		Burst:           200,
	}
}

// Kubeconfig returns a kubeconfig file's content for the admin user (for kubectl, helm
// and other tools a test runs).
func (c *Cluster) Kubeconfig() []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: testkube
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: testkube
  context:
    cluster: testkube
    user: admin
current-context: testkube
`, c.URL, base64.StdEncoding.EncodeToString(c.CAData), c.Token)
}

// Start starts etcd and kube-apiserver for the test and stops them when it ends
// (kube-apiserver first). It returns once the server's /readyz answers, in about
// 3–5 seconds. Without the binaries the test fails, or skips under testreq.SkipEnv.
func Start(t testing.TB) *Cluster {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Cluster {
	t.Helper()
	etcdBin, apiBin := RequireBinaries(t)
	dir, err := os.MkdirTemp("", "astro-kube-")
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	c, stop, err := start(dir, etcdBin, apiBin, opts)
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("etcd and kube-apiserver logs kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	if err != nil {
		t.Fatalf("start kube-apiserver: %v (logs in %s)", err, dir)
	}
	t.Logf("etcd and kube-apiserver ready at %s in %s", c.URL, time.Since(began).Round(time.Millisecond))
	return c
}

// RequireBinaries returns the paths of etcd and kube-apiserver; without them the test
// fails, or skips under testreq.SkipEnv.
func RequireBinaries(t testing.TB) (etcd, apiserver string) {
	t.Helper()
	dir := BinDir()
	etcd, apiserver = filepath.Join(dir, "etcd"), filepath.Join(dir, "kube-apiserver")
	for _, p := range []string{etcd, apiserver} {
		if _, err := os.Stat(p); err != nil {
			testreq.Missing(t, fmt.Sprintf("%s not found", p),
				"run `make tools` (builds etcd and kube-apiserver into bin/ from hack/kube) or set "+BinDirEnv)
		}
	}
	return etcd, apiserver
}

// BinDir is where the binaries are looked for: BinDirEnv, or bin/ in the directory
// of the go.mod above the working directory.
func BinDir() string {
	if d := os.Getenv(BinDirEnv); d != "" {
		return d
	}
	dir, _ := os.Getwd()
	for dir != "/" && dir != "." {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "bin")
		}
		dir = filepath.Dir(dir)
	}
	return "bin"
}

// start runs both servers in dir; stop ends whichever of them started.
func start(dir, etcdBin, apiBin string, opts Options) (c *Cluster, stop func(), err error) {
	var procs []*proc
	stop = func() {
		for i := len(procs) - 1; i >= 0; i-- { // kube-apiserver before etcd
			procs[i].stop()
		}
	}
	ports := make([]int, 3)
	for i := range ports {
		if ports[i], err = testreq.Port(); err != nil {
			return nil, stop, err
		}
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	c = &Cluster{URL: fmt.Sprintf("https://127.0.0.1:%d", ports[2]), Tokens: map[string]string{}, Dir: dir}

	files, err := writeCredentials(dir, c, opts.Users)
	if err != nil {
		return nil, stop, err
	}

	etcd, err := run(dir, "etcd", etcdBin,
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL,
		"--unsafe-no-fsync", "--log-level", "warn")
	if err != nil {
		return nil, stop, err
	}
	procs = append(procs, etcd)
	if err := waitFor(etcd, 30*time.Second, http.DefaultClient, etcdURL+"/health", ""); err != nil {
		return nil, stop, err
	}

	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", ports[2]),
		// A loopback advertise address cannot be written into the kubernetes Service's
		// endpoints.
		"--endpoint-reconciler-type=none",
		"--tls-cert-file=" + files.cert, "--tls-private-key-file=" + files.key,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + files.saPub, "--service-account-signing-key-file=" + files.saKey,
		"--token-auth-file=" + files.tokens,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--kubelet-certificate-authority=" + files.kubeletCA,
	}
	api, err := run(dir, "kube-apiserver", apiBin, append(args, opts.ExtraArgs...)...)
	if err != nil {
		return nil, stop, err
	}
	procs = append(procs, api)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CAData)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	if err := waitFor(api, 90*time.Second, client, c.URL+"/readyz", c.Token); err != nil {
		return nil, stop, err
	}
	return c, stop, nil
}

type credentialFiles struct{ cert, key, saKey, saPub, tokens, kubeletCA string }

// writeCredentials writes the serving certificate (for 127.0.0.1), the service
// account signing key pair and the token file, and fills c's CA and tokens.
func writeCredentials(dir string, c *Cluster, users []string) (credentialFiles, error) {
	f := credentialFiles{
		cert: filepath.Join(dir, "serving.crt"), key: filepath.Join(dir, "serving.key"),
		saKey: filepath.Join(dir, "sa.key"), saPub: filepath.Join(dir, "sa.pub"), tokens: filepath.Join(dir, "tokens.csv"),
		kubeletCA: filepath.Join(dir, "kubelet-ca.crt"),
	}
	servingKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "testkube"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &servingKey.PublicKey, servingKey)
	if err != nil {
		return f, err
	}
	c.CAData = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return f, err
	}
	kubeletKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "testkube kubelet CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &kubeletKey.PublicKey, kubeletKey)
	if err != nil {
		return f, err
	}
	c.KubeletCACert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	c.KubeletCAKey = pemKey(kubeletKey)
	c.Token = randomToken()
	var tokens bytes.Buffer
	fmt.Fprintf(&tokens, "%s,admin,admin,system:masters\n", c.Token)
	for _, u := range users {
		if u == "" || u == "admin" || strings.ContainsAny(u, ",\"\n") {
			return f, fmt.Errorf("user name %q: taken or not a plain name", u)
		}
		c.Tokens[u] = randomToken()
		fmt.Fprintf(&tokens, "%s,%s,%s\n", c.Tokens[u], u, u)
	}
	for path, content := range map[string][]byte{
		f.cert:      c.CAData,
		f.key:       pemKey(servingKey),
		f.saKey:     pemKey(saKey),
		f.saPub:     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
		f.tokens:    tokens.Bytes(),
		f.kubeletCA: c.KubeletCACert,
	} {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}

func pemKey(k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func randomToken() string {
	return rand.Text()
}

// proc is a server process whose output goes to DIR/NAME.log.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed when the process has exited
}

func run(dir, name, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// stop asks the process to end, and kills it after ten seconds.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// tail returns the end of the process's log, for an error.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// waitFor polls url until it answers 200, the process exits or the timeout passes.
func waitFor(p *proc, timeout time.Duration, client *http.Client, url, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		last = err
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited (%v) before it was ready:\n%s", p.name, p.cmd.ProcessState, p.tail())
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%s not ready after %s", p.name, timeout), last, errors.New(p.tail()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
