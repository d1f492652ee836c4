// Package azureconnect connects a customer's Azure subscription to the platform
// without secrets: workload identity federation. The customer runs a setup script (az
// CLI commands, Script) that makes, in their subscription, a user-assigned managed
// identity with a federated identity credential trusting the platform's OIDC issuer
// for one organization only (the subject), and a role assignment on the subscription
// or a resource group (Reader to read, Contributor to manage); its last command
// reports the identity's client ID (Azure chooses it) to the platform. The platform
// then signs a token for the organization (Identity.Assertion) and exchanges it at
// the Microsoft identity platform's token endpoint for an access token of Azure
// Resource Manager (Exchange, through azidentity's ClientAssertionCredential), and
// reads the scope with it (Verify, through armresources). The worker does this; the
// API never does.
package azureconnect

import (
	"fmt"
	"regexp"
	"strings"
)

// Access levels of a connection.
const (
	LevelRead   = "read"
	LevelManage = "manage"
)

// Built-in roles the setup script assigns (names as az accepts them, with their
// stable definition IDs).
const (
	RoleReader      = "Reader"      // acdd72a7-3385-48ef-bd42-f606fba81ae7
	RoleContributor = "Contributor" // b24988ac-6180-42a0-ab88-20f7382dd24c
)

// Audience is the audience a federated credential accepts, as Microsoft Entra ID
// requires for token exchange.
const Audience = "api://AzureADTokenExchange"

// DefaultLocation is where the identity is made when the request names no region.
const DefaultLocation = "eastus"

// Role returns the role of level: Reader to read; Contributor to manage (on the
// resource group when one is named, which is the least privilege that creates AKS
// clusters with their networks; on the subscription otherwise). An unknown level is
// an error.
func Role(level string) (string, error) {
	switch level {
	case LevelRead:
		return RoleReader, nil
	case LevelManage:
		return RoleContributor, nil
	}
	return "", fmt.Errorf("level %q is neither %s nor %s", level, LevelRead, LevelManage)
}

var (
	guidRe   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	groupRe  = regexp.MustCompile(`^[-\w.()]{0,89}[-\w()]$`)
	regionRe = regexp.MustCompile(`^[a-z][a-z0-9]{1,39}$`)
)

// CheckGUID reports why id (a subscription, tenant or client ID, named what) is not a
// GUID.
func CheckGUID(what, id string) error {
	if !guidRe.MatchString(id) {
		return fmt.Errorf("%q is not an Azure %s (a GUID such as 00000000-0000-0000-0000-000000000000)", id, what)
	}
	return nil
}

// CheckResourceGroup reports why name is not a resource group name (1–90 letters,
// digits, underscores, hyphens, periods and parentheses, not ending with a period).
func CheckResourceGroup(name string) error {
	if !groupRe.MatchString(name) {
		return fmt.Errorf("%q is not an Azure resource group name (1-90 letters, digits, '_', '-', '.', '(' or ')', not ending with '.')", name)
	}
	return nil
}

// CheckRegion reports why name is not an Azure region name (such as westeurope).
func CheckRegion(name string) error {
	if !regionRe.MatchString(name) {
		return fmt.Errorf("%q is not an Azure region name (lowercase letters and digits, such as westeurope)", name)
	}
	return nil
}

// Subject is the subject of the tokens the platform signs for orgID, which the
// federated credential trusts: only this organization's tokens carry it.
func Subject(orgID string) string { return "astroplane:org:" + orgID }

// IdentityName is the managed identity the setup script makes for cluster.
func IdentityName(cluster string) string { return "astroplane-" + cluster }

// CredentialName is the federated credential's name on the identity.
const CredentialName = "astroplane"

// IdentityGroup is the resource group the identity lives in when the connection
// names none (the role is then on the whole subscription).
const IdentityGroup = "astroplane-identities"

// Scope is the scope of the role assignment: the resource group when named, else the
// subscription.
func Scope(subscription, group string) string {
	if group == "" {
		return "/subscriptions/" + subscription
	}
	return "/subscriptions/" + subscription + "/resourceGroups/" + group
}

