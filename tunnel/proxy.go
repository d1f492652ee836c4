package tunnel

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// ProxyPrefix is where the API serves the internal per-cluster proxy:
// ProxyPrefix + ORG/CLUSTER/ + a Kubernetes API path.
const ProxyPrefix = "/internal/agent-proxy/"

// hopHeader marks a request one replica relayed to the replica holding the tunnel, so
// it is never relayed twice.
const hopHeader = "X-Astro-Agent-Relay"

// ProxyKey signs and checks the short-lived bearer credentials of the internal proxy:
// the worker (which holds no tunnel) reaches a registered cluster through an API
// replica with a token naming exactly one organization and cluster. The key is shared
// by the API and the worker (ASTRO_AGENT_PROXY_KEY), at least 32 bytes.
type ProxyKey []byte

type proxyClaims struct {
	Org     string `json:"o"`
	Cluster string `json:"c"`
	Expires int64  `json:"e"`
}

func (k ProxyKey) mac(payload string) string {
	m := hmac.New(sha256.New, k)
	m.Write([]byte("astro-agent-proxy\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Token is a credential for org's cluster, valid for ttl.
func (k ProxyKey) Token(org, cluster string, ttl time.Duration) (string, error) {
	if len(k) < 32 {
		return "", errors.New("agent proxy key: at least 32 bytes are required")
	}
	b, err := json.Marshal(proxyClaims{Org: org, Cluster: cluster, Expires: time.Now().Add(ttl).Unix()})
	if err != nil {
		return "", err
	}
	p := base64.RawURLEncoding.EncodeToString(b)
	return p + "." + k.mac(p), nil
}

// Verify checks a token and that it names org's cluster.
func (k ProxyKey) Verify(token, org, cluster string, now time.Time) error {
	p, sig, ok := strings.Cut(token, ".")
	if !ok || len(k) < 32 || !hmac.Equal([]byte(sig), []byte(k.mac(p))) {
		return errors.New("invalid proxy credential")
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return errors.New("invalid proxy credential")
	}
	var c proxyClaims
	if err := json.Unmarshal(b, &c); err != nil {
		return errors.New("invalid proxy credential")
	}
	if c.Org != org || c.Cluster != cluster {
		return errors.New("the proxy credential is for another cluster")
	}
	if now.Unix() >= c.Expires {
		return errors.New("the proxy credential expired")
	}
	return nil
}

// ProxyConfig is the worker's client-go configuration for org's cluster: the API's
// internal proxy at base (e.g. https://api.internal:8080) with a token valid for ttl.
// tls is the API's TLS trust (empty for plain HTTP inside the platform's network).
func (k ProxyKey) ProxyConfig(base, org, cluster string, ttl time.Duration, tls rest.TLSClientConfig) (*rest.Config, error) {
	tok, err := k.Token(org, cluster, ttl)
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host:            strings.TrimSuffix(base, "/") + ProxyPrefix + url.PathEscape(org) + "/" + url.PathEscape(cluster),
		BearerToken:     tok,
		TLSClientConfig: tls,
		QPS:             50,
		Burst:           100,
	}, nil
}

// Locator says which replica holds a cluster's tunnel: the base URL the replica's
// internal proxy is reached at ("" when none). The store's ClusterAgent.Replica.
type Locator func(r *http.Request, org, cluster string) (string, error)

// ProxyHandler serves ProxyPrefix: it checks the bearer token (Key) against the
// organization and cluster in the path, then forwards the request through the
// tunnel when this replica holds it, or once to the replica Locate names, or answers
// 503. The token is not passed on.
func (s *Server) ProxyHandler(key ProxyKey, self string, locate Locator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, ProxyPrefix)
		if !ok {
			fail(w, http.StatusNotFound, "not found")
			return
		}
		parts := strings.SplitN(rest, "/", 3)
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			fail(w, http.StatusNotFound, "not found")
			return
		}
		org, cluster := parts[0], parts[1]
		tail := "/"
		if len(parts) == 3 {
			tail += parts[2]
		}
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if err := key.Verify(bearer, org, cluster, time.Now()); err != nil {
			fail(w, http.StatusUnauthorized, err.Error())
			return
		}
		if sess, ok := s.lookup(Identity{Org: org, Cluster: cluster}); ok {
			target, _ := url.Parse("http://" + tunnelHost)
			(&httputil.ReverseProxy{
				Rewrite: func(pr *httputil.ProxyRequest) {
					pr.SetURL(target)
					pr.Out.URL.Path, pr.Out.URL.RawPath = tail, ""
					pr.Out.Header.Del("Authorization")
					pr.Out.Header.Del(hopHeader)
				},
				Transport:     &http.Transport{DialContext: dialSession(sess)},
				FlushInterval: -1,
			}).ServeHTTP(w, r)
			return
		}
		if r.Header.Get(hopHeader) != "" || locate == nil {
			fail(w, http.StatusServiceUnavailable, ErrNotConnected.Error())
			return
		}
		holder, err := locate(r, org, cluster)
		if err != nil || holder == "" || holder == self {
			fail(w, http.StatusServiceUnavailable, ErrNotConnected.Error())
			return
		}
		target, err := url.Parse(holder)
		if err != nil {
			fail(w, http.StatusServiceUnavailable, ErrNotConnected.Error())
			return
		}
		(&httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.URL.Path, pr.Out.URL.RawPath = r.URL.Path, r.URL.RawPath
				pr.Out.Header.Set(hopHeader, s.Replica)
			},
			FlushInterval: -1,
		}).ServeHTTP(w, r)
	})
}
