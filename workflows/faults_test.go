package workflows

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// outage is how long Postgres stays away in the fault tests: far past
// what the old retry options survived (about 31 s).
const outage = 5 * time.Minute

// closing is a whole lifecycle with every kind of action and timer: the
// request goes overdue before its last task is done.
func closing(h *harness) {
	h.verifyAndAssign(crm, mail) // 1h, 2h, 3h
	h.at(6*day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff})
	h.at(20*day, SignalDeadlineExtended, Extension{Days: 2, Reason: "volume", By: staff})
	h.at(33*day, SignalTaskCompleted, TaskCompletion{DataSourceID: mail, By: staff})
	h.at(33*day+time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
}

// closingMoments are closing's actions and timers (stall 5d3h, deadline
// warning 27d, deadline 32d, overdue reminder 33d).
var closingMoments = []time.Duration{0, time.Hour, 2 * time.Hour, 3 * time.Hour, 5*day + 3*time.Hour, 6 * day,
	20 * day, 27 * day, 32 * day, 33 * day, 33*day + time.Hour}

// expiring is a request whose email is never verified.
func expiring(*harness) {}

var expiringMoments = []time.Duration{0, day, 7 * day}

// outcome is what a run left in the world, to compare with a run without
// faults.
type outcome struct {
	status      dsar.Status
	audits      []string // audited actions, sorted
	alerts      []string // alert keys, sorted
	mails       []string // mail keys, sorted
	scrubbed    int
	deletedDocs int
	projected   store.Projection // the newest projection
}

func (h *harness) outcome(st State) outcome {
	o := outcome{status: st.Status, scrubbed: h.scrubbed, deletedDocs: h.deletedDocs}
	for _, a := range h.audits {
		o.audits = append(o.audits, a.Action)
	}
	for _, a := range h.alerts {
		o.alerts = append(o.alerts, a.Key)
	}
	for _, m := range h.mails {
		o.mails = append(o.mails, m.Key)
	}
	sort.Strings(o.audits)
	sort.Strings(o.alerts)
	sort.Strings(o.mails)
	for _, p := range h.projections {
		if p.Seq >= o.projected.Seq {
			o.projected = p
		}
	}
	return o
}

// TestPostgresDownAcrossEachActionAndTimer takes Postgres away for five
// minutes from each action and each timer of two lifecycles, on the new
// path and the old, and finds everything written exactly as without the
// outage: no audit event, alert, projection, mail, document deletion or
// erasure skipped or doubled.
func TestPostgresDownAcrossEachActionAndTimer(t *testing.T) {
	for _, version := range []workflow.Version{1, workflow.DefaultVersion} {
		for _, lc := range []struct {
			name    string
			script  func(*harness)
			moments []time.Duration
			final   dsar.Status
		}{
			{"closing", closing, closingMoments, dsar.StatusCompleted},
			{"expiring", expiring, expiringMoments, dsar.StatusExpired},
		} {
			newRunAt := func(w []window) (*harness, State) {
				h := newHarness(t)
				if version == workflow.DefaultVersion {
					h.before(versionDurable)
				}
				h.dbDown = w
				lc.script(h)
				return h, h.run()
			}
			hb, stb := newRunAt(nil)
			base := hb.outcome(stb)
			if base.status != lc.final || base.scrubbed != 1 {
				t.Fatalf("version %d %s without faults: %s, scrubbed %d", version, lc.name, base.status, base.scrubbed)
			}
			for _, m := range lc.moments {
				t.Run(fmt.Sprintf("v%d/%s/at-%v", version, lc.name, m), func(t *testing.T) {
					h, st := newRunAt([]window{{m, m + outage}})
					got := h.outcome(st)
					if got.status != base.status || got.scrubbed != 1 || got.deletedDocs != base.deletedDocs {
						t.Errorf("status %s (want %s), scrubbed %d, documents deleted %d (want %d)",
							got.status, base.status, got.scrubbed, got.deletedDocs, base.deletedDocs)
					}
					equal(t, "audit", got.audits, base.audits)
					equal(t, "alerts", got.alerts, base.alerts)
					equal(t, "mails", got.mails, base.mails)
					if version == 1 && (got.projected.Status != st.Status || got.projected.ClosedAt == nil) {
						t.Errorf("newest projection %s, closed at %v; the workflow ended %s", got.projected.Status, got.projected.ClosedAt, st.Status)
					}
				})
			}
		}
	}
}

