package tunnel

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
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// CertStore keeps an agent's key and certificate across restarts.
type CertStore interface {
	// Load returns the saved PEM key and certificate, or os.ErrNotExist.
	Load(ctx context.Context) (keyPEM, certPEM []byte, err error)
	Save(ctx context.Context, keyPEM, certPEM []byte) error
}

// DirStore keeps them as key.pem and cert.pem in a directory (mode 0600).
type DirStore string

// Load implements CertStore.
func (d DirStore) Load(context.Context) ([]byte, []byte, error) {
	key, err := os.ReadFile(filepath.Join(string(d), "key.pem"))
	if err != nil {
		return nil, nil, err
	}
	cert, err := os.ReadFile(filepath.Join(string(d), "cert.pem"))
	if err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

// Save implements CertStore. The directory is the operator's own setting (a flag).
func (d DirStore) Save(_ context.Context, key, cert []byte) error {
	if err := os.MkdirAll(string(d), 0o700); err != nil { //nolint:gosec // G703: the operator's -state-dir
		return err
	}
	if err := os.WriteFile(filepath.Join(string(d), "key.pem"), key, 0o600); err != nil { //nolint:gosec // G703: the operator's -state-dir
		return err
	}
	return os.WriteFile(filepath.Join(string(d), "cert.pem"), cert, 0o600) //nolint:gosec // G703: the operator's -state-dir
}

// Agent is the cluster side: it dials the control plane, never listens.
type Agent struct {
	// Endpoint is the tunnel endpoint, https://HOST:PORT.
	Endpoint string
	// CAPEM is the tunnel CA the endpoint's certificate chains to (only it is trusted).
	CAPEM []byte
	// Token is the one-time registration token, used when Store holds no certificate.
	Token string
	Store CertStore
	// Kube reaches the cluster's Kubernetes API (in-cluster ServiceAccount, or a
	// kubeconfig for development and tests).
	Kube    *rest.Config
	Version string
	// Region, when set, is reported instead of the nodes' topology label.
	Region string
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between connection attempts (1 s, 60 s).
	MinBackoff, MaxBackoff time.Duration

	mu      sync.Mutex
	cert    *tls.Certificate
	rotated chan struct{}
}

// ErrTokenRefused is the control plane refusing the registration token; retrying cannot help.
var ErrTokenRefused = errors.New("registration token refused (unknown, already used or expired)")

func (a *Agent) log() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

func (a *Agent) pool() (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(a.CAPEM) {
		return nil, errors.New("agent: no CA certificate to trust the control plane with")
	}
	return p, nil
}

func (a *Agent) httpClient(cert *tls.Certificate) (*http.Client, error) {
	pool, err := a.pool()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 0, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: false}}, nil
}

// Run registers if needed and keeps the tunnel up until ctx ends. It returns
// ErrTokenRefused when it has no certificate and its token is refused.
func (a *Agent) Run(ctx context.Context) error {
	a.rotated = make(chan struct{}, 1)
	if err := a.ensureCert(ctx); err != nil {
		return err
	}
	minB, maxB := a.MinBackoff, a.MaxBackoff
	if minB <= 0 {
		minB = time.Second
	}
	if maxB <= 0 {
		maxB = time.Minute
	}
	backoff := minB
	var old *yamux.Session
	for {
		began := time.Now()
		sess, err := a.dial(ctx)
		if old != nil {
			go drain(old)
			old = nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil //nolint:nilerr // stopping (ctx ended) is not a failure
			}
			a.log().Warn("tunnel: cannot connect", "err", err, "retryIn", backoff)
			if !sleep(ctx, jitter(backoff)) {
				return nil
			}
			backoff = min(backoff*2, maxB)
			continue
		}
		a.log().Info("tunnel: connected", "endpoint", a.Endpoint)
		served := make(chan struct{})
		go func() {
			srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 30 * time.Second}
			_ = srv.Serve(sess) // the session is the only "listener": streams the control plane opens
			close(served)
		}()
		select {
		case <-ctx.Done():
			_ = sess.Close()
			return nil
		case <-a.rotated:
			old = sess // keep serving until the new tunnel is up, then drain
			backoff = minB
			continue
		case <-served:
		}
		a.log().Warn("tunnel: connection lost")
		if time.Since(began) > time.Minute {
			backoff = minB
		}
		if !sleep(ctx, jitter(backoff)) {
			return nil
		}
		backoff = min(backoff*2, maxB)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func jitter(d time.Duration) time.Duration {
	b := make([]byte, 1)
	_, _ = rand.Read(b)
	return d - d/4 + d*time.Duration(b[0])/(2*255)/2
}

func (a *Agent) dial(ctx context.Context) (*yamux.Session, error) {
	a.mu.Lock()
	cert := a.cert
	a.mu.Unlock()
	client, err := a.httpClient(cert)
	if err != nil {
		return nil, err
	}
	u := strings.TrimSuffix(a.Endpoint, "/") + ConnectPath
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{
		HTTPClient: client,
		HTTPHeader: http.Header{VersionHeader: {a.Version}},
	})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusForbidden {
			return nil, fmt.Errorf("the control plane refuses this agent's certificate (cluster unregistered?): %w", err)
		}
		return nil, err
	}
	return yamux.Server(websocket.NetConn(context.WithoutCancel(ctx), ws, websocket.MessageBinary), yamuxConfig())
}

