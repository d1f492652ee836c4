package clusters

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/approvals"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/upgrade"
	"github.com/astropulse/astroplane/workflows"
)

// UpdateCluster validates a K8sClusterUpdate manifest, runs the preflight checks and
// plans the update (version hops, node-group rollouts, tags). Dry runs and report
// requests answer 200 with the plan even when it is blocked; otherwise a blocked plan
// is a 400 and a passing one starts the update workflow (202).
func (s *Server) UpdateCluster(c echo.Context, clusterID string, params api.UpdateClusterParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var m api.K8sClusterUpdateManifest
	if err := httpx.BindBody(c, &m); err != nil {
		return err
	}
	prior, ok, err := s.repeatedOperation(c, p, params.IdempotencyKey)
	if err != nil || ok {
		if err != nil {
			return err
		}
		return s.repeatedUpdate(c, prior)
	}
	cl, current, err := s.liveCluster(c, clusterID)
	if err != nil {
		return err
	}
	spec := m.Spec
	req := upgradeRequest(spec)
	plan := upgrade.Build(upgradeCluster(current), req, supportedVersions(cl.ProvisionerType))
	steps := updateSteps(current, req, plan)
	fieldErrs, warnings, source := s.checkUpdate(c.Request().Context(), cl, spec)
	checkUpdateFaultTags(fieldErrs, spec, steps)
	for field, msg := range fieldErrs {
		plan.Errors = append(plan.Errors, field+": "+msg)
		plan.ValidationPassed = false
	}
	plan.Warnings = append(plan.Warnings, warningLines(warnings)...)
	dryRun := spec.UpdateConfig != nil && spec.UpdateConfig.DryRun != nil && *spec.UpdateConfig.DryRun
	report := spec.GenerateReport != nil && *spec.GenerateReport
	result := updateResult(cl, plan)
	if dryRun || report {
		msg := "dry run: nothing was changed"
		if source != "" {
			msg += " (machine types and versions checked against " + source + ")"
		}
		result.Message = ptr(msg)
		return c.JSON(http.StatusOK, result)
	}
	if !plan.ValidationPassed {
		details := map[string]any{"errors": plan.Errors}
		for field, msg := range fieldErrs {
			details[field] = msg
		}
		return &httpx.APIError{Status: http.StatusBadRequest, Code: httpx.CodeValidationFailed, Message: "the update is blocked by its preflight checks", Details: details}
	}
	if cl.Status != store.ClusterReady {
		if running, err := s.store.RunningOperation(c.Request().Context(), cl.OrgID, cl.ID); err == nil {
			return httpx.Conflict(fmt.Sprintf("operation %s (%s) is already running on this cluster", running.ID, running.Type),
				map[string]any{"runningOperationId": running.ID, "runningOperationType": running.Type, "status": cl.Status})
		}
		return httpx.Conflict(fmt.Sprintf("cluster %q is %s; only READY clusters can be updated", cl.Name, cl.Status), map[string]any{"status": cl.Status})
	}
	if len(plan.Steps) == 0 {
		result.Message = ptr("nothing to change")
		return c.JSON(http.StatusOK, result)
	}
	op := newOperation(c, p, cl, workflows.OpUpdate, params.IdempotencyKey)
	if resume(prior) {
		op = prior // recorded by this request before, never started: beginOperation starts it
	}
	facts := append(clusterFacts(current), activities.Fact{Label: "Plan", Value: strings.Join(plan.Report.Changes, "; ")})
	gate, err := approvals.Gate(c.Request().Context(), s.store, p, workflows.OpUpdate, facts)
	if err != nil {
		return err
	}
	in := workflows.UpdateClusterInput{Approval: gate,
		Op:      workflows.Operation{OrgID: p.OrgID, ClusterID: cl.ID, OperationID: op.ID},
		Current: current, Ref: activities.ClusterRef{Provider: cl.Provider, ExternalID: cl.ExternalID, Endpoint: cl.Endpoint},
		Steps: steps,
	}
	started, err := s.beginOperation(c, op, cl.Provider, workflows.UpdateCluster, in)
	if err != nil {
		return err
	}
	s.audit.Record(c, p, "CLUSTER", "UPDATE", started.ID, store.OutcomeSuccess)
	result.OperationId = &started.ID
	result.Status = api.ClusterStatus(store.ClusterUpdating)
	result.Message = ptr(startedMessage(workflows.OpUpdate, gate))
	return c.JSON(http.StatusAccepted, result)
}

