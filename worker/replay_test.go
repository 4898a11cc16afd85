package worker_test

import (
	"path/filepath"
	"testing"

	sdkworker "go.temporal.io/sdk/worker"

	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/worker"
)

// TestReplayHistories replays the recorded histories in testdata/ (exported
// with `temporal workflow show --output json` from the integration run, under
// the dev master key) against today's workflow code. A failure means a
// change is not deterministic: put it behind workflow.GetVersion. Record
// new histories with DSAR_RECORD_HISTORIES=1 go test ./worker/.
func TestReplayHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.Root(), "testdata", "dsar_*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/")
	}
	cfg := testenv.Config(t, "", "", nil)
	keys, err := crypto.NewKeyring(cfg.Crypto.MasterKeyID, cfg.Crypto.MasterKey, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	dc := codec.DataConverter(keys)
	r, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{
		DataConverter: dc, FailureConverter: codec.FailureConverter(dc),
	})
	if err != nil {
		t.Fatal(err)
	}
	worker.RegisterWorkflows(r)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Errorf("replay %s: %v", filepath.Base(f), err)
			}
		})
	}
}
