package activities_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/store"
)

// A provider call's progress reports reach the store's feed, named by organization,
// operation (the workflow) and activity, when the worker's activity context carries
// a feed.
func TestProgressReportsReachTheFeed(t *testing.T) {
	a, st := newActivities(t, sim.New(0))
	feed := activities.NewProgressFeed(st, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); feed.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{BackgroundActivityContext: activities.WithProgressFeed(t.Context(), feed)})
	env.RegisterActivity(a)
	before := time.Now().UTC()
	if _, err := env.ExecuteActivity(a.CreateNetwork, activities.NetworkInput{Call: activities.Call{Token: "t", Step: "network"}, Spec: eksSpec}); err != nil {
		t.Fatal(err)
	}
	var got []store.ProgressReport
	deadline := time.Now().Add(5 * time.Second)
	for len(got) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		var err error
		if got, err = st.ProgressReportsAfter(t.Context(), 0, 10); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 {
		t.Fatalf("feed holds %v, want the one report of the call", got)
	}
	r := got[0]
	if r.OrgID != "org-1" || r.OperationID == "" || r.Activity != "CreateNetwork" || r.Step != "network" || r.ActivityID == "" || r.Detail == "" ||
		r.At.Before(before.Add(-time.Second)) || r.At.After(time.Now().Add(time.Second)) {
		t.Fatalf("report %+v", r)
	}
	if s := feed.Stats(); s.Published != 1 || s.Written != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// Reports queued while the writer is busy are coalesced per operation to the
// latest; past MaxPending operations new ones are dropped; a failed write loses
// its batch but fails nothing else.
func TestProgressFeedCoalescesBoundsAndSurvivesFailures(t *testing.T) {
	_, st := newActivities(t, sim.New(0))
	feed := activities.NewProgressFeed(st, nil)
	feed.MaxPending = 2
	at := time.Now().UTC()
	for i, op := range []string{"a", "a", "b", "a", "c"} {
		feed.Publish(store.ProgressReport{OrgID: "o", OperationID: op, Activity: "X", ActivityID: "1", Detail: op + string(rune('0'+i)), At: at})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // Run writes what is queued and returns
	feed.Run(ctx)
	got, err := st.ProgressReportsAfter(t.Context(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Detail != "a3" || got[1].Detail != "b2" {
		t.Fatalf("written %+v, want a's latest then b", got)
	}
	if s := feed.Stats(); s.Published != 5 || s.Written != 2 || s.Coalesced != 2 || s.Dropped != 1 {
		t.Fatalf("stats %+v", s)
	}

	_ = st.Close()
	feed.Publish(store.ProgressReport{OrgID: "o", OperationID: "d", Activity: "X", ActivityID: "1", Detail: "lost", At: at})
	feed.Run(ctx)
	if s := feed.Stats(); s.Failed != 1 || s.Written != 2 {
		t.Fatalf("stats after a failed write %+v", s)
	}
}

// The wait for an active control plane reports its progress itself (not through a
// provider call's reports): it reaches the feed too.
func TestWaitProgressReachesTheFeed(t *testing.T) {
	a, st := newActivities(t, sim.New(100*time.Millisecond))
	feed := activities.NewProgressFeed(st, nil)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{BackgroundActivityContext: activities.WithProgressFeed(t.Context(), feed)})
	env.RegisterActivity(a)
	in := activities.ControlPlaneInput{Call: activities.Call{Token: "t", Step: "wait-active"}, Spec: eksSpec,
		Ref: activities.ClusterRef{ExternalID: "cp-1", CreatedAt: time.Now()}}
	if _, err := env.ExecuteActivity(a.WaitControlPlaneActive, in); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	feed.Run(ctx) // writes what is queued
	got, err := st.ProgressReportsAfter(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].Activity != "WaitControlPlaneActive" || got[0].Step != "wait-active" ||
		!strings.HasPrefix(got[0].Detail, "control plane CREATING for") {
		t.Fatalf("feed holds %+v, want the wait's progress", got)
	}
}
