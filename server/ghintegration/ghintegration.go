// Package ghintegration answers the Integrations group: an organization's GitHub
// App installations (linked by the installation callback with a signed state, or
// mapped from another organization by an admin of both), their repositories,
// branches and files, and short-lived installation and repository tokens, every
// issuance audited. It talks to GitHub through ghapp; without an app configured
// every operation answers 501.
//
// A repository is reached only through one of the caller's organization's linked
// installations whose account owns it: any other repository, however it is named,
// is 404. GitHub's rate limits answer 429 with Retry-After, its outages 503.
package ghintegration

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/ghapp"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// StateLifetime is how long an installation state is good for.
const StateLifetime = 15 * time.Minute

// MaxFileBytes is the largest file GetGithubFileContent answers (GitHub's contents
// API returns content inline up to 1 MB).
const MaxFileBytes = 1 << 20

// statePurpose names installation states among the used tokens.
const statePurpose = "github-install"

// Deps are what the group needs.
type Deps struct {
	Store *store.Store
	// App is the GitHub App; nil: every operation answers 501.
	App *ghapp.App
	// StateKey signs installation callback states (at least 32 bytes).
	StateKey []byte
	// WebhookSecret verifies the app's webhook deliveries (Webhook); empty: 501.
	WebhookSecret []byte
	Audit         httpx.Audit
	Log           *slog.Logger
}

// Server answers the Integrations group.
type Server struct {
	d   Deps
	now func() time.Time
}

// NewServer returns the Integrations group.
func NewServer(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{d: d, now: time.Now}
}

func (s *Server) ready(op string) error {
	if s.d.App == nil || len(s.d.StateKey) < 32 {
		return httpx.NotImplemented(op)
	}
	return nil
}

type stateClaims struct {
	OrgID  string `json:"o"`
	UserID string `json:"u"`
	Nonce  string `json:"n"`
	Exp    int64  `json:"e"`
}

// IssueState signs the state of an installation link for orgID's user userID:
// GitHub hands it back to the callback, which links the installation to orgID only
// with it, once, within StateLifetime.
func (s *Server) IssueState(orgID, userID string) (string, error) {
	n := make([]byte, 18)
	if _, err := rand.Read(n); err != nil {
		return "", err
	}
	b, err := json.Marshal(stateClaims{OrgID: orgID, UserID: userID, Nonce: base64.RawURLEncoding.EncodeToString(n),
		Exp: s.now().Add(StateLifetime).Unix()})
	if err != nil {
		return "", err
	}
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + base64.RawURLEncoding.EncodeToString(s.mac(body)), nil
}

// InstallURL is where a user installs the app for orgID (the app's public page
// with a state).
func (s *Server) InstallURL(orgID, userID string) (string, error) {
	st, err := s.IssueState(orgID, userID)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("https://%s/apps/%s/installations/new?state=%s", s.d.App.WebHost(), s.d.App.Slug(), st), nil
}

func (s *Server) mac(body string) []byte {
	m := hmac.New(sha256.New, s.d.StateKey)
	m.Write([]byte("astro github install state\x00" + body))
	return m.Sum(nil)
}

func (s *Server) verifyState(st string) (stateClaims, error) {
	var c stateClaims
	body, sig, ok := strings.Cut(st, ".")
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(raw, s.mac(body)) {
		return c, errors.New("is not a state this platform issued")
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || json.Unmarshal(b, &c) != nil || c.OrgID == "" || c.UserID == "" || c.Nonce == "" {
		return c, errors.New("is not a state this platform issued")
	}
	if s.now().Unix() >= c.Exp {
		return c, errors.New("has expired; start the installation again")
	}
	return c, nil
}

// ghErr turns GitHub's failures into answers: rate limits 429 and outages 503,
// both with Retry-After; 404 stays 404 (what, when GitHub does not have it).
func ghErr(c echo.Context, err error, what string) error {
	var rl *ghapp.RateLimitError
	var un *ghapp.UnavailableError
	var se *ghapp.StatusError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rl):
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(rl.RetryAfter.Seconds())))
		return httpx.NewError(http.StatusTooManyRequests, httpx.CodeTooManyRequests,
			fmt.Sprintf("GitHub's rate limit for this installation is reached; retry in %s", rl.RetryAfter.Round(time.Second)))
	case errors.As(err, &un):
		c.Response().Header().Set("Retry-After", "30")
		return httpx.NewError(http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "GitHub is unavailable; retry later")
	case errors.Is(err, ghapp.ErrUnauthorized):
		return httpx.NewError(http.StatusServiceUnavailable, httpx.CodeServiceUnavailable,
			"GitHub refused the platform's app credentials; tell the platform's operators")
	case errors.Is(err, ghapp.ErrNotFound):
		return httpx.NotFound(what)
	case errors.As(err, &se):
		return httpx.NewError(http.StatusServiceUnavailable, httpx.CodeServiceUnavailable,
			fmt.Sprintf("GitHub refused the request (HTTP %d)", se.Status))
	}
	return err
}

