package activities

import (
	"context"
	"slices"

	"github.com/opendsar/dsar"
)

// ActorCheck asks whether a staff member may take an action: they exist,
// are active and hold one of Roles; a source owner acting on a task must
// own its source or have been given the task.
type ActorCheck struct {
	UserID       string
	Roles        []dsar.Role
	RequestID    string
	DataSourceID string // the task acted on, if any
}

// ActorVerdict is an ActorCheck's answer: Allowed, or why not.
type ActorVerdict struct {
	Allowed bool
	Reason  string `json:",omitempty"`
}

// CheckActor answers an ActorCheck from the users and the tasks. The API
// checks the same before it signals; this is the workflow's own check, so
// a signal sent to Temporal directly, around the API, is refused too.
func (a *Activities) CheckActor(ctx context.Context, c ActorCheck) (ActorVerdict, error) {
	u, err := a.DB.User(ctx, c.UserID)
	switch {
	case dsar.ErrorCode(err) == dsar.ENOTFOUND:
		return ActorVerdict{Reason: "the acting staff member does not exist"}, nil
	case err != nil:
		return ActorVerdict{}, err
	case u.DisabledAt != nil:
		return ActorVerdict{Reason: "the acting staff member is disabled"}, nil
	case !slices.Contains(c.Roles, u.Role):
		return ActorVerdict{Reason: "the acting staff member's role (" + string(u.Role) + ") may not take this action"}, nil
	}
	if u.Role != dsar.RoleSourceOwner || c.DataSourceID == "" {
		return ActorVerdict{Allowed: true}, nil
	}
	tasks, err := a.DB.RequestTasks(ctx, c.RequestID, u.ID)
	if err != nil {
		return ActorVerdict{}, err
	}
	for _, t := range tasks {
		if t.DataSourceID == c.DataSourceID {
			return ActorVerdict{Allowed: true}, nil
		}
	}
	return ActorVerdict{Reason: "the acting source owner neither owns this task's data source nor was given the task"}, nil
}
