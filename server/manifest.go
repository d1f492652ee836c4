package server

import (
	"encoding/json"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/server/api"
)

// bindClusterSpec decodes a deploy body in either of its forms — the K8sCluster
// manifest or the legacy flat spec — into the spec.
func bindClusterSpec(c echo.Context) (api.K8sClusterSpec, error) {
	raw, _ := c.Get(bodyKey).([]byte)
	var probe map[string]json.RawMessage
	_ = json.Unmarshal(raw, &probe) // the contract check already proved it an object
	_, isManifest := probe["spec"]
	if isManifest {
		var m api.K8sClusterManifest
		if err := bindBody(c, &m); err != nil {
			return api.K8sClusterSpec{}, err
		}
		return m.Spec, nil
	}
	var spec api.K8sClusterSpec
	err := bindBody(c, &spec)
	return spec, err
}

// provisionerProvider is the provider each provisioner type runs on; selfHosted runs
// on aws or gcp.
var provisionerProvider = map[api.ProvisionerType][]api.ClusterProvider{
	api.ProvisionerTypeEks:        {api.ClusterProviderAws},
	api.ProvisionerTypeGke:        {api.ClusterProviderGcp},
	api.ProvisionerTypeAks:        {api.ClusterProviderAzure},
	api.ProvisionerTypeSelfHosted: {api.ClusterProviderAws, api.ClusterProviderGcp},
}

// validateClusterSpec checks the cross-field rules the schema cannot express and
// returns every fault at once, by field.
func validateClusterSpec(spec api.K8sClusterSpec) map[string]any {
	details := map[string]any{}
	fits := false
	for _, p := range provisionerProvider[spec.Provisioner.Type] {
		fits = fits || p == spec.Provider
	}
	if !fits {
		details["spec.provisioner.type"] = string(spec.Provisioner.Type) + " does not run on provider " + string(spec.Provider)
	}
	pv := spec.Provisioner
	switch spec.Provisioner.Type {
	case api.ProvisionerTypeEks:
		if pv.Eks == nil {
			details["spec.provisioner.eks"] = "required for provisioner type eks"
		}
	case api.ProvisionerTypeGke:
		if pv.Gke == nil {
			details["spec.provisioner.gke"] = "required for provisioner type gke"
		}
	case api.ProvisionerTypeAks:
		if pv.Aks == nil {
			details["spec.provisioner.aks"] = "required for provisioner type aks"
		}
	case api.ProvisionerTypeSelfHosted:
		if pv.SelfHosted == nil {
			details["spec.provisioner.selfHosted"] = "required for provisioner type selfHosted"
		}
	}
	selfHostedGCP := spec.Provider == api.ClusterProviderGcp && spec.Provisioner.Type == api.ProvisionerTypeSelfHosted
	if deref(spec.Region) == "" && !selfHostedGCP {
		details["spec.region"] = "required"
	}
	return details
}

// redactedSpec is the spec as stored and shown: every credential's data removed.
func redactedSpec(spec api.K8sClusterSpec) []byte {
	pv := spec.Provisioner
	// Copy each provisioner block before clearing, so the caller's spec is untouched.
	if pv.Eks != nil && pv.Eks.Credentials != nil {
		eks, creds := *pv.Eks, *pv.Eks.Credentials
		creds.Data = nil
		eks.Credentials, pv.Eks = &creds, &eks
	}
	if pv.Gke != nil && pv.Gke.Credentials != nil {
		gke, creds := *pv.Gke, *pv.Gke.Credentials
		creds.Data = nil
		gke.Credentials, pv.Gke = &creds, &gke
	}
	if pv.Aks != nil && pv.Aks.Credentials != nil {
		aks, creds := *pv.Aks, *pv.Aks.Credentials
		creds.Data = nil
		aks.Credentials, pv.Aks = &creds, &aks
	}
	if pv.SelfHosted != nil {
		sh := *pv.SelfHosted
		sh.Credentials.Data = nil
		pv.SelfHosted = &sh
	}
	spec.Provisioner = pv
	return mustJSON(spec)
}

// accountID is the cloud account the cluster lives in, for history look-ups.
func accountID(spec api.K8sClusterSpec) string {
	pv := spec.Provisioner
	switch {
	case pv.Eks != nil:
		return pv.Eks.AccountId
	case pv.Gke != nil:
		return pv.Gke.ProjectId
	case pv.Aks != nil:
		return pv.Aks.SubscriptionId.String()
	case pv.SelfHosted != nil:
		return pv.SelfHosted.AccountId
	}
	return ""
}