func parseID(raw string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || id <= 0 {
		return 0, httpx.ValidationFailed(map[string]any{"installation_id": "must be a GitHub installation ID (a positive integer)"})
	}
	return id, nil
}

func (s *Server) view(r *store.GithubInstallation) api.GithubInstallation {
	perms := map[string]string{}
	_ = json.Unmarshal([]byte(r.Permissions), &perms)
	sel := api.GithubInstallationRepositorySelection(r.RepositorySelection)
	created, updated := r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	var synced *time.Time
	if r.LastSyncedAt != nil {
		t := r.LastSyncedAt.UTC()
		synced = &t
	}
	return api.GithubInstallation{AccountLogin: r.AccountLogin, AccountType: api.GithubInstallationAccountType(r.AccountType),
		CreatedAt: &created, UpdatedAt: &updated, InstallationId: r.InstallationID, LastSyncedAt: synced, OrgId: &r.OrgID,
		Permissions: &perms, RepositorySelection: &sel, Suspended: &r.Suspended, SyncStatus: api.GithubInstallationSyncStatus(r.SyncStatus)}
}

// fill copies what GitHub says of an installation into r.
func (s *Server) fill(r *store.GithubInstallation, in ghapp.Installation) {
	perms, _ := json.Marshal(in.Permissions)
	now := s.now().UTC()
	r.AccountLogin, r.AccountType, r.RepositorySelection = in.Account.Login, in.Account.Type, in.RepositorySelection
	r.Permissions, r.Suspended, r.LastSyncedAt = string(perms), in.SuspendedAt != nil, &now
	r.SyncStatus = string(api.GithubInstallationSyncStatusSYNCED)
	if r.Suspended {
		r.SyncStatus = string(api.GithubInstallationSyncStatusSUSPENDED)
	}
	if r.AccountType != string(api.GithubInstallationAccountTypeUser) {
		r.AccountType = string(api.GithubInstallationAccountTypeOrganization)
	}
}

// GithubInstallationCallback links the installation GitHub redirected back with to
// the organization its state names, once the state verifies and GitHub confirms
// the installation is the app's.
func (s *Server) GithubInstallationCallback(c echo.Context, params api.GithubInstallationCallbackParams) error {
	if err := s.ready("githubInstallationCallback"); err != nil {
		return err
	}
	id, err := parseID(params.InstallationId)
	if err != nil {
		return err
	}
	switch params.SetupAction {
	case "install", "update":
	case "request":
		return httpx.Conflict("the installation awaits approval by the GitHub account's owner; it is linked once they approve it", nil)
	default:
		return httpx.ValidationFailed(map[string]any{"setup_action": "must be install, update or request"})
	}
	st := deref(params.State)
	if st == "" {
		return httpx.ValidationFailed(map[string]any{"state": "is required: start the installation from the platform"})
	}
	claims, err := s.verifyState(st)
	if err != nil {
		return httpx.ValidationFailed(map[string]any{"state": err.Error()})
	}
	ctx := c.Request().Context()
	if _, err := s.d.Store.GetMembership(ctx, claims.OrgID, claims.UserID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return httpx.ValidationFailed(map[string]any{"state": "names a user who is no longer a member of its organization"})
		}
		return err
	}
	if err := s.d.Store.UseToken(ctx, claims.OrgID, claims.Nonce, statePurpose, s.now()); err != nil {
		if errors.Is(err, store.ErrTokenUsed) {
			return httpx.ValidationFailed(map[string]any{"state": "was used already; start the installation again"})
		}
		return err
	}
	in, err := s.d.App.GetInstallation(ctx, id)
	if err != nil {
		return ghErr(c, err, fmt.Sprintf("GitHub installation %d", id))
	}
	rec, err := s.d.Store.GetGithubInstallation(ctx, claims.OrgID, id)
	creating := errors.Is(err, store.ErrNotFound)
	if err != nil && !creating {
		return err
	}
	rec.OrgID, rec.InstallationID, rec.LinkedBy = claims.OrgID, id, claims.UserID
	s.fill(&rec, in)
	if creating {
		err = s.d.Store.CreateGithubInstallation(ctx, &rec)
	} else {
		err = s.d.Store.SaveGithubInstallation(ctx, &rec)
	}
	if err != nil {
		return err
	}
	ev := &store.AuditEvent{OrgID: claims.OrgID, UserID: claims.UserID, EventType: "GITHUB_INSTALLATION", Action: "LINK",
		ResourceID: strconv.FormatInt(id, 10), Outcome: store.OutcomeSuccess,
		Details: httpx.MustJSON(map[string]any{"account": in.Account.Login, "setupAction": params.SetupAction})}
	s.d.Audit.RecordPublic(c, ev)
	return httpx.OK(c, s.view(&rec), "GitHub installation linked")
}

