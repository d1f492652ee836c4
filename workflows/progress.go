package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// Operation statuses in Progress.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusCancelled = "CANCELLED"
)

// Step statuses in Progress.
const (
	StepPending   = "PENDING"
	StepRunning   = "RUNNING"
	StepSucceeded = "SUCCEEDED"
	StepFailed    = "FAILED"
	StepSkipped   = "SKIPPED"
	StepCancelled = "CANCELLED"
)

// Step is one named step of an operation. Compensation steps undo earlier ones after a
// failure or a cancel.
type Step struct {
	Name         string     `json:"name"`
	Status       string     `json:"status"`
	Compensation bool       `json:"compensation,omitempty"`
	StartedAt    *time.Time `json:"startedAt,omitempty"`
	EndedAt      *time.Time `json:"endedAt,omitempty"`
	Message      string     `json:"message,omitempty"`
}

// Progress is an operation's state as its progress query reports it.
type Progress struct {
	OperationID   string     `json:"operationId"`
	OperationType string     `json:"operationType"`
	ClusterID     string     `json:"clusterId"`
	Phase         string     `json:"phase"`
	Status        string     `json:"status"`
	Percent       int        `json:"percent"`
	Message       string     `json:"message,omitempty"`
	Steps         []Step     `json:"steps"`
	StartedAt     time.Time  `json:"startedAt"`
	EndedAt       *time.Time `json:"endedAt,omitempty"`
	Approval      *Approval  `json:"approval,omitempty"`
	// LeftBehind lists what a rollback could not remove, when it could not.
	LeftBehind []Leftover `json:"leftBehind,omitempty"`
}

// tracker keeps an operation's Progress as the workflow walks its steps and answers
// the progress query. Times come from workflow.Now, so replay reproduces them.
type tracker struct {
	p Progress
}

func newTracker(ctx workflow.Context, op Operation, opType string, steps ...string) (*tracker, error) {
	t := &tracker{p: Progress{
		OperationID: op.OperationID, OperationType: opType, ClusterID: op.ClusterID,
		Phase: steps[0], Status: StatusRunning, StartedAt: workflow.Now(ctx),
	}}
	for _, s := range steps {
		t.p.Steps = append(t.p.Steps, Step{Name: s, Status: StepPending})
	}
	err := workflow.SetQueryHandlerWithOptions(ctx, QueryProgress, func() (Progress, error) { return t.p, nil },
		workflow.QueryHandlerOptions{Description: "The operation's phase, status, percent and steps."})
	return t, err
}

func (t *tracker) step(name string) *Step {
	for i := range t.p.Steps {
		if t.p.Steps[i].Name == name {
			return &t.p.Steps[i]
		}
	}
	t.p.Steps = append(t.p.Steps, Step{Name: name, Status: StepPending})
	return &t.p.Steps[len(t.p.Steps)-1]
}

func (t *tracker) start(ctx workflow.Context, name string) {
	now := workflow.Now(ctx)
	s := t.step(name)
	s.Status, s.StartedAt = StepRunning, &now
	t.p.Phase = name
}

// startCompensation adds and starts a step that undoes name.
func (t *tracker) startCompensation(ctx workflow.Context, name string) {
	s := t.step("rollback-" + name)
	s.Compensation = true
	t.start(ctx, s.Name)
}

func (t *tracker) end(ctx workflow.Context, status, message string) {
	now := workflow.Now(ctx)
	s := t.step(t.p.Phase)
	s.Status, s.EndedAt, s.Message = status, &now, message
	t.p.Percent = t.percent()
}

func (t *tracker) skip(name, why string) {
	s := t.step(name)
	s.Status, s.Message = StepSkipped, why
	t.p.Percent = t.percent()
}

// percent counts finished forward steps; compensation is not progress.
func (t *tracker) percent() int {
	done, total := 0, 0
	for _, s := range t.p.Steps {
		if s.Compensation {
			continue
		}
		total++
		if s.Status == StepSucceeded || s.Status == StepSkipped {
			done++
		}
	}
	if total == 0 {
		return 0
	}
	return done * 100 / total
}

func (t *tracker) finish(ctx workflow.Context, status, message string) {
	now := workflow.Now(ctx)
	t.p.Status, t.p.Message, t.p.EndedAt = status, message, &now
	if status == StatusSucceeded {
		t.p.Phase, t.p.Percent = "done", 100
		return
	}
	for i := range t.p.Steps {
		if t.p.Steps[i].Status == StepPending {
			t.p.Steps[i].Status = StepCancelled
		}
	}
}

// stepStatusFor is how a step that ended with err is shown.
func stepStatusFor(ctx workflow.Context, err error) string {
	if cancelled(ctx, err) {
		return StepCancelled
	}
	return StepFailed
}
