// Package apps serves the reference's Application group: deploy (with a dry run),
// get, list, the specification as sent, and delete. A deploy records the
// application and starts the DeployApplication workflow (workflows/appdeploy.go); a
// delete starts DeleteApplication. At most one operation runs per application: both
// use the application's own workflow ID, and a second while one runs is 409.
// The status, events and logs streams are WebSockets (stream.go, events.go,
// logs.go); events and logs read the cluster's Kubernetes API through
// kubeaccess.ClusterConfigs.
package apps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/apps/argocd"
	"github.com/astropulse/astroplane/apps/placement"
	"github.com/astropulse/astroplane/internal/idempotency"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/server/kubeaccess"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// Deps are what the application handlers use.
type Deps struct {
	Store     *store.Store
	Temporal  client.Client // nil: deploys and deletes answer 503
	TaskQueue string
	// Clusters reach the applications' clusters for the events and logs streams;
	// nil: those answer 503.
	Clusters kubeaccess.ClusterConfigs
	// ArgoNamespace is Argo CD's namespace on the clusters; default argocd.
	ArgoNamespace string
	// Streams cap the open application streams.
	Streams StreamLimits
	Log     *slog.Logger
}

// Server answers the application operations.
type Server struct {
	store         *store.Store
	temporal      client.Client
	taskQueue     string
	clusters      kubeaccess.ClusterConfigs
	argoNamespace string
	log           *slog.Logger
	streams       streamCounts
}

