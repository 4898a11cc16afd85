package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// TestLegalHoldKeepsTheErasureWaiting: a hold placed on an open request
// changes none of its deadline's timers (the warning and the overdue
// alerts fire as ever); the request closes, but its erasure waits, other
// actions being refused, until the hold is lifted weeks later; then the
// PII is scrubbed. Both changes are audited (the reason by its hash) and
// projected.
func TestLegalHoldKeepsTheErasureWaiting(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign(crm)
	h.at(2*day, SignalLegalHold, LegalHoldSet{Action: Action{ID: "hold-1"}, On: true, Reason: "litigation hold, case 42", By: staff})
	h.at(3*day, SignalLegalHold, LegalHoldSet{Action: Action{ID: "hold-again"}, On: true, Reason: "again", By: staff})
	h.at(31*day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff, Outcome: dsar.TaskErased})
	h.at(32*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	var held State
	h.queryAt(40*day, &held)
	scrubbedWhileHeld := -1
	h.env.RegisterDelayedCallback(func() { scrubbedWhileHeld = h.scrubbed }, 49*day)
	h.at(45*day, SignalDeadlineExtended, Extension{Action: Action{ID: "late-ext"}, Days: 5, Reason: "more time", By: staff})
	h.at(50*day, SignalLegalHold, LegalHoldSet{Action: Action{ID: "lift-1"}, On: false, By: staff})
	st := h.run()

	if w := h.alertTimes(store.AlertDeadlineWarning); len(w) != 1 || w[0] != 25*day {
		t.Errorf("deadline warning under the hold at %v, want at 25 days", w)
	}
	if o := h.alertTimes(store.AlertOverdue); len(o) == 0 || o[0] != 30*day {
		t.Errorf("overdue alerts under the hold at %v, want the first at 30 days", o)
	}
	if held.Status != dsar.StatusCompleted || !held.Held() || held.LegalHold.Reason != "litigation hold, case 42" ||
		!held.LegalHold.Since.Equal(start.Add(2*day)) {
		t.Errorf("state while held after the close: %s %+v", held.Status, held.LegalHold)
	}
	if scrubbedWhileHeld != 0 {
		t.Errorf("the PII was scrubbed %d times while the hold was on", scrubbedWhileHeld)
	}
	if h.scrubbed != 1 || st.Held() {
		t.Errorf("after the lift: scrubbed %d times, hold %+v", h.scrubbed, st.LegalHold)
	}
	acts := h.auditActions()
	set, lifted, scrubbed := slices.Index(acts, dsar.AuditLegalHoldSet), slices.Index(acts, dsar.AuditLegalHoldLifted), slices.Index(acts, dsar.AuditPIIScrubbed)
	if set < 0 || lifted < set || scrubbed < lifted {
		t.Fatalf("audit order: %v", acts)
	}
	if d := h.audits[slices.IndexFunc(h.audits, func(a store.Audit) bool { return a.Action == dsar.AuditLegalHoldSet })].Detail; d["reason_sha256"] != digest("litigation hold, case 42") {
		t.Errorf("legal_hold.set detail %v: want the reason's hash, not its text", d)
	}
	refused := h.refusals()
	if !strings.Contains(refused["hold-again"], "already on") || !strings.Contains(refused["late-ext"], "completed") {
		t.Errorf("refusals: %v", refused)
	}
	var applied []string
	var sawHeld bool
	for _, p := range h.projections {
		for _, o := range p.Actions {
			if o.Applied {
				applied = append(applied, o.ActionID)
			}
		}
		if p.LegalHold != nil && p.LegalHold.On && p.Status == dsar.StatusCompleted {
			sawHeld = true
		}
		if p.Record.RequestType != dsar.RequestDeletion || p.Record.Rule != "default" || p.Record.Channel != dsar.ChannelForm ||
			!p.Record.ReceivedAt.Equal(start) {
			t.Fatalf("projection's record facts: %+v", p.Record)
		}
	}
	if !slices.Contains(applied, "hold-1") || !slices.Contains(applied, "lift-1") || !sawHeld {
		t.Errorf("applied %v; a completed request projected as held: %v", applied, sawHeld)
	}
	if last := h.projections[len(h.projections)-1]; last.LegalHold == nil || last.LegalHold.On {
		t.Errorf("last projection's hold: %+v", last.LegalHold)
	}
}

