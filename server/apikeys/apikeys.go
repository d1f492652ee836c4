// Package apikeys answers the APIKeys group: create (the key is shown once), list,
// get, delete, revoke with a reason (the record stays for audit), metadata and
// validate. Keys are made and checked by internal/apikey and stored as SHA-256
// hashes only.
//
// Who may act on a key: its owner, or an admin of its organization. A caller
// authenticated by an API key acts within that key's organization only; a caller
// signed in with a bearer token acts in the organizations it is a member of.
package apikeys

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// Duration limits of a non-permanent key, and its default.
const (
	MinDuration     = time.Minute
	MaxDuration     = 365 * 24 * time.Hour
	DefaultDuration = 24 * time.Hour
)

// Server answers the APIKeys group.
type Server struct {
	store *store.Store
	audit httpx.Audit
	now   func() time.Time
}

// NewServer returns the APIKeys group over st, recording audit events through audit.
func NewServer(st *store.Store, audit httpx.Audit) *Server {
	return &Server{store: st, audit: audit, now: time.Now}
}

// Key is an API key as answers show it: never its value nor its hash.
type Key struct {
	ID           string     `json:"id"`
	Name         string     `json:"name,omitempty"`
	OrgID        string     `json:"orgId"`
	OrgName      string     `json:"orgName,omitempty"`
	Prefix       string     `json:"prefix,omitempty"`
	Status       string     `json:"status"`
	Source       string     `json:"source"`
	IsPermanent  bool       `json:"isPermanent"`
	CreatedBy    string     `json:"createdBy,omitempty"`
	CreatedAt    time.Time  `json:"createdAt"`
	ExpiresAt    *time.Time `json:"expiresAt,omitempty"`
	LastUsedAt   *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt    *time.Time `json:"revokedAt,omitempty"`
	RevokeReason string     `json:"revokeReason,omitempty"`
}

// Status is a key's status at now: revoked, expired (at its expiry, not after) or
// active.
func Status(k *store.APIKey, now time.Time) string {
	if k.RevokedAt != nil {
		return string(api.ApiKeyStatusRevoked)
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return string(api.ApiKeyStatusExpired)
	}
	return string(api.ApiKeyStatusActive)
}

func (s *Server) view(k *store.APIKey, orgName string) Key {
	source := k.Source
	if source != string(api.ApiKeySourceCli) && source != string(api.ApiKeySourceUi) {
		source = string(api.ApiKeySourceCli) // bootstrap keys are handed to a CLI
	}
	return Key{ID: k.ID, Name: k.Name, OrgID: k.OrgID, OrgName: orgName, Prefix: k.Prefix, Status: Status(k, s.now()),
		Source: source, IsPermanent: k.ExpiresAt == nil, CreatedBy: k.UserID, CreatedAt: k.CreatedAt.UTC(),
		ExpiresAt: utc(k.ExpiresAt), LastUsedAt: utc(k.LastUsedAt), RevokedAt: utc(k.RevokedAt), RevokeReason: k.RevokeReason}
}