// NewServer returns the Application group using d.
func NewServer(d Deps) *Server {
	s := &Server{store: d.Store, temporal: d.Temporal, taskQueue: d.TaskQueue, clusters: d.Clusters,
		argoNamespace: d.ArgoNamespace, log: d.Log}
	if s.argoNamespace == "" {
		s.argoNamespace = argocd.DefaultNamespace
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.streams.setLimits(d.Streams)
	return s
}

// WorkflowID is the workflow ID of every operation on an application: one at a time.
func WorkflowID(orgID, appID string) string { return "app." + orgID + "." + appID }

// DeployApplication validates an Application manifest (or its flat spec), answers a
// dry run with the validation and the cluster the profile selects, and otherwise
// records the application and starts its deploy. The profile and the source type of
// an existing application cannot change (422 naming the field).
func (s *Server) DeployApplication(c echo.Context, params api.DeployApplicationParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	spec, prefix, err := bindSpec(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	dry := params.DryRun != nil && *params.DryRun
	idemKey, hash := "", idempotency.RequestHash(c.Request().Method, c.Request().URL.Path, httpx.Body(c))
	if params.IdempotencyKey != nil && !dry {
		idemKey = *params.IdempotencyKey
		if prior, ok, err := s.repeated(ctx, p.OrgID, idemKey, hash); ok || err != nil {
			if err != nil {
				return err
			}
			return s.answerRepeat(c, prior)
		}
	}
	ns := spec.Name
	if spec.Namespace != nil {
		ns = *spec.Namespace
	}
	faults := ruleFaults(spec, prefix)
	existing, err := s.store.GetApplication(ctx, p.OrgID, spec.Name)
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if found {
		if existing.Profile != spec.ProfileName {
			faults[prefix+"profileName"] = fmt.Sprintf("immutable: application %s was deployed with profile %q", spec.Name, existing.Profile)
		}
		if existing.SourceType != string(spec.Source.Type) {
			faults[prefix+"source.type"] = fmt.Sprintf("immutable: application %s has a %s source", spec.Name, existing.SourceType)
		}
	}
	var clusterName string
	prof, err := s.store.GetAppProfile(ctx, p.OrgID, spec.ProfileName)
	switch {
	case errors.Is(err, store.ErrNotFound):
		faults[prefix+"profileName"] = fmt.Sprintf("no profile named %q in the organization", spec.ProfileName)
	case err != nil:
		return err
	default:
		clusters, err := placement.Candidates(ctx, s.store, p.OrgID)
		if err != nil {
			return err
		}
		choice, err := placement.Resolve(placement.Want{ClusterName: prof.ClusterName, Provider: prof.Provider, Region: prof.Region}, clusters)
		if err != nil {
			faults[prefix+"profileName"] = fmt.Sprintf("profile %s places on no cluster now: %v", prof.Name, err)
		} else {
			clusterName = choice.Cluster.Name
		}
	}
	if dry {
		res := api.ApplicationValidationResult{Valid: len(faults) == 0, Namespace: &ns, Spec: &spec}
		if clusterName != "" {
			res.ClusterName = &clusterName
		}
		if len(faults) > 0 {
			errs := map[string]string{}
			for k, v := range faults {
				errs[k] = fmt.Sprint(v)
			}
			res.Errors = &errs
		}
		return httpx.OK(c, res, "dry run: nothing was deployed")
	}
	if len(faults) > 0 {
		if found && (faults[prefix+"source.type"] != nil || existing.Profile != spec.ProfileName) {
			return &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable,
				Message: "the profile and the source type of an application cannot change; delete it and deploy again", Details: faults}
		}
		return httpx.ValidationFailed(faults)
	}
	if s.temporal == nil {
		return httpx.ErrNoTemporal
	}
	id := existing.ID
	if !found {
		id = store.NewID()
	}
	desired, err := json.Marshal(desiredSpec(spec, ns, id))
	if err != nil {
		return err
	}
	asSent, err := json.Marshal(api.ApplicationManifest{ApiVersion: "platform.astropulse.io/v1", Kind: "Application", Spec: spec})
	if err != nil {
		return err
	}
	wfID := WorkflowID(p.OrgID, id)
	syncType := "auto"
	if spec.SyncType != nil {
		syncType = string(*spec.SyncType)
	}
	if !found {
		app := store.Application{ID: id, OrgID: p.OrgID, Name: spec.Name, Profile: spec.ProfileName, SourceType: string(spec.Source.Type),
			Namespace: ns, SyncType: syncType, Spec: asSent, Desired: desired, Status: store.AppDeploying, StatusMessage: "deploying", LastOperationID: wfID,
			IdempotencyKey: idemKey, RequestHash: hash}
		switch err := s.store.CreateApplication(ctx, &app); {
		case errors.Is(err, store.ErrConflict):
			if prior, ok, _ := s.repeated(ctx, p.OrgID, idemKey, hash); ok { // the same request, a moment earlier
				return s.answerRepeat(c, prior)
			}
			return httpx.Conflict(fmt.Sprintf("application %s was created meanwhile; deploy again", spec.Name), map[string]any{prefix + "name": "taken"})
		case errors.Is(err, store.ErrNotFound): // the profile was deleted meanwhile
			return &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable,
				Message: fmt.Sprintf("profile %q no longer exists", spec.ProfileName), Details: map[string]any{prefix + "profileName": "no such profile"}}
		case err != nil:
			return err
		}
	}
	// The workflow reads the desired spec from the store and records its outcome
	// there: both the spec and the status are written before the start (a status
	// written after could land after a quick workflow's outcome), and put back when
	// the start fails (another operation of the application runs: 409), so a refused
	// deploy changes nothing.
	if found {
		if err := s.store.UpdateApplication(ctx, p.OrgID, id, map[string]any{"spec": asSent, "desired": desired, "namespace": ns, "sync_type": syncType,
			"status": store.AppDeploying, "status_message": "deploying", "last_operation_id": wfID,
			"idempotency_key": idemKey, "request_hash": hash}); err != nil {
			return err
		}
	}
	run, err := s.temporal.ExecuteWorkflow(context.WithoutCancel(ctx), client.StartWorkflowOptions{
		ID: wfID, TaskQueue: s.taskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Without it the SDK answers a running workflow's handle, as if started.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            "deploy application " + spec.Name,
		Memo:                                     map[string]any{memoIdempotencyKey: idemKey},
	}, workflows.DeployApplication, workflows.AppOperationInput{OrgID: p.OrgID, AppID: id, OperationID: wfID, ManualSync: syncType == "manual"})
	if err != nil {
		bg := context.WithoutCancel(ctx)
		if idemKey != "" && s.runningWithKey(bg, wfID, idemKey) {
			// The same request, a moment earlier, started it (and wrote what this one
			// wrote): its operation is the answer.
			if prior, ok, _ := s.repeated(bg, p.OrgID, idemKey, hash); ok {
				return s.answerRepeat(c, prior)
			}
		}
		if found {
			_ = s.store.UpdateApplication(bg, p.OrgID, id, map[string]any{"spec": existing.Spec, "desired": existing.Desired,
				"namespace": existing.Namespace, "sync_type": existing.SyncType, "status": existing.Status,
				"status_message": existing.StatusMessage, "last_operation_id": existing.LastOperationID,
				"idempotency_key": existing.IdempotencyKey, "request_hash": existing.RequestHash})
		} else {
			_ = s.store.DeleteApplication(bg, p.OrgID, id)
		}
		return fmt.Errorf("start the deploy of %s: %w", spec.Name, err) // already running: 409 by the error handler
	}
	status := store.AppDeploying
	return httpx.Accepted(c, api.ApplicationOperationAccepted{OperationId: run.GetID(), AppId: id, Name: &spec.Name,
		ClusterName: &clusterName, Namespace: &ns, Status: &status}, "deploying "+spec.Name+" on "+clusterName)
}

