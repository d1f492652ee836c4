// Package devkube runs a real Kubernetes API server on loopback: etcd and
// kube-apiserver, built from Go modules into bin/ by `make tools` (see hack/kube).
// Tests start one per test (internal/testkube); `make run` starts one for the
// simulated cloud's clusters (cmd/devkube).
//
// There is no controller-manager, scheduler or kubelet: objects are stored, validated,
// defaulted and admitted exactly as a cluster would, but nothing reconciles them (no
// pods run, no `default` ServiceAccount appears in a new namespace, a Job never
// finishes). Clients authenticate with a bearer token of a system:masters user;
// RBAC is on, so tokens of other users (Options.Users) are authorized by the roles
// bound to them. Kubelets' serving certificates are verified against a CA made at
// start (Cluster.KubeletCACert), so a simulated node signing its certificate with it
// serves pods/log through the API server's real path.
package devkube

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
	"time"

	"k8s.io/client-go/rest"
)

// BinDirEnv names a directory holding etcd and kube-apiserver, instead of bin/ in
// the repository above the working directory.
const BinDirEnv = "ASTRO_KUBE_BIN_DIR"

// Options adjust the API server Start starts.
type Options struct {
	// Users are extra users the server authenticates, by name: each gets a token of
	// its own (Cluster.Tokens) and belongs to no group, so it can do only what RBAC
	// bindings allow.
	Users []string
	// ExtraArgs are appended to kube-apiserver's flags (e.g.
	// "--disable-admission-plugins=ServiceAccount").
	ExtraArgs []string
	// Fsync makes etcd sync its writes to disk (off by default: tests and make run
	// trade durability across a machine crash for speed).
	Fsync bool
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
	// KubeletCACert and KubeletCAKey (PEM) are the CA the API server trusts for
	// kubelets' serving certificates (--kubelet-certificate-authority).
	KubeletCACert, KubeletCAKey []byte
	// Dir holds the servers' data, keys and logs (etcd.log, kube-apiserver.log).
	Dir string

	procs []*proc
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
// and the simulated cloud's clusters).
func (c *Cluster) Kubeconfig() []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: devkube
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: devkube
  context:
    cluster: devkube
    user: admin
current-context: devkube
`, c.URL, base64.StdEncoding.EncodeToString(c.CAData), c.Token)
}

// Stop stops kube-apiserver, then etcd, each with SIGTERM and, after ten seconds, a
// kill. Safe to call more than once.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop()
	}
}

// Binaries returns the paths of etcd and kube-apiserver in dir, or an error naming
// the first one missing.
func Binaries(dir string) (etcd, apiserver string, err error) {
	etcd, apiserver = filepath.Join(dir, "etcd"), filepath.Join(dir, "kube-apiserver")
	for _, p := range []string{etcd, apiserver} {
		if _, err := os.Stat(p); err != nil {
			return etcd, apiserver, fmt.Errorf("%s not found", p)
		}
	}
	return etcd, apiserver, nil
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

// Start runs etcd and kube-apiserver (binaries in binDir) with their data, keys and
// logs in dir, on free loopback ports, and returns once the API server's /readyz
// answers (about 3–5 seconds). etcd's data in dir/etcd is kept: a second Start on
// the same dir finds the objects of the first. Keys and tokens are made anew each
// time. On error whatever started is stopped; the logs stay in dir.
func Start(ctx context.Context, binDir, dir string, opts Options) (*Cluster, error) {
	etcdBin, apiBin, err := Binaries(binDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c := &Cluster{Tokens: map[string]string{}, Dir: dir}
	if err := c.start(ctx, etcdBin, apiBin, opts); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, etcdBin, apiBin string, opts Options) error {
	ports := make([]int, 3)
	for i := range ports {
		var err error
		if ports[i], err = freePort(ctx); err != nil {
			return err
		}
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	c.URL = fmt.Sprintf("https://127.0.0.1:%d", ports[2])

	files, err := writeCredentials(c.Dir, c, opts.Users)
	if err != nil {
		return err
	}

	etcdArgs := []string{
		"--name", "default", "--data-dir", filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default=" + peerURL, "--log-level", "warn",
	}
	if !opts.Fsync {
		etcdArgs = append(etcdArgs, "--unsafe-no-fsync")
	}
	etcd, err := run(c.Dir, "etcd", etcdBin, etcdArgs...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, etcd)
	if err := waitFor(ctx, etcd, 30*time.Second, http.DefaultClient, etcdURL+"/health", ""); err != nil {
		return err
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
	api, err := run(c.Dir, "kube-apiserver", apiBin, append(args, opts.ExtraArgs...)...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, api)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CAData)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return waitFor(ctx, api, 90*time.Second, client, c.URL+"/readyz", c.Token)
}

// freePort is a TCP port free on 127.0.0.1 a moment ago.
func freePort(ctx context.Context) (int, error) {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type credentialFiles struct{ cert, key, saKey, saPub, tokens, kubeletCA string }

// writeCredentials writes the serving certificate (for 127.0.0.1), the service
// account signing key pair, the kubelet CA and the token file, and fills c's CAs and
// tokens.
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
	if c.CAData, err = selfSigned(servingKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "devkube"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
	}); err != nil {
		return f, err
	}
	kubeletKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	if c.KubeletCACert, err = selfSigned(kubeletKey, &x509.Certificate{
		Subject:  pkix.Name{CommonName: "devkube kubelet CA"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}); err != nil {
		return f, err
	}
	c.KubeletCAKey = pemKey(kubeletKey)
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return f, err
	}
	c.Token = rand.Text()
	var tokens bytes.Buffer
	fmt.Fprintf(&tokens, "%s,admin,admin,system:masters\n", c.Token)
	for _, u := range users {
		if u == "" || u == "admin" || strings.ContainsAny(u, ",\"\n") {
			return f, fmt.Errorf("user name %q: taken or not a plain name", u)
		}
		c.Tokens[u] = rand.Text()
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

// selfSigned makes tmpl a CA certificate signed by key, valid from an hour ago for a
// year, and returns it as PEM.
func selfSigned(key *ecdsa.PrivateKey, tmpl *x509.Certificate) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour)
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func pemKey(k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
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
	logFile, err := os.Create(logPath) //nolint:gosec // G304: a log in the directory the caller gave
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...) //nolint:gosec,noctx // G204: etcd or kube-apiserver from the bin directory, flags of our own; no context: the servers outlive Start's, Stop ends them
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

// Exited is closed when etcd or kube-apiserver has exited, on its own or stopped.
func (c *Cluster) Exited() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-c.procs[0].exited:
		case <-c.procs[1].exited:
		}
	}()
	return done
}

// tail returns the end of the process's log, for an error.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// waitFor polls url until it answers 200, the process exits, ctx ends or the
// timeout passes.
func waitFor(ctx context.Context, p *proc, timeout time.Duration, client *http.Client, url, token string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
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
