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
// when that variable names a directory (make record-histories sets it to
// workflows/testdata). The replay tests in workflows replay every file there, so a
// change that breaks determinism for running workflows fails the suite.
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
	if err := os.WriteFile(filepath.Join(dir, name+".json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}
