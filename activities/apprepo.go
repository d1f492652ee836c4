package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/apps/argocd"
	"github.com/astropulse/astroplane/ghapp"
	"github.com/astropulse/astroplane/store"
)

// GitHubApp is the platform's GitHub App as application deploys use it
// (*ghapp.App): repositories read and repository tokens minted through an
// installation.
type GitHubApp interface {
	WebHost() string
	GetRepository(ctx context.Context, installationID int64, owner, name string) (ghapp.Repository, error)
	InstallationToken(ctx context.Context, installationID int64, opts *ghapp.TokenOptions) (ghapp.Token, error)
}

var _ GitHubApp = (*ghapp.App)(nil)

// RepoTokenPermissions are what a repository credential's token may do: read the
// repository's contents, nothing else.
var RepoTokenPermissions = map[string]string{"contents": "read"}

// AppRepository is an application's source repository when it is one of the
// organization's linked GitHub installations' (zero URL: it is not, and the
// application deploys from it as from any public repository). It holds no secret.
type AppRepository struct {
	// URL is the repository's https URL (https://HOST/OWNER/NAME.git): the URL its
	// credential Secret and the Application name.
	URL string
	// Installation is the linked installation that reaches it; RepoID and FullName
	// are GitHub's.
	Installation int64
	RepoID       int64
	FullName     string
}

// RepoCredentialRef names a repository credential on an organization's cluster.
type RepoCredentialRef struct {
	OrgID, ClusterID string
	Repo             AppRepository
}

// RepoCredentialState is what a credential write left on the cluster: Written with
// the token's expiry, or nothing (the Secret deleted) and why.
type RepoCredentialState struct {
	Written   bool
	ExpiresAt time.Time
	Reason    string
}

// repoURL is raw's canonical https URL on webHost ("" when raw is not a repository
// there: another host, or not a repository URL).
func repoURL(raw, webHost string) (url, owner, name string) {
	owner, name, err := ghapp.ParseRepoURL(raw)
	if err != nil {
		return "", "", ""
	}
	if h := ghapp.RepoURLHost(raw); h != "" && h != webHost {
		return "", "", ""
	}
	return "https://" + webHost + "/" + owner + "/" + name + ".git", owner, name
}

func (a *Apps) webHost() string {
	if a.GitHub == nil {
		return "github.com"
	}
	return strings.ToLower(a.GitHub.WebHost())
}

// resolveRepo finds raw among orgID's linked installations: the installation whose
// account owns it and that reaches it. Installations linked to other organizations
// are never looked at.
func (a *Apps) resolveRepo(ctx context.Context, orgID, raw string) (AppRepository, error) {
	url, owner, name := repoURL(raw, a.webHost())
	if url == "" {
		return AppRepository{}, nil
	}
	recs, err := a.Store.ListGithubInstallations(ctx, orgID)
	if err != nil {
		return AppRepository{}, err
	}
	var cands []store.GithubInstallation
	for _, r := range recs {
		if !r.Suspended && strings.EqualFold(r.AccountLogin, owner) {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		return AppRepository{}, nil
	}
	if a.GitHub == nil {
		return AppRepository{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"repository %s/%s belongs to GitHub installation %d of this organization, but this worker has no GitHub App configured "+
				"(ASTRO_GITHUB_APP_ID, ASTRO_GITHUB_APP_PRIVATE_KEY_FILE) to mint its read-only token; it is not deployed without one",
			owner, name, cands[0].InstallationID), ErrTypeNotConfigured, nil)
	}
	for _, c := range cands {
		info, err := a.GitHub.GetRepository(ctx, c.InstallationID, owner, name)
		if errors.Is(err, ghapp.ErrNotFound) {
			continue
		}
		if err != nil {
			return AppRepository{}, githubErr(fmt.Sprintf("read repository %s/%s", owner, name), err)
		}
		return AppRepository{URL: url, Installation: c.InstallationID, RepoID: info.ID, FullName: info.FullName}, nil
	}
	return AppRepository{}, nil
}