// ListGithubInstallations answers the organization's linked installations.
func (s *Server) ListGithubInstallations(c echo.Context, _ api.ListGithubInstallationsParams) error {
	if err := s.ready("listGithubInstallations"); err != nil {
		return err
	}
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	recs, err := s.d.Store.ListGithubInstallations(c.Request().Context(), p.OrgID)
	if err != nil {
		return err
	}
	out := make([]api.GithubInstallation, 0, len(recs))
	for i := range recs {
		out = append(out, s.view(&recs[i]))
	}
	return httpx.OK(c, out, httpx.Count(len(out), "GitHub installation", "GitHub installations"))
}

func (s *Server) linked(c echo.Context, raw string) (httpx.Principal, store.GithubInstallation, error) {
	var rec store.GithubInstallation
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return p, rec, err
	}
	id, err := parseID(raw)
	if err != nil {
		return p, rec, err
	}
	rec, err = s.d.Store.GetGithubInstallation(c.Request().Context(), p.OrgID, id)
	if errors.Is(err, store.ErrNotFound) {
		return p, rec, httpx.NotFound("GitHub installation " + raw)
	}
	return p, rec, err
}

// GetGithubInstallation answers one linked installation.
func (s *Server) GetGithubInstallation(c echo.Context, id string, _ api.GetGithubInstallationParams) error {
	if err := s.ready("getGithubInstallation"); err != nil {
		return err
	}
	_, rec, err := s.linked(c, id)
	if err != nil {
		return err
	}
	return httpx.OK(c, s.view(&rec), "GitHub installation "+id)
}

// DeleteGithubInstallation unlinks an installation from the organization and drops
// the tokens the platform holds for it; the app stays installed on GitHub.
func (s *Server) DeleteGithubInstallation(c echo.Context, id string, _ api.DeleteGithubInstallationParams) error {
	if err := s.ready("deleteGithubInstallation"); err != nil {
		return err
	}
	p, rec, err := s.linked(c, id)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.d.Store.DeleteGithubInstallation(ctx, p.OrgID, rec.InstallationID); err != nil {
		return err
	}
	revoked := 0
	if others, err := s.d.Store.GithubInstallationLinks(ctx, rec.InstallationID); err == nil && len(others) == 0 {
		s.d.App.Forget(rec.InstallationID)
		revoked = 1
	}
	return httpx.OK(c, api.GithubInstallationDeleted{Deleted: true, InstallationId: rec.InstallationID, CredentialsRevoked: &revoked},
		"GitHub installation "+id+" unlinked; the app stays installed on GitHub")
}

