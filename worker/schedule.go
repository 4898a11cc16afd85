package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opendsar/dsar/workflows"
)

// DigestSchedule says when the daily alert digest runs.
type DigestSchedule struct {
	TaskQueue string
	At        string // HH:MM
	TimeZone  string // IANA zone name
}

// spec is the schedule's calendar: every day at At in TimeZone.
func (d DigestSchedule) spec() (client.ScheduleSpec, error) {
	t, err := time.Parse("15:04", d.At)
	if err != nil {
		return client.ScheduleSpec{}, fmt.Errorf("worker: digest time %q: %w", d.At, err)
	}
	return client.ScheduleSpec{
		Calendars: []client.ScheduleCalendarSpec{{
			Hour:       []client.ScheduleRange{{Start: t.Hour()}},
			Minute:     []client.ScheduleRange{{Start: t.Minute()}},
			Second:     []client.ScheduleRange{{Start: 0}},
			DayOfMonth: []client.ScheduleRange{{Start: 1, End: 31}},
			Month:      []client.ScheduleRange{{Start: 1, End: 12}},
			DayOfWeek:  []client.ScheduleRange{{Start: 0, End: 6}},
		}},
		TimeZoneName: d.TimeZone,
	}, nil
}

// EnsureDigestSchedule creates the Temporal Schedule that runs the alert
// digest workflow, or, when it exists, brings its time, zone and task queue
// up to date. Safe to call at every start-up, from many workers at once.
func EnsureDigestSchedule(ctx context.Context, c client.Client, d DigestSchedule) error {
	spec, err := d.spec()
	if err != nil {
		return err
	}
	return ensureSchedule(ctx, c, "digest", workflows.DigestScheduleID, spec, &client.ScheduleWorkflowAction{
		ID:        workflows.DigestScheduleID,
		Workflow:  workflows.DigestWorkflowName,
		TaskQueue: d.TaskQueue,
	})
}

// EnsureReconcileSchedule creates the Temporal Schedule that runs the
// reconciliation workflow every interval on taskQueue, one per namespace.
// An existing one is left as it is, or updated when its interval or task
// queue differ. Safe to call at every start-up, from many workers at once.
func EnsureReconcileSchedule(ctx context.Context, c client.Client, taskQueue string, every time.Duration) error {
	return ensureSchedule(ctx, c, "reconcile", workflows.ReconcileScheduleID,
		client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}},
		&client.ScheduleWorkflowAction{
			ID:        workflows.ReconcileScheduleID,
			Workflow:  workflows.ReconcileWorkflowName,
			TaskQueue: taskQueue,
		})
}

// EnsureRetentionSchedule creates the Temporal Schedule that runs the
// retention sweep every interval on taskQueue, one per namespace, or
// brings its interval and task queue up to date. Safe to call at every
// start-up, from many workers at once.
func EnsureRetentionSchedule(ctx context.Context, c client.Client, taskQueue string, every time.Duration) error {
	return ensureSchedule(ctx, c, "retention", workflows.RetentionScheduleID,
		client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}},
		&client.ScheduleWorkflowAction{
			ID:        workflows.RetentionScheduleID,
			Workflow:  workflows.RetentionWorkflowName,
			TaskQueue: taskQueue,
		})
}

// ensureSchedule creates the schedule id (overlap: skip), or, when it
// exists with another spec or action, updates them. name says which
// schedule in errors.
func ensureSchedule(ctx context.Context, c client.Client, name, id string, spec client.ScheduleSpec, action *client.ScheduleWorkflowAction) error {
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      id,
		Spec:    spec,
		Action:  action,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("worker: create %s schedule: %w", name, err)
	}
	h := c.ScheduleClient().GetHandle(ctx, id)
	err = h.Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			if sameSchedule(s, spec, action) {
				return nil, temporal.ErrSkipScheduleUpdate
			}
			s.Spec = &spec
			s.Action = action
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("worker: update %s schedule: %w", name, err)
	}
	return nil
}

// sameSchedule reports whether the described schedule s already has spec
// and action, as far as this package sets them.
func sameSchedule(s client.Schedule, spec client.ScheduleSpec, action *client.ScheduleWorkflowAction) bool {
	have, ok := s.Action.(*client.ScheduleWorkflowAction)
	if !ok || s.Spec == nil || have.ID != action.ID || have.TaskQueue != action.TaskQueue ||
		fmt.Sprint(have.Workflow) != fmt.Sprint(action.Workflow) {
		return false
	}
	return fmt.Sprint(s.Spec.Intervals) == fmt.Sprint(spec.Intervals) &&
		fmt.Sprint(s.Spec.Calendars) == fmt.Sprint(spec.Calendars) && s.Spec.TimeZoneName == spec.TimeZoneName
}