// repeatedUpdate answers an update repeated with its Idempotency-Key: the operation it
// started, with the cluster's status now.
func (s *Server) repeatedUpdate(c echo.Context, prior store.Operation) error {
	status := api.ClusterStatus(store.ClusterUpdating)
	if cl, err := s.store.GetCluster(c.Request().Context(), prior.OrgID, prior.ClusterID); err == nil {
		status = api.ClusterStatus(cl.Status)
	}
	return c.JSON(http.StatusAccepted, api.ClusterUpdateResult{ClusterId: prior.ClusterID, Status: status, ValidationPassed: true,
		OperationId: &prior.ID, Message: ptr("operation already started with this Idempotency-Key")})
}

func updateResult(cl store.Cluster, plan upgrade.Plan) api.ClusterUpdateResult {
	r := api.ClusterUpdateResult{
		ClusterId: cl.ID, Status: api.ClusterStatus(cl.Status), ValidationPassed: plan.ValidationPassed,
		Errors: &plan.Errors, Warnings: &plan.Warnings,
		UpgradePlan:   &api.ClusterUpgradePlan{FromVersion: &plan.FromVersion, ToVersion: &plan.ToVersion, Steps: []api.ClusterUpgradeStep{}},
		UpgradeReport: &api.ClusterUpgradeReport{Changes: plan.Report.Changes, Disruptions: plan.Report.Disruptions, EstimatedMinutes: plan.Report.EstimatedMinutes},
	}
	checks := []api.ClusterPreflightCheck{}
	for _, ch := range plan.PreflightChecks {
		checks = append(checks, api.ClusterPreflightCheck{Name: api.ClusterPreflightCheckName(ch.Name), Result: api.ClusterPreflightCheckResult(ch.Result), Message: ch.Message})
	}
	r.PreflightChecks = &checks
	for _, st := range plan.Steps {
		step := api.ClusterUpgradeStep{Order: st.Order, Kind: api.ClusterUpgradeStepKind(st.Kind), Target: st.Target,
			Description: st.Description, Disruptive: st.Disruptive, EstimatedMinutes: st.EstimatedMinutes}
		if st.FromVersion != "" {
			step.FromVersion = ptr(st.FromVersion)
		}
		if st.ToVersion != "" {
			step.ToVersion = ptr(st.ToVersion)
		}
		if st.Batches > 0 {
			step.Batches = ptr(st.Batches)
		}
		r.UpgradePlan.Steps = append(r.UpgradePlan.Steps, step)
	}
	return r
}

// updateSteps resolves the plan into what each workflow step needs: a node group's
// whole spec after the step, the version, or the tags.
func updateSteps(current activities.ClusterSpec, req upgrade.Request, plan upgrade.Plan) []workflows.UpdateStep {
	groups := map[string]activities.NodeGroupSpec{}
	for _, ng := range current.NodeGroups {
		groups[ng.Name] = ng
	}
	changes := map[string]upgrade.NodeGroupChange{}
	for _, ch := range req.NodeGroups {
		changes[ch.Name] = ch
	}
	version := plan.ToVersion
	if version == "" {
		version = current.KubernetesVersion
	}
	var steps []workflows.UpdateStep
	for _, st := range plan.Steps {
		ws := workflows.UpdateStep{Name: updateStepName(st), Kind: string(st.Kind), Version: st.ToVersion, Batches: st.Batches}
		switch st.Kind {
		case upgrade.KindTagsUpdate:
			ws.Tags = req.Tags
		case upgrade.KindClusterSettings:
			ws.Settings = clusterSettings(current.ProvisionerType, req)
		case upgrade.KindControlPlaneUpgrade, upgrade.KindAddonsUpgrade:
		default:
			ng := nodeGroupAfter(groups[st.Target], changes[st.Target], st, version)
			if st.Kind == upgrade.KindAmiFamilyUpdate && req.AmiFamily != "" {
				ng.ImageType = req.AmiFamily
			}
			if req.MaxUnavailable != "" || req.MaxSurge != "" {
				// The provider rolls the group's nodes within the manifest's updateConfig.
				ng.Rollout = &cloud.Rollout{MaxUnavailable: req.MaxUnavailable, MaxSurge: req.MaxSurge}
			}
			groups[st.Target] = ng
			ws.NodeGroup = &ng
		}
		steps = append(steps, ws)
	}
	return steps
}