// TestClosedJustBeforeALongOutage is the operator's case: a request is
// completed and Postgres goes away for hours right then. The workflow
// waits, then erases, audits and projects; it never ends with PII left.
func TestClosedJustBeforeALongOutage(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign(crm)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff})
	h.at(2*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	h.dbDown = []window{{2*day + time.Second, 2*day + 6*time.Hour}}
	st := h.run()
	if st.Status != dsar.StatusCompleted || h.scrubbed != 1 {
		t.Fatalf("status %s, scrubbed %d", st.Status, h.scrubbed)
	}
	if got := h.outcome(st).projected; got.Status != dsar.StatusCompleted {
		t.Errorf("the queue shows %s", got.Status)
	}
	if n := slices.Index(h.auditActions(), "request.pii_scrubbed"); n < 0 {
		t.Error("the erasure was not audited")
	}
}

// TestActionBeforeDeadlineIsNotLate: a request is completed a day before
// its deadline while the worker is stuck behind an outage that lasts past
// the deadline. The completion counts from when staff acted: the request
// is never overdue and no overdue alert goes out.
func TestActionBeforeDeadlineIsNotLate(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign(crm)
	h.at(29*day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff})
	h.at(29*day+time.Hour, SignalRequestClosed, Closure{Action: Action{At: start.Add(29*day + time.Hour)}, Outcome: OutcomeCompleted, By: staff})
	h.dbDown = []window{{29 * day, 31 * day}}
	st := h.run()
	if st.Status != dsar.StatusCompleted || st.Overdue || !st.ClosedAt.Equal(start.Add(29*day+time.Hour)) {
		t.Errorf("status %s overdue %v closed at %v; want completed, on time, at 29d1h", st.Status, st.Overdue, st.ClosedAt)
	}
	if got := h.alertTimes(store.AlertOverdue); len(got) != 0 {
		t.Errorf("overdue alerts at %v for a request completed before its deadline", got)
	}
}

// TestMailOutageDoesNotHoldTheRequest: with the mail provider down for
// most of a day (mail is retried for a day), staff still verify and
// assign at once; the mail goes out when the provider is back, before the
// PII it needs is erased.
func TestMailOutageDoesNotHoldTheRequest(t *testing.T) {
	h := newHarness(t)
	h.mailDown = []window{{0, 20 * time.Hour}}
	h.verifyAndAssign(crm)
	var st3h State
	h.queryAt(3*time.Hour+time.Minute, &st3h)
	h.at(4*time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	st := h.run()
	if st3h.Status != dsar.StatusInProgress {
		t.Errorf("at 3h the request is %s: the mail outage held it", st3h.Status)
	}
	equal(t, "mails", h.mailKinds(), []string{activities.MailVerification, activities.MailPortalInvitation, activities.MailRejected})
	last := h.mails[len(h.mails)-1].At
	if last < 20*time.Hour || h.scrubbed != 1 {
		t.Errorf("rejection mail at %v, scrubbed %d", last, h.scrubbed)
	}
	if st.Status != dsar.StatusRejected {
		t.Errorf("status %s", st.Status)
	}
}

// TestFailureForGoodWaitsForAnOperator: a write that no retry can fix
// raises attention (an alert to org owners) and the request waits; once
// the fault is fixed an operator's retry lets it carry on, nothing
// skipped.
func TestFailureForGoodWaitsForAnOperator(t *testing.T) {
	h := newHarness(t)
	broken := false
	h.fail = func(what string) error {
		if broken && what == "Project" {
			return temporal.NewNonRetryableApplicationError("no request to project", activities.ErrTypeNotFound, nil)
		}
		return nil
	}
	h.env.RegisterDelayedCallback(func() { broken = true }, 90*time.Minute)
	h.verifyAndAssign(crm)
	var waiting State
	h.queryAt(5*time.Hour, &waiting)
	h.env.RegisterDelayedCallback(func() {
		broken = false
		h.env.SignalWorkflow(SignalOperator, OperatorAction{Action: OperatorRetry, By: "ops", RequestID: h.in.RequestID})
	}, 6*time.Hour)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff})
	h.at(2*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	st := h.run()
	if got := h.alertTimes(store.AlertAttention); len(got) != 1 || got[0] != 2*time.Hour || !h.alerts[slices.IndexFunc(h.alerts, func(s seen) bool { return s.What == store.AlertAttention })].Alert.OrgOwners {
		t.Errorf("attention alerts at %v, want one to org owners at 2h", got)
	}
	if len(waiting.Tasks) != 0 {
		t.Errorf("the request moved on while a write was failing: %+v", waiting.Tasks)
	}
	if st.Status != dsar.StatusCompleted || h.scrubbed != 1 {
		t.Errorf("status %s scrubbed %d", st.Status, h.scrubbed)
	}
	var events []string
	for _, e := range st.Timeline {
		events = append(events, e.Event)
	}
	if !slices.Contains(events, EventAttentionResolved) {
		t.Errorf("timeline %v lacks the resolution", events)
	}
}

