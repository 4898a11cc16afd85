package app_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/worker"
	"github.com/opendsar/dsar/workflows"
)

// TestRetentionScheduleRunsTheSweep: a worker's start-up makes the
// retention sweep's Schedule with retention.every; triggered, it runs the
// sweep, which deletes a stored answer past retention.idempotency_keys,
// keeps a young one, and records its counts in the audit trail.
func TestRetentionScheduleRunsTheSweep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := testenv.Config(t, testenv.DatabaseURL(t), testenv.TemporalAddress(t), map[string]any{"retention.every": "5h"})
	a, err := app.Open(ctx, cfg, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	h := a.Temporal.ScheduleClient().GetHandle(ctx, workflows.RetentionScheduleID)
	defer func() {
		_ = h.Delete(context.Background())
		_ = a.Temporal.ScheduleClient().GetHandle(context.Background(), workflows.ReconcileScheduleID).Delete(context.Background())
	}()
	d, err := h.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	act, _ := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if len(d.Schedule.Spec.Intervals) != 1 || d.Schedule.Spec.Intervals[0].Every != 5*time.Hour ||
		act == nil || act.Workflow != workflows.RetentionWorkflowName || act.TaskQueue != cfg.Temporal.TaskQueue {
		t.Fatalf("schedule %s = spec %+v, action %+v", workflows.RetentionScheduleID, d.Schedule.Spec, act)
	}

	if _, err := a.DB.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, created_at)
		VALUES ('t', 'old', 'h', now() - interval '8 days'), ('t', 'young', 'h', now() - interval '1 day')`); err != nil {
		t.Fatal(err)
	}
	w := worker.New(a.Temporal, cfg.Temporal.TaskQueue, a.Activities())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	var swept int
	for swept == 0 {
		if ctx.Err() != nil {
			t.Fatal("the triggered sweep recorded no retention.swept event")
		}
		time.Sleep(50 * time.Millisecond)
		if err := a.DB.GetContext(ctx, &swept, `SELECT count(*) FROM audit_events WHERE action = $1`, dsar.AuditRetentionSwept); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	if err := a.DB.SelectContext(ctx, &keys, `SELECT key FROM idempotency_keys WHERE scope = 't'`); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "young" {
		t.Errorf("idempotency keys after the sweep: %v, want [young]", keys)
	}
	var detail string
	if err := a.DB.GetContext(ctx, &detail, `SELECT detail->>'idempotency_keys' FROM audit_events WHERE action = $1`, dsar.AuditRetentionSwept); err != nil || detail != "1" {
		t.Errorf("retention.swept counts %s idempotency keys (%v), want 1", detail, err)
	}
}
