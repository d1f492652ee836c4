package clusters

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

func progressAt(running string, steps ...string) workflows.Progress {
	pr := workflows.Progress{OperationID: "op"}
	status := workflows.StepSucceeded
	for _, s := range steps {
		st := status
		if s == running {
			st, status = workflows.StepRunning, workflows.StepPending
		}
		pr.Steps = append(pr.Steps, workflows.Step{Name: s, Status: st})
	}
	return pr
}

func shown(v *streamView) string {
	if v.report == nil {
		return ""
	}
	return v.reportStep + "=" + v.report.Detail
}

// A feed report goes on its step at once when the view shows that step running;
// one of a step the view has not seen start waits for a read asked for after it
// arrived; a report is dropped when its step is over.
func TestStreamViewPlacesReports(t *testing.T) {
	steps := []string{"network", "control-plane", "rollback-network"}
	at := time.Now()
	rep := func(step, activityID, detail string, d time.Duration) store.ProgressReport {
		act := map[string]string{"network": "CreateNetwork", "control-plane": "CreateControlPlane"}[step]
		return store.ProgressReport{Step: step, Activity: act, ActivityID: activityID, Detail: detail, At: at.Add(d)}
	}
	v := &streamView{}
	v.set(progressAt("network", steps...), map[string]any{"activity": "CreateNetwork"}, 0)
	if v.take(rep("network", "5", "vpc", 0)) || shown(v) != "network=vpc" {
		t.Fatalf("report of the running step: %q", shown(v))
	}
	if v.take(rep("network", "5", "older", -time.Second)) || shown(v) != "network=vpc" {
		t.Fatalf("an older report replaced a newer one: %q", shown(v))
	}
	// The next step's call reports before the view has read that it started.
	if !v.take(rep("control-plane", "9", "eks", time.Second)) {
		t.Fatal("a report of a step the view does not show running must ask for a read")
	}
	if v.take(rep("control-plane", "9", "eks 2", 2*time.Second)) {
		t.Fatal("a second report of the waiting call asked for another read")
	}
	v.waitingSeq = 3
	v.set(progressAt("network", steps...), map[string]any{"activity": "CreateNetwork"}, 2) // a read from before
	if len(v.waiting) != 2 || v.placeReady() || shown(v) != "network=vpc" {
		t.Fatalf("a read older than the reports placed or dropped them: %q, waiting %v", shown(v), v.waiting)
	}
	v.set(progressAt("control-plane", steps...), map[string]any{"activity": "CreateControlPlane"}, 3)
	// Both reports, each in turn: every report is a change the client sees.
	for _, want := range []string{"control-plane=eks", "control-plane=eks 2"} {
		if !v.placeReady() || shown(v) != want {
			t.Fatalf("after the read that shows the step: %q, want %q", shown(v), want)
		}
	}
	if v.placeReady() || len(v.waiting) != 0 {
		t.Fatalf("left over: ready %v, waiting %v", v.ready, v.waiting)
	}
	// A rollback's call names the step it undoes: placed by its activity instead.
	if !v.take(rep("network", "12", "deleting vpc", 3*time.Second)) {
		t.Fatal("rollback report placed without a read")
	}
	v.waitingSeq = 4
	v.set(progressAt("rollback-network", steps...), map[string]any{"activity": "CreateNetwork"}, 4)
	if !v.placeReady() || shown(v) != "rollback-network=deleting vpc" {
		t.Fatalf("rollback report: %q", shown(v))
	}
	if v.take(rep("network", "12", "still deleting", 4*time.Second)) || shown(v) != "rollback-network=still deleting" {
		t.Fatalf("next rollback report: %q", shown(v))
	}
	v.set(progressAt("", steps...), nil, 5)
	if shown(v) != "" {
		t.Fatalf("report kept after its step ended: %q", shown(v))
	}
}

// The feed cursor reads in ID order and still gets a row whose lower ID commits
// after a higher one (PostgreSQL sequences), without reading anything twice.
func TestFeedCursorReadsLateCommits(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "a.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	add := func(id uint64) {
		t.Helper()
		if err := st.AddProgressReports(ctx, []store.ProgressReport{{ID: id, OrgID: "o", OperationID: "op", Activity: "A", ActivityID: "1", At: time.Now()}}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(rs []store.ProgressReport, err error) []uint64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	add(1)
	add(3)
	cur := &feedCursor{gaps: map[uint64]time.Time{}}
	if got := ids(cur.read(ctx, st)); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("first read %v", got)
	}
	add(2) // committed late
	add(4)
	if got := ids(cur.read(ctx, st)); len(got) != 2 || got[0] != 2 || got[1] != 4 {
		t.Fatalf("second read %v, want the late 2 and the new 4", got)
	}
	if got := ids(cur.read(ctx, st)); len(got) != 0 || len(cur.gaps) != 0 {
		t.Fatalf("third read %v, gaps %v", got, cur.gaps)
	}
	// A gap that never fills (a rolled-back insert) is given up after gapWait.
	add(6)
	_ = ids(cur.read(ctx, st))
	cur.gaps[5] = time.Now().Add(-2 * gapWait)
	_ = ids(cur.read(ctx, st))
	if len(cur.gaps) != 0 {
		t.Fatalf("gaps kept %v", cur.gaps)
	}
}

// Progress changes from the history's memo replace the view's progress at once;
// a read asked before the last change is ignored, a later one brings only the
// running activity's detail.
func TestStreamViewTakesMemoChanges(t *testing.T) {
	steps := []string{"network", "control-plane"}
	v := &streamView{}
	v.set(progressAt("network", steps...), map[string]any{"activity": "CreateNetwork"}, 0)
	v.setMemo(progressAt("control-plane", steps...), 2)
	if runningStep(v.pr) != "control-plane" || v.detail != nil {
		t.Fatalf("after the memo change: running %q, detail %v (the network call's detail must not move to the new step)", runningStep(v.pr), v.detail)
	}
	v.set(progressAt("network", steps...), map[string]any{"activity": "CreateNetwork"}, 1) // asked before the change
	if runningStep(v.pr) != "control-plane" || v.detail != nil {
		t.Fatalf("an older read went back: running %q, detail %v", runningStep(v.pr), v.detail)
	}
	v.set(progressAt("network", steps...), map[string]any{"activity": "CreateControlPlane"}, 2)
	if runningStep(v.pr) != "control-plane" || activityOf(v.detail) != "CreateControlPlane" {
		t.Fatalf("a read from the change's task: running %q, detail %v", runningStep(v.pr), v.detail)
	}
}

// A report whose call is over by the time the read comes is dropped, not put on
// the step running then.
func TestStreamViewDropsReportsOfEndedCalls(t *testing.T) {
	steps := []string{"network", "control-plane", "addons"}
	v := &streamView{}
	v.set(progressAt("network", steps...), map[string]any{"activity": "CreateNetwork"}, 0)
	if !v.take(store.ProgressReport{Step: "control-plane", Activity: "CreateControlPlane", ActivityID: "9", Detail: "eks", At: time.Now()}) {
		t.Fatal("no read asked")
	}
	v.waitingSeq = 1
	v.set(progressAt("addons", steps...), map[string]any{"activity": "InstallAddons"}, 1)
	if v.placeReady() || shown(v) != "" || len(v.waiting) != 0 {
		t.Fatalf("report of an ended call: shown %q, waiting %v", shown(v), v.waiting)
	}
}