// githubErr classifies GitHub's failures: rate limits and outages are retried (a
// rate limit after its Retry-After), refusals are not.
func githubErr(what string, err error) error {
	var rl *ghapp.RateLimitError
	var un *ghapp.UnavailableError
	var se *ghapp.StatusError
	switch {
	case errors.As(err, &rl):
		return temporal.NewApplicationErrorWithOptions(what+": "+err.Error(), ErrTypeThrottled,
			temporal.ApplicationErrorOptions{NextRetryDelay: rl.RetryAfter})
	case errors.As(err, &un):
		return fmt.Errorf("%s: %w", what, err)
	case errors.Is(err, ghapp.ErrUnauthorized), errors.Is(err, ghapp.ErrNotFound), errors.As(err, &se):
		return temporal.NewNonRetryableApplicationError(what+": "+err.Error(), ErrTypeFailed, nil)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// ResolveAppRepository answers whether the application's source is a repository of
// one of its organization's linked GitHub installations, and which. Any other
// source (an image, a chart, a public repository, another organization's) is the
// zero AppRepository. A repository of a linked installation on a worker without a
// GitHub App is non-retryable (NotConfigured).
func (a *Apps) ResolveAppRepository(ctx context.Context, ref AppRef) (AppRepository, error) {
	app, spec, _, err := a.load(ctx, ref)
	if err != nil {
		return AppRepository{}, err
	}
	if spec.Source.Type != argocd.SourceRepository || spec.Source.Repository == nil {
		return AppRepository{}, nil
	}
	r, err := a.resolveRepo(ctx, app.OrgID, spec.Source.Repository.RepoURL)
	if err != nil {
		return AppRepository{}, fmt.Errorf("application %s: %w", app.Name, err)
	}
	return r, nil
}

// WriteRepoCredential mints a token of in.Repo (that repository only, contents
// read-only, an hour at most) and writes it on the cluster as Argo CD's repository
// credential Secret, annotated with its expiry. The token never leaves the
// activity: not in its result, errors or logs.
func (a *Apps) WriteRepoCredential(ctx context.Context, in RepoCredentialRef) (RepoCredentialState, error) {
	if in.Repo.URL == "" || in.Repo.Installation == 0 || in.Repo.RepoID == 0 {
		return RepoCredentialState{}, invalid("repository credential: no repository of a GitHub installation")
	}
	if a.GitHub == nil {
		return RepoCredentialState{}, temporal.NewNonRetryableApplicationError("this worker has no GitHub App configured "+
			"(ASTRO_GITHUB_APP_ID, ASTRO_GITHUB_APP_PRIVATE_KEY_FILE) to mint the token of "+in.Repo.FullName, ErrTypeNotConfigured, nil)
	}
	w, err := a.writer(ctx, in.OrgID, in.ClusterID)
	if err != nil {
		return RepoCredentialState{}, err
	}
	tok, err := a.GitHub.InstallationToken(ctx, in.Repo.Installation, &ghapp.TokenOptions{
		RepositoryIDs: []int64{in.Repo.RepoID}, Permissions: RepoTokenPermissions})
	if err != nil {
		return RepoCredentialState{}, githubErr("mint a read-only token of "+in.Repo.FullName, err)
	}
	if err := w.ApplyRepoCredential(ctx, argocd.RepoCredential{URL: in.Repo.URL, Repository: in.Repo.FullName,
		Username: argocd.RepoCredentialUsername, Password: tok.Token, ExpiresAt: tok.ExpiresAt}); err != nil {
		return RepoCredentialState{}, err
	}
	a.auditToken(ctx, in, tok)
	return RepoCredentialState{Written: true, ExpiresAt: tok.ExpiresAt.UTC()}, nil
}

// auditToken records the issuance (never the token). A failure to record does not
// undo the credential: the Secret is written, and the next refresh records again.
func (a *Apps) auditToken(ctx context.Context, in RepoCredentialRef, tok ghapp.Token) {
	details, _ := json.Marshal(map[string]any{"installationId": in.Repo.Installation, "repository": in.Repo.FullName,
		"clusterId": in.ClusterID, "permissions": tok.Permissions, "expiresAt": tok.ExpiresAt.UTC(), "use": "argocd-repository-credential"})
	_ = a.Store.RecordAudit(ctx, &store.AuditEvent{OrgID: in.OrgID, EventType: "GITHUB_TOKEN", Action: "ISSUE",
		ResourceID: strconv.FormatInt(in.Repo.Installation, 10), Outcome: store.OutcomeSuccess, Details: details, Source: "system"})
}

// RefreshRepoCredential keeps in.Repo's credential on the cluster fresh while the
// organization has an application there from that repository (or one deploying
// from it anywhere): it re-resolves the repository among the organization's linked
// installations and writes a newly minted token. When no application uses it any
// more, or no linked installation reaches it, it deletes the Secret and answers
// Written false; when the cluster is gone, it answers so without touching it.
func (a *Apps) RefreshRepoCredential(ctx context.Context, in RepoCredentialRef) (RepoCredentialState, error) {
	cl, err := a.Store.GetCluster(ctx, in.OrgID, in.ClusterID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (cl.Status == store.ClusterDeleted || cl.Status == store.ClusterDeleting)) {
		return RepoCredentialState{Reason: "the cluster is gone"}, nil
	}
	if err != nil {
		return RepoCredentialState{}, err
	}
	used, err := a.repoInUse(ctx, in, "")
	if err != nil {
		return RepoCredentialState{}, err
	}
	reason := "no application on the cluster deploys from " + in.Repo.URL
	var r AppRepository
	if used {
		if r, err = a.resolveRepo(ctx, in.OrgID, in.Repo.URL); err != nil {
			return RepoCredentialState{}, err
		}
		if r.URL != "" {
			return a.WriteRepoCredential(ctx, RepoCredentialRef{OrgID: in.OrgID, ClusterID: in.ClusterID, Repo: r})
		}
		reason = "no GitHub installation linked to the organization reaches " + in.Repo.URL + " any more"
	}
	w, err := a.writer(ctx, in.OrgID, in.ClusterID)
	if err != nil {
		return RepoCredentialState{}, err
	}
	if err := w.DeleteRepoCredential(ctx, in.Repo.URL); err != nil {
		return RepoCredentialState{}, err
	}
	return RepoCredentialState{Reason: reason}, nil
}

// ReleaseRepoCredential deletes, from the cluster, the repository credential of an
// application being deleted when no other application of the organization uses
// that repository there (or deploys from it anywhere): the credential goes with the
// last application, not at its refresher's next round (which then finds it gone and
// ends). Nothing is minted and GitHub is not asked; an application that is gone,
// was never placed on a cluster or does not deploy from a repository leaves
// everything as it is.
func (a *Apps) ReleaseRepoCredential(ctx context.Context, in AppOnCluster) error {
	if in.ClusterID == "" {
		return nil
	}
	app, err := a.Store.GetApplication(ctx, in.OrgID, in.AppID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var spec AppSpec
	_ = json.Unmarshal(app.Desired, &spec) // unreadable: no source, nothing released (the refresher decides)
	if spec.Source.Type != argocd.SourceRepository || spec.Source.Repository == nil {
		return nil
	}
	url, _, _ := repoURL(spec.Source.Repository.RepoURL, a.webHost())
	if url == "" {
		return nil
	}
	used, err := a.repoInUse(ctx, RepoCredentialRef{OrgID: in.OrgID, ClusterID: in.ClusterID, Repo: AppRepository{URL: url}}, app.ID)
	if err != nil || used {
		return err
	}
	w, err := a.writer(ctx, in.OrgID, in.ClusterID)
	if err != nil {
		return err
	}
	return w.DeleteRepoCredential(ctx, url)
}

// repoInUse: an application of the organization on the cluster, or deploying
// anywhere, has in.Repo as its source; the application named by except (being
// deleted) does not count.
func (a *Apps) repoInUse(ctx context.Context, in RepoCredentialRef, except string) (bool, error) {
	list, err := a.Store.ListApplications(ctx, in.OrgID)
	if err != nil {
		return false, err
	}
	for _, app := range list {
		if app.ID == except || (app.ClusterID != in.ClusterID && app.Status != store.AppDeploying) {
			continue
		}
		var spec AppSpec
		if json.Unmarshal(app.Desired, &spec) != nil || spec.Source.Type != argocd.SourceRepository || spec.Source.Repository == nil {
			continue
		}
		if u, _, _ := repoURL(spec.Source.Repository.RepoURL, a.webHost()); u != "" && u == in.Repo.URL {
			return true, nil
		}
	}
	return false, nil
}