// MapGithubInstallation links an installation already linked to another
// organization to the caller's, when the caller is an admin of that other
// organization too (their proof of access); anything else is 404.
func (s *Server) MapGithubInstallation(c echo.Context, raw string, _ api.MapGithubInstallationParams) error {
	if err := s.ready("mapGithubInstallation"); err != nil {
		return err
	}
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	id, err := parseID(raw)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.d.Store.GetGithubInstallation(ctx, p.OrgID, id); err == nil {
		return httpx.Conflict("GitHub installation "+raw+" is linked to this organization already", nil)
	}
	if !s.mayMap(ctx, p.UserID, id, p.OrgID) {
		return httpx.NotFound("GitHub installation " + raw)
	}
	in, err := s.d.App.GetInstallation(ctx, id)
	if err != nil {
		return ghErr(c, err, "GitHub installation "+raw)
	}
	rec := store.GithubInstallation{OrgID: p.OrgID, InstallationID: id, LinkedBy: p.UserID}
	s.fill(&rec, in)
	if err := s.d.Store.CreateGithubInstallation(ctx, &rec); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return httpx.Conflict("GitHub installation "+raw+" is linked to this organization already", nil)
		}
		return err
	}
	return httpx.OK(c, s.view(&rec), "GitHub installation "+raw+" linked")
}

// mayMap: userID is an admin of another organization that has id linked.
func (s *Server) mayMap(ctx context.Context, userID string, id int64, orgID string) bool {
	links, err := s.d.Store.GithubInstallationLinks(ctx, id)
	if err != nil {
		return false
	}
	for _, l := range links {
		if l.OrgID == orgID {
			continue
		}
		if m, err := s.d.Store.GetMembership(ctx, l.OrgID, userID); err == nil && m.Role == store.RoleAdmin {
			return true
		}
	}
	return false
}

// SyncGithubInstallations answers the linked installations (re-verified with
// GitHub when refresh, their cached tokens dropped) and the available ones: on
// GitHub, linked to another organization the caller is an admin of, not to this
// one (never installations the caller could not map).
func (s *Server) SyncGithubInstallations(c echo.Context, _ api.SyncGithubInstallationsParams) error {
	if err := s.ready("syncGithubInstallations"); err != nil {
		return err
	}
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in api.GithubInstallationSyncRequest
	if len(httpx.Body(c)) > 0 {
		if err := httpx.BindBody(c, &in); err != nil {
			return err
		}
	}
	refresh := in.Refresh != nil && *in.Refresh
	ctx := c.Request().Context()
	recs, err := s.d.Store.ListGithubInstallations(ctx, p.OrgID)
	if err != nil {
		return err
	}
	onGitHub, err := s.d.App.ListInstallations(ctx)
	if err != nil {
		return ghErr(c, err, "GitHub installations")
	}
	byID := map[int64]ghapp.Installation{}
	for _, g := range onGitHub {
		byID[g.ID] = g
	}
	out := api.GithubInstallationSyncResult{Linked: []api.GithubInstallation{}, Available: []api.GithubInstallation{}, Refreshed: &refresh}
	mine := map[int64]bool{}
	for i := range recs {
		r := &recs[i]
		mine[r.InstallationID] = true
		if refresh {
			s.d.App.Forget(r.InstallationID)
			if g, ok := byID[r.InstallationID]; ok {
				s.fill(r, g)
			} else {
				r.SyncStatus = string(api.GithubInstallationSyncStatusERROR)
			}
			if err := s.d.Store.SaveGithubInstallation(ctx, r); err != nil {
				return err
			}
		}
		out.Linked = append(out.Linked, s.view(r))
	}
	for _, g := range onGitHub {
		if mine[g.ID] || !s.mayMap(ctx, p.UserID, g.ID, p.OrgID) {
			continue
		}
		r := store.GithubInstallation{InstallationID: g.ID}
		s.fill(&r, g)
		r.SyncStatus = string(api.GithubInstallationSyncStatusPENDING)
		v := s.view(&r)
		v.OrgId, v.CreatedAt, v.UpdatedAt = nil, nil, nil
		out.Available = append(out.Available, v)
	}
	return httpx.OK(c, out, fmt.Sprintf("%d linked, %d available", len(out.Linked), len(out.Available)))
}

func repoView(r *ghapp.Repository) api.GithubRepository {
	owner := r.Owner.Login
	return api.GithubRepository{Id: r.ID, Name: r.Name, FullName: r.FullName, Owner: &owner, Private: &r.Private,
		HtmlUrl: &r.HTMLURL, CloneUrl: &r.CloneURL, DefaultBranch: &r.DefaultBranch}
}

