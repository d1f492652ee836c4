package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// step is one forward step of an operation: its name as progress shows it and what it
// does. The runner, not the step, keeps progress and the log.
type step struct {
	name string
	run  func() error
	// skip, when set, is why the step does not run this time (progress shows it SKIPPED).
	skip string
	// done, when set, is the message progress shows once the step succeeded.
	done func() string
}

// runner runs an operation's forward steps in order, the same way for deploy, update
// and delete: each step is started in progress, run, and ended SUCCEEDED, or FAILED or
// CANCELLED with the cause's words, and logged at each boundary (the workflow logger
// is silent on replay). It stops at the first step that fails and returns its error;
// what to do then (roll back, or record where it stopped) is the operation's own.
// The runner adds no command of its own: it is bookkeeping around the steps' commands.
type runner struct {
	t  *tracker
	op Operation
	// started lists the steps that have begun, so a rollback knows what may need undoing.
	started map[string]bool
}

func newRunner(t *tracker, op Operation) *runner {
	return &runner{t: t, op: op, started: map[string]bool{}}
}

// run runs list in order and returns the first step's error.
func (r *runner) run(ctx workflow.Context, list []step) error {
	log := workflow.GetLogger(ctx)
	for _, s := range list {
		if s.skip != "" {
			r.t.skip(ctx, s.name, s.skip)
			log.Info("step skipped", "operationID", r.op.OperationID, "step", s.name, "reason", s.skip)
			continue
		}
		r.t.start(ctx, s.name)
		r.started[s.name] = true
		log.Info("step started", "operationID", r.op.OperationID, "step", s.name)
		if err := s.run(); err != nil {
			status := stepStatusFor(ctx, err)
			r.t.end(ctx, status, stepMessage(ctx, err))
			log.Warn("step ended", "operationID", r.op.OperationID, "step", s.name, "status", status, "error", err)
			return err
		}
		msg := ""
		if s.done != nil {
			msg = s.done()
		}
		r.t.end(ctx, StepSucceeded, msg)
		log.Info("step ended", "operationID", r.op.OperationID, "step", s.name, "status", StepSucceeded)
	}
	return nil
}

// compensate runs one compensation step (the rollback of name) in ctx, which the
// caller has disconnected from the workflow's cancellation. It returns the step's
// error; a rollback carries on with the next one.
func (r *runner) compensate(ctx workflow.Context, name string, run func() error) error {
	log := workflow.GetLogger(ctx)
	r.t.startCompensation(ctx, name)
	log.Info("step started", "operationID", r.op.OperationID, "step", "rollback-"+name)
	if err := run(); err != nil {
		r.t.end(ctx, StepFailed, stepMessage(ctx, err))
		log.Warn("step ended", "operationID", r.op.OperationID, "step", "rollback-"+name, "status", StepFailed, "error", err)
		return err
	}
	r.t.end(ctx, StepSucceeded, "removed")
	log.Info("step ended", "operationID", r.op.OperationID, "step", "rollback-"+name, "status", StepSucceeded)
	return nil
}
