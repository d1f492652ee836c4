package gcp

import (
	"context"
	"fmt"
	"strings"
	"time"

	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"

	"github.com/astropulse/astroplane/cloud"
)

// pollRetries is how many transient failures in a row a poll tolerates before it
// returns the last (the activity's retry then resumes the wait).
const pollRetries = 5

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// again decides whether a poll that failed with err polls again, after how long: a
// throttled poll after the delay asked, a transient one up to pollRetries times.
func (p *Provider) again(err error, fails *int) (time.Duration, bool) {
	*fails++
	if *fails > pollRetries {
		return 0, false
	}
	if d, ok := cloud.RetryAfter(err); ok {
		return max(d, p.poll), true
	}
	return p.poll, cloud.KindOf(err) == nil
}

// waitOp polls a GKE operation of the location parent (projects/P/locations/L) until
// it is DONE, reporting its progress; a failed operation is a typed error.
func (p *Provider) waitOp(ctx context.Context, c cloud.Call, parent, what string, op *container.Operation) error {
	start, fails := time.Now(), 0
	c.Report(fmt.Sprintf("%s: GKE operation %s %s", what, op.Name, op.Status))
	for op.Status != "DONE" {
		if err := sleep(ctx, p.poll); err != nil {
			return err
		}
		next, err := p.gke.Projects.Locations.Operations.Get(parent + "/operations/" + op.Name).Context(ctx).Do()
		if err != nil {
			err = typed(ctx, what+": poll operation "+op.Name, err)
			d, ok := p.again(err, &fails)
			if !ok {
				return err
			}
			c.Report(fmt.Sprintf("%s: polling operation %s again in %s (%v)", what, op.Name, d.Round(time.Second), err))
			if err := sleep(ctx, d-p.poll); err != nil {
				return err
			}
			continue
		}
		fails, op = 0, next
		c.Report(fmt.Sprintf("%s: GKE operation %s %s for %s%s", what, op.Name, op.Status, time.Since(start).Round(time.Second), stages(op.Progress)))
	}
	if op.Error != nil && op.Error.Code != 0 {
		return classify(what, fromGKEOperation(op.Error), nil)
	}
	return nil
}

// stages says how far an operation's progress is, when GKE tells.
func stages(pr *container.OperationProgress) string {
	if pr == nil {
		return ""
	}
	var parts []string
	for _, st := range pr.Stages {
		if st.Status != "" {
			parts = append(parts, strings.ToLower(st.Name)+" "+strings.ToLower(st.Status))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// waitComputeOp polls a global Compute operation until it is DONE.
func (p *Provider) waitComputeOp(ctx context.Context, c cloud.Call, project, what string, op *compute.Operation) error {
	start, fails := time.Now(), 0
	c.Report(fmt.Sprintf("%s: Compute operation %s %s", what, op.Name, op.Status))
	for op.Status != "DONE" {
		if err := sleep(ctx, p.poll); err != nil {
			return err
		}
		next, err := p.gce.GlobalOperations.Get(project, op.Name).Context(ctx).Do()
		if err != nil {
			err = typed(ctx, what+": poll operation "+op.Name, err)
			d, ok := p.again(err, &fails)
			if !ok {
				return err
			}
			if err := sleep(ctx, d-p.poll); err != nil {
				return err
			}
			continue
		}
		fails, op = 0, next
		c.Report(fmt.Sprintf("%s: Compute operation %s %s for %s (%d%%)", what, op.Name, op.Status, time.Since(start).Round(time.Second), op.Progress))
	}
	if op.Error != nil && len(op.Error.Errors) > 0 {
		return classify(what, fromComputeOperation(op), nil)
	}
	return nil
}

// waitIdle waits for the operations running on a cluster (projects/P/locations/L/
// clusters/C) or its node pools to end, as GKE runs one at a time: a change retried
// while its first attempt's operation still runs waits for it instead of being
// refused. Their failures are not this call's: they are reported, not returned.
func (p *Provider) waitIdle(ctx context.Context, c cloud.Call, clusterPath, what string) error {
	parent := parentOf(clusterPath)
	list, err := p.gke.Projects.Locations.Operations.List(parent).Context(ctx).Do()
	if err != nil {
		return typed(ctx, what+": list operations", err)
	}
	for _, op := range list.Operations {
		target := op.TargetLink
		if i := strings.Index(target, "/projects/"); i >= 0 {
			target = target[i+1:]
		}
		if op.Status == "DONE" || (target != clusterPath && !strings.HasPrefix(target, clusterPath+"/")) {
			continue
		}
		c.Report(fmt.Sprintf("%s: waiting for the cluster's running operation %s (%s)", what, op.Name, op.OperationType))
		if err := p.waitOp(ctx, c, parent, what+": wait for "+op.Name, op); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.Report(fmt.Sprintf("%s: the cluster's operation %s ended: %v", what, op.Name, err))
		}
	}
	return nil
}
