package clusters

import (
	"context"
	"fmt"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/livecatalog"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/validate"
	"github.com/astropulse/astroplane/workflows"
)

// WithLiveCatalog makes the server check manifests of organizations with a
// connected account against that account's live catalog (see checkDeploy); nil
// keeps the static tables alone.
func (s *Server) WithLiveCatalog(l *livecatalog.Lookup) *Server {
	s.live = l
	return s
}

// liveCatalog returns the live catalog of orgID's connected account of provider
// (accountID's when connected) for region, and what answered: its source, or a
// warning saying why the static tables decide instead. Live is nil when the
// organization connected no account of provider (no Temporal call is made) or the
// look-up failed.
func (s *Server) liveCatalog(ctx context.Context, orgID, provider, accountID, region string) (live catalog.Live, source, warning string) {
	if _, ok := catalog.ProviderByID(provider); !ok || region == "" {
		return nil, "", ""
	}
	account, ok := s.live.Account(ctx, orgID, provider, accountID)
	if !ok {
		return nil, "", ""
	}
	a, err := s.live.Region(ctx, account, region)
	if err != nil {
		s.log.WarnContext(ctx, "live catalog look-up", "err", err, "orgID", orgID, "provider", provider, "region", region)
		return nil, "", fmt.Sprintf("the live catalog of connected %s account %s could not be asked (%v); machine types and versions were checked against the built-in catalog",
			provider, account.AccountID, err)
	}
	if a.RegionUnknown {
		// The provider says the region does not exist: validate refuses spec.region.
		return a.Live(), a.Source(), ""
	}
	var partial string
	switch {
	case a.MachineTypesError != "" && a.VersionsError != "":
		return nil, "", fmt.Sprintf("the live catalog of connected %s account %s did not answer (%s); machine types and versions were checked against the built-in catalog",
			provider, account.AccountID, a.MachineTypesError)
	case a.MachineTypesError != "":
		partial = ", machine types against the built-in catalog (" + a.MachineTypesError + ")"
	case a.VersionsError != "":
		partial = ", Kubernetes versions against the built-in catalog"
	}
	if a.ZonesError != "" {
		partial += ", regions and zones against the built-in catalog"
	}
	return a.Live(), a.Source() + partial, ""
}

// checkDeploy is the validation of a deploy spec beyond its schema: the manifest
// rules of package validate, with the live catalog of a connected account of the
// spec's provider when the organization has one (a machine type or version the
// provider does not offer in the region, an EKS subnet's zone it does not list,
// or a region it says does not exist is then a fault; without one, or when the
// look-up fails, a type, zone or region the built-in catalog lacks is a
// warning), and the fault tags' step names. source says which catalog decided, when a live one did.
func (s *Server) checkDeploy(ctx context.Context, orgID string, spec api.K8sClusterSpec) (errs, warnings validate.Errors, source string) {
	errs, warnings = validate.Check(spec)
	if _, bad := errs["spec.provider"]; !bad {
		if _, bad := errs["spec.region"]; !bad {
			live, src, warning := s.liveCatalog(ctx, orgID, string(spec.Provider), accountID(spec), deref(spec.Region))
			if live != nil {
				errs, warnings = validate.CheckLive(ctx, spec, live)
				source = src
			}
			if warning != "" {
				addWarning(warnings, "spec.region", warning)
			}
		}
	}
	if spec.Tags != nil {
		checkFaultTags(errs, *spec.Tags, workflows.OpDeploy, deployCloudSteps)
	}
	return errs, warnings, source
}

// checkUpdate is validate.CheckUpdate of an update of cl, with the live catalog of
// the cluster's region when its organization connected an account of its provider
// and the update names a machine type or a version.
func (s *Server) checkUpdate(ctx context.Context, cl store.Cluster, spec api.K8sClusterUpdateSpec) (errs, warnings validate.Errors, source string) {
	if !namesCatalogValues(spec) {
		errs, warnings = validate.CheckUpdate(cl.Provider, spec)
		return errs, warnings, ""
	}
	live, src, warning := s.liveCatalog(ctx, cl.OrgID, cl.Provider, cl.AccountID, cl.Region)
	if live != nil {
		errs, warnings = validate.CheckUpdateLive(ctx, cl.Provider, cl.ProvisionerType, cl.Region, spec, live)
	} else {
		errs, warnings = validate.CheckUpdate(cl.Provider, spec)
	}
	if warning != "" {
		addWarning(warnings, "spec", warning)
	}
	return errs, warnings, src
}

// namesCatalogValues reports whether an update names what a live catalog decides:
// a Kubernetes version or a node group's machine types.
func namesCatalogValues(spec api.K8sClusterUpdateSpec) bool {
	if spec.KubernetesVersion != nil {
		return true
	}
	if spec.NodeGroups != nil {
		for _, g := range *spec.NodeGroups {
			if g.MachineTypes != nil && len(*g.MachineTypes) > 0 {
				return true
			}
		}
	}
	return false
}

// addWarning adds a warning of the field, after any it already has.
func addWarning(warnings validate.Errors, field, msg string) {
	if old := warnings[field]; old != "" {
		msg = old + "; " + msg
	}
	warnings[field] = msg
}