// org resolves the organization a request names (its ID or its name) for caller p,
// with p's role there: a key's caller only its key's organization, a bearer caller
// any organization it is a member of; any other is 404, never saying whether it
// exists (as every route naming another organization's resource answers).
func (s *Server) org(c echo.Context, p httpx.Principal, ref string) (store.Organization, string, error) {
	ctx := c.Request().Context()
	org, err := s.store.GetOrganization(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		org, err = s.store.GetOrganizationByName(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return org, "", httpx.NotFound("organization " + ref)
	}
	if err != nil {
		return org, "", err
	}
	if !p.Bearer {
		if org.ID != p.OrgID {
			return org, "", httpx.NotFound("organization " + ref)
		}
		return org, p.Role, nil
	}
	m, err := s.store.GetMembership(ctx, org.ID, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return org, "", httpx.NotFound("organization " + ref)
	}
	if err != nil {
		return org, "", err
	}
	return org, m.Role, nil
}

// keyFor returns orgID's key id if p may act on it: p owns it, or p is an admin there.
// Another member's key is 404 to a non-admin, as if it did not exist.
func (s *Server) keyFor(c echo.Context, p httpx.Principal, orgID, role, id string) (store.APIKey, error) {
	k, err := s.store.GetAPIKeyInOrg(c.Request().Context(), orgID, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && k.UserID != p.UserID && role != store.RoleAdmin) {
		return k, httpx.NotFound("API key " + id)
	}
	return k, err
}

// ListApiKeys answers the caller's keys: a bearer caller's in every organization, a
// key's caller's in the key's organization.
func (s *Server) ListApiKeys(c echo.Context, _ api.ListApiKeysParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	keys, err := s.store.ListAPIKeysForUser(c.Request().Context(), p.UserID)
	if err != nil {
		return err
	}
	out := make([]Key, 0, len(keys))
	for i := range keys {
		if !p.Bearer && keys[i].OrgID != p.OrgID {
			continue
		}
		out = append(out, s.view(&keys[i].APIKey, keys[i].OrgName))
	}
	return httpx.OK(c, out, httpx.Count(len(out), "API key", "API keys"))
}

// createRequest is ApiKeyCreateRequest with duration in either form.
type createRequest struct {
	Duration    json.RawMessage `json:"duration"`
	IsPermanent bool            `json:"isPermanent"`
	Name        string          `json:"name"`
	OrgID       string          `json:"orgId"`
	Source      string          `json:"source"`
}

// ParseDuration reads a key's duration in either form clients send
// (httpx.ParseJSONDuration); absent, DefaultDuration.
func ParseDuration(raw json.RawMessage) (time.Duration, error) {
	d, given, err := httpx.ParseJSONDuration(raw)
	if err == nil && !given {
		return DefaultDuration, nil
	}
	return d, err
}

// CreateApiKey creates a key for the caller in the organization the body names and
// answers it once with its value.
func (s *Server) CreateApiKey(c echo.Context, _ api.CreateApiKeyParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in createRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	var expires *time.Time
	now := s.now().UTC()
	if !in.IsPermanent {
		d, err := ParseDuration(in.Duration)
		if err != nil {
			return httpx.ValidationFailed(map[string]any{"duration": err.Error()})
		}
		if d < MinDuration || d > MaxDuration {
			return httpx.ValidationFailed(map[string]any{"duration": fmt.Sprintf("%s is outside %s to %s (use isPermanent for a key that never expires)", d, MinDuration, "8760h")})
		}
		at := now.Add(d)
		expires = &at
	}
	org, _, err := s.org(c, p, in.OrgID)
	if err != nil {
		return err
	}
	value := apikey.Generate()
	k := store.APIKey{ID: store.NewID(), OrgID: org.ID, UserID: p.UserID, Name: in.Name, Source: in.Source,
		Hash: apikey.Hash(value), Prefix: apikey.Display(value), ExpiresAt: expires, CreatedAt: now}
	ev := httpx.NewAuditEvent(c, p, "API_KEY", "CREATE", k.ID, store.OutcomeSuccess)
	ev.OrgID = org.ID
	ev.Details = httpx.MustJSON(map[string]any{"name": in.Name, "source": in.Source, "isPermanent": expires == nil, "prefix": k.Prefix})
	err = s.store.InTx(c.Request().Context(), func(tx *store.Store) error {
		if err := tx.CreateAPIKey(c.Request().Context(), &k); err != nil {
			return err
		}
		return tx.RecordAudit(c.Request().Context(), ev)
	})
	if err != nil {
		return err
	}
	httpx.MarkAudited(c)
	out := struct {
		Key
		Value string `json:"key"`
	}{Key: s.view(&k, org.Name), Value: value}
	return c.JSON(http.StatusCreated, httpx.Envelope{Data: out, ID: httpx.TraceID(c), Status: "success",
		Message: "API key created; store it now: it is never shown again"})
}

// GetApiKey answers one key of the organization.
func (s *Server) GetApiKey(c echo.Context, orgID, keyID string, _ api.GetApiKeyParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	org, role, err := s.org(c, p, orgID)
	if err != nil {
		return err
	}
	k, err := s.keyFor(c, p, org.ID, role, keyID)
	if err != nil {
		return err
	}
	return httpx.OK(c, s.view(&k, org.Name), "API key "+k.ID)
}

// DeleteApiKey removes a key for good (revoke keeps the record; delete does not,
// but its audit events stay).
func (s *Server) DeleteApiKey(c echo.Context, orgID string, _ api.DeleteApiKeyParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in api.ApiKeyDeleteRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	org, role, err := s.org(c, p, orgID)
	if err != nil {
		return err
	}
	k, err := s.keyFor(c, p, org.ID, role, in.KeyId)
	if err != nil {
		return err
	}
	if _, err := s.store.DeleteAPIKey(c.Request().Context(), org.ID, k.ID); err != nil {
		return err
	}
	ev := httpx.NewAuditEvent(c, p, "API_KEY", "DELETE", k.ID, store.OutcomeSuccess)
	ev.OrgID = org.ID
	ev.Details = httpx.MustJSON(map[string]any{"name": k.Name, "owner": k.UserID, "prefix": k.Prefix})
	s.audit.RecordEvent(c, ev)
	return httpx.OK(c, s.view(&k, org.Name), "API key "+k.ID+" deleted")
}

// RevokeApiKey marks a key revoked with the reason given; the record stays.
func (s *Server) RevokeApiKey(c echo.Context, orgID string, _ api.RevokeApiKeyParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in api.ApiKeyRevokeRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	org, role, err := s.org(c, p, orgID)
	if err != nil {
		return err
	}
	k, err := s.keyFor(c, p, org.ID, role, in.KeyId)
	if err != nil {
		return err
	}
	if k.RevokedAt != nil {
		return httpx.Conflict("API key "+k.ID+" was already revoked", map[string]any{"revokedAt": k.RevokedAt.UTC(), "revokeReason": k.RevokeReason})
	}
	reason := ""
	if in.Reason != nil {
		reason = *in.Reason
	}
	if err := s.store.RevokeAPIKey(c.Request().Context(), org.ID, k.ID, reason, s.now().UTC()); err != nil {
		return err
	}
	ev := httpx.NewAuditEvent(c, p, "API_KEY", "REVOKE", k.ID, store.OutcomeSuccess)
	ev.OrgID = org.ID
	ev.Details = httpx.MustJSON(map[string]any{"name": k.Name, "owner": k.UserID, "reason": reason})
	s.audit.RecordEvent(c, ev)
	return httpx.OK(c, true, "API key "+k.ID+" revoked")
}

// Metadata is ApiKeyMetadata.
type Metadata struct {
	OrgID         string     `json:"orgId,omitempty"`
	ActiveCount   int        `json:"activeCount"`
	ExpiredCount  int        `json:"expiredCount"`
	RevokedCount  int        `json:"revokedCount"`
	TotalCount    int        `json:"totalCount"`
	LastCreatedAt *time.Time `json:"lastCreatedAt,omitempty"`
	LastUsedAt    *time.Time `json:"lastUsedAt,omitempty"`
	LastRevokedAt *time.Time `json:"lastRevokedAt,omitempty"`
	MostRecentKey *Key       `json:"mostRecentKey,omitempty"`
}

// GetApiKeyMetadata answers counts by status and the latest activity of the caller's
// keys in the caller's organization.
func (s *Server) GetApiKeyMetadata(c echo.Context, _ api.GetApiKeyMetadataParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	if p.OrgID == "" {
		return httpx.Forbidden("no active organization: create one or switch to one first")
	}
	keys, err := s.store.ListAPIKeysOfUserInOrg(c.Request().Context(), p.OrgID, p.UserID)
	if err != nil {
		return err
	}
	m := Metadata{OrgID: p.OrgID, TotalCount: len(keys)}
	now := s.now()
	for i := range keys {
		k := &keys[i]
		switch Status(k, now) {
		case string(api.ApiKeyStatusActive):
			m.ActiveCount++
		case string(api.ApiKeyStatusExpired):
			m.ExpiredCount++
		default:
			m.RevokedCount++
		}
		m.LastUsedAt = latest(m.LastUsedAt, k.LastUsedAt)
		m.LastRevokedAt = latest(m.LastRevokedAt, k.RevokedAt)
	}
	if len(keys) > 0 { // newest first
		v := s.view(&keys[0], p.OrgName)
		m.MostRecentKey, m.LastCreatedAt = &v, &v.CreatedAt
	}
	return httpx.OK(c, m, httpx.Count(len(keys), "API key", "API keys"))
}

// Validation is ApiKeyValidation.
type Validation struct {
	Valid     bool       `json:"valid"`
	Status    string     `json:"status"`
	KeyID     string     `json:"keyId,omitempty"`
	Name      string     `json:"name,omitempty"`
	OrgID     string     `json:"orgId,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// ValidateApiKey answers the status of the key in X-Validate-API-Key. A malformed
// key or one with a wrong checksum is refused before any lookup (400); a key unknown
// to the caller's organizations is 404, as is another organization's.
func (s *Server) ValidateApiKey(c echo.Context, params api.ValidateApiKeyParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	if err := apikey.Check(params.XValidateAPIKey); err != nil {
		return httpx.BadRequest("X-Validate-API-Key is not an API key: "+err.Error(), map[string]any{"header.X-Validate-API-Key": err.Error()})
	}
	ctx := c.Request().Context()
	k, err := s.store.GetAPIKeyByHash(ctx, apikey.Hash(params.XValidateAPIKey))
	if errors.Is(err, store.ErrNotFound) {
		return httpx.NotFound("API key")
	}
	if err != nil {
		return err
	}
	visible := k.OrgID == p.OrgID
	if p.Bearer && !visible {
		_, merr := s.store.GetMembership(ctx, k.OrgID, p.UserID)
		visible = merr == nil
	}
	if !visible {
		return httpx.NotFound("API key")
	}
	st := Status(&k, s.now())
	return httpx.OK(c, Validation{Valid: st == string(api.ApiKeyStatusActive), Status: st, KeyID: k.ID, Name: k.Name,
		OrgID: k.OrgID, ExpiresAt: utc(k.ExpiresAt)}, "API key "+st)
}

func latest(a, b *time.Time) *time.Time {
	if b == nil || (a != nil && !b.After(*a)) {
		return a
	}
	t := b.UTC()
	return &t
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