// memoIdempotencyKey is the memo field of a deploy workflow holding the request's
// Idempotency-Key ("" without one).
const memoIdempotencyKey = "idempotencyKey"

// repeated finds the deploy whose Idempotency-Key was key: ok with the application
// when it was this same request (by hash), 422 when it was another.
func (s *Server) repeated(ctx context.Context, orgID, key, hash string) (store.Application, bool, error) {
	if key == "" {
		return store.Application{}, false, nil
	}
	prior, err := s.store.ApplicationByIdempotencyKey(ctx, orgID, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Application{}, false, nil
	case err != nil:
		return store.Application{}, false, err
	}
	if err := idempotency.Check(prior.RequestHash, hash); err != nil {
		return store.Application{}, false, &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable,
			Message: "Idempotency-Key was already used with a different request",
			Details: map[string]any{"header.Idempotency-Key": "reused with a different request"}}
	}
	return prior, true, nil
}

// runningWithKey reports whether the application's running workflow wfID was
// started by a request carrying Idempotency-Key key.
func (s *Server) runningWithKey(ctx context.Context, wfID, key string) bool {
	desc, err := s.temporal.DescribeWorkflow(ctx, wfID, "")
	if err != nil || desc.RawResponse.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return false
	}
	field := desc.RawResponse.GetWorkflowExecutionInfo().GetMemo().GetFields()[memoIdempotencyKey]
	var got string
	if field == nil || converter.GetDefaultDataConverter().FromPayload(field, &got) != nil {
		return false
	}
	return got == key
}

// answerRepeat answers a deploy repeated with the same Idempotency-Key: 202 with
// the first request's operation and the application as it stands.
func (s *Server) answerRepeat(c echo.Context, prior store.Application) error {
	status, ns := prior.Status, prior.Namespace
	out := api.ApplicationOperationAccepted{OperationId: prior.LastOperationID, AppId: prior.ID, Name: &prior.Name, Namespace: &ns, Status: &status}
	ctx := c.Request().Context()
	if prior.ClusterID != "" {
		if cl, err := s.store.GetCluster(ctx, prior.OrgID, prior.ClusterID); err == nil {
			out.ClusterName = &cl.Name
		}
	} else if name := s.placeOf(ctx, prior.OrgID, prior.Profile); name != "" { // not placed yet: where the profile places it, as the first answer said
		out.ClusterName = &name
	}
	return httpx.Accepted(c, out, "a repeat of an earlier request (same Idempotency-Key): its operation, not a second one")
}

// placeOf is the cluster the profile places applications on now ("" when none).
func (s *Server) placeOf(ctx context.Context, orgID, profile string) string {
	prof, err := s.store.GetAppProfile(ctx, orgID, profile)
	if err != nil {
		return ""
	}
	clusters, err := placement.Candidates(ctx, s.store, orgID)
	if err != nil {
		return ""
	}
	choice, err := placement.Resolve(placement.Want{ClusterName: prof.ClusterName, Provider: prof.Provider, Region: prof.Region}, clusters)
	if err != nil {
		return ""
	}
	return choice.Cluster.Name
}

