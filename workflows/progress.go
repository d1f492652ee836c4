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

// MemoProgress is the memo field in which an operation's workflow keeps its Progress.
const MemoProgress = "progress"

// progressMemoChange: from it on, the workflow keeps its Progress in its memo
// (MemoProgress) at every change, besides answering the progress query, so the API
// reads progress with one DescribeWorkflowExecution, which the Temporal server answers
// from the workflow's mutable state alone — no round trip to a worker, no replay, the
// same cost at any history length. Workflows started before it answer the query only.
const progressMemoChange = "progress-memo"

// tracker keeps an operation's Progress as the workflow walks its steps, answers
// the progress query and (see progressMemoChange) keeps the memo up to date. Times
// come from workflow.Now, so replay reproduces them.
type tracker struct {
	p    Progress
	memo bool // Progress goes to the memo at every change
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
	if err != nil {
		return nil, err
	}
	t.memo = workflow.GetVersion(ctx, progressMemoChange, workflow.DefaultVersion, 1) >= 1
	t.publish(ctx)
	return t, nil
}

// publish puts the Progress in the workflow's memo. Every method that changes it
// calls publish; code that changes t.p directly calls it before it next blocks.
func (t *tracker) publish(ctx workflow.Context) {
	if !t.memo {
		return
	}
	if err := workflow.UpsertMemo(ctx, map[string]any{MemoProgress: t.p}); err != nil {
		// Only an unencodable value fails here; the query still answers.
		workflow.GetLogger(ctx).Error("progress memo not updated", "error", err)
	}
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
	t.publish(ctx)
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
	t.publish(ctx)
}

func (t *tracker) skip(ctx workflow.Context, name, why string) {
	s := t.step(name)
	s.Status, s.Message = StepSkipped, why
	t.p.Percent = t.percent()
	t.publish(ctx)
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
	} else {
		for i := range t.p.Steps {
			if t.p.Steps[i].Status == StepPending {
				t.p.Steps[i].Status = StepCancelled
			}
		}
	}
	t.publish(ctx)
}

// stepStatusFor is how a step that ended with err is shown.
func stepStatusFor(ctx workflow.Context, err error) string {
	if cancelled(ctx, err) {
		return StepCancelled
	}
	return StepFailed
}
