package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
)

// versionActorCheck is the change id of the workflow's own check of each
// staff action's actor: a signal sent to Temporal around the API, naming
// a user who does not exist, is disabled or lacks the role, is refused.
const versionActorCheck = "actor-check"

// checkActor checks the actor of a staff action against the users (a
// database read that waits out outages like the writes): refusal is nil
// when they may take it (else EFORBIDDEN saying why). ok is false when the
// workflow was abandoned meanwhile.
func (r *run) checkActor(ctx workflow.Context, p pendingAction) (ok bool, refusal error) {
	if p.action.RequestID != r.in.RequestID {
		return true, dsar.Errorf(dsar.EFORBIDDEN, "the action was not made for this request")
	}
	roles := ActorRoles(p.signal)
	if roles == nil { // the requester's own action (email verified, withdrawn): no staff member acts
		return true, nil
	}
	if p.by == "" {
		return true, dsar.Errorf(dsar.EFORBIDDEN, "the action names no staff member")
	}
	c := activities.ActorCheck{UserID: p.by, Roles: roles, RequestID: r.in.RequestID}
	switch v := p.payload.(type) {
	case TaskCompletion:
		c.DataSourceID = v.DataSourceID
	case TaskDecline:
		c.DataSourceID = v.DataSourceID
	case AutomationRetry:
		c.DataSourceID = v.DataSourceID
	case ManualSwitch:
		c.DataSourceID = v.DataSourceID
	case DryRunDecision:
		c.DataSourceID = v.DataSourceID
	}
	var verdict activities.ActorVerdict
	if !r.writeInto(ctx, "check who acts: "+p.signal, &verdict, a.CheckActor, c) {
		return false, nil
	}
	if !verdict.Allowed {
		return true, dsar.Errorf(dsar.EFORBIDDEN, "%s", verdict.Reason)
	}
	return true, nil
}
