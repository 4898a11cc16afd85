package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar/store"
)

// RetentionWorkflowName is the registered name of the retention sweep.
const RetentionWorkflowName = "DSARRetention"

// RetentionScheduleID is the id of the Temporal Schedule that runs the
// retention sweep, one per cluster (namespace).
const RetentionScheduleID = "dsar-retention"

// Retention deletes what has outlived its configured period
// (docs/retention.md): one activity, in one transaction, which also
// records the counts in the audit trail. A Temporal Schedule runs it every
// retention.every; a failed run is tried again by the next.
func Retention(ctx workflow.Context) (store.SweepCounts, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute, ScheduleToCloseTimeout: 30 * time.Minute, Summary: "delete what outlived its retention period",
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
	})
	var c store.SweepCounts
	err := workflow.ExecuteActivity(ctx, a.SweepRetention).Get(ctx, &c)
	workflow.GetLogger(ctx).Info("retention sweep", "records", c.Records, "messages", c.Messages, "attachments", c.Attachments,
		"packages", c.Packages, "sessions", c.Sessions, "tokens", c.Tokens, "idempotency_keys", c.IdempotencyKeys,
		"blind_index", c.BlindIndex, "error", err)
	return c, err
}
