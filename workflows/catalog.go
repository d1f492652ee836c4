package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
)

// CatalogWorkflowID is the ID of a live catalog lookup: unique per call (suffix),
// under the organization, so an operator finds an organization's lookups together.
func CatalogWorkflowID(orgID, suffix string) string { return "catalog-" + orgID + "-" + suffix }

// LookupCatalog asks a connected account's live catalog of one region (machine
// types, Kubernetes versions and zones) or, with no region, the account's regions, on
// the worker, which holds the credentials and
// caches the answers. The API awaits it for a moment when it validates a manifest
// or lists the catalog, and falls back to the static tables when it does not
// answer in time. Nothing secret is in its input or result.
//
// It is not a cluster operation: it changes nothing, carries no search attributes
// and is not listed anywhere.
func LookupCatalog(ctx workflow.Context, in activities.LookupCatalogInput) (activities.LookupCatalogResult, error) {
	var a *activities.Catalog
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// A cold AWS region is about a dozen EC2 calls; a caller waits seconds,
		// but a late answer still fills the worker's cache for the next one.
		StartToCloseTimeout: catalogLookupTimeout,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 2, InitialInterval: time.Second},
	})
	var out activities.LookupCatalogResult
	err := workflow.ExecuteActivity(ctx, a.LookupCatalog, in).Get(ctx, &out)
	return out, err
}

// catalogLookupTimeout bounds one attempt of the live catalog lookup.
const catalogLookupTimeout = 45 * time.Second