// TestAbandonEndsAWorkflowWhoseRowIsGone: the request row was deleted
// under the workflow; an operator's abandon ends it with no further
// writes instead of retrying for ever.
func TestAbandonEndsAWorkflowWhoseRowIsGone(t *testing.T) {
	h := newHarness(t)
	h.fail = func(what string) error {
		if what == "Project" && h.env.Now().Sub(start) >= time.Hour {
			return temporal.NewNonRetryableApplicationError("no request to project", activities.ErrTypeNotFound, nil)
		}
		return nil
	}
	h.at(time.Hour, SignalEmailVerified, EmailVerified{})
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalOperator, OperatorAction{Action: OperatorAbandon, Reason: "row gone", By: "reconciliation", RequestID: h.in.RequestID})
	}, 3*time.Hour)
	h.env.ExecuteWorkflow(WorkflowName, h.in)
	if !h.env.IsWorkflowCompleted() || h.env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", h.env.IsWorkflowCompleted(), h.env.GetWorkflowError())
	}
	if h.scrubbed != 0 || slices.Contains(h.mailKinds(), activities.MailPortalInvitation) {
		t.Errorf("an abandoned workflow went on writing: scrubbed %d, mails %v", h.scrubbed, h.mailKinds())
	}
}

// TestEveryActionGetsOneOutcome: applied and refused actions each get one
// recorded outcome with the status after it, a repeated id nothing more,
// and an action still queued when the request closes is refused.
func TestEveryActionGetsOneOutcome(t *testing.T) {
	h := newHarness(t)
	act := func(id string, d time.Duration) Action { return Action{ID: id, At: start.Add(d)} }
	h.at(time.Hour, SignalEmailVerified, EmailVerified{})
	h.at(2*time.Hour, SignalIdentityDecided, IdentityDecision{Action: act("a1", 2*time.Hour), Verified: true, By: staff})
	h.at(3*time.Hour, SignalIdentityDecided, IdentityDecision{Action: act("a1", 2*time.Hour), Verified: true, By: staff}) // repeated
	h.at(4*time.Hour, SignalRequestClosed, Closure{Action: act("a2", 4*time.Hour), Outcome: OutcomeCompleted, By: staff}) // refused
	h.at(5*time.Hour, SignalRequestClosed, Closure{Action: act("a3", 5*time.Hour), Outcome: OutcomeRejected,
		Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	h.run()
	got := map[string][]store.ActionOutcome{}
	for _, p := range h.projections {
		for _, o := range p.Actions {
			got[o.ActionID] = append(got[o.ActionID], o)
		}
	}
	check := func(id string, applied bool, code string, status dsar.Status) {
		t.Helper()
		if len(got[id]) != 1 {
			t.Errorf("action %s has %d outcomes, want 1", id, len(got[id]))
			return
		}
		o := got[id][0]
		if o.Applied != applied || o.Code != code || o.Status != status || o.Deadline == nil || !o.Deadline.Equal(h.in.Deadline) {
			t.Errorf("action %s: %+v; want applied %v code %q status %s", id, o, applied, code, status)
		}
	}
	check("a1", true, "", dsar.StatusIdentityVerified)
	check("a2", false, dsar.ECONFLICT, dsar.StatusIdentityVerified)
	check("a3", true, "", dsar.StatusRejected)
	if h.deletedDocs != 1 {
		t.Errorf("the repeated decision ran again: %d deletions", h.deletedDocs)
	}
}

// TestOutcomeCarriesTheStateAfterTheAction: while an assignment waits on
// its audit row (Postgres refusing that write), the portal invitation goes
// out beside the main loop and writes the projection. That write must not
// answer the assignment with the status from before it.
func TestOutcomeCarriesTheStateAfterTheAction(t *testing.T) {
	h := newHarness(t)
	h.mailDown = []window{{time.Hour, 3*time.Hour + time.Minute}} // the invitation's retry after that is at about 3h7m
	h.fail = func(what string) error {
		if d := h.env.Now().Sub(start); what == "Audit "+dsar.AuditSourcesAssigned && d < 3*time.Hour+15*time.Minute {
			return errUnreachable
		}
		return nil
	}
	h.at(time.Hour, SignalEmailVerified, EmailVerified{})
	h.at(2*time.Hour, SignalIdentityDecided, IdentityDecision{Verified: true, Note: "passport matches", By: staff})
	h.at(3*time.Hour, SignalSourcesAssigned, Assignment{Action: Action{ID: "assign", At: start.Add(3 * time.Hour)},
		DataSourceIDs: []string{crm}, By: staff})
	h.at(4*time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	st := h.run()
	var got []store.ActionOutcome
	wroteMidway := false
	for i, p := range h.projections {
		for _, o := range p.Actions {
			if o.ActionID == "assign" {
				got = append(got, o)
			}
		}
		at := h.projectedAt[i]
		wroteMidway = wroteMidway || (at > 3*time.Hour && at < 3*time.Hour+15*time.Minute)
	}
	if !wroteMidway {
		t.Fatal("no projection was written while the assignment waited: the test does not test the race")
	}
	if len(got) != 1 || got[0].Status != dsar.StatusInProgress || !got[0].Applied {
		t.Errorf("the assignment's outcome: %+v; want one, applied, in_progress", got)
	}
	if st.IdentityNote != "passport matches" {
		t.Errorf("the identity note is %q", st.IdentityNote)
	}
	var noted bool
	for _, e := range st.Timeline {
		noted = noted || (e.Event == EventIdentityVerified && e.Detail == "passport matches")
	}
	if !noted {
		t.Error("the timeline does not keep the identity note")
	}
	for _, a := range h.audits {
		if a.Action == dsar.AuditIdentityVerified && (a.Detail["note_sha256"] == nil || a.Detail["note"] != nil) {
			t.Errorf("the audit of the decision: %v; want the note's hash, not its text", a.Detail)
		}
	}
}

// TestOldPathPassesOverAFailedDeletion: a run started before the durable
// core refuses identity as it always did even when the document's
// deletion fails for good (its histories replay that way).
func TestOldPathPassesOverAFailedDeletion(t *testing.T) {
	h := newHarness(t)
	h.before(versionDurable)
	h.fail = func(what string) error {
		if what == "DeleteIdentityDocument" {
			return temporal.NewNonRetryableApplicationError("broken", activities.ErrTypeInvalid, nil)
		}
		return nil
	}
	h.at(time.Hour, SignalEmailVerified, EmailVerified{})
	h.at(2*time.Hour, SignalIdentityDecided, IdentityDecision{Verified: false, By: staff})
	if st := h.run(); st.Status != dsar.StatusRejected {
		t.Errorf("status %s, want rejected", st.Status)
	}
}

// TestOldPathAnswersAppliedActionsOnce: a run still on the old path records
// the outcome of an applied action with an id, and applies a repeat once.
func TestOldPathAnswersAppliedActionsOnce(t *testing.T) {
	h := newHarness(t)
	h.before(versionDurable)
	h.verifyAndAssign(crm)
	ext := Extension{Action: Action{ID: "ext"}, Days: 3, Reason: "volume", By: staff}
	h.at(4*time.Hour, SignalDeadlineExtended, ext)
	h.at(5*time.Hour, SignalDeadlineExtended, ext) // the same action again
	h.at(6*time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	st := h.run()
	if st.ExtensionDays != 3 {
		t.Errorf("extended by %d days, want 3 (once)", st.ExtensionDays)
	}
	var got []store.ActionOutcome
	for _, p := range h.projections {
		for _, o := range p.Actions {
			got = append(got, o)
		}
	}
	if len(got) != 1 || got[0].ActionID != "ext" || !got[0].Applied || !got[0].Deadline.Equal(h.in.Deadline.AddDate(0, 0, 3)) {
		t.Errorf("outcomes %+v; want the extension's, once, with its deadline", got)
	}
}

// TestContinueAsNewWaitsForMailWithoutFreezing: the server suggests
// continuing as new while a mail is stuck behind a provider outage; the
// request keeps taking actions meanwhile, and continues once the mail is
// out.
func TestContinueAsNewWaitsForMailWithoutFreezing(t *testing.T) {
	h := newHarness(t)
	h.mailDown = []window{{0, 20 * time.Hour}}
	h.at(time.Hour, SignalEmailVerified, EmailVerified{})
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, 2*time.Hour)
	h.at(3*time.Hour, SignalIdentityDecided, IdentityDecision{Verified: true, By: staff})
	var mid State
	h.queryAt(4*time.Hour, &mid)
	h.env.ExecuteWorkflow(WorkflowName, h.in)
	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	if mid.Status != dsar.StatusIdentityVerified {
		t.Errorf("at 4h the request is %s: waiting for the mail froze it", mid.Status)
	}
	if got := h.env.Now().Sub(start); got < 20*time.Hour {
		t.Errorf("continued as new at %v, before the mail went out", got)
	}
	equal(t, "mails", h.mailKinds(), []string{activities.MailVerification, activities.MailPortalInvitation})
}
