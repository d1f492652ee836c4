package activities

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/cloud"
)

// Error types of provider failures the activities translate (see translate).
const (
	ErrTypeAlreadyExists = "AlreadyExists"
	ErrTypeThrottled     = "Throttled"
	ErrTypeFailed        = "Failed"
)

// heartbeatEvery is how often a provider call in progress heartbeats even when the
// provider reports nothing: the worker is alive, and a cancel reaches the call.
var heartbeatEvery = 5 * time.Second

// providerFor returns the provider of spec's (provider, provisioner) acting in its
// account.
func (a *Cluster) providerFor(ctx context.Context, spec ClusterSpec) (cloud.Provider, error) {
	if a.Clouds == nil {
		return nil, temporal.NewNonRetryableApplicationError("no clouds on this worker", ErrTypeInvalidInput, nil)
	}
	p, err := a.Clouds.Provider(ctx, spec.Key(), spec.AccountRef())
	if err != nil {
		return nil, translate(err)
	}
	return p, nil
}

// inActivity runs one provider call: it completes c with the account and attempt,
// turns the provider's progress reports into heartbeats (repeating the last one
// every heartbeatEvery while the provider is silent), and translates its error.
func inActivity(ctx context.Context, spec ClusterSpec, c cloud.Call, run func(cloud.Call) error) error {
	c.Account, c.Region = spec.AccountRef(), spec.Region
	if !activity.IsActivity(ctx) {
		return translate(run(c))
	}
	c.Attempt = int(activity.GetInfo(ctx).Attempt)
	var mu sync.Mutex
	last := ""
	c.Progress = func(detail string) {
		mu.Lock()
		last = detail
		mu.Unlock()
		activity.RecordHeartbeat(ctx, detail)
		publishProgress(ctx, c.Account.OrgID, c.Step, detail) // to open streams at once; heartbeats are throttled
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(heartbeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				mu.Lock()
				detail := last
				mu.Unlock()
				if detail != "" {
					activity.RecordHeartbeat(ctx, detail)
				}
			}
		}
	}()
	err := run(c)
	close(stop)
	<-done
	return translate(err)
}

// heartbeat records detail, progress an activity reports itself (not a provider
// call's report), as its heartbeat and sends it to the progress feed, as inActivity
// does for provider reports.
func heartbeat(ctx context.Context, spec ClusterSpec, c cloud.Call, detail string) {
	if !activity.IsActivity(ctx) {
		return
	}
	activity.RecordHeartbeat(ctx, detail)
	publishProgress(ctx, spec.AccountRef().OrgID, c.Step, detail)
}

// translate turns a provider's typed error into the Temporal error a workflow's
// retry policy understands: a permanent failure is a non-retryable ApplicationError
// of its kind's type (or the cloud's code), throttling a retryable one retried after
// the delay the cloud asked for, and anything else (transient, or the context's own
// error) is returned as it is, for the retry policy.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var app *temporal.ApplicationError
	var canceled *temporal.CanceledError
	if errors.As(err, &app) || errors.As(err, &canceled) {
		return err
	}
	var e *cloud.Error
	if !errors.As(err, &e) {
		return err
	}
	msg := e.Message()
	if d, ok := cloud.RetryAfter(err); ok {
		return temporal.NewApplicationErrorWithOptions(msg, ErrTypeThrottled, temporal.ApplicationErrorOptions{NextRetryDelay: d, Cause: err})
	}
	var typ string
	switch {
	case errors.Is(err, cloud.ErrNotFound):
		typ = ErrTypeNotFound
	case errors.Is(err, cloud.ErrAlreadyExists):
		typ = ErrTypeAlreadyExists
	case errors.Is(err, cloud.ErrQuotaExceeded):
		typ = ErrTypeQuotaExceeded
	case errors.Is(err, cloud.ErrInvalid):
		typ = ErrTypeInvalidInput
	case errors.Is(err, cloud.ErrFailed):
		typ = ErrTypeFailed
	default:
		return err
	}
	if e.Code != "" {
		typ = e.Code
	}
	return temporal.NewNonRetryableApplicationError(msg, typ, err)
}

// gone treats a delete's ErrNotFound as success: what is gone is deleted.
func gone(err error) error {
	if errors.Is(err, cloud.ErrNotFound) {
		return nil
	}
	return err
}