// desiredSpec is what the deploy writes for spec: the host external access serves
// (hostname, or <name>-<id>.<domain>), the sync type and the source.
func desiredSpec(spec api.ApplicationSpec, ns, id string) activities.AppSpec {
	out := activities.AppSpec{Name: spec.Name, Namespace: ns, ManualSync: spec.SyncType != nil && *spec.SyncType == api.ApplicationSpecSyncTypeManual}
	if ea := spec.ExternalAccess; ea != nil && (ea.Type == nil || *ea.Type != api.ApplicationExternalAccessTypeNone) {
		switch {
		case ea.Hostname != nil:
			out.Host = *ea.Hostname
		case ea.Domain != nil:
			out.Host = fmt.Sprintf("%s-%s.%s", spec.Name, id[:8], *ea.Domain)
		}
	}
	src := spec.Source
	out.Source.Type = string(src.Type)
	switch {
	case src.Image != nil:
		out.Source.Image = &argocd.ImageSource{Registry: deref(src.Image.Registry), Repository: src.Image.Repository, Tag: deref(src.Image.Tag)}
	case src.Helm != nil:
		h := &argocd.HelmSource{RepoURL: src.Helm.Repo.RepoURL, Chart: src.Helm.Repo.ChartName, Version: deref(src.Helm.Repo.ChartVersion)}
		if src.Helm.Values != nil && src.Helm.Values.Object != nil {
			h.Values = *src.Helm.Values.Object
		}
		out.Source.Helm = h
	case src.Repository != nil:
		out.Source.Repository = &argocd.RepositorySource{RepoURL: src.Repository.RepoURL, Revision: deref(src.Repository.Revision), Path: deref(src.Repository.Path)}
	case src.Yaml != nil:
		out.Source.YAML = src.Yaml.Manifests
	}
	return out
}

// ruleFaults are the spec's faults beyond the schema, by field path.
func ruleFaults(spec api.ApplicationSpec, prefix string) map[string]any {
	faults := map[string]any{}
	src, typ := spec.Source, string(spec.Source.Type)
	set := map[string]bool{argocd.SourceImage: src.Image != nil, argocd.SourceHelm: src.Helm != nil,
		argocd.SourceRepository: src.Repository != nil, argocd.SourceYAML: src.Yaml != nil}
	for name, isSet := range set {
		switch {
		case name == typ && !isSet:
			faults[prefix+"source."+name] = "required with source type " + typ
		case name != typ && isSet:
			faults[prefix+"source."+name] = "only with source type " + name + "; this source's type is " + typ
		}
	}
	if src.Yaml != nil && typ == argocd.SourceYAML {
		if _, err := argocd.ParseManifests(src.Yaml.Manifests); err != nil {
			faults[prefix+"source.yaml.manifests"] = err.Error()
		}
	}
	if ea := spec.ExternalAccess; ea != nil {
		if ea.Type != nil && *ea.Type == api.ApplicationExternalAccessTypeNone && (typ == argocd.SourceImage || typ == argocd.SourceYAML) {
			faults[prefix+"externalAccess.type"] = "None is only for helm and repository sources"
		}
		if ea.Domain != nil && ea.Hostname != nil {
			faults[prefix+"externalAccess"] = "domain or hostname, not both"
		}
	}
	return faults
}

// ListApplications lists the organization's applications by name.
func (s *Server) ListApplications(c echo.Context, _ api.ListApplicationsParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	rows, err := s.store.ListApplications(ctx, p.OrgID)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		if r.ClusterID != "" {
			ids = append(ids, r.ClusterID)
		}
	}
	names, err := s.store.ClusterNames(ctx, p.OrgID, ids) // one query, not one per application
	if err != nil {
		return err
	}
	out := make([]api.Application, 0, len(rows))
	for _, r := range rows {
		v, err := view(r, names)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	return httpx.OK(c, out, httpx.Count(len(out), "application", "applications"))
}

// GetApplication returns one application, by ID or name.
func (s *Server) GetApplication(c echo.Context, appID string, _ api.GetApplicationParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	row, err := s.get(c.Request().Context(), p.OrgID, appID)
	if err != nil {
		return err
	}
	names, err := s.store.ClusterNames(c.Request().Context(), p.OrgID, []string{row.ClusterID})
	if err != nil {
		return err
	}
	v, err := view(row, names)
	if err != nil {
		return err
	}
	return httpx.OK(c, v, "application "+row.Name)
}