// TestLegalHoldPlacedAfterTheCloseHoldsThePackage: a hold placed while a
// closed access request's package is still published keeps the package
// from being erased when it expires, until the lift.
func TestLegalHoldPlacedAfterTheCloseHoldsThePackage(t *testing.T) {
	h := newHarness(t)
	h.in.Periods.PackageTTL = 10 * day
	p := withPackages(h)
	h.verifyAndAssign(crm)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff, Outcome: dsar.TaskDataProvided})
	h.at(2*day, SignalPackageApproved, PackageApproval{By: staff})
	h.at(3*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	h.at(5*day, SignalLegalHold, LegalHoldSet{Action: Action{ID: "hold"}, On: true, Reason: "regulator's inquiry", By: staff})
	expired := func() int {
		n := 0
		for _, s := range p.steps {
			if s == "expire" {
				n++
			}
		}
		return n
	}
	expiredWhileHeld := -1
	h.env.RegisterDelayedCallback(func() { expiredWhileHeld = expired() }, 30*day)
	h.at(40*day, SignalLegalHold, LegalHoldSet{Action: Action{ID: "lift"}, On: false, By: staff})
	st := h.run()

	if expiredWhileHeld != 0 || expired() != 1 {
		t.Errorf("package erased %d times while held (want 0), %d in all (want 1)", expiredWhileHeld, expired())
	}
	if st.Package == nil || st.Package.Status != store.PackageExpired || h.scrubbed != 1 {
		t.Errorf("final package %+v, scrubbed %d", st.Package, h.scrubbed)
	}
}

// TestLegalHoldRefusedOnOldRuns: a request opened before legal holds
// refuses one with that reason, and is erased at close as before.
func TestLegalHoldRefusedOnOldRuns(t *testing.T) {
	h := newHarness(t)
	h.before(versionRecords)
	h.verifyAndAssign(crm)
	h.at(day, SignalLegalHold, LegalHoldSet{Action: Action{ID: "hold"}, On: true, Reason: "litigation", By: staff})
	h.at(2*day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff})
	h.at(3*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	st := h.run()

	if r := h.refusals()["hold"]; !strings.Contains(r, "opened before legal holds") {
		t.Errorf("refusal: %q", r)
	}
	if st.Held() || h.scrubbed != 1 || !st.ClosedAt.Equal(start.Add(3*day)) {
		t.Errorf("old run: hold %+v, scrubbed %d", st.LegalHold, h.scrubbed)
	}
}

// TestLegalHoldUnderAnAppealRight: a Virginia request under a legal hold
// is rejected; its erasure waits, yet the requester's appeal is taken
// within the window and decided; past the window the contact details are
// not shredded while the hold is on; once it is lifted, on day 80, the
// erasure runs and the contact details, whose window has passed, go at
// once.
func TestLegalHoldUnderAnAppealRight(t *testing.T) {
	h := newAppealHarness(t, "US-VA")
	h.verifyAndAssign(crm)
	h.at(day, SignalLegalHold, LegalHoldSet{Action: Action{ID: "hold"}, On: true, Reason: "regulator's inquiry", By: staff})
	h.at(2*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectManifestlyUnfounded}, By: staff})
	h.appealAt(10 * day)
	h.decideAt(30*day, "by-the-reviewer", dsar.AppealUpheld, reviewer)
	var held State
	h.queryAt(70*day, &held)
	keptWhileHeld, shreddedWhileHeld := -1, -1
	h.env.RegisterDelayedCallback(func() { keptWhileHeld, shreddedWhileHeld = len(h.kept), len(h.shreddedAt) }, 79*day)
	h.at(80*day, SignalLegalHold, LegalHoldSet{Action: Action{ID: "lift"}, On: false, By: staff})
	st := h.run()

	if held.Appeal == nil || held.Appeal.Status != dsar.AppealUpheld || !held.Held() || held.ContactKept {
		t.Fatalf("at day 70: appeal %+v, held %v, contact kept %v", held.Appeal, held.Held(), held.ContactKept)
	}
	if keptWhileHeld != 0 || shreddedWhileHeld != 0 || h.scrubbed != 0 {
		t.Errorf("while held: erased keeping the contact %d times, shredded %d times, scrubbed %d", keptWhileHeld, shreddedWhileHeld, h.scrubbed)
	}
	equal(t, "erased keeping the contact at", h.keptAt, []time.Duration{80 * day})
	equal(t, "contact shredded at", h.shreddedAt, []time.Duration{80 * day})
	if st.Held() || st.ContactKept || st.Status != dsar.StatusRejected {
		t.Errorf("final: %s, hold %+v, contact kept %v", st.Status, st.LegalHold, st.ContactKept)
	}
}
