package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar/activities"
)

// ReconcileWorkflowName is the registered name of the reconciliation.
const ReconcileWorkflowName = "DSARReconcile"

// ReconcileScheduleID is the id of the Temporal Schedule that runs the
// reconciliation, one per cluster (namespace).
const ReconcileScheduleID = "dsar-reconcile"

// reconcileLimit bounds what one run acts on per finding: the next run
// takes the rest.
const reconcileLimit = 500

// reconcileListedPages bounds the running request workflows one run lists,
// at 1,000 a page.
const reconcileListedPages = 100

// ReconcileBy is the By of the operator signals the reconciliation sends.
const ReconcileBy = "reconciliation"

// ReconcileReport is what one run of the reconciliation found and did. It
// holds request ids and counts, never PII.
type ReconcileReport struct {
	Intake activities.IntakeFindings  `json:"intake"`
	Erase  activities.ErasureFindings `json:"erase"`
	Survey activities.Survey          `json:"survey"`
	// Projected are the ended workflows (Survey.Ended) whose final state
	// was written to the queue.
	Projected []string `json:"projected,omitempty"`
	// Signalled counts the operator signals sent: retry to Erase.Running
	// and Survey.Stale, abandon to Survey.Orphans.
	Signalled int `json:"signalled"`
	// Errors are the steps that failed; the next run tries them again.
	Errors []string `json:"errors,omitempty"`
}

// Reconcile finds and repairs what faults left behind: unaccepted intake
// rows, closed requests not erased, projections that disagree with their
// workflow, and workflows whose request row is gone. A Temporal Schedule
// runs it; see docs/workflow.md. Each step is bounded, and a failed step
// does not stop the others: the run then fails with its report as the
// error's details, so the Temporal UI shows it.
func Reconcile(ctx workflow.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	scope := activities.ReconcileScope{
		WorkflowType: WorkflowName, IDPrefix: WorkflowID(""), StatusAttr: AttrStatus.GetName(),
		TaskQueue: workflow.GetInfo(ctx).TaskQueueName, Limit: reconcileLimit, MaxListedPages: reconcileListedPages,
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute, ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
	})
	step := func(summary string, fn, result any, args ...any) bool {
		opts := workflow.GetActivityOptions(ctx)
		opts.Summary = summary
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), fn, args...).Get(ctx, result); err != nil {
			rep.Errors = append(rep.Errors, summary+": "+err.Error())
			return false
		}
		return true
	}

	step("settle unaccepted intake rows", a.SettleIntake, &rep.Intake, scope)
	if step("survey running workflows", a.SurveyWorkflows, &rep.Survey, scope) {
		for _, id := range rep.Survey.Ended {
			var st State
			if !step("read final state of "+id, a.EndedState, &st, scope, id) {
				continue
			}
			p := (&run{st: st, durable: true}).projection(nil) // Seq 0: the workflow has ended, nothing newer can come
			if step("project final state of "+id, a.Project, nil, p) {
				rep.Projected = append(rep.Projected, id)
			}
		}
	}
	if n := rep.Survey.Withheld; n > 0 {
		rep.Errors = append(rep.Errors, fmt.Sprintf("%d running workflows have no request row: too many to be lost rows "+
			"(the wrong database, or one restored from a backup?); none was abandoned, an operator decides", n))
	}
	// Erasure after the survey: a final state just written may close a
	// request whose erasure is due.
	step("erase closed requests", a.EraseClosed, &rep.Erase, scope)

	var signals []workflow.Future
	signal := func(ids []string, action, reason string) {
		for _, id := range ids {
			signals = append(signals, workflow.SignalExternalWorkflow(ctx, WorkflowID(id), "", SignalOperator,
				OperatorAction{Action: action, Reason: reason, By: ReconcileBy, RequestID: id}))
		}
	}
	signal(rep.Erase.Running, OperatorRetry, "closed but not erased")
	signal(rep.Survey.Stale, OperatorRetry, "the queue shows another status")
	signal(rep.Survey.Orphans, OperatorAbandon, "its request row is gone")
	for _, f := range signals {
		err := f.Get(ctx, nil)
		var ended *temporal.UnknownExternalWorkflowExecutionError
		switch {
		case errors.As(err, &ended):
			// It ended meanwhile: the next run sees it as ended.
		case err != nil:
			rep.Errors = append(rep.Errors, "signal: "+err.Error())
		default:
			rep.Signalled++
		}
	}

	workflow.GetLogger(ctx).Info("reconciliation",
		"accepted", rep.Intake.Accepted, "discarded", rep.Intake.Discarded, "captchas_swept", rep.Intake.CaptchasSwept,
		"scrubbed", rep.Erase.Scrubbed, "erase_retried", rep.Erase.Running, "contacts_shredded", rep.Erase.Shredded,
		"running", rep.Survey.Running, "truncated", rep.Survey.Truncated, "orphans_abandoned", rep.Survey.Orphans, "orphans_withheld", rep.Survey.Withheld,
		"stale_retried", rep.Survey.Stale, "ended_projected", rep.Projected, "unfinished", rep.Survey.Unfinished, "missing", rep.Survey.Missing,
		"signalled", rep.Signalled, "errors", rep.Errors)
	if len(rep.Errors) > 0 {
		return rep, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("reconciliation incomplete: %s", strings.Join(rep.Errors, "; ")), "ReconcileIncomplete", nil, rep)
	}
	return rep, nil
}
