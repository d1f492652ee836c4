package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
)

// NotifyTopic delivers one event to its topic's subscribers, retrying for a day: a
// channel that is down delays the notification, never loses it. Operations start it
// as an abandoned child, so delivery never holds an operation open.
func NotifyTopic(ctx workflow.Context, in activities.TopicInput) error {
	var n *activities.Notifier
	return workflow.ExecuteActivity(deliveryOptions(ctx, 24*time.Hour), n.DeliverTopic, in).Get(ctx, nil)
}

// emit starts NotifyTopic for an operation's event and waits only for it to start.
func emit(ctx workflow.Context, op Operation, topic, clusterName, text string) {
	if workflow.GetVersion(ctx, approvalChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        op.OperationID + ".notify." + topic,
		ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
	})
	f := workflow.ExecuteChildWorkflow(cctx, NotifyTopic, activities.TopicInput{
		OrgID: op.OrgID, Topic: topic, Subject: fmt.Sprintf("[%s] cluster %s", topic, clusterName), Text: text,
	})
	_ = f.GetChildWorkflowExecution().Get(ctx, nil)
}
