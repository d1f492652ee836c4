package workflows_test

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/workflows"
)

// TestReplayRecordedHistories replays every history in testdata (recorded from real
// runs on a dev server by `make record-histories`) against the current workflow code.
// A change that would break workflows already running fails here: put it behind
// workflow.GetVersion instead.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("only %d recorded histories in testdata", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(workflows.DeployCluster, workflow.RegisterOptions{Name: "DeployCluster"})
			r.RegisterWorkflowWithOptions(workflows.UpdateCluster, workflow.RegisterOptions{Name: "UpdateCluster"})
			r.RegisterWorkflowWithOptions(workflows.DeleteCluster, workflow.RegisterOptions{Name: "DeleteCluster"})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