// ListGithubInstallationRepositories answers every repository a linked installation
// reaches (all of GitHub's pages).
func (s *Server) ListGithubInstallationRepositories(c echo.Context, id string, _ api.ListGithubInstallationRepositoriesParams) error {
	if err := s.ready("listGithubInstallationRepositories"); err != nil {
		return err
	}
	_, rec, err := s.linked(c, id)
	if err != nil {
		return err
	}
	repos, err := s.d.App.ListRepositories(c.Request().Context(), rec.InstallationID)
	if err != nil {
		return ghErr(c, err, "GitHub installation "+id)
	}
	out := make([]api.GithubRepository, 0, len(repos))
	for i := range repos {
		out = append(out, repoView(&repos[i]))
	}
	return httpx.OK(c, out, httpx.Count(len(out), "repository", "repositories"))
}

// tokenView is a token's answer; it never goes to a log.
func tokenView(id int64, t ghapp.Token) api.GithubAccessToken {
	var repos *[]string
	if len(t.Repositories) > 0 {
		names := make([]string, 0, len(t.Repositories))
		for _, r := range t.Repositories {
			names = append(names, r.FullName)
		}
		repos = &names
	}
	perms := t.Permissions
	return api.GithubAccessToken{Token: t.Token, ExpiresAt: t.ExpiresAt.UTC(), InstallationId: &id, Permissions: &perms, Repositories: repos}
}

func (s *Server) auditIssue(c echo.Context, p httpx.Principal, id int64, t ghapp.Token, repo string) {
	ev := httpx.NewAuditEvent(c, p, "GITHUB_TOKEN", "ISSUE", strconv.FormatInt(id, 10), store.OutcomeSuccess)
	ev.OrgID = p.OrgID
	d := map[string]any{"installationId": id, "permissions": t.Permissions, "expiresAt": t.ExpiresAt.UTC()}
	if repo != "" {
		d["repository"] = repo
	}
	ev.Details = httpx.MustJSON(d)
	s.d.Audit.RecordEvent(c, ev)
}

// GenerateGithubInstallationToken mints a fresh installation token (at most an
// hour) for a linked installation.
func (s *Server) GenerateGithubInstallationToken(c echo.Context, id string, _ api.GenerateGithubInstallationTokenParams) error {
	if err := s.ready("generateGithubInstallationToken"); err != nil {
		return err
	}
	p, rec, err := s.linked(c, id)
	if err != nil {
		return err
	}
	t, err := s.d.App.InstallationToken(c.Request().Context(), rec.InstallationID, &ghapp.TokenOptions{Fresh: true})
	if err != nil {
		return ghErr(c, err, "GitHub installation "+id)
	}
	s.auditIssue(c, p, rec.InstallationID, t, "")
	return httpx.OK(c, tokenView(rec.InstallationID, t), "installation token issued")
}

// repo is a repository resolved for an organization.
type repo struct {
	installation int64
	owner, name  string
	info         ghapp.Repository
}

// resolve finds repoURL among the organization's linked installations: the
// installation whose account owns it and that reaches it. Any other is 404.
func (s *Server) resolve(c echo.Context, orgID, field, repoURL string) (repo, error) {
	var r repo
	owner, name, err := ghapp.ParseRepoURL(repoURL)
	if err != nil {
		return r, httpx.ValidationFailed(map[string]any{field: err.Error()})
	}
	if h := ghapp.RepoURLHost(repoURL); h != "" && h != s.d.App.WebHost() {
		return r, httpx.ValidationFailed(map[string]any{field: "names a repository on " + h + ", not on " + s.d.App.WebHost()})
	}
	ctx := c.Request().Context()
	recs, err := s.d.Store.ListGithubInstallations(ctx, orgID)
	if err != nil {
		return r, err
	}
	for _, rec := range recs {
		if rec.Suspended || !strings.EqualFold(rec.AccountLogin, owner) {
			continue
		}
		info, err := s.d.App.GetRepository(ctx, rec.InstallationID, owner, name)
		if errors.Is(err, ghapp.ErrNotFound) {
			continue
		}
		if err != nil {
			return r, ghErr(c, err, "repository "+owner+"/"+name)
		}
		return repo{installation: rec.InstallationID, owner: owner, name: name, info: info}, nil
	}
	return r, httpx.NotFound("repository " + owner + "/" + name + " among this organization's GitHub installations")
}

