package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// DigestWorkflowName is the registered name of the daily alert digest.
const DigestWorkflowName = "DSARAlertDigest"

// DigestScheduleID is the id of the Temporal Schedule that runs the digest.
const DigestScheduleID = "dsar-alert-digest"

// AlertDigest sends every staff user with pending alerts one mail listing
// them, and marks them sent. A Temporal Schedule runs it once a day; it
// returns how many mails went out.
func AlertDigest(ctx workflow.Context) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Minute,
		ScheduleToCloseTimeout: 12 * time.Hour,
		Summary:                "send alert digest",
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute,
		},
	})
	var sent int
	err := workflow.ExecuteActivity(ctx, a.SendAlertDigest).Get(ctx, &sent)
	return sent, err
}
