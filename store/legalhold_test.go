package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// TestEndedLegalHoldOutlivesLateWrites: a hold written directly once the
// workflow has ended is refused, writing nothing, when decide says no;
// otherwise it sets the row, the compliance record, the timeline, the
// action's outcome (replacing the refusal the ending workflow recorded)
// and the audit trail; and neither a late retry of the workflow's final
// write (the same Seq) nor the reconciliation's final state (Seq 0)
// undoes it: the hold's timeline entry stays, after the workflow's own.
func TestEndedLegalHoldOutlivesLateWrites(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	id := insertRequest(t, db, testKeys(t), store.PII{FirstName: "Ada", Email: "ada@example.com"}, nil)
	row, err := db.Request(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	closed := row.SubmittedAt.Add(time.Hour)
	refused := store.ActionOutcome{ActionID: "a1", Signal: "legal-hold", Status: dsar.StatusRejected, ActedAt: closed}
	rejected := store.TimelineEntry{At: closed, Event: "rejected", Actor: "u1"}
	final := store.Projection{RequestID: id, Status: dsar.StatusRejected, Deadline: row.Deadline, ClosedAt: &closed, Seq: 7,
		LegalHold: &store.LegalHold{}, Actions: []store.ActionOutcome{refused}, Timeline: []store.TimelineEntry{rejected}}
	if err := db.Project(ctx, final); err != nil {
		t.Fatal(err)
	}

	if _, err := db.SetEndedLegalHold(ctx, id, store.ActionOutcome{ActionID: "a1", Signal: "legal-hold", ActedAt: closed},
		func(store.LegalHold) (store.LegalHoldChange, error) {
			return store.LegalHoldChange{}, dsar.Errorf(dsar.ECONFLICT, "no legal hold is on")
		}); dsar.ErrorCode(err) != dsar.ECONFLICT {
		t.Fatalf("a refused change: %v", err)
	}
	if r, _ := db.Request(ctx, id, ""); r.LegalHoldOn {
		t.Fatal("a refused change was written")
	}

	at := closed.Add(24 * time.Hour).UTC().Truncate(time.Microsecond)
	o, err := db.SetEndedLegalHold(ctx, id, store.ActionOutcome{ActionID: "a1", Signal: "legal-hold", ActedAt: at},
		func(cur store.LegalHold) (store.LegalHoldChange, error) {
			if cur.On {
				t.Errorf("the stored hold: %+v", cur)
			}
			return store.LegalHoldChange{Hold: store.LegalHold{On: true, Reason: "inquiry", Since: at, By: "u1"},
				Timeline: store.TimelineEntry{At: at, Event: "legal_hold_set", Actor: "u1"},
				Audit:    store.Audit{ActorKind: store.ActorStaff, ActorID: "u1", Action: dsar.AuditLegalHoldSet}}, nil
		})
	if err != nil || !o.Applied || o.Status != dsar.StatusRejected {
		t.Fatalf("the hold: %+v %v", o, err)
	}
	hold := store.TimelineEntry{At: at, Event: "legal_hold_set", Actor: "u1"}
	check := func(when string, timeline ...store.TimelineEntry) {
		t.Helper()
		r, err := db.Request(ctx, id, "")
		if h := r.LegalHold(); err != nil || !h.On || h.Reason != "inquiry" || !h.Since.Equal(at) || h.By != "u1" {
			t.Errorf("%s: the hold %+v (%v)", when, h, err)
		}
		if rec, err := db.RecordOf(ctx, id); err != nil || !rec.LegalHold {
			t.Errorf("%s: the record's legal_hold %v (%v)", when, rec.LegalHold, err)
		}
		got, err := db.RequestTimeline(ctx, id)
		if err != nil || len(got) != len(timeline) {
			t.Errorf("%s: the timeline %+v (%v); want %+v", when, got, err, timeline)
			return
		}
		for i, e := range timeline {
			if g := got[i]; !g.At.Equal(e.At) || g.Event != e.Event || g.Actor != e.Actor || g.Detail != e.Detail {
				t.Errorf("%s: timeline entry %d is %+v; want %+v", when, i, g, e)
			}
		}
	}
	check("once placed", rejected, hold)
	if got, done, err := db.ActionOutcome(ctx, id, "a1"); err != nil || !done || !got.Applied {
		t.Errorf("the action's outcome: %+v %v %v", got, done, err)
	}
	if evs, err := db.RequestAudit(ctx, id); err != nil || len(evs) != 1 || evs[0].Action != dsar.AuditLegalHoldSet || evs[0].ActorID != "u1" {
		t.Errorf("the audit trail: %+v %v", evs, err)
	}

	if err := db.Project(ctx, final); err != nil { // a late retry of the final write
		t.Fatal(err)
	}
	check("after a late retry of the final write", rejected, hold)
	// The reconciliation's final state: the workflow's whole timeline, with
	// an entry its last write (lost) would have stored, and again (the
	// next run).
	scrubbed := store.TimelineEntry{At: closed.Add(time.Minute), Event: "pii_scrubbed"}
	final.Seq, final.Actions, final.Timeline = 0, nil, []store.TimelineEntry{rejected, scrubbed}
	for _, run := range []string{"after the reconciliation's final state", "after the reconciliation's next run"} {
		if err := db.Project(ctx, final); err != nil {
			t.Fatal(err)
		}
		check(run, rejected, scrubbed, hold)
	}
}
