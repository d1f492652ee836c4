package workflows_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/workflows"
)

// histories are the recorded workflow histories: testdata/<release>/*.json, one folder
// per release (recorded by `make record-histories`), and testdata/earlier, recorded
// before there were release folders. Nothing is ever deleted or re-recorded, so every
// release's running workflows stay covered.
const histories = "testdata"

// historyFiles lists every recorded history under testdata, at any depth, as paths
// relative to it with forward slashes.
func historyFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(histories, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".json") {
			rel, err := filepath.Rel(histories, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestReplayRecordedHistories replays every history under testdata (recorded from real
// runs on a dev server by `make record-histories`, every release's in its own folder)
// against the current workflow code, registered by the function the worker uses. A
// change that would break workflows already running fails here: put it behind a new
// workflow.GetVersion change ID instead.
func TestReplayRecordedHistories(t *testing.T) {
	files := historyFiles(t)
	if len(files) < 10 {
		t.Fatalf("only %d recorded histories under %s", len(files), histories)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			workflows.RegisterWorkflows(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, filepath.Join(histories, filepath.FromSlash(f))); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}

// TestRecordedHistoriesAreKept checks the histories against testdata/SHA256SUMS, to
// which `make record-histories` adds each new release's folder: a history listed there
// that is gone or changed fails (histories are never deleted nor re-recorded: a
// workflow started on that release may still be running), and so does a history not
// listed (record through the make target, which lists it).
func TestRecordedHistoriesAreKept(t *testing.T) {
	sums, err := os.Open(filepath.Join(histories, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sums.Close() }()
	listed := map[string]bool{}
	sc := bufio.NewScanner(sums)
	for sc.Scan() {
		want, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: line %q is not `<sha256>  <path>`", sc.Text())
		}
		listed[name] = true
		raw, err := os.ReadFile(filepath.Join(histories, filepath.FromSlash(name)))
		if err != nil {
			t.Errorf("%s is listed in SHA256SUMS but cannot be read (recorded histories are never deleted): %v", name, err)
			continue
		}
		got := sha256.Sum256(raw)
		if hex.EncodeToString(got[:]) != want {
			t.Errorf("%s changed since it was recorded (recorded histories are never re-recorded: record a new release folder instead)", name)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, f := range historyFiles(t) {
		if !listed[f] {
			t.Errorf("%s is not in SHA256SUMS: record histories with `make record-histories`, which lists them", f)
		}
	}
}
