package apps

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// statusPoll is how often a status stream reads the application's record.
const statusPoll = 500 * time.Millisecond

// StreamApplicationStatus upgrades to a WebSocket, sends the application's status
// (lifecycle status, Argo CD sync and health, message) and then one frame each time
// it changes, as the application's operations record it; when the application is
// deleted it sends DELETED and closes (1000). The application is found before the
// upgrade (another organization's is 404); a stream opened with an API key closes
// (1008) within a poll of the key being revoked, deleted or expiring. Open
// application streams are capped per key and per organization (429).
//
// Not built yet: live sync/health changes Argo CD reports between operations (only
// what operations record is streamed; the events stream has them).
func (s *Server) StreamApplicationStatus(c echo.Context, appID string, _ api.StreamApplicationStatusParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	row, err := s.get(c.Request().Context(), p.OrgID, appID)
	if err != nil {
		return err
	}
	st, err := s.open(c, p)
	if st == nil {
		return err
	}
	defer st.close()
	ctx, conn := st.ctx, st.conn
	last := row
	if err := wsjson.Write(ctx, conn, frame(api.ApplicationStatusFrameTypeStatus, row)); err != nil {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(statusPoll):
		}
		if p.KeyID != "" {
			k, err := s.store.GetAPIKeyInOrg(ctx, p.OrgID, p.KeyID)
			now := time.Now()
			if errors.Is(err, store.ErrNotFound) || (err == nil && (k.RevokedAt != nil || (k.ExpiresAt != nil && now.After(*k.ExpiresAt)))) {
				conn.Close(websocket.StatusPolicyViolation, "API key revoked or expired")
				return nil
			}
		}
		cur, err := s.store.GetApplication(ctx, p.OrgID, row.ID)
		if errors.Is(err, store.ErrNotFound) {
			last.Status, last.StatusMessage = "DELETED", "application deleted"
			_ = wsjson.Write(ctx, conn, frame(api.ApplicationStatusFrameTypeStatus, last))
			conn.Close(websocket.StatusNormalClosure, "application deleted")
			return nil
		}
		if err != nil {
			continue // a store hiccup: read again next poll
		}
		var typ api.ApplicationStatusFrameType
		switch {
		case cur.Status != last.Status || cur.StatusMessage != last.StatusMessage:
			typ = api.ApplicationStatusFrameTypeStatus
		case cur.SyncStatus != last.SyncStatus:
			typ = api.ApplicationStatusFrameTypeSync
		case cur.HealthStatus != last.HealthStatus:
			typ = api.ApplicationStatusFrameTypeHealth
		default:
			continue
		}
		last = cur
		if err := wsjson.Write(ctx, conn, frame(typ, cur)); err != nil {
			return nil
		}
	}
}

func frame(typ api.ApplicationStatusFrameType, r store.Application) api.ApplicationStatusFrame {
	f := api.ApplicationStatusFrame{Type: typ, AppId: r.ID, Timestamp: time.Now().UTC()}
	st := api.ApplicationStatusFrameStatus(r.Status)
	f.Status = &st
	if r.SyncStatus != "" {
		ss := api.ApplicationStatusFrameSyncStatus(r.SyncStatus)
		f.SyncStatus = &ss
	}
	if r.HealthStatus != "" {
		h := api.ApplicationStatusFrameHealth(r.HealthStatus)
		f.Health = &h
	}
	if r.StatusMessage != "" {
		f.Message = &r.StatusMessage
	}
	return f
}

func webSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
