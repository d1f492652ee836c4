package apps

import (
	"testing"
)

// What the events stream says of an Application's status changes: a sync starting
// and ending, health changes with Argo CD's message, new or changed conditions as
// warnings, the Application's deletion; nothing for an unchanged status.
func TestChanges(t *testing.T) {
	healthy := appState{exists: true, health: "Healthy", opPhase: "Succeeded", opStarted: "2026-11-30T10:00:00Z", opTime: "2026-11-30T10:00:05Z",
		opMessage: "successfully synced", conditions: map[string]string{}}
	running := healthy
	running.opPhase, running.opStarted, running.opMessage, running.opTime = "Running", "2026-11-30T11:00:00Z", "", "2026-11-30T11:00:00Z"
	degraded := healthy
	degraded.health, degraded.healthMessage = "Degraded", "Deployment has 0 of 2 ready pods"
	warned := healthy
	warned.conditions = map[string]string{"ComparisonError": "repository not accessible"}
	for name, c := range map[string]struct {
		from, to appState
		want     []string // type/reason: message
	}{
		"unchanged":        {healthy, healthy, nil},
		"a sync starts":    {healthy, running, []string{"SyncStarted/Running: sync operation Running"}},
		"it ends":          {running, healthy, []string{"SyncSucceeded/Succeeded: successfully synced"}},
		"health":           {healthy, degraded, []string{"HealthChanged/Degraded: health Healthy → Degraded: Deployment has 0 of 2 ready pods"}},
		"a condition":      {healthy, warned, []string{"Warning/ComparisonError: repository not accessible"}},
		"deleted":          {healthy, appState{}, []string{"Deleted/ApplicationDeleted: the Argo CD Application was deleted"}},
		"never existed":    {appState{}, appState{}, nil},
		"created, no sync": {appState{}, appState{exists: true, health: "Healthy", conditions: map[string]string{}}, nil},
	} {
		var got []string
		for _, f := range changes(c.from, c.to) {
			got = append(got, f.Type+"/"+deref(f.Reason)+": "+f.Message)
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %q, want %q", name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: %q, want %q", name, got, c.want)
			}
		}
	}
}
