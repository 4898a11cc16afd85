package app

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/opendsar/dsar/workflows"
)

// reconcileAfter is how old an unaccepted request row must be before the
// reconciler looks at it: long enough for any intake call in flight to
// finish accepting it itself.
const reconcileAfter = 2 * time.Minute

// Reconcile settles request rows that intake wrote but never marked
// accepted (the process died, or Postgres failed, between starting the
// workflow and accepting the row). A row whose workflow exists is accepted;
// a row without one was never acknowledged to anyone and is discarded. It
// returns how many rows it accepted and discarded.
func (a *App) Reconcile(ctx context.Context, olderThan time.Time) (accepted, discarded int, err error) {
	ids, err := a.DB.UnacceptedRequests(ctx, olderThan, 500)
	if err != nil {
		return 0, 0, err
	}
	for _, id := range ids {
		_, err := a.Temporal.DescribeWorkflowExecution(ctx, workflows.WorkflowID(id), "")
		var nf *serviceerror.NotFound
		switch {
		case err == nil:
			if err := a.DB.AcceptRequest(ctx, id); err != nil {
				return accepted, discarded, err
			}
			accepted++
		case errors.As(err, &nf):
			if err := a.DB.DiscardRequest(ctx, id); err != nil {
				return accepted, discarded, err
			}
			discarded++
		default:
			return accepted, discarded, err // Temporal unreachable: try again later
		}
	}
	return accepted, discarded, nil
}

// reconcileLoop runs Reconcile, and forgets expired captcha redemptions,
// every minute until ctx ends.
func (a *App) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			acc, disc, err := a.Reconcile(ctx, time.Now().Add(-reconcileAfter))
			if err != nil && ctx.Err() == nil {
				a.Log.Warn("reconcile unaccepted requests", "err", err)
			}
			if acc+disc > 0 {
				a.Log.Info("reconciled unaccepted requests", "accepted", acc, "discarded", disc)
			}
			if _, err := a.DB.SweepCaptchas(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("sweep expired captcha redemptions", "err", err)
			}
		}
	}
}