// ScriptInput is what a setup script is made of.
type ScriptInput struct {
	SubscriptionID string
	TenantID       string
	// ResourceGroup is the scope of the role when set (and the identity's home); empty:
	// the subscription, the identity in IdentityGroup.
	ResourceGroup string
	Location      string
	OrgID         string
	Cluster       string
	Level         string
	// Issuer is the platform's OIDC issuer (the tokens' iss), which Microsoft Entra ID
	// reaches for its discovery document and keys.
	Issuer string
	// ReportURL is where the script reports the identity's client ID (unguessable).
	ReportURL string
}

// Script returns the setup script a user runs (bash, az CLI) in Azure Cloud Shell or
// with az signed in to the tenant as someone who may create identities and assign
// roles on the scope (Owner, or Contributor plus User Access Administrator). Each
// command is on one line after the variables; running it again is harmless (az
// updates what exists).
func Script(in ScriptInput) (string, error) {
	if err := CheckGUID("subscription ID", in.SubscriptionID); err != nil {
		return "", err
	}
	if err := CheckGUID("tenant ID", in.TenantID); err != nil {
		return "", err
	}
	if in.ResourceGroup != "" {
		if err := CheckResourceGroup(in.ResourceGroup); err != nil {
			return "", err
		}
	}
	if in.Location == "" {
		in.Location = DefaultLocation
	}
	if err := CheckRegion(in.Location); err != nil {
		return "", err
	}
	role, err := Role(in.Level)
	if err != nil {
		return "", err
	}
	if in.OrgID == "" || in.Issuer == "" || in.ReportURL == "" || in.Cluster == "" {
		return "", fmt.Errorf("azure setup script: organization, cluster, issuer and report URL are required")
	}
	if strings.ContainsAny(in.OrgID+in.Issuer+in.Cluster+in.ReportURL, "'\"\\$`\n ") {
		return "", fmt.Errorf("azure setup script: organization, issuer, cluster or URL has characters a script cannot quote")
	}
	group := in.ResourceGroup
	if group == "" {
		group = IdentityGroup
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("#!/usr/bin/env bash")
	line("# Astro Plane: connect Azure subscription %s for cluster %s, level %s.", in.SubscriptionID, in.Cluster, in.Level)
	line("# Run it signed in to tenant %s (az login --tenant ...; Azure Cloud Shell will do) as someone who", in.TenantID)
	line("# may create managed identities and assign roles on the scope below. It makes a user-assigned")
	line("# managed identity whose federated credential trusts Astro Plane's issuer for your organization")
	line("# only, assigns it the role %s on the scope, and reports its client ID. No secret is created.", role)
	line("set -euo pipefail")
	line("SUBSCRIPTION='%s'", in.SubscriptionID)
	line("TENANT='%s'", in.TenantID)
	line("GROUP='%s'", group)
	line("LOCATION='%s'", in.Location)
	line("IDENTITY='%s'", IdentityName(in.Cluster))
	line("ISSUER='%s'", in.Issuer)
	line("SUBJECT='%s'", Subject(in.OrgID))
	line("ROLE='%s'", role)
	line("SCOPE='%s'", Scope(in.SubscriptionID, in.ResourceGroup))
	line("REPORT_URL='%s'", in.ReportURL)
	line(`az account set --subscription "$SUBSCRIPTION"`)
	if in.ResourceGroup == "" {
		line(`az group create --name "$GROUP" --location "$LOCATION" --output none`)
	}
	line(`az identity create --name "$IDENTITY" --resource-group "$GROUP" --location "$LOCATION" --output none`)
	line(`CLIENT_ID=$(az identity show --name "$IDENTITY" --resource-group "$GROUP" --query clientId --output tsv)`)
	line(`PRINCIPAL_ID=$(az identity show --name "$IDENTITY" --resource-group "$GROUP" --query principalId --output tsv)`)
	line(`az identity federated-credential create --name %s --identity-name "$IDENTITY" --resource-group "$GROUP" --issuer "$ISSUER" --subject "$SUBJECT" --audiences %s --output none`, CredentialName, Audience)
	line(`az role assignment create --assignee-object-id "$PRINCIPAL_ID" --assignee-principal-type ServicePrincipal --role "$ROLE" --scope "$SCOPE" --output none`)
	line(`curl -fsS -X POST -H 'Content-Type: application/json' --data "{\"clientId\":\"$CLIENT_ID\",\"principalId\":\"$PRINCIPAL_ID\"}" "$REPORT_URL"`)
	line("echo 'Done: Astro Plane connects once the role assignment has propagated (a few minutes).'")
	return b.String(), nil
}
