package workflows

import "go.temporal.io/sdk/workflow"

// tracker keeps an operation's Progress as the workflow walks its steps. Times come
// from workflow.Now, so replay reproduces them.
type tracker struct {
	progress Progress
	current  int
}

func newTracker(operationID, opType string, steps ...string) *tracker {
	t := &tracker{progress: Progress{OperationID: operationID, OperationType: opType, Phase: steps[0], Status: "RUNNING"}, current: -1}
	for _, s := range steps {
		t.progress.Steps = append(t.progress.Steps, Step{Name: s, Status: StepPending})
	}
	return t
}

func (t *tracker) start(ctx workflow.Context, name string) {
	now := workflow.Now(ctx)
	for i := range t.progress.Steps {
		if t.progress.Steps[i].Name == name {
			t.current = i
			t.progress.Steps[i].Status = StepRunning
			t.progress.Steps[i].StartedAt = &now
			t.progress.Phase = name
			return
		}
	}
}

func (t *tracker) done(ctx workflow.Context, message string) {
	t.end(ctx, StepSucceeded, message)
}

func (t *tracker) failStep(ctx workflow.Context, message string) {
	t.end(ctx, StepFailed, message)
}

func (t *tracker) end(ctx workflow.Context, status, message string) {
	if t.current < 0 {
		return
	}
	now := workflow.Now(ctx)
	s := &t.progress.Steps[t.current]
	s.Status, s.EndedAt, s.Message = status, &now, message
	t.progress.Percent = t.percent()
}

func (t *tracker) percent() int {
	done := 0
	for _, s := range t.progress.Steps {
		if s.Status == StepSucceeded {
			done++
		}
	}
	return done * 100 / len(t.progress.Steps)
}

func (t *tracker) finish(status, message string) {
	t.progress.Status, t.progress.Message = status, message
	if status == "SUCCEEDED" {
		t.progress.Phase, t.progress.Percent = "done", 100
	}
}
