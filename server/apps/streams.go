package apps

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/server/kubeaccess"
	"github.com/astropulse/astroplane/store"
)

// StreamLimits cap the application streams (status, events, logs) open on one API
// process, per API key (per user for bearer tokens) and per organization, as
// clusters.StreamLimits caps the progress streams. Zero values: 50 and 500.
type StreamLimits struct {
	PerKey, PerOrg int
}

// Timing of the streams: how often an open stream checks its API key and its
// application, how often it pings, and how long a stream lasts at most.
const (
	keyCheckEvery = time.Second
	pingEvery     = 30 * time.Second
	maxStreamTime = 24 * time.Hour
)

// streamCounts counts the open application streams.
type streamCounts struct {
	mu            sync.Mutex
	limits        StreamLimits
	perKey, byOrg map[string]int
}

func (sc *streamCounts) setLimits(l StreamLimits) {
	if l.PerKey <= 0 {
		l.PerKey = 50
	}
	if l.PerOrg <= 0 {
		l.PerOrg = 500
	}
	sc.mu.Lock()
	sc.limits = l
	sc.mu.Unlock()
}

// acquire counts a stream of p, or answers 429 when p's key or organization holds
// its cap; release uncounts it (once).
func (sc *streamCounts) acquire(p httpx.Principal) (release func(), err error) {
	credential, what := "key:"+p.KeyID, "API key"
	if p.KeyID == "" {
		credential, what = "user:"+p.UserID, "user"
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.perKey == nil {
		sc.perKey, sc.byOrg = map[string]int{}, map[string]int{}
	}
	switch {
	case sc.perKey[credential] >= sc.limits.PerKey:
		return nil, tooManyStreams(fmt.Sprintf("this %s already has %d application streams open, its cap (per key): close one first", what, sc.limits.PerKey), "perKey", sc.limits.PerKey)
	case sc.byOrg[p.OrgID] >= sc.limits.PerOrg:
		return nil, tooManyStreams(fmt.Sprintf("the organization already has %d application streams open, its cap (per organization): close one first", sc.limits.PerOrg), "perOrganization", sc.limits.PerOrg)
	}
	sc.perKey[credential]++
	sc.byOrg[p.OrgID]++
	return sync.OnceFunc(func() {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if sc.perKey[credential]--; sc.perKey[credential] <= 0 {
			delete(sc.perKey, credential)
		}
		if sc.byOrg[p.OrgID]--; sc.byOrg[p.OrgID] <= 0 {
			delete(sc.byOrg, p.OrgID)
		}
	}), nil
}

func tooManyStreams(msg, limit string, value int) error {
	return &httpx.APIError{Status: http.StatusTooManyRequests, Code: httpx.CodeTooManyRequests, Message: msg,
		Details: map[string]any{"limit": limit, "maxStreams": value}}
}

// upgradeRequired answers a stream route asked over plain HTTP.
func upgradeRequired(c echo.Context) error {
	c.Response().Header().Set("Upgrade", "websocket")
	return &httpx.APIError{Status: http.StatusUpgradeRequired, Code: httpx.CodeUpgradeRequired,
		Message: "this route is a WebSocket: connect with a WebSocket client (e.g. websocat), or poll GET /api/v1/applications/{appId}"}
}

// stream is one open application stream.
type stream struct {
	conn    *websocket.Conn
	ctx     context.Context // ends when the client leaves, the stream is closed or lasts too long
	release func()
	cancel  context.CancelFunc
}

// open counts a stream of p (429 above the caps) and upgrades the request to a
// WebSocket. A nil stream with a nil error means Accept has answered the client.
func (s *Server) open(c echo.Context, p httpx.Principal) (*stream, error) {
	if !webSocketUpgrade(c.Request()) {
		return nil, upgradeRequired(c)
	}
	release, err := s.streams.acquire(p)
	if err != nil {
		return nil, err
	}
	return accept(c, release), nil
}

// accept upgrades the request to a WebSocket for a stream already counted (release
// uncounts it); nil when Accept has answered the client (and release was called).
func accept(c echo.Context, release func()) *stream {
	conn, err := websocket.Accept(c.Response(), c.Request(), nil)
	if err != nil {
		release()
		return nil
	}
	ctx := conn.CloseRead(context.WithoutCancel(c.Request().Context()))
	ctx, cancel := context.WithTimeout(ctx, maxStreamTime)
	return &stream{conn: conn, ctx: ctx, release: release, cancel: cancel}
}

func (st *stream) close() {
	st.cancel()
	st.conn.CloseNow()
	st.release()
}

// guard closes st when p's API key is revoked, deleted or expires (1008) or the
// application is deleted (1000, saying so), and pings the client every pingEvery;
// it returns when st's context ends.
func (s *Server) guard(st *stream, p httpx.Principal, appID string) {
	tick := time.NewTicker(keyCheckEvery)
	defer tick.Stop()
	lastPing := time.Now()
	for {
		select {
		case <-st.ctx.Done():
			return
		case <-tick.C:
		}
		if p.KeyID != "" {
			k, err := s.store.GetAPIKeyInOrg(st.ctx, p.OrgID, p.KeyID)
			now := time.Now()
			if errors.Is(err, store.ErrNotFound) || (err == nil && (k.RevokedAt != nil || (k.ExpiresAt != nil && now.After(*k.ExpiresAt)))) {
				_ = st.conn.Close(websocket.StatusPolicyViolation, "API key revoked or expired")
				st.cancel()
				return
			}
		}
		if _, err := s.store.GetApplication(st.ctx, p.OrgID, appID); errors.Is(err, store.ErrNotFound) {
			_ = st.conn.Close(websocket.StatusNormalClosure, "application deleted")
			st.cancel()
			return
		}
		if time.Since(lastPing) >= pingEvery {
			lastPing = time.Now()
			pctx, cancel := context.WithTimeout(st.ctx, 10*time.Second)
			_ = st.conn.Ping(pctx)
			cancel()
		}
	}
}

// clusterOf returns a client of the application's cluster, or the answer to give
// when there is none: 409 before the application is placed or while its cluster
// cannot be reached, 503 when access is unavailable (saying why).
func (s *Server) clusterOf(ctx context.Context, row store.Application) (kubernetes.Interface, *rest.Config, error) {
	if s.clusters == nil {
		return nil, nil, &httpx.APIError{Status: http.StatusServiceUnavailable, Code: httpx.CodeServiceUnavailable,
			Message: "this server has no access to clusters' Kubernetes APIs"}
	}
	if row.ClusterID == "" {
		return nil, nil, httpx.Conflict(fmt.Sprintf("application %s is not placed on a cluster yet", row.Name), nil)
	}
	cfg, err := s.clusters.Config(ctx, row.OrgID, row.ClusterID)
	switch {
	case errors.Is(err, kubeaccess.ErrClusterNotFound):
		return nil, nil, httpx.Conflict(fmt.Sprintf("the cluster of application %s no longer exists", row.Name), nil)
	case errors.Is(err, kubeaccess.ErrNoControlPlane):
		return nil, nil, httpx.Conflict(fmt.Sprintf("the cluster of application %s cannot be reached now: %s", row.Name, clean(err)), nil)
	case errors.Is(err, kubeaccess.ErrUnavailable):
		return nil, nil, &httpx.APIError{Status: http.StatusServiceUnavailable, Code: httpx.CodeServiceUnavailable,
			Message: fmt.Sprintf("the cluster of application %s cannot be reached now: %s", row.Name, clean(err))}
	case err != nil:
		return nil, nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	return client, cfg, nil
}

// clean is err's message without the sentinel's prefix.
func clean(err error) string {
	msg := err.Error()
	for _, sentinel := range []error{kubeaccess.ErrNoControlPlane, kubeaccess.ErrUnavailable} {
		if p := sentinel.Error() + ": "; len(msg) > len(p) && msg[:len(p)] == p {
			return msg[len(p):]
		}
	}
	return msg
}

// kubeAnswer turns an error of the cluster's API, met before a stream opens, into
// the answer: the cluster's own words for what the user asked wrong (400, 404),
// 503 otherwise without internals; a refused credential is forgotten so the next
// stream asks for another.
func (s *Server) kubeAnswer(row store.Application, what string, err error) error {
	var status apierrors.APIStatus
	switch {
	case apierrors.IsNotFound(err):
		return httpx.NotFound(what)
	case apierrors.IsBadRequest(err) && errors.As(err, &status):
		return httpx.BadRequest(status.Status().Message, nil)
	case apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err):
		s.clusters.Forget(row.OrgID, row.ClusterID)
	}
	s.log.Warn("application stream: the cluster's API", "appID", row.ID, "clusterID", row.ClusterID, "err", err)
	return &httpx.APIError{Status: http.StatusServiceUnavailable, Code: httpx.CodeServiceUnavailable,
		Message: fmt.Sprintf("the Kubernetes API of application %s's cluster did not answer as expected; try again", row.Name)}
}
