package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// TestSourceAccessExportsAlone runs an access request's source child on
// its own: identify, export, each step audited with its evidence, the
// result signalled to the request's workflow and returned.
func TestSourceAccessExportsAlone(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	RegisterSource(env)
	var steps []string
	env.RegisterActivityWithOptions(func(_ context.Context, in StepInput) (StepResult, error) {
		steps = append(steps, in.Step)
		switch in.Step {
		case StepIdentify:
			return StepResult{Step: in.Step, Subjects: 1}, nil
		case StepExport:
			return StepResult{Step: in.Step, Rows: 3, FileID: fileA, SHA256: "ab", Size: 120}, nil
		}
		t.Errorf("unexpected step %s", in.Step)
		return StepResult{}, nil
	}, activity.RegisterOptions{Name: ActivityConnectorStep})
	var audits []store.Audit
	env.RegisterActivityWithOptions(func(_ context.Context, ev store.Audit) error {
		audits = append(audits, ev)
		return nil
	}, activity.RegisterOptions{Name: ActivityAudit})
	var signals []SourceProgress
	env.OnSignalExternalWorkflow(mock.Anything, WorkflowID("r1"), "", SignalSourceProgress, mock.Anything).Return(
		func(_, _, _, _ string, p any) error { signals = append(signals, p.(SourceProgress)); return nil })
	env.ExecuteWorkflow(SourceWorkflowName, SourceInput{RequestID: "r1", DataSourceID: "s1", RequestType: dsar.RequestInfo, Mode: dsar.SourcePostgres})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res SourceResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != dsar.TaskDataProvided || res.RecordCount != 3 || len(res.FileIDs) != 1 || res.FileIDs[0] != fileA {
		t.Errorf("result %+v", res)
	}
	if len(steps) != 2 || len(audits) != 2 || audits[1].Detail["file_id"] != fileA || audits[1].Action != dsar.AuditConnectorStep {
		t.Errorf("steps %v, audits %+v", steps, audits)
	}
	last := signals[len(signals)-1]
	if last.State != AutomationDone || last.Result == nil || last.Result.RecordCount != 3 {
		t.Errorf("last progress %+v", last)
	}
}
