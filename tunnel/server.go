package tunnel

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"
	"k8s.io/client-go/rest"
)

// Paths of the tunnel endpoint.
const (
	RegisterPath = "/agent/v1/register" // token + CSR → certificate (no client certificate)
	RenewPath    = "/agent/v1/renew"    // client certificate + CSR → new certificate
	ConnectPath  = "/agent/v1/connect"  // client certificate → WebSocket tunnel
	// InfoPath and RotatePath are served by the agent itself, inside the tunnel.
	InfoPath   = "/.astro-agent/v1/info"
	RotatePath = "/.astro-agent/v1/rotate"
	// VersionHeader carries the agent's version on ConnectPath.
	VersionHeader = "X-Astro-Agent-Version"
)

var (
	// ErrRefused is a registration token or agent the Registry does not accept: unknown,
	// used, expired, for a cluster that is not (or no longer) registered in that
	// organization, or a revoked certificate.
	ErrRefused = errors.New("refused")
	// ErrNotConnected means no agent of that organization and cluster holds a tunnel
	// with this replica.
	ErrNotConnected = errors.New("the cluster's agent is not connected")
)

// Registry is what the tunnel asks the store (store.AgentRegistry).
type Registry interface {
	// Redeem consumes a registration token, given by its HashToken, once: it returns
	// the identity it was issued for, or ErrRefused when unknown, used or expired.
	Redeem(ctx context.Context, tokenHash string) (Identity, error)
	// Issued records a certificate issued to id's agent; it becomes the current one.
	Issued(ctx context.Context, id Identity, cert Issued) error
	// Admit accepts a certificate of id (by serial) to hold a tunnel or renew: the
	// cluster is registered in that organization and the serial is its current or
	// previous certificate. Otherwise ErrRefused.
	Admit(ctx context.Context, id Identity, serial string) error
	// Connected and Disconnected record which replica holds id's tunnel.
	Connected(ctx context.Context, id Identity, c Connection) error
	Disconnected(ctx context.Context, id Identity, replica string, at time.Time) error
}

// Connection is one agent's tunnel as a replica holds it.
type Connection struct {
	Replica string
	Serial  string
	Since   time.Time
	Info    AgentInfo
}

// AgentInfo is what an agent reports about itself and its cluster (InfoPath).
type AgentInfo struct {
	Version           string `json:"version"`
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	Nodes             int    `json:"nodes"`
	Region            string `json:"region,omitempty"`
	Arch              string `json:"arch,omitempty"`
	Healthy           bool   `json:"healthy"`
	Message           string `json:"message,omitempty"`
}

// Server is the control plane's side: the tunnel endpoint's handler and the tunnels
// this replica holds.
type Server struct {
	CA       *CA
	Registry Registry
	// Replica names this API process in the store (which replica holds a tunnel).
	Replica string
	// CertTTL is how long agent certificates last (default 90 days).
	CertTTL time.Duration
	// HealthEvery is how often the agent's info is refreshed (default 30 s).
	HealthEvery time.Duration
	Logger      *slog.Logger

	mu     sync.Mutex
	agents map[Identity]*agentConn
}

type agentConn struct {
	sess   *yamux.Session
	serial string
	since  time.Time
	info   AgentInfo
	seen   time.Time
}

// TLSConfig is the endpoint's TLS configuration: cert serves, and client certificates
// are verified against the CA when given (ConnectPath and RenewPath require one).
func (s *Server) TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    s.CA.Pool(),
	}
}

// Handler serves the tunnel endpoint's paths (behind TLSConfig).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+RegisterPath, s.register)
	mux.HandleFunc("POST "+RenewPath, s.renew)
	mux.HandleFunc("GET "+ConnectPath, s.connect)
	return mux
}

func (s *Server) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) ttl() time.Duration {
	if s.CertTTL > 0 {
		return s.CertTTL
	}
	return 90 * 24 * time.Hour
}

// CertRequest is RegisterPath's and RenewPath's body.
type CertRequest struct {
	Token string `json:"token,omitempty"`
	CSR   string `json:"csr"`
}

