package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"k8s.io/client-go/dynamic"

	"github.com/astropulse/astroplane/apps/argocd"
	"github.com/astropulse/astroplane/apps/placement"
	"github.com/astropulse/astroplane/apps/tiers"
	"github.com/astropulse/astroplane/store"
)

// ClusterClients reaches an organization's clusters' Kubernetes APIs. Implementations
// are safe for concurrent use; a cluster that cannot be reached (no credentials yet,
// gone) is an error the activity retries.
type ClusterClients interface {
	// Dynamic returns a dynamic client of orgID's cluster clusterID.
	Dynamic(ctx context.Context, orgID, clusterID string) (dynamic.Interface, error)
}

// ClusterClientsFunc adapts a function to ClusterClients.
type ClusterClientsFunc func(ctx context.Context, orgID, clusterID string) (dynamic.Interface, error)

// Dynamic calls f.
func (f ClusterClientsFunc) Dynamic(ctx context.Context, orgID, clusterID string) (dynamic.Interface, error) {
	return f(ctx, orgID, clusterID)
}

// AppSpec is what a deploy writes for an application, as the API resolved it from
// the request (recorded as store.Application.Desired): its names, sync type, source
// and the host external access serves it at ("" for none).
type AppSpec struct {
	Name, Namespace string
	ManualSync      bool
	Source          argocd.Source
	Host            string
}

// Apps are the activities of application deploys: they read the store, resolve the
// profile to a cluster and write Argo CD Applications there through ClusterClients.
type Apps struct {
	Store    *store.Store
	Clusters ClusterClients
	// ChartRepoURL is the Helm repository the API serves the platform's chart from
	// (argocd.ManifestsChart), needed for image and yaml sources.
	ChartRepoURL string
	// ArgoNamespace is Argo CD's namespace on the clusters; default argocd.
	ArgoNamespace string
	// Poll is how often WaitApplication and DeleteArgoApplication read the
	// Application; default 2 s.
	Poll time.Duration
	// GitHub mints the tokens of repositories of organizations' linked GitHub
	// installations (apprepo.go); nil: no GitHub App on this worker, and such a
	// repository does not deploy.
	GitHub GitHubApp
}

// AppRef names an application of an organization.
type AppRef struct {
	OrgID, AppID string
}

// AppTarget is the cluster a deploy places an application on, and why.
type AppTarget struct {
	ClusterID, ClusterName, Reason string
}

// AppOnCluster names an application and the cluster its Application is on.
type AppOnCluster struct {
	OrgID, AppID, ClusterID string
	// RepoURL, when set, is the repository URL WriteApplication writes instead of
	// the source's: the https URL its repository credential names.
	RepoURL string `json:",omitempty"`
}

// AppHealth is an Application's sync and health status as Argo CD reports them.
type AppHealth struct {
	Sync, Health, Revision string
}

// AppRecord is the outcome of an application operation to record.
type AppRecord struct {
	OrgID, AppID, OperationID string
	Status, Message           string
	ClusterID                 string // "" leaves it as it is
	Sync, Health              string
}

func (a *Apps) poll() time.Duration {
	if a.Poll > 0 {
		return a.Poll
	}
	return 2 * time.Second
}

func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalidInput, nil)
}

