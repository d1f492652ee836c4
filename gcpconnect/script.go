// Package gcpconnect connects a customer's GCP project to the platform without keys:
// workload identity federation. The customer runs a setup script (gcloud commands,
// Script) that makes, in their project, a workload identity pool with an OIDC
// provider trusting the platform's identity (its issuer and public keys) for one
// organization only (the attribute condition), a service account with the roles of
// the requested level, and the binding that lets that organization's principal of
// the pool impersonate it. The platform then exchanges a token it signs for the
// organization (Identity.SubjectToken) at Google's STS for a federated token, and
// that for the service account's access token (iamcredentials generateAccessToken):
// Exchange. The worker does this; the API never does.
package gcpconnect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Access levels of a connection.
const (
	LevelRead   = "read"
	LevelManage = "manage"
)

// PoolID is the workload identity pool the setup script makes in the customer's
// project (shared by every organization and cluster the project is connected for;
// each organization gets its own provider in it).
const PoolID = "astro-plane"

// ReadRoles are what a read connection's service account is granted on the project:
// reading clusters, networks and machine types.
var ReadRoles = []string{"roles/container.viewer", "roles/compute.viewer"}

// ManageRoles are what a manage connection's service account is granted: creating,
// upgrading and deleting GKE clusters and node pools, the VPC networks they use, and
// running nodes as a service account of the project.
var ManageRoles = []string{"roles/container.admin", "roles/compute.networkAdmin", "roles/iam.serviceAccountUser"}

// Roles returns the project roles of level; an unknown level is an error.
func Roles(level string) ([]string, error) {
	switch level {
	case LevelRead:
		return ReadRoles, nil
	case LevelManage:
		return ManageRoles, nil
	}
	return nil, fmt.Errorf("level %q is neither %s nor %s", level, LevelRead, LevelManage)
}

var (
	projectIDRe     = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	projectNumberRe = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)
)

// CheckProjectID reports why id is not a GCP project ID (6–30 lowercase letters,
// digits and hyphens, starting with a letter, not ending with a hyphen).
func CheckProjectID(id string) error {
	if !projectIDRe.MatchString(id) {
		return fmt.Errorf("%q is not a GCP project ID (6-30 lowercase letters, digits or hyphens, starting with a letter, not ending with a hyphen)", id)
	}
	return nil
}

// CheckProjectNumber reports why n is not a GCP project number (digits, no leading
// zero, at most 19).
func CheckProjectNumber(n string) error {
	if !projectNumberRe.MatchString(n) {
		return fmt.Errorf("%q is not a GCP project number (1-19 digits without a leading zero: gcloud projects describe PROJECT_ID --format='value(projectNumber)')", n)
	}
	return nil
}

// ProviderID is the organization's provider in the pool: one per organization, so
// each carries its own attribute condition.
func ProviderID(orgID string) string {
	h := sha256.Sum256([]byte(orgID))
	return "astro-" + hex.EncodeToString(h[:])[:12]
}

// ProviderName is the provider's full resource name.
func ProviderName(projectNumber, orgID string) string {
	return "projects/" + projectNumber + "/locations/global/workloadIdentityPools/" + PoolID + "/providers/" + ProviderID(orgID)
}

// Audience is the audience of the token exchange (STS) and of the subject token:
// the provider's canonical name, which an OIDC provider accepts by default.
func Audience(projectNumber, orgID string) string {
	return "//iam.googleapis.com/" + ProviderName(projectNumber, orgID)
}

// Subject is the subject the platform's token carries for orgID (google.subject).
func Subject(orgID string) string { return "org:" + orgID }

// Principal is the pool principal of orgID: the member the service account's
// workloadIdentityUser binding names.
func Principal(projectNumber, orgID string) string {
	return "principal://iam.googleapis.com/projects/" + projectNumber + "/locations/global/workloadIdentityPools/" + PoolID +
		"/subject/" + Subject(orgID)
}

// ServiceAccountID is the account ID (6–30 characters) of the service account a
// connection of cluster makes: astro- and the cluster's name, shortened with a hash
// when too long.
func ServiceAccountID(cluster string) string {
	id := "astro-" + cluster
	if len(id) <= 30 {
		return strings.TrimRight(id, "-")
	}
	h := sha256.Sum256([]byte(cluster))
	return strings.TrimRight(id[:21], "-") + "-" + hex.EncodeToString(h[:])[:8]
}