// CertResponse is their answer.
type CertResponse struct {
	Certificate string   `json:"certificate"`
	CA          string   `json:"ca"`
	Identity    Identity `json:"identity"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func readCertRequest(w http.ResponseWriter, r *http.Request) (CertRequest, bool) {
	var req CertRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "body: not a JSON certificate request")
		return req, false
	}
	if req.CSR == "" {
		fail(w, http.StatusBadRequest, "csr: required")
		return req, false
	}
	return req, true
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	req, ok := readCertRequest(w, r)
	if !ok {
		return
	}
	if req.Token == "" {
		fail(w, http.StatusBadRequest, "token: required")
		return
	}
	id, err := s.Registry.Redeem(r.Context(), HashToken(req.Token))
	if err != nil {
		if errors.Is(err, ErrRefused) {
			s.log().Warn("agent registration refused: unknown, used or expired token", "remote", r.RemoteAddr)
			fail(w, http.StatusForbidden, "token: refused (unknown, already used or expired); register the cluster again for a new one")
			return
		}
		s.log().Error("agent registration", "err", err)
		fail(w, http.StatusServiceUnavailable, "registration is unavailable, try again")
		return
	}
	s.issue(w, r, id, req.CSR)
}

func (s *Server) issue(w http.ResponseWriter, r *http.Request, id Identity, csr string) {
	cert, err := s.CA.SignAgent([]byte(csr), id, s.ttl())
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.Registry.Issued(r.Context(), id, cert); err != nil {
		s.log().Error("record agent certificate", "cluster", id.Cluster, "err", err)
		fail(w, http.StatusServiceUnavailable, "registration is unavailable, try again")
		return
	}
	s.log().Info("agent certificate issued", "org", id.Org, "cluster", id.Cluster, "serial", cert.Serial, "notAfter", cert.NotAfter)
	writeJSON(w, http.StatusOK, CertResponse{Certificate: string(cert.PEM), CA: string(s.CA.PEM()), Identity: id})
}

// peer checks the client certificate: signed by the CA for client authentication (the
// TLS layer verified it), naming one identity the Registry admits.
func (s *Server) peer(w http.ResponseWriter, r *http.Request) (Identity, string, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		fail(w, http.StatusUnauthorized, "a client certificate issued by the platform is required")
		return Identity{}, "", false
	}
	leaf := r.TLS.VerifiedChains[0][0]
	id, err := IdentityOf(leaf)
	if err != nil {
		fail(w, http.StatusForbidden, err.Error())
		return Identity{}, "", false
	}
	serial := SerialString(leaf.SerialNumber)
	if err := s.Registry.Admit(r.Context(), id, serial); err != nil {
		if errors.Is(err, ErrRefused) {
			s.log().Warn("agent refused", "org", id.Org, "cluster", id.Cluster, "serial", serial)
			fail(w, http.StatusForbidden, "this certificate's cluster is not registered to its organization, or the certificate was replaced")
			return Identity{}, "", false
		}
		s.log().Error("admit agent", "err", err)
		fail(w, http.StatusServiceUnavailable, "unavailable, try again")
		return Identity{}, "", false
	}
	return id, serial, true
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request) {
	id, _, ok := s.peer(w, r)
	if !ok {
		return
	}
	req, ok := readCertRequest(w, r)
	if !ok {
		return
	}
	s.issue(w, r, id, req.CSR)
}

func yamuxConfig() *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	cfg.KeepAliveInterval = 15 * time.Second
	cfg.ConnectionWriteTimeout = 30 * time.Second
	return cfg
}

func (s *Server) connect(w http.ResponseWriter, r *http.Request) {
	id, serial, ok := s.peer(w, r)
	if !ok {
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept answered
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	sess, err := yamux.Client(websocket.NetConn(ctx, ws, websocket.MessageBinary), yamuxConfig())
	if err != nil {
		_ = ws.Close(websocket.StatusInternalError, "")
		return
	}
	// The agent only answers: any stream it opens is closed at once.
	go func() {
		for {
			st, err := sess.AcceptStream()
			if err != nil {
				return
			}
			_ = st.Close()
		}
	}()
	now := time.Now()
	ac := &agentConn{sess: sess, serial: serial, since: now, seen: now}
	ac.info, err = fetchInfo(ctx, sess)
	if err != nil {
		s.log().Warn("agent info", "org", id.Org, "cluster", id.Cluster, "err", err)
	}
	ac.info.Version = firstNonEmpty(ac.info.Version, r.Header.Get(VersionHeader))
	old := s.put(id, ac)
	if old != nil {
		go drain(old.sess)
	}
	s.record(ctx, id, ac)
	s.log().Info("agent connected", "org", id.Org, "cluster", id.Cluster, "version", ac.info.Version, "replica", s.Replica)

	every := s.HealthEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-sess.CloseChan():
			if s.remove(id, ac) {
				if err := s.Registry.Disconnected(ctx, id, s.Replica, time.Now()); err != nil {
					s.log().Error("record agent disconnected", "err", err)
				}
				s.log().Info("agent disconnected", "org", id.Org, "cluster", id.Cluster)
			}
			return
		case <-tick.C:
			if err := s.Registry.Admit(ctx, id, serial); errors.Is(err, ErrRefused) {
				// Unregistered (or its certificate replaced and the new one in use).
				s.log().Info("agent no longer admitted: closing its tunnel", "org", id.Org, "cluster", id.Cluster)
				_ = sess.Close()
				continue
			}
			info, err := fetchInfo(ctx, sess)
			if err != nil {
				continue
			}
			s.mu.Lock()
			ac.info, ac.seen = info, time.Now()
			s.mu.Unlock()
			s.record(ctx, id, ac)
		}
	}
}

func (s *Server) record(ctx context.Context, id Identity, ac *agentConn) {
	s.mu.Lock()
	c := Connection{Replica: s.Replica, Serial: ac.serial, Since: ac.since, Info: ac.info}
	s.mu.Unlock()
	if err := s.Registry.Connected(ctx, id, c); err != nil {
		s.log().Error("record agent connected", "err", err)
	}
}

// drain closes a replaced session once its streams are done (at most a minute), so a
// reconnecting or rotating agent loses no request in flight.
func drain(sess *yamux.Session) {
	deadline := time.Now().Add(time.Minute)
	for sess.NumStreams() > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	_ = sess.Close()
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Server) put(id Identity, ac *agentConn) (old *agentConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.agents == nil {
		s.agents = map[Identity]*agentConn{}
	}
	old = s.agents[id]
	s.agents[id] = ac
	return old
}

func (s *Server) remove(id Identity, ac *agentConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.agents[id] != ac {
		return false
	}
	delete(s.agents, id)
	return true
}

func (s *Server) lookup(id Identity) (*yamux.Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ac, ok := s.agents[id]
	if !ok || ac.sess.IsClosed() {
		return nil, false
	}
	return ac.sess, true
}

// Status is an agent's tunnel as this replica sees it.
type Status struct {
	Connected bool
	Since     time.Time
	LastSeen  time.Time
	Serial    string
	Info      AgentInfo
}

// Status says whether org's cluster's agent holds a tunnel with this replica.
func (s *Server) Status(org, cluster string) Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	ac, ok := s.agents[Identity{Org: org, Cluster: cluster}]
	if !ok || ac.sess.IsClosed() {
		return Status{}
	}
	return Status{Connected: true, Since: ac.since, LastSeen: ac.seen, Serial: ac.serial, Info: ac.info}
}

// Disconnect closes org's cluster's tunnel, if this replica holds it (unregistering).
func (s *Server) Disconnect(org, cluster string) {
	if sess, ok := s.lookup(Identity{Org: org, Cluster: cluster}); ok {
		_ = sess.Close()
	}
}

// tunnelHost is the host name of RESTConfig's URL; nothing resolves it, Dial ignores it.
const tunnelHost = "kubernetes.agent.invalid"

// RESTConfig is a client-go configuration reaching org's cluster's Kubernetes API
// through its agent's tunnel, as the agent's ServiceAccount. Each connection opens a
// stream in the tunnel the agent holds when it dials (so it follows reconnections);
// ErrNotConnected when none. The config carries no credential: the agent adds its own.
func (s *Server) RESTConfig(org, cluster string) (*rest.Config, error) {
	id := Identity{Org: org, Cluster: cluster}
	if _, ok := s.lookup(id); !ok {
		return nil, fmt.Errorf("%w (organization %s, cluster %s)", ErrNotConnected, org, cluster)
	}
	return &rest.Config{
		Host:  "http://" + tunnelHost,
		QPS:   50,
		Burst: 100,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			sess, ok := s.lookup(id)
			if !ok {
				return nil, ErrNotConnected
			}
			return openStream(ctx, sess)
		},
	}, nil
}

func openStream(ctx context.Context, sess *yamux.Session) (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := sess.Open()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				_ = r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// Rotate asks org's cluster's agent to renew its certificate (a new key and CSR, sent
// on RenewPath with its current certificate) and reconnect with it; the old tunnel
// drains and closes, so nothing is cut. The new certificate replaces the old one in
// the Registry.
func (s *Server) Rotate(ctx context.Context, org, cluster string) error {
	sess, ok := s.lookup(Identity{Org: org, Cluster: cluster})
	if !ok {
		return ErrNotConnected
	}
	resp, err := do(ctx, sess, http.MethodPost, RotatePath)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("agent could not rotate its certificate: %s %s", resp.Status, b)
	}
	return nil
}

func do(ctx context.Context, sess *yamux.Session, method, path string) (*http.Response, error) {
	client := &http.Client{Transport: &http.Transport{
		DialContext:       dialSession(sess),
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+tunnelHost+path, nil)
	if err != nil {
		return nil, err
	}
	return client.Do(req)
}

func fetchInfo(ctx context.Context, sess *yamux.Session) (AgentInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := do(ctx, sess, http.MethodGet, InfoPath)
	if err != nil {
		return AgentInfo{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	var info AgentInfo
	if resp.StatusCode != http.StatusOK {
		return info, fmt.Errorf("agent info: %s", resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&info); err != nil {
		return info, fmt.Errorf("agent info: %w", err)
	}
	return info, nil
}

func dialSession(sess *yamux.Session) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) { return openStream(ctx, sess) }
}
