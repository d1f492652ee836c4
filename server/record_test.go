package server_test

import (
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
)

// recordHistory writes the workflow's history to $ASTRO_RECORD_HISTORIES/name.json
// when that variable names a directory (make record-histories sets it to a new
// release folder under workflows/testdata). The replay tests in workflows replay every
// file there, so a change that breaks determinism for running workflows fails the
// suite. A history is never overwritten: a name recorded twice fails.
func recordHistory(t *testing.T, tc client.Client, workflowID, name string) {
	t.Helper()
	dir := os.Getenv("ASTRO_RECORD_HISTORIES")
	if dir == "" {
		return
	}
	_ = tc.GetWorkflow(t.Context(), workflowID, "").Get(t.Context(), nil) // wait for it to close
	var events []*historypb.HistoryEvent
	it := tc.GetWorkflowHistory(t.Context(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&historypb.History{Events: events})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, name+".json"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatalf("record %s (recorded histories are never overwritten): %v", name, err)
	}
	if _, err := f.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
