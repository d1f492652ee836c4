package ghintegration

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// WebhookPath is where GitHub delivers the app's webhook. It is beyond the
// reference, which has no operation for it, so it is a route of its own outside the
// contract (public: GitHub signs what it sends).
const WebhookPath = "/api/v1/integrations/github/webhook"

// deliveryPurpose names webhook deliveries among the used tokens.
const deliveryPurpose = "github-delivery"

// Webhook takes one of the app's webhook deliveries: the body's X-Hub-Signature-256
// is checked before anything reads it as JSON, a delivery (X-GitHub-Delivery) is
// acted on once, and installation events (deleted, suspend, unsuspend,
// new_permissions_accepted) and installation_repositories keep the records in sync.
func (s *Server) Webhook(c echo.Context) error {
	if s.d.App == nil || len(s.d.WebhookSecret) == 0 {
		return httpx.NotImplemented("githubWebhook")
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, 5<<20))
	if err != nil {
		return httpx.BadRequest("unreadable body", nil)
	}
	sig, ok := strings.CutPrefix(c.Request().Header.Get("X-Hub-Signature-256"), "sha256=")
	got, herr := hex.DecodeString(sig)
	m := hmac.New(sha256.New, s.d.WebhookSecret)
	m.Write(body)
	if !ok || herr != nil || !hmac.Equal(got, m.Sum(nil)) {
		return httpx.Unauthorized("X-Hub-Signature-256 does not match the body")
	}
	delivery := strings.TrimSpace(c.Request().Header.Get("X-GitHub-Delivery"))
	if delivery == "" || len(delivery) > 60 {
		return httpx.BadRequest("X-GitHub-Delivery is required", map[string]any{"X-GitHub-Delivery": "is required (at most 60 characters)"})
	}
	var ev struct {
		Action       string `json:"action"`
		Installation struct {
			ID                  int64             `json:"id"`
			RepositorySelection string            `json:"repository_selection"`
			Permissions         map[string]string `json:"permissions"`
		} `json:"installation"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return httpx.BadRequest("the body is not JSON", map[string]any{"body": "is not JSON"})
	}
	ctx := c.Request().Context()
	if err := s.d.Store.UseToken(ctx, "", "ghd:"+delivery, deliveryPurpose, s.now()); err != nil {
		if errors.Is(err, store.ErrTokenUsed) {
			return c.JSON(http.StatusOK, map[string]any{"received": true, "duplicate": true})
		}
		return err
	}
	event := c.Request().Header.Get("X-GitHub-Event")
	id := ev.Installation.ID
	if id <= 0 || (event != "installation" && event != "installation_repositories") {
		return c.JSON(http.StatusOK, map[string]any{"received": true})
	}
	links, err := s.d.Store.GithubInstallationLinks(ctx, id)
	if err != nil {
		return err
	}
	s.d.App.Forget(id)
	for i := range links {
		l := &links[i]
		switch {
		case event == "installation" && ev.Action == "deleted":
			if err := s.d.Store.DeleteGithubInstallation(ctx, l.OrgID, id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			continue
		case event == "installation" && ev.Action == "suspend":
			l.Suspended, l.SyncStatus = true, string(api.GithubInstallationSyncStatusSUSPENDED)
		case event == "installation" && ev.Action == "unsuspend":
			l.Suspended, l.SyncStatus = false, string(api.GithubInstallationSyncStatusSYNCED)
		case event == "installation" && ev.Action == "new_permissions_accepted" && ev.Installation.Permissions != nil:
			perms, _ := json.Marshal(ev.Installation.Permissions)
			l.Permissions = string(perms)
		case event == "installation_repositories" && ev.Installation.RepositorySelection != "":
			l.RepositorySelection = ev.Installation.RepositorySelection
		default:
			continue
		}
		now := s.now().UTC()
		l.LastSyncedAt = &now
		if err := s.d.Store.SaveGithubInstallation(ctx, l); err != nil {
			return err
		}
	}
	s.d.Log.InfoContext(ctx, "github webhook", "event", event, "action", ev.Action, "installation", id, "links", len(links))
	return c.JSON(http.StatusOK, map[string]any{"received": true})
}