func newKeyAndCSR() (keyPEM, csrPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "astro-agent"}}, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

func (a *Agent) ensureCert(ctx context.Context) error {
	key, cert, err := a.Store.Load(ctx)
	if err == nil {
		pair, perr := tls.X509KeyPair(cert, key)
		if perr == nil {
			a.cert = &pair
			return nil
		}
		a.log().Warn("tunnel: saved certificate unusable, registering again", "err", perr)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("load certificate: %w", err)
	}
	if a.Token == "" {
		return errors.New("no certificate yet and no registration token")
	}
	return a.obtain(ctx, RegisterPath, a.Token, nil)
}

// obtain sends a fresh CSR (with the token, or with the current certificate) and saves
// the certificate it gets.
func (a *Agent) obtain(ctx context.Context, path, token string, current *tls.Certificate) error {
	keyPEM, csrPEM, err := newKeyAndCSR()
	if err != nil {
		return err
	}
	client, err := a.httpClient(current)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(CertRequest{Token: token, CSR: string(csrPEM)})
	var lastErr error
	for attempt := range 5 {
		if attempt > 0 && !sleep(ctx, time.Duration(attempt)*time.Second) {
			return ctx.Err()
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(a.Endpoint, "/")+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusForbidden && path == RegisterPath:
			return ErrTokenRefused
		case resp.StatusCode != http.StatusOK:
			lastErr = fmt.Errorf("%s: %s %s", path, resp.Status, bytes.TrimSpace(b))
			if resp.StatusCode < 500 {
				return lastErr
			}
			continue
		}
		var cr CertResponse
		if err := json.Unmarshal(b, &cr); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		pair, err := tls.X509KeyPair([]byte(cr.Certificate), keyPEM)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := a.Store.Save(ctx, keyPEM, []byte(cr.Certificate)); err != nil {
			return fmt.Errorf("save certificate: %w", err)
		}
		a.mu.Lock()
		a.cert = &pair
		a.mu.Unlock()
		a.log().Info("tunnel: certificate obtained", "org", cr.Identity.Org, "cluster", cr.Identity.Cluster)
		return nil
	}
	return lastErr
}

// handler answers the control plane's streams: its own info and rotation, and
// everything else forwarded to the Kubernetes API as the agent's ServiceAccount.
func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+InfoPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.info(r.Context()))
	})
	mux.HandleFunc("POST "+RotatePath, func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		cur := a.cert
		a.mu.Unlock()
		if err := a.obtain(r.Context(), RenewPath, "", cur); err != nil {
			a.log().Error("tunnel: rotate certificate", "err", err)
			fail(w, http.StatusBadGateway, err.Error())
			return
		}
		select {
		case a.rotated <- struct{}{}:
		default:
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "rotated"})
	})
	proxy, err := a.kubeProxy()
	if err != nil {
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fail(w, http.StatusBadGateway, err.Error()) })
	} else {
		mux.Handle("/", proxy)
	}
	return mux
}

func (a *Agent) kubeProxy() (http.Handler, error) {
	rt, err := rest.TransportFor(a.Kube)
	if err != nil {
		return nil, err
	}
	target, err := url.Parse(a.Kube.Host)
	if err != nil {
		return nil, err
	}
	if target.Scheme == "" {
		target, _ = url.Parse("https://" + a.Kube.Host)
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			// Only the agent's own ServiceAccount speaks to the API.
			pr.Out.Header.Del("Authorization")
			for k := range pr.Out.Header {
				if strings.HasPrefix(strings.ToLower(k), "impersonate-") {
					pr.Out.Header.Del(k)
				}
			}
		},
		Transport:     rt,
		FlushInterval: -1, // watches and log follows stream
		ErrorLog:      nil,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			a.log().Warn("tunnel: Kubernetes API", "err", err)
			fail(w, http.StatusBadGateway, "the agent cannot reach its cluster's Kubernetes API")
		},
	}, nil
}

// RegionLabel is the well-known node label the agent reads the region from.
const RegionLabel = "topology.kubernetes.io/region"

func (a *Agent) info(ctx context.Context) AgentInfo {
	info := AgentInfo{Version: a.Version, Arch: runtime.GOARCH, Region: a.Region}
	cs, err := kubernetes.NewForConfig(a.Kube)
	if err != nil {
		info.Message = err.Error()
		return info
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		info.Message = "cannot reach the Kubernetes API: " + err.Error()
		return info
	}
	info.KubernetesVersion = v.GitVersion
	info.Healthy = true
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		info.Message = "cannot list nodes: " + err.Error()
		return info
	}
	info.Nodes = len(nodes.Items)
	if info.Region == "" {
		for _, n := range nodes.Items {
			if r := n.Labels[RegionLabel]; r != "" {
				info.Region = r
				break
			}
		}
	}
	return info
}