// GenerateGithubRepositoryToken mints a token scoped to one repository with
// read-only contents (and metadata).
func (s *Server) GenerateGithubRepositoryToken(c echo.Context, _ api.GenerateGithubRepositoryTokenParams) error {
	if err := s.ready("generateGithubRepositoryToken"); err != nil {
		return err
	}
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in api.GithubRepositoryTokenRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	r, err := s.resolve(c, p.OrgID, "repoUrl", in.RepoUrl)
	if err != nil {
		return err
	}
	t, err := s.d.App.InstallationToken(c.Request().Context(), r.installation, &ghapp.TokenOptions{
		RepositoryIDs: []int64{r.info.ID}, Permissions: map[string]string{"contents": "read", "metadata": "read"}})
	if err != nil {
		return ghErr(c, err, "repository "+r.owner+"/"+r.name)
	}
	s.auditIssue(c, p, r.installation, t, r.info.FullName)
	return httpx.OK(c, tokenView(r.installation, t), "repository token issued for "+r.info.FullName)
}

// ListGithubRepositoryBranches answers a repository's branch names.
func (s *Server) ListGithubRepositoryBranches(c echo.Context, params api.ListGithubRepositoryBranchesParams) error {
	if err := s.ready("listGithubRepositoryBranches"); err != nil {
		return err
	}
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	r, err := s.resolve(c, p.OrgID, "repoUrl", params.RepoUrl)
	if err != nil {
		return err
	}
	br, err := s.d.App.ListBranches(c.Request().Context(), r.installation, r.owner, r.name)
	if err != nil {
		return ghErr(c, err, "repository "+r.owner+"/"+r.name)
	}
	if br == nil {
		br = []string{}
	}
	return httpx.OK(c, br, httpx.Count(len(br), "branch", "branches"))
}

// cleanPath checks a repository path: relative, no . or .. segments.
func cleanPath(field, raw string, required bool) (string, error) {
	p := strings.Trim(strings.TrimSpace(raw), "/")
	if p == "" {
		if required {
			return "", httpx.ValidationFailed(map[string]any{field: "is required"})
		}
		return "", nil
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." || len(seg) > 255 {
			return "", httpx.ValidationFailed(map[string]any{field: "must be a path within the repository (no empty, . or .. segments)"})
		}
	}
	return p, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// BrowseGithubRepositoryContent answers the entries of a directory (or the one
// entry of a file).
func (s *Server) BrowseGithubRepositoryContent(c echo.Context, params api.BrowseGithubRepositoryContentParams) error {
	if err := s.ready("browseGithubRepositoryContent"); err != nil {
		return err
	}
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	dir, err := cleanPath("path", deref(params.Path), false)
	if err != nil {
		return err
	}
	r, err := s.resolve(c, p.OrgID, "repoUrl", params.RepoUrl)
	if err != nil {
		return err
	}
	entries, _, err := s.d.App.GetContents(c.Request().Context(), r.installation, r.owner, r.name, dir, deref(params.Branch))
	if err != nil {
		return ghErr(c, err, "path "+dir+" in "+r.info.FullName)
	}
	out := make([]api.GithubContentEntry, 0, len(entries))
	for _, e := range entries {
		sha, size := e.SHA, e.Size
		out = append(out, api.GithubContentEntry{Name: e.Name, Path: e.Path, Sha: &sha, Size: &size, Type: api.GithubContentEntryType(e.Type)})
	}
	return httpx.OK(c, out, httpx.Count(len(out), "entry", "entries"))
}

func contentType(p string) api.GithubFileContentContentType {
	switch strings.ToLower(path.Ext(p)) {
	case ".yaml", ".yml":
		return api.GithubFileContentContentTypeYaml
	case ".json":
		return api.GithubFileContentContentTypeJson
	}
	return api.GithubFileContentContentTypeText
}

