package about

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestBuildReadsVCSSettingsWhenRecorded: the revision, its time and whether the tree
// was modified come from the build's VCS settings; without them (GOFLAGS=-buildvcs=
// false, go test, no build info at all) they are absent, never empty strings.
func TestBuildReadsVCSSettingsWhenRecorded(t *testing.T) {
	for _, info := range []*debug.BuildInfo{nil, {GoVersion: "go1.26.0"}} {
		v := build(info)
		if v.Revision != nil || v.RevisionTime != nil || v.Modified != nil {
			t.Fatalf("no VCS settings, yet %+v", v)
		}
		if v.Version != Version || v.ApiVersion == "" || v.ApiVersion == "unknown" || v.GoVersion == "" {
			t.Fatalf("version %+v", v)
		}
	}
	if v := build(nil); v.GoVersion != runtime.Version() {
		t.Fatalf("without build info the Go version is the runtime's, got %q", v.GoVersion)
	}
	v := build(&debug.BuildInfo{GoVersion: "go1.99.1", Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "26dd447abc"}, {Key: "vcs.time", Value: "2026-11-30T21:00:00Z"}, {Key: "vcs.modified", Value: "true"},
		{Key: "-ldflags", Value: "-s"},
	}})
	if v.GoVersion != "go1.99.1" || v.Revision == nil || *v.Revision != "26dd447abc" || v.Modified == nil || !*v.Modified {
		t.Fatalf("version %+v", v)
	}
	if v.RevisionTime == nil || !v.RevisionTime.Equal(time.Date(2026, 11, 30, 21, 0, 0, 0, time.UTC)) {
		t.Fatalf("revision time %v", v.RevisionTime)
	}
	if v := build(&debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "false"}, {Key: "vcs.revision"}}}); v.Modified == nil || *v.Modified || v.Revision != nil {
		t.Fatalf("clean tree, empty revision: %+v", v)
	}
}