// load reads the application, its desired spec and its profile. A missing one is
// non-retryable (NotFound).
func (a *Apps) load(ctx context.Context, ref AppRef) (store.Application, AppSpec, store.AppProfile, error) {
	app, err := a.Store.GetApplication(ctx, ref.OrgID, ref.AppID)
	if errors.Is(err, store.ErrNotFound) {
		return app, AppSpec{}, store.AppProfile{}, temporal.NewNonRetryableApplicationError("application "+ref.AppID+" not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return app, AppSpec{}, store.AppProfile{}, err
	}
	var spec AppSpec
	if err := json.Unmarshal(app.Desired, &spec); err != nil {
		return app, spec, store.AppProfile{}, invalid("application %s: unreadable spec: %v", app.Name, err)
	}
	prof, err := a.Store.GetAppProfile(ctx, ref.OrgID, app.Profile)
	if errors.Is(err, store.ErrNotFound) {
		return app, spec, prof, temporal.NewNonRetryableApplicationError(fmt.Sprintf("profile %q of application %s not found", app.Profile, app.Name), ErrTypeNotFound, err)
	}
	return app, spec, prof, err
}

// render returns the objects the platform renders for spec under profile (image and
// yaml sources; none for the others). A source that does not render is
// non-retryable.
func render(spec AppSpec, prof store.AppProfile) ([]map[string]any, error) {
	switch spec.Source.Type {
	case argocd.SourceImage:
		if spec.Source.Image == nil {
			return nil, invalid("image source without an image")
		}
		tier, ok := tiers.Get(prof.AvailabilityTier)
		if !ok {
			tier, _ = tiers.Get(tiers.Default)
		}
		res, err := profileResources(prof)
		if err != nil {
			return nil, invalid("profile %s: %v", prof.Name, err)
		}
		objs, err := argocd.RenderImage(argocd.Workload{Name: spec.Name, Namespace: spec.Namespace, Image: *spec.Source.Image,
			Tier: tier, Resources: res, Host: spec.Host})
		if err != nil {
			return nil, invalid("%v", err)
		}
		return objs, nil
	case argocd.SourceYAML:
		objs, err := argocd.ParseManifests(spec.Source.YAML)
		if err != nil {
			return nil, invalid("yaml source: %v", err)
		}
		return objs, nil
	}
	return nil, nil
}

func profileResources(p store.AppProfile) (argocd.Resources, error) {
	var r struct {
		CPU    *struct{ Minimum, Maximum string } `json:"cpu"`
		Memory *struct{ Minimum, Maximum string } `json:"memory"`
	}
	if len(p.Resources) > 0 {
		if err := json.Unmarshal(p.Resources, &r); err != nil {
			return argocd.Resources{}, err
		}
	}
	var out argocd.Resources
	if r.CPU != nil {
		out.CPUMin, out.CPUMax = r.CPU.Minimum, r.CPU.Maximum
	}
	if r.Memory != nil {
		out.MemoryMin, out.MemoryMax = r.Memory.Minimum, r.Memory.Maximum
	}
	return out, nil
}

// ValidateApplication checks that the application, its profile and its source are
// deployable (the platform's objects render), marking it DEPLOYING. Faults are
// non-retryable.
func (a *Apps) ValidateApplication(ctx context.Context, ref AppRef) error {
	_, spec, prof, err := a.load(ctx, ref)
	if err != nil {
		return err
	}
	if _, err := render(spec, prof); err != nil {
		return err
	}
	return a.Store.UpdateApplication(ctx, ref.OrgID, ref.AppID, map[string]any{"status": store.AppDeploying, "status_message": "deploying"})
}

// ResolveAppProfile resolves the application's profile to a cluster now. No cluster
// fitting is non-retryable: the error says why.
func (a *Apps) ResolveAppProfile(ctx context.Context, ref AppRef) (AppTarget, error) {
	_, _, prof, err := a.load(ctx, ref)
	if err != nil {
		return AppTarget{}, err
	}
	clusters, err := placement.Candidates(ctx, a.Store, ref.OrgID)
	if err != nil {
		return AppTarget{}, err
	}
	choice, err := placement.Resolve(placement.Want{ClusterName: prof.ClusterName, Provider: prof.Provider, Region: prof.Region}, clusters)
	if err != nil {
		return AppTarget{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("profile %s: %v", prof.Name, err), ErrTypeFailed, nil)
	}
	return AppTarget{ClusterID: choice.Cluster.ID, ClusterName: choice.Cluster.Name, Reason: choice.Reason}, nil
}

func (a *Apps) writer(ctx context.Context, orgID, clusterID string) (*argocd.Writer, error) {
	client, err := a.Clusters.Dynamic(ctx, orgID, clusterID)
	if err != nil {
		return nil, fmt.Errorf("reach cluster %s: %w", clusterID, err)
	}
	return &argocd.Writer{Client: client, Namespace: a.ArgoNamespace, ChartRepoURL: a.ChartRepoURL, Poll: a.poll()}, nil
}

// WriteApplication creates or updates the application's Argo CD Application on the
// cluster and records the cluster it is on.
func (a *Apps) WriteApplication(ctx context.Context, in AppOnCluster) error {
	app, spec, prof, err := a.load(ctx, AppRef{OrgID: in.OrgID, AppID: in.AppID})
	if err != nil {
		return err
	}
	objs, err := render(spec, prof)
	if err != nil {
		return err
	}
	w, err := a.writer(ctx, in.OrgID, in.ClusterID)
	if err != nil {
		return err
	}
	if in.RepoURL != "" && spec.Source.Repository != nil {
		repo := *spec.Source.Repository
		repo.RepoURL = in.RepoURL
		spec.Source.Repository = &repo
	}
	if _, err := w.Apply(ctx, argocd.App{Name: spec.Name, OrgID: in.OrgID, AppID: app.ID, Namespace: spec.Namespace,
		Source: spec.Source, Manifests: objs, ManualSync: spec.ManualSync}); err != nil {
		return err
	}
	return a.Store.UpdateApplication(ctx, in.OrgID, in.AppID, map[string]any{"cluster_id": in.ClusterID})
}

// WaitApplication returns once the application's Application is Synced and Healthy,
// heartbeating its status; a failed sync operation is non-retryable with Argo CD's
// message. It waits as long as the activity's StartToClose allows.
func (a *Apps) WaitApplication(ctx context.Context, in AppOnCluster) (AppHealth, error) {
	app, err := a.Store.GetApplication(ctx, in.OrgID, in.AppID)
	if err != nil {
		return AppHealth{}, err
	}
	w, err := a.writer(ctx, in.OrgID, in.ClusterID)
	if err != nil {
		return AppHealth{}, err
	}
	for {
		st, err := w.Get(ctx, app.Name)
		if err != nil {
			return AppHealth{}, err
		}
		h := AppHealth{Sync: st.Sync, Health: st.Health, Revision: st.Revision}
		activity.RecordHeartbeat(ctx, h)
		if st.Sync == argocd.SyncSynced && st.Health == argocd.HealthHealthy {
			return h, nil
		}
		if st.OperationPhase == "Failed" || st.OperationPhase == "Error" {
			return h, temporal.NewNonRetryableApplicationError("sync failed: "+st.OperationMessage, ErrTypeFailed, nil)
		}
		select {
		case <-ctx.Done():
			return h, fmt.Errorf("application %s is %s/%s: %w", app.Name, orNone(st.Sync), orNone(st.Health), ctx.Err())
		case <-time.After(a.poll()):
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

// DeleteArgoApplication deletes the application's Application with cascade and
// returns once it is gone, heartbeating meanwhile. Nothing to delete (never placed,
// already gone) is no error.
func (a *Apps) DeleteArgoApplication(ctx context.Context, in AppOnCluster) error {
	app, err := a.Store.GetApplication(ctx, in.OrgID, in.AppID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if in.ClusterID == "" {
		return nil
	}
	w, err := a.writer(ctx, in.OrgID, in.ClusterID)
	if err != nil {
		return err
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(a.poll()):
				activity.RecordHeartbeat(ctx, "deleting")
			}
		}
	}()
	return w.Delete(ctx, app.Name)
}

// AppResync asks for a sync of the application's Application now.
type AppResync struct {
	OrgID, AppID, ClusterID string
	Force                   bool
}

// ResyncArgoApplication asks Argo CD to refresh and sync the application's
// Application now (force: replace what cannot be patched).
func (a *Apps) ResyncArgoApplication(ctx context.Context, in AppResync) error {
	app, err := a.Store.GetApplication(ctx, in.OrgID, in.AppID)
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError("application "+in.AppID+" not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return err
	}
	w, err := a.writer(ctx, in.OrgID, in.ClusterID)
	if err != nil {
		return err
	}
	err = w.Resync(ctx, app.Name, in.Force)
	if errors.Is(err, argocd.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("application %s has no Argo CD Application on its cluster; deploy it again", app.Name), ErrTypeNotFound, err)
	}
	return err
}

// RecordApplication records an operation's outcome on the application.
func (a *Apps) RecordApplication(ctx context.Context, in AppRecord) error {
	changes := map[string]any{"status": in.Status, "status_message": in.Message, "sync_status": in.Sync, "health_status": in.Health}
	if in.OperationID != "" {
		changes["last_operation_id"] = in.OperationID
	}
	if in.ClusterID != "" {
		changes["cluster_id"] = in.ClusterID
	}
	err := a.Store.UpdateApplication(ctx, in.OrgID, in.AppID, changes)
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError("application "+in.AppID+" not found", ErrTypeNotFound, err)
	}
	return err
}

// ForgetApplication removes the application's record once its Application is gone.
func (a *Apps) ForgetApplication(ctx context.Context, ref AppRef) error {
	return a.Store.DeleteApplication(ctx, ref.OrgID, ref.AppID)
}
