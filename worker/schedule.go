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
	action := &client.ScheduleWorkflowAction{
		ID:        workflows.DigestScheduleID,
		Workflow:  workflows.DigestWorkflowName,
		TaskQueue: d.TaskQueue,
	}
	_, err = c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      workflows.DigestScheduleID,
		Spec:    spec,
		Action:  action,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("worker: create digest schedule: %w", err)
	}
	h := c.ScheduleClient().GetHandle(ctx, workflows.DigestScheduleID)
	err = h.Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			s.Spec = &spec
			s.Action = action
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("worker: update digest schedule: %w", err)
	}
	return nil
}