// GetGithubFileContent answers a text file's decoded content, up to MaxFileBytes.
func (s *Server) GetGithubFileContent(c echo.Context, params api.GetGithubFileContentParams) error {
	if err := s.ready("getGithubFileContent"); err != nil {
		return err
	}
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	fp, err := cleanPath("filePath", params.FilePath, true)
	if err != nil {
		return err
	}
	r, err := s.resolve(c, p.OrgID, "repoUrl", params.RepoUrl)
	if err != nil {
		return err
	}
	branch := deref(params.Branch)
	if branch == "" {
		branch = r.info.DefaultBranch
	}
	entries, dir, err := s.d.App.GetContents(c.Request().Context(), r.installation, r.owner, r.name, fp, branch)
	if err != nil {
		return ghErr(c, err, "file "+fp+" on "+branch+" in "+r.info.FullName)
	}
	if dir || len(entries) != 1 || entries[0].Type != "file" {
		return httpx.ValidationFailed(map[string]any{"filePath": "names a directory, not a file"})
	}
	e := entries[0]
	if e.Size > MaxFileBytes || e.Encoding != "base64" {
		return httpx.ValidationFailed(map[string]any{"filePath": fmt.Sprintf("is larger than %d bytes", MaxFileBytes)})
	}
	data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(e.Content, "\n", ""))
	if err != nil || !utf8.Valid(data) || strings.ContainsRune(string(data), 0) {
		return httpx.ValidationFailed(map[string]any{"filePath": "is not a text file (YAML, JSON or text)"})
	}
	ct, size := contentType(fp), len(data)
	return httpx.OK(c, api.GithubFileContent{Branch: &branch, Content: string(data), ContentType: &ct, Path: e.Path, Sha: &e.SHA, Size: &size},
		"file "+fp)
}

// ValidateGithubFilePath says whether a path exists in a repository (exists false
// when the repository is reachable but the path is not there).
func (s *Server) ValidateGithubFilePath(c echo.Context, _ api.ValidateGithubFilePathParams) error {
	if err := s.ready("validateGithubFilePath"); err != nil {
		return err
	}
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in api.GithubPathValidationRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	fp, err := cleanPath("path", in.Path, true)
	if err != nil {
		return err
	}
	r, err := s.resolve(c, p.OrgID, "repoUrl", in.RepoUrl)
	if err != nil {
		return err
	}
	branch := deref(in.Branch)
	if branch == "" {
		branch = r.info.DefaultBranch
	}
	out := api.GithubPathValidation{Path: fp, Branch: &branch}
	entries, dir, err := s.d.App.GetContents(c.Request().Context(), r.installation, r.owner, r.name, fp, branch)
	switch {
	case errors.Is(err, ghapp.ErrNotFound):
		return httpx.OK(c, out, fp+" does not exist on "+branch)
	case err != nil:
		return ghErr(c, err, "repository "+r.info.FullName)
	}
	out.Exists = true
	t := api.GithubPathValidationTypeDir
	if !dir && len(entries) == 1 {
		t = api.GithubPathValidationTypeFile
		sha, size := entries[0].SHA, entries[0].Size
		out.Sha, out.Size = &sha, &size
	}
	out.Type = &t
	return httpx.OK(c, out, fp+" exists on "+branch)
}

// DepsFromEnv is the group's GitHub App as the ASTRO_GITHUB_* variables configure
// it (ghapp.ConfigFromEnv), its installation states signed with a key derived from
// signingKey (ASTRO_APPROVAL_SIGNING_KEY); no app configured: the zero Deps, and
// the group answers 501.
func DepsFromEnv(signingKey string) (Deps, error) {
	cfg, ok, err := ghapp.ConfigFromEnv()
	if err != nil || !ok {
		return Deps{}, err
	}
	if len(signingKey) < 32 {
		return Deps{}, errors.New(ghapp.EnvAppID + " needs ASTRO_APPROVAL_SIGNING_KEY, which signs installation states")
	}
	app, err := ghapp.New(cfg, nil)
	if err != nil {
		return Deps{}, err
	}
	m := hmac.New(sha256.New, []byte(signingKey))
	m.Write([]byte("astro github installation state key"))
	return Deps{App: app, StateKey: m.Sum(nil), WebhookSecret: []byte(cfg.WebhookSecret)}, nil
}

// installLink is createGithubInstallLink's answer.
type installLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// CreateGithubInstallLink answers where the caller installs the app for their
// organization: GitHub's installation page with a state bound to both (beyond the
// reference, which has no way to start an installation).
func (s *Server) CreateGithubInstallLink(c echo.Context, _ api.CreateGithubInstallLinkParams) error {
	if err := s.ready("createGithubInstallLink"); err != nil {
		return err
	}
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	if p.OrgID == "" {
		return httpx.Forbidden("an organization is required: use an API key of the organization, or join one")
	}
	u, err := s.InstallURL(p.OrgID, p.UserID)
	if err != nil {
		return err
	}
	return httpx.OK(c, installLink{URL: u, ExpiresAt: s.now().Add(StateLifetime).UTC().Truncate(time.Second)},
		"install the GitHub App there within 15 minutes")
}
