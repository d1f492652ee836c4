package clusters

import (
	"encoding/json"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
)

// bindClusterSpec decodes a deploy body in either of its forms — the K8sCluster
// manifest or the legacy flat spec — into the spec, and says which form it was.
func bindClusterSpec(c echo.Context) (spec api.K8sClusterSpec, isManifest bool, err error) {
	raw := httpx.Body(c)
	var probe map[string]json.RawMessage
	_ = json.Unmarshal(raw, &probe) // the contract check already proved it an object
	_, isManifest = probe["spec"]
	if isManifest {
		var m api.K8sClusterManifest
		err := httpx.BindBody(c, &m)
		return m.Spec, true, err
	}
	err = httpx.BindBody(c, &spec)
	return spec, false, err
}

// fieldErrors are validation errors as details, their paths in the form the client
// wrote: a legacy flat body has no "spec." prefix.
func fieldErrors(errs map[string]string, isManifest bool) map[string]any {
	out := make(map[string]any, len(errs))
	for path, msg := range errs {
		if !isManifest {
			path = strings.TrimPrefix(path, "spec.")
		}
		out[path] = msg
	}
	return out
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
	if pv.SelfHosted != nil && pv.SelfHosted.Credentials != nil {
		sh, creds := *pv.SelfHosted, *pv.SelfHosted.Credentials
		creds.Data = nil
		sh.Credentials, pv.SelfHosted = &creds, &sh
	}
	spec.Provisioner = pv
	return httpx.MustJSON(spec)
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