// GetApplicationSpec returns the specification as last sent, as a manifest.
func (s *Server) GetApplicationSpec(c echo.Context, appID string, _ api.GetApplicationSpecParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	row, err := s.get(c.Request().Context(), p.OrgID, appID)
	if err != nil {
		return err
	}
	var m api.ApplicationManifest
	if err := json.Unmarshal(row.Spec, &m); err != nil {
		return fmt.Errorf("application %s spec: %w", row.ID, err)
	}
	return httpx.OK(c, m, "specification of "+row.Name)
}

// DeleteApplication starts the delete of an application: its Argo CD Application is
// removed with what it deployed, then the record.
func (s *Server) DeleteApplication(c echo.Context, appID string, _ api.DeleteApplicationParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	row, err := s.get(ctx, p.OrgID, appID)
	if err != nil {
		return err
	}
	if s.temporal == nil {
		return httpx.ErrNoTemporal
	}
	wfID := WorkflowID(p.OrgID, row.ID)
	run, err := s.start(ctx, row, store.AppDeleting, "deleting", client.StartWorkflowOptions{ID: wfID, StaticSummary: "delete application " + row.Name},
		workflows.DeleteApplication, workflows.AppOperationInput{OrgID: p.OrgID, AppID: row.ID, OperationID: wfID, ClusterID: row.ClusterID})
	if err != nil {
		return fmt.Errorf("start the delete of %s: %w", row.Name, err)
	}
	status := store.AppDeleting
	return httpx.Accepted(c, api.ApplicationOperationAccepted{OperationId: run.GetID(), AppId: row.ID, Name: &row.Name,
		Namespace: &row.Namespace, Status: &status}, "deleting "+row.Name)
}

// ResyncApplication starts a sync of a deployed application now (force: replace
// what cannot be patched, e.g. a sync stuck on a terminating resource); the way a
// manual-sync application syncs.
func (s *Server) ResyncApplication(c echo.Context, appID string, _ api.ResyncApplicationParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var req api.ApplicationResyncRequest
	if httpx.Body(c) != nil {
		if err := httpx.BindBody(c, &req); err != nil {
			return err
		}
	}
	ctx := c.Request().Context()
	row, err := s.get(ctx, p.OrgID, appID)
	if err != nil {
		return err
	}
	if row.ClusterID == "" {
		return httpx.Conflict(fmt.Sprintf("application %s has not been placed on a cluster yet; deploy it first", row.Name), map[string]any{"path.appId": row.Status})
	}
	if s.temporal == nil {
		return httpx.ErrNoTemporal
	}
	wfID := WorkflowID(p.OrgID, row.ID)
	run, err := s.start(ctx, row, store.AppDeploying, "resyncing", client.StartWorkflowOptions{ID: wfID, StaticSummary: "resync application " + row.Name},
		workflows.ResyncApplication, workflows.AppOperationInput{OrgID: p.OrgID, AppID: row.ID, OperationID: wfID, ClusterID: row.ClusterID,
			Force: req.Force != nil && *req.Force})
	if err != nil {
		return fmt.Errorf("start the resync of %s: %w", row.Name, err)
	}
	status := store.AppDeploying
	return httpx.Accepted(c, api.ApplicationOperationAccepted{OperationId: run.GetID(), AppId: row.ID, Name: &row.Name,
		Namespace: &row.Namespace, Status: &status}, "resyncing "+row.Name)
}

// ChartsPath is where the API serves the platform's Helm repository (the chart of
// image and yaml sources, argocd.ManifestsChart); it is public, as Argo CD fetches
// it without credentials: the chart is generic, the objects travel as values in the
// Application on the cluster.
const ChartsPath = "/api/v1/charts"

// ChartIndex answers the repository's index.yaml.
func ChartIndex(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", argocd.ChartIndex(""))
}

// ChartArchive answers the chart's archive; any other file is 404.
func ChartArchive(c echo.Context) error {
	if c.Param("file") != argocd.ChartArchiveName() {
		return httpx.NotFound("chart " + c.Param("file"))
	}
	return c.Blob(http.StatusOK, "application/gzip", argocd.ChartArchive())
}