// ServiceAccountEmail is the service account's email in project.
func ServiceAccountEmail(projectID, cluster string) string {
	return ServiceAccountID(cluster) + "@" + projectID + ".iam.gserviceaccount.com"
}

// ScriptInput is what a setup script is made of.
type ScriptInput struct {
	ProjectID     string
	ProjectNumber string
	OrgID         string
	Cluster       string
	Level         string
	// Issuer is the platform's issuer URI (the subject token's iss).
	Issuer string
	// JWKS is the platform's public keys (a JSON Web Key Set): the provider is given
	// them, so Google need not reach the issuer.
	JWKS []byte
}

// Script returns the setup script a user runs (bash, gcloud) in Cloud Shell or with
// gcloud signed in as a project owner. Each command is on one line; a resource that
// already exists is updated (or kept), so running it again is harmless.
func Script(in ScriptInput) (string, error) {
	if err := CheckProjectID(in.ProjectID); err != nil {
		return "", err
	}
	if err := CheckProjectNumber(in.ProjectNumber); err != nil {
		return "", err
	}
	roles, err := Roles(in.Level)
	if err != nil {
		return "", err
	}
	if in.OrgID == "" || in.Issuer == "" || len(in.JWKS) == 0 || strings.Contains(string(in.JWKS), "\nEOF") {
		return "", fmt.Errorf("gcp setup script: organization, issuer and keys are required")
	}
	if strings.ContainsAny(in.OrgID+in.Issuer+in.Cluster, "'\"\\$`\n ") {
		return "", fmt.Errorf("gcp setup script: organization, issuer or cluster has characters a script cannot quote")
	}
	p, n := in.ProjectID, in.ProjectNumber
	sa := ServiceAccountEmail(p, in.Cluster)
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("#!/usr/bin/env bash")
	line("# Astro Plane: connect GCP project %s (number %s) for cluster %s, level %s.", p, n, in.Cluster, in.Level)
	line("# Run it as an owner of the project (Cloud Shell will do). It makes a workload identity pool whose")
	line("# provider trusts Astro Plane's identity for your organization only, and a service account with")
	line("# the roles below that only that identity may impersonate. No key is created.")
	line("set -euo pipefail")
	line("gcloud services enable iam.googleapis.com iamcredentials.googleapis.com sts.googleapis.com container.googleapis.com compute.googleapis.com --project=%s", p)
	line("cat > astro-plane-jwks.json <<'EOF'")
	b.Write(in.JWKS)
	line("")
	line("EOF")
	line("gcloud iam workload-identity-pools create %s --project=%s --location=global --display-name='Astro Plane' || gcloud iam workload-identity-pools describe %s --project=%s --location=global", PoolID, p, PoolID, p)
	provider := fmt.Sprintf("%s --project=%s --location=global --workload-identity-pool=%s --issuer-uri=%s --jwk-json-path=astro-plane-jwks.json "+
		"--attribute-mapping=google.subject=assertion.sub,attribute.org=assertion.org --attribute-condition=\"assertion.org == '%s'\"",
		ProviderID(in.OrgID), p, PoolID, in.Issuer, in.OrgID)
	line("gcloud iam workload-identity-pools providers create-oidc %s || gcloud iam workload-identity-pools providers update-oidc %s", provider, provider)
	line("gcloud iam service-accounts create %s --project=%s --display-name='Astro Plane %s (%s)' || gcloud iam service-accounts describe %s --project=%s",
		ServiceAccountID(in.Cluster), p, in.Cluster, in.Level, sa, p)
	for _, r := range roles {
		line("gcloud projects add-iam-policy-binding %s --member=serviceAccount:%s --role=%s --condition=None", p, sa, r)
	}
	line("gcloud iam service-accounts add-iam-policy-binding %s --project=%s --role=roles/iam.workloadIdentityUser --member=%s", sa, p, Principal(n, in.OrgID))
	line("echo 'Done: Astro Plane connects once IAM has propagated (a few minutes).'")
	return b.String(), nil
}
