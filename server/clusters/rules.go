package clusters

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/upgrade"
	"github.com/astropulse/astroplane/validate"
	"github.com/astropulse/astroplane/workflows"
)

// The steps where a deploy and a delete call the cloud: the ones a fault tag can name.
// Tags stay on the cluster, so a deploy's tags also drive its later delete.
var (
	deployCloudSteps = []string{workflows.StepNetwork, workflows.StepControlPlane, workflows.StepWaitActive,
		workflows.StepNodeGroups, workflows.StepAddons, workflows.StepKubeconfig}
	deleteCloudSteps = []string{workflows.StepDeleteNodeGroups, workflows.StepDeleteControlPlane, workflows.StepDeleteNetwork}
)

// faultTags are the tags of the simulated cloud (cloud/sim) that name a step.
var faultTags = []string{sim.TagFailStep, sim.TagFlakyStep, sim.TagHoldStep}

// checkFaultTags reports each fault tag among tags that names no step of the operation
// (steps) nor of a later delete: such a tag would inject nothing, silently.
func checkFaultTags(errs validate.Errors, tags map[string]string, operation string, steps []string) {
	for _, tag := range faultTags {
		step, ok := tags[tag]
		if !ok || slices.Contains(steps, step) || slices.Contains(deleteCloudSteps, step) {
			continue
		}
		which := "none (this update changes nothing in the cloud)"
		if len(steps) > 0 {
			which = strings.Join(steps, ", ")
		}
		errs["spec.tags."+tag] = fmt.Sprintf("%q is not a step of this %s; name one of its steps: %s; or of a later delete: %s",
			step, operation, which, strings.Join(deleteCloudSteps, ", "))
	}
}

// deployRuleFaults are the faults of a deploy spec beyond its schema: the manifest
// rules of package validate and the fault tags' step names.
func deployRuleFaults(spec api.K8sClusterSpec) validate.Errors {
	errs := validate.ClusterSpec(spec)
	if spec.Tags != nil {
		checkFaultTags(errs, *spec.Tags, workflows.OpDeploy, deployCloudSteps)
	}
	return errs
}

// warningLines spells warnings by field as "field: why", sorted by field.
func warningLines(warnings validate.Errors) []string {
	lines := make([]string, 0, len(warnings))
	for _, field := range warnings.Paths() {
		lines = append(lines, field+": "+warnings[field])
	}
	return lines
}

// checkUpdateFaultTags reports fault tags of an update manifest that name none of the
// update's planned steps.
func checkUpdateFaultTags(errs validate.Errors, spec api.K8sClusterUpdateSpec, steps []workflows.UpdateStep) {
	if spec.Tags == nil {
		return
	}
	names := make([]string, 0, len(steps))
	for _, s := range steps {
		names = append(names, s.Name)
	}
	checkFaultTags(errs, *spec.Tags, workflows.OpUpdate, names)
}

// RuleFaults are the faults the rules beyond the schema find in raw, the body of a
// deploy or update (operationID) the schema refused, so that one answer lists every
// fault; by field, as the client wrote them. Nil when the body could not be read as
// the operation's type, or for any other operation.
func (s *Server) RuleFaults(c echo.Context, operationID string, raw []byte) map[string]any {
	var faults validate.Errors
	isManifest := true
	// The embedded contract spells operation IDs as the generated handlers do
	// (DeployCluster); match them whatever their case.
	switch strings.ToLower(operationID) {
	case "deploycluster":
		var probe map[string]json.RawMessage
		if json.Unmarshal(raw, &probe) != nil {
			return nil
		}
		var spec api.K8sClusterSpec
		if _, isManifest = probe["spec"]; isManifest {
			var m api.K8sClusterManifest
			if !lenientDecode(raw, &m) {
				return nil
			}
			spec = m.Spec
		} else if !lenientDecode(raw, &spec) {
			return nil
		}
		faults = deployRuleFaults(spec)
	case "updatecluster":
		var m api.K8sClusterUpdateManifest
		if !lenientDecode(raw, &m) {
			return nil
		}
		p, ok := httpx.PrincipalOf(c)
		if !ok {
			return nil
		}
		cl, err := s.store.GetCluster(c.Request().Context(), p.OrgID, c.Param("clusterId"))
		if err != nil || cl.Status == store.ClusterDeleted {
			return nil // the provider is unknown; the handler would answer 404
		}
		faults = validate.ClusterUpdateSpec(cl.Provider, m.Spec)
		if current, err := storedSpec(cl); err == nil {
			req := upgradeRequest(m.Spec)
			plan := upgrade.Build(upgradeCluster(current), req, supportedVersions(cl.ProvisionerType))
			checkUpdateFaultTags(faults, m.Spec, updateSteps(current, req, plan))
		}
	default:
		return nil
	}
	return fieldErrors(faults, isManifest)
}

// lenientDecode decodes raw into dst as far as it can: fields of the wrong type are
// left zero. It reports false when decoding stopped short of the end.
func lenientDecode(raw []byte, dst any) bool {
	err := json.NewDecoder(bytes.NewReader(raw)).Decode(dst)
	var typ *json.UnmarshalTypeError
	return err == nil || errors.As(err, &typ)
}
