package activities

// Payloads of the approval and notification activities (implemented by Notifier).

import "time"

// ApprovalInput describes an operation waiting for approval. It carries no token:
// links are minted (and signed) inside the activity that sends them, so no bearer
// secret ever enters a workflow's history.
type ApprovalInput struct {
	OrgID         string
	ClusterID     string
	ClusterName   string
	OperationID   string
	OperationType string
	ExpiresAt     time.Time
	ApproverRoles []string
	RequestedBy   string
	Summary       []Fact
}

// Fact is one line of what an approver is asked to approve.
type Fact struct {
	Label, Value string
}

// RequestApprovalResult says who was asked.
type RequestApprovalResult struct {
	Approvers []string // emails
}

// DecisionInput records an approval decision (or the request's expiry).
type DecisionInput struct {
	OrgID         string
	ClusterID     string
	OperationID   string
	OperationType string
	Status        string // store.Approval*
	DecidedBy     string
}

// TopicInput is an event to deliver to the organization's subscribers of Topic.
type TopicInput struct {
	OrgID   string
	Topic   string
	Subject string
	Text    string
}

// Notification topics.
const (
	TopicClusterDeployed         = "cluster.deployed"
	TopicClusterUpdated          = "cluster.updated"
	TopicClusterDeleted          = "cluster.deleted"
	TopicClusterFailed           = "cluster.failed"
	TopicClusterApprovalRequest  = "cluster.approval_requested"
	TopicClusterApprovalDecision = "cluster.approval_decided"
	TopicCloudConnected          = "cloud.connected"
	TopicAppDeployed             = "app.deployed"
	TopicAppFailed               = "app.failed"
)

// Topics lists every topic one can subscribe to, with what it means.
var Topics = []struct{ Name, Description string }{
	{TopicClusterDeployed, "A cluster finished deploying and is READY."},
	{TopicClusterUpdated, "A cluster update finished."},
	{TopicClusterDeleted, "A cluster was deleted."},
	{TopicClusterFailed, "A cluster operation failed, was cancelled, rejected or expired."},
	{TopicClusterApprovalRequest, "A cluster operation waits for approval."},
	{TopicClusterApprovalDecision, "A cluster operation was approved or rejected, or its approval request expired."},
	{TopicCloudConnected, "A cloud account was connected."},
	{TopicAppDeployed, "An application was deployed."},
	{TopicAppFailed, "An application deployment failed."},
}
