package worker_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/workflows"
)

// TestDigestRunsAtTheConfiguredTimeAndZone is the seed's "Org_Owners/
// Admins/Source_Owners will be notified at the end of the day": the
// digest's Schedule on the dev server, made from alerts.digest_time and
// alerts.timezone at a worker's start-up, runs every day at that time on
// that zone's clock (17:00 in Berlin, whatever the offset that day); a
// worker started with another time and zone moves it.
func TestDigestRunsAtTheConfiguredTimeAndZone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr, dbURL := testenv.TemporalAddress(t), testenv.DatabaseURL(t)
	start := func(at, zone string) *app.App {
		t.Helper()
		cfg := testenv.Config(t, dbURL, addr, map[string]any{"alerts.digest_time": at, "alerts.timezone": zone})
		a, err := app.Open(ctx, cfg, testenv.Log(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		if err := a.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		return a
	}
	// wantDaily checks the schedule runs the digest on a's task queue every
	// day at hour:minute in zone, and nothing else.
	wantDaily := func(a *app.App, hour, minute int, zone string) {
		t.Helper()
		h := a.Temporal.ScheduleClient().GetHandle(ctx, workflows.DigestScheduleID)
		d, err := h.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		act, _ := d.Schedule.Action.(*client.ScheduleWorkflowAction)
		if act == nil || act.Workflow != workflows.DigestWorkflowName || act.TaskQueue != a.Config.Temporal.TaskQueue {
			t.Fatalf("the digest schedule runs %+v, want %s on %s", d.Schedule.Action, workflows.DigestWorkflowName, a.Config.Temporal.TaskQueue)
		}
		if d.Schedule.Spec.TimeZoneName != zone {
			t.Errorf("the digest schedule keeps %q time, want %s", d.Schedule.Spec.TimeZoneName, zone)
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		next := d.Info.NextActionTimes
		if len(next) < 3 {
			t.Fatalf("the digest schedule's next runs: %v, want one a day", next)
		}
		for i, at := range next {
			local := at.In(loc)
			if local.Hour() != hour || local.Minute() != minute || local.Second() != 0 {
				t.Errorf("the digest runs at %s (%s), want %02d:%02d there", local.Format("2006-01-02 15:04:05 MST"), zone, hour, minute)
			}
			if i > 0 {
				prev := next[i-1].In(loc)
				if y, m, dd := prev.AddDate(0, 0, 1).Date(); local.Year() != y || local.Month() != m || local.Day() != dd {
					t.Errorf("the digest runs on %s after %s, want every day", local.Format(time.DateOnly), prev.Format(time.DateOnly))
				}
			}
		}
	}
	berlin := start("17:00", "Europe/Berlin")
	t.Cleanup(func() {
		_ = berlin.Temporal.ScheduleClient().GetHandle(context.Background(), workflows.DigestScheduleID).Delete(context.Background())
	})
	wantDaily(berlin, 17, 0, "Europe/Berlin")

	newYork := start("08:30", "America/New_York")
	wantDaily(newYork, 8, 30, "America/New_York")
}