// clusterSettings are the cluster-wide settings the request sets on a cluster of that
// provisioner type: the eks AMI family, or gke's image type, release channel,
// maintenance window and authorized networks (a list, cleared when empty).
func clusterSettings(provisioner string, req upgrade.Request) *activities.ClusterSettings {
	var s activities.ClusterSettings
	switch {
	case provisioner == "eks" && req.AmiFamily != "":
		s.EKS = &cloud.EKSSettings{AMIFamily: req.AmiFamily}
	case provisioner == "gke" && req.GKE != nil:
		g := req.GKE
		s.GKE = &cloud.GKESettings{ImageType: strings.ToUpper(g.ImageType), ReleaseChannel: strings.ToUpper(g.ReleaseChannel),
			AuthorizedNetworks: slices.Clone(g.AuthorizedNetworks)}
		if w := g.MaintenanceWindow; w != nil {
			s.GKE.MaintenanceWindow = &cloud.MaintenanceWindow{StartTime: w.StartTime, Duration: w.Duration}
		}
	}
	return &s
}

// updateStepName is how progress shows a plan step: its order, kind, and node group
// or target version, e.g. "1-control-plane-upgrade-1.32", "3-node-group-scale-default-pool".
func updateStepName(st upgrade.Step) string {
	switch {
	case st.Target != upgrade.TargetControlPlane:
		return fmt.Sprintf("%d-%s-%s", st.Order, st.Kind, st.Target)
	case st.ToVersion != "":
		return fmt.Sprintf("%d-%s-%s", st.Order, st.Kind, st.ToVersion)
	default:
		return fmt.Sprintf("%d-%s", st.Order, st.Kind)
	}
}

// nodeGroupAfter is ng once step has run, given the change the request asks for.
func nodeGroupAfter(ng activities.NodeGroupSpec, ch upgrade.NodeGroupChange, step upgrade.Step, version string) activities.NodeGroupSpec {
	switch step.Kind {
	case upgrade.KindNodeGroupUpgrade:
		ng.Version = step.ToVersion
	case upgrade.KindNodeGroupScale:
		if ch.MinNode != nil {
			ng.MinNode = *ch.MinNode
		}
		if ch.MaxNode != nil {
			ng.MaxNode = *ch.MaxNode
		}
	case upgrade.KindNodeGroupConfig:
		if ch.Labels != nil {
			ng.Labels = ch.Labels
		}
		if ch.Taints != nil {
			ng.Taints = toTaints(ch.Taints)
		}
	case upgrade.KindNodeGroupReplace:
		if len(ch.MachineTypes) > 0 {
			ng.MachineTypes = ch.MachineTypes
		}
		if ch.InstanceType != "" {
			ng.InstanceType = ch.InstanceType
		}
	case upgrade.KindNodeGroupCreate:
		ng = activities.NodeGroupSpec{Name: ch.Name, Version: version, MachineTypes: ch.MachineTypes, Labels: ch.Labels,
			Taints: toTaints(ch.Taints), InstanceType: ch.InstanceType}
		if ng.InstanceType == "" {
			ng.InstanceType = "ondemand"
		}
		if ch.MinNode != nil {
			ng.MinNode = *ch.MinNode
		}
		if ch.MaxNode != nil {
			ng.MaxNode = *ch.MaxNode
		}
	}
	ng.Name = step.Target
	return ng
}

func toTaints(ts []upgrade.Taint) []activities.Taint {
	var out []activities.Taint
	for _, t := range ts {
		out = append(out, activities.Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
	}
	return out
}

func ptr[T any](v T) *T { return &v }
