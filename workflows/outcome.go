package workflows

import (
	"errors"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// humanMessagesChange versions the words of an operation that did not succeed: from
// version 1 the outcome's message (the cluster's and the operation's status message,
// progress, history, the cluster.failed notification) and the failed step's message
// say what happened — the step, the cause as the activity put it, and what was undone —
// without Temporal's wrapping of an activity error (activity type, event IDs, the
// worker's identity), which stays in the workflow's history for operators. Histories
// recorded before it replay with the old words.
const humanMessagesChange = "human-outcome-messages"

// humanMessages reports whether this run words its outcomes for people.
func humanMessages(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, humanMessagesChange, workflow.DefaultVersion, 1) >= 1
}

// stepMessage is what a step that ended with err shows in progress.
func stepMessage(ctx workflow.Context, err error) string {
	if humanMessages(ctx) {
		return describe(err)
	}
	return err.Error()
}

// describe is the cause of err in words: the message an activity (or the approval
// gate) failed with, "timed out" or "cancelled", without the activity error's
// identifiers. It is a pure function of err, so replays reproduce it.
func describe(err error) string {
	var (
		timeout  *temporal.TimeoutError
		app      *temporal.ApplicationError
		canceled *temporal.CanceledError
		act      *temporal.ActivityError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &timeout):
		return "timed out"
	case errors.As(err, &app) && app.Message() != "":
		return app.Message()
	case errors.As(err, &canceled):
		return "cancelled"
	case errors.As(err, &act) && errors.Unwrap(act) != nil:
		return errors.Unwrap(act).Error()
	}
	return err.Error()
}

// listWords joins names as people do: "a", "a and b", "a, b and c".
func listWords(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
