package workflows

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// reconcileHarness runs the reconciliation with its activities mocked: the
// findings are given, and the repairs it asks for are recorded.
type reconcileHarness struct {
	env       *testsuite.TestWorkflowEnvironment
	projected []store.Projection
	mu        sync.Mutex                // the signal mocks run concurrently
	signals   map[string]OperatorAction // workflow id → the signal it got
}

func newReconcileHarness(t *testing.T, survey activities.Survey, surveyErr error, ended State) *reconcileHarness {
	var s testsuite.WorkflowTestSuite
	h := &reconcileHarness{env: s.NewTestWorkflowEnvironment(), signals: map[string]OperatorAction{}}
	h.env.RegisterWorkflowWithOptions(Reconcile, workflow.RegisterOptions{Name: ReconcileWorkflowName})
	h.env.RegisterActivity(a)
	h.env.OnActivity(a.SettleIntake, mock.Anything, mock.Anything).Return(
		activities.IntakeFindings{Accepted: []string{"acc"}, Discarded: []string{"dis"}}, nil)
	h.env.OnActivity(a.SurveyWorkflows, mock.Anything, mock.Anything).Return(survey, surveyErr)
	h.env.OnActivity(a.EndedState, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, s activities.ReconcileScope, id string) (converter.RawValue, error) {
			if s.IDPrefix != "dsar-" || s.WorkflowType != WorkflowName || s.StatusAttr != "DsarStatus" || s.Limit < 1 {
				t.Errorf("scope %+v does not name the request workflows", s)
			}
			if id != ended.RequestID {
				return converter.RawValue{}, errors.New("no such workflow")
			}
			p, err := converter.GetDefaultDataConverter().ToPayload(ended)
			return converter.NewRawValue(p), err
		})
	h.env.OnActivity(a.Project, mock.Anything, mock.Anything).Return(
		func(_ context.Context, p store.Projection) error {
			h.projected = append(h.projected, p)
			return nil
		})
	h.env.OnActivity(a.EraseClosed, mock.Anything, mock.Anything).Return(
		activities.ErasureFindings{Scrubbed: []string{"gone"}, Running: []string{"closing"}}, nil)
	h.env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", SignalOperator, mock.Anything).Return(
		func(_, wid, _, _ string, arg any) error {
			if wid == WorkflowID("ended-meanwhile") {
				return &temporal.UnknownExternalWorkflowExecutionError{}
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.signals[wid] = arg.(OperatorAction)
			return nil
		})
	return h
}

// TestReconcileRepairsEachFinding: each kind of finding gets its repair,
// and the run's result lists them by request id.
func TestReconcileRepairsEachFinding(t *testing.T) {
	closed := start.Add(40 * day)
	ended := State{RequestID: "ended", Status: dsar.StatusCompleted, Deadline: start.Add(30 * day), ClosedAt: &closed,
		Timeline: []TimelineEntry{{At: start, Event: EventSubmitted}, {At: closed, Event: EventCompleted}}}
	h := newReconcileHarness(t, activities.Survey{Running: 3, Orphans: []string{"orphan"}, Stale: []string{"stale", "ended-meanwhile"},
		Ended: []string{"ended"}, Unfinished: []string{"stopped"}, Missing: []string{"missing"}}, nil, ended)
	h.env.ExecuteWorkflow(ReconcileWorkflowName)
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var rep ReconcileReport
	if err := h.env.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}

	if len(h.projected) != 1 {
		t.Fatalf("projections written: %d, want the ended workflow's final state", len(h.projected))
	}
	p := h.projected[0]
	if p.RequestID != "ended" || p.Status != dsar.StatusCompleted || p.ClosedAt == nil || !p.ClosedAt.Equal(closed) ||
		p.Seq != 0 || len(p.Timeline) != 2 {
		t.Errorf("projection of the ended workflow = %+v, want its final state with Seq 0 (always written) and its timeline", p)
	}
	want := map[string]string{
		WorkflowID("closing"): OperatorRetry, WorkflowID("stale"): OperatorRetry, WorkflowID("orphan"): OperatorAbandon,
	}
	for wid, action := range want {
		got, ok := h.signals[wid]
		if !ok || got.Action != action || got.By != ReconcileBy || got.Reason == "" {
			t.Errorf("signal to %s = %+v (sent %v), want %s by %s with a reason", wid, got, ok, action, ReconcileBy)
		}
	}
	if len(h.signals) != len(want) {
		t.Errorf("signals sent to %v, want only %v", h.signals, want)
	}
	if !slices.Equal(rep.Projected, []string{"ended"}) || rep.Signalled != 3 || len(rep.Errors) != 0 ||
		!slices.Equal(rep.Intake.Accepted, []string{"acc"}) || !slices.Equal(rep.Erase.Scrubbed, []string{"gone"}) ||
		!slices.Equal(rep.Survey.Missing, []string{"missing"}) {
		t.Errorf("report = %+v", rep)
	}
}

// TestReconcileStepFailureIsVisible: a failed step does not stop the
// others, and the run fails with its report, so the Temporal UI shows it.
func TestReconcileStepFailureIsVisible(t *testing.T) {
	h := newReconcileHarness(t, activities.Survey{}, temporal.NewNonRetryableApplicationError("visibility down", "test", nil), State{})
	h.env.ExecuteWorkflow(ReconcileWorkflowName)
	err := h.env.GetWorkflowError()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != "ReconcileIncomplete" {
		t.Fatalf("workflow error = %v, want ReconcileIncomplete", err)
	}
	var rep ReconcileReport
	if err := ae.Details(&rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 1 || !slices.Equal(rep.Erase.Scrubbed, []string{"gone"}) || h.signals[WorkflowID("closing")].Action != OperatorRetry {
		t.Errorf("report = %+v, signals %v: want the survey's error and the other steps done", rep, h.signals)
	}
}

// TestReconcileWithheldOrphansNeedAPerson: when too many running workflows
// have no row (the wrong database?), none is abandoned and the run fails
// saying so.
func TestReconcileWithheldOrphansNeedAPerson(t *testing.T) {
	h := newReconcileHarness(t, activities.Survey{Running: 40, Withheld: 40}, nil, State{})
	h.env.ExecuteWorkflow(ReconcileWorkflowName)
	var ae *temporal.ApplicationError
	if err := h.env.GetWorkflowError(); !errors.As(err, &ae) || !strings.Contains(ae.Error(), "40 running workflows have no request row") {
		t.Fatalf("workflow error = %v, want the withheld orphans named", err)
	}
	for wid, op := range h.signals {
		if op.Action == OperatorAbandon {
			t.Errorf("%s was abandoned", wid)
		}
	}
}