// start records row's status for the operation about to start, then starts its
// workflow (one per application at a time: a second is refused, 409). The status is
// written first because the workflow records its own outcome, which a status
// written after the start could overwrite; a start that fails puts back what was
// there.
func (s *Server) start(ctx context.Context, row store.Application, status, message string, opts client.StartWorkflowOptions,
	wf any, in workflows.AppOperationInput) (client.WorkflowRun, error) {
	if err := s.store.UpdateApplication(ctx, row.OrgID, row.ID, map[string]any{"status": status, "status_message": message,
		"last_operation_id": opts.ID}); err != nil {
		return nil, err
	}
	opts.TaskQueue = s.taskQueue
	opts.WorkflowIDConflictPolicy = enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL
	opts.WorkflowIDReusePolicy = enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	opts.WorkflowExecutionErrorWhenAlreadyStarted = true // else the SDK answers the running one's handle
	run, err := s.temporal.ExecuteWorkflow(context.WithoutCancel(ctx), opts, wf, in)
	if err != nil {
		_ = s.store.UpdateApplication(context.WithoutCancel(ctx), row.OrgID, row.ID, map[string]any{"status": row.Status,
			"status_message": row.StatusMessage, "last_operation_id": row.LastOperationID})
		return nil, err
	}
	return run, nil
}

func (s *Server) get(ctx context.Context, orgID, ref string) (store.Application, error) {
	row, err := s.store.GetApplication(ctx, orgID, ref)
	if errors.Is(err, store.ErrNotFound) {
		return row, httpx.NotFound("application " + ref)
	}
	return row, err
}

func view(r store.Application, clusterNames map[string]string) (api.Application, error) {
	var m api.ApplicationManifest
	if err := json.Unmarshal(r.Spec, &m); err != nil {
		return api.Application{}, fmt.Errorf("application %s spec: %w", r.ID, err)
	}
	updated := r.UpdatedAt
	v := api.Application{Id: r.ID, Name: r.Name, OrgId: r.OrgID, ProfileName: r.Profile, Namespace: &r.Namespace,
		Status: api.ApplicationStatus(r.Status), Source: &m.Spec.Source, ExternalAccess: m.Spec.ExternalAccess,
		CreatedAt: r.CreatedAt, UpdatedAt: &updated}
	st := api.ApplicationSyncType(r.SyncType)
	v.SyncType = &st
	if r.StatusMessage != "" {
		v.Message = &r.StatusMessage
	}
	if r.LastOperationID != "" {
		v.LastOperationId = &r.LastOperationID
	}
	if r.HealthStatus != "" {
		h := api.ApplicationHealth(r.HealthStatus)
		v.Health = &h
	}
	if r.SyncStatus != "" {
		ss := api.ApplicationSyncStatus(r.SyncStatus)
		v.SyncStatus = &ss
	}
	if r.ClusterID != "" {
		v.ClusterId = &r.ClusterID
		if name, ok := clusterNames[r.ClusterID]; ok {
			v.ClusterName = &name
		}
	}
	var desired activities.AppSpec
	if json.Unmarshal(r.Desired, &desired) == nil && desired.Host != "" {
		u := "https://" + desired.Host
		v.Url = &u
	}
	return v, nil
}

// bindSpec reads the body as a manifest (spec under "spec") or a flat spec, and
// returns the spec and the prefix of its fields' paths in error details.
func bindSpec(c echo.Context) (api.ApplicationSpec, string, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(httpx.Body(c), &probe); err != nil {
		return api.ApplicationSpec{}, "", httpx.BadRequest("request body is not a JSON object", map[string]any{"body": err.Error()})
	}
	if _, ok := probe["spec"]; ok {
		var m api.ApplicationManifest
		err := decodeStrict(httpx.Body(c), &m)
		return m.Spec, "spec.", err
	}
	var spec api.ApplicationSpec
	err := decodeStrict(httpx.Body(c), &spec)
	return spec, "", err
}

func decodeStrict(raw []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return httpx.BadRequest("request body does not fit the operation", map[string]any{"body": err.Error()})
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
