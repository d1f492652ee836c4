package workflows

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
)

// Dependencies are the activity implementations a worker serves.
type Dependencies struct {
	Cluster  *activities.Cluster
	Notifier *activities.Notifier
	// CloudAccounts connects cloud accounts and issues temporary credentials; nil:
	// this worker does not serve them.
	CloudAccounts *activities.CloudAccounts
	// Apps deploys applications onto clusters through Argo CD; nil: this worker
	// does not serve them.
	Apps *activities.Apps
	// Catalog answers live catalog lookups of connected accounts; nil: this worker
	// does not serve them.
	Catalog *activities.Catalog
	// Agents serves registered clusters' workflows; nil: this worker does not.
	Agents *activities.Agents
}

// Register registers every workflow and activity on w, under readable names (the
// Go function and method names) that operators see in the Temporal Web UI.
func Register(w worker.Registry, deps Dependencies) {
	RegisterWorkflows(w)
	w.RegisterActivityWithOptions(deps.Cluster, activity.RegisterOptions{})
	if deps.Notifier != nil {
		w.RegisterActivityWithOptions(deps.Notifier, activity.RegisterOptions{})
	}
	if deps.CloudAccounts != nil {
		w.RegisterActivityWithOptions(deps.CloudAccounts, activity.RegisterOptions{})
	}
	if deps.Apps != nil {
		w.RegisterActivityWithOptions(deps.Apps, activity.RegisterOptions{})
	}
	if deps.Catalog != nil {
		w.RegisterActivityWithOptions(deps.Catalog, activity.RegisterOptions{})
	}
	if deps.Agents != nil {
		w.RegisterActivityWithOptions(deps.Agents, activity.RegisterOptions{})
	}
}

// RegisterWorkflows registers every workflow under the name the worker serves it by.
// The worker (through Register) and the replay test (a worker.WorkflowReplayer) both
// call it, so the workflows replayed are the workflows served, by the same names.
func RegisterWorkflows(w worker.WorkflowRegistry) {
	w.RegisterWorkflowWithOptions(DeployCluster, workflow.RegisterOptions{Name: "DeployCluster"})
	w.RegisterWorkflowWithOptions(UpdateCluster, workflow.RegisterOptions{Name: "UpdateCluster"})
	w.RegisterWorkflowWithOptions(DeleteCluster, workflow.RegisterOptions{Name: "DeleteCluster"})
	w.RegisterWorkflowWithOptions(NotifyTopic, workflow.RegisterOptions{Name: "NotifyTopic"})
	w.RegisterWorkflowWithOptions(ConnectAWSAccount, workflow.RegisterOptions{Name: "ConnectAWSAccount"})
	w.RegisterWorkflowWithOptions(IssueAWSCredentials, workflow.RegisterOptions{Name: "IssueAWSCredentials"})
	w.RegisterWorkflowWithOptions(ConnectGCPProject, workflow.RegisterOptions{Name: "ConnectGCPProject"})
	w.RegisterWorkflowWithOptions(IssueGCPCredentials, workflow.RegisterOptions{Name: "IssueGCPCredentials"})
	w.RegisterWorkflowWithOptions(ConnectAzureSubscription, workflow.RegisterOptions{Name: "ConnectAzureSubscription"})
	w.RegisterWorkflowWithOptions(IssueAzureCredentials, workflow.RegisterOptions{Name: "IssueAzureCredentials"})
	w.RegisterWorkflowWithOptions(IssueKubeconfig, workflow.RegisterOptions{Name: "IssueKubeconfig"})
	w.RegisterWorkflowWithOptions(DeployApplication, workflow.RegisterOptions{Name: "DeployApplication"})
	w.RegisterWorkflowWithOptions(DeleteApplication, workflow.RegisterOptions{Name: "DeleteApplication"})
	w.RegisterWorkflowWithOptions(ResyncApplication, workflow.RegisterOptions{Name: "ResyncApplication"})
	w.RegisterWorkflowWithOptions(RefreshRepoCredentials, workflow.RegisterOptions{Name: "RefreshRepoCredentials"})
	w.RegisterWorkflowWithOptions(LookupCatalog, workflow.RegisterOptions{Name: "LookupCatalog"})
	w.RegisterWorkflowWithOptions(RegisterClusterAgent, workflow.RegisterOptions{Name: "RegisterClusterAgent"})
	w.RegisterWorkflowWithOptions(UnregisterClusterAgent, workflow.RegisterOptions{Name: "UnregisterClusterAgent"})
}
