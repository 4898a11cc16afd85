package workflows

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

const day = 24 * time.Hour

// start is the submission time of every test request.
var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// seen is one activity call the mocks saw, at its offset from submission.
type seen struct {
	At    time.Duration
	What  string // mail kind, alert kind, audit action
	Key   string
	Alert activities.AlertRequest
	Mail  activities.RequesterMail
}

// harness runs the workflow in the test suite with every activity mocked,
// recording what the workflow asked for and when.
type harness struct {
	testing.TB
	env         *testsuite.TestWorkflowEnvironment
	in          Input
	mails       []seen
	alerts      []seen
	audits      []store.Audit
	projections []store.Projection
	// writes lists every audit and projection write as it was made: "audit
	// <action>" for one on its own, "project" followed by the audit
	// actions the projection carried (versionOneWrite).
	writes      []string
	projectedAt []time.Duration // when each projection was written
	deletedDocs int
	scrubbed    int
	scrubbedAt  []time.Duration // when each scrub ran
	corrected   int             // email corrections applied
	// strangers are the users the actor check refuses, with why.
	strangers map[string]string
	checked   []activities.ActorCheck // every actor check asked for

	dbDown   []window // Postgres unreachable: every database activity fails (retryably)
	mailDown []window // the mail provider fails (retryably)
	// fail, when set, may fail a database activity (a non-nil error is
	// returned as it is); what is the activity's name ("Audit <action>"
	// for audit rows).
	fail func(what string) error
}

// window is a span of offsets from submission.
type window struct{ from, to time.Duration }

// down reports whether offset d falls inside one of ws.
func down(ws []window, d time.Duration) bool {
	for _, w := range ws {
		if d >= w.from && d < w.to {
			return true
		}
	}
	return false
}

var errUnreachable = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

// db is what a database activity meets: an outage, an injected failure,
// or nil.
func (h *harness) db(what string) error {
	if down(h.dbDown, h.env.Now().Sub(start)) {
		return errUnreachable
	}
	if h.fail != nil {
		return h.fail(what)
	}
	return nil
}

func periods() Periods {
	return Periods{
		ReminderEvery: 5 * day, StallAfter: 5 * day, DeadlineWarningBefore: 5 * day, OverdueAlertEvery: day,
		VerificationReminderAfter: day, VerificationExpiry: 7 * day, AssignmentAlertEvery: day,
	}
}

// before runs the workflow as a run started before changeID: before the
// baseline, which stands for it on new runs, and without changeID.
func (h *harness) before(changeID string) {
	h.env.OnGetVersion(versionBaseline, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.env.OnGetVersion(changeID, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
}

func newHarness(t testing.TB) *harness {
	var s testsuite.WorkflowTestSuite
	h := &harness{TB: t, env: s.NewTestWorkflowEnvironment()}
	// The race detector on a loaded 2-core machine can hold one workflow
	// task past the default 1 s deadlock limit; a real deadlock still
	// shows within this one.
	h.env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 30 * time.Second})
	h.env.SetStartTime(start)
	h.env.RegisterWorkflowWithOptions(DSAR, workflow.RegisterOptions{Name: WorkflowName})
	h.env.RegisterActivity(a)
	// Automated sources' children and their connector step (mocked by the
	// tests of automated sources: withConnector).
	RegisterSource(h.env)
	h.env.RegisterActivityWithOptions(func(context.Context, StepInput) (StepResult, error) {
		return StepResult{}, errors.New("no connector in this test")
	}, activity.RegisterOptions{Name: ActivityConnectorStep})
	h.in = Input{
		RequestID: "0b0c6f5e-3f4c-4a8e-9a49-6c2f3c7d1a10", RequestType: dsar.RequestDeletion, RequestorType: dsar.RequestorCustomer,
		Country: "DE", SubmittedAt: start, Deadline: start.Add(30 * day), DeadlineRule: "default",
		MaxExtension: dsar.Period{Months: 2}, Periods: periods(),
	}
	now := func() time.Duration { return h.env.Now().Sub(start) }
	h.env.OnActivity(a.SendRequesterMail, mock.Anything, mock.Anything).Return(
		func(_ context.Context, m activities.RequesterMail) error {
			if down(h.mailDown, now()) {
				return errors.New("resend: 503 service unavailable")
			}
			h.mails = append(h.mails, seen{At: now(), What: m.Kind, Key: m.Key, Mail: m})
			return nil
		})
	h.env.OnActivity(a.SendPortalInvitation, mock.Anything, mock.Anything).Return(
		func(_ context.Context, p activities.PortalInvitation) (bool, error) {
			if down(h.mailDown, now()) {
				return false, errors.New("resend: 503 service unavailable")
			}
			h.mails = append(h.mails, seen{At: now(), What: activities.MailPortalInvitation, Key: p.Key})
			return true, nil
		})
	h.env.OnActivity(a.RecordAlerts, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r activities.AlertRequest) (int, error) {
			if err := h.db("RecordAlerts"); err != nil {
				return 0, err
			}
			h.alerts = append(h.alerts, seen{At: now(), What: r.Kind, Key: r.Key, Alert: r})
			return 1, nil
		})
	h.env.OnActivity(a.Audit, mock.Anything, mock.Anything).Return(
		func(_ context.Context, ev store.Audit) error {
			if err := h.db("Audit " + ev.Action); err != nil {
				return err
			}
			h.audits = append(h.audits, ev)
			h.writes = append(h.writes, "audit "+ev.Action)
			return nil
		})
	h.env.OnActivity(a.Project, mock.Anything, mock.Anything).Return(
		func(_ context.Context, p store.Projection) error {
			if err := h.db("Project"); err != nil {
				return err
			}
			w := "project"
			for _, ev := range p.Audits { // one transaction: any row failing fails it all
				if err := h.db("Audit " + ev.Action); err != nil {
					return err
				}
				w += " " + ev.Action
			}
			h.audits = append(h.audits, p.Audits...)
			h.projections = append(h.projections, p)
			h.projectedAt = append(h.projectedAt, now())
			h.writes = append(h.writes, w)
			return nil
		})
	h.env.OnActivity(a.DeleteIdentityDocument, mock.Anything, mock.Anything).Return(
		func(context.Context, string) error {
			if err := h.db("DeleteIdentityDocument"); err != nil {
				return err
			}
			h.deletedDocs++
			return nil
		})
	h.env.OnActivity(a.ApplyEmailCorrection, mock.Anything, mock.Anything, mock.Anything).Return(
		func(context.Context, string, string) (bool, error) {
			if err := h.db("ApplyEmailCorrection"); err != nil {
				return false, err
			}
			h.corrected++
			return true, nil
		})
	h.env.OnActivity(a.CheckActor, mock.Anything, mock.Anything).Return(
		func(_ context.Context, c activities.ActorCheck) (activities.ActorVerdict, error) {
			if err := h.db("CheckActor"); err != nil {
				return activities.ActorVerdict{}, err
			}
			h.checked = append(h.checked, c)
			if why, ok := h.strangers[c.UserID]; ok {
				return activities.ActorVerdict{Reason: why}, nil
			}
			return activities.ActorVerdict{Allowed: true}, nil
		})
	h.env.OnActivity(a.ScrubRequest, mock.Anything, mock.Anything).Return(
		func(context.Context, string) error {
			if err := h.db("ScrubRequest"); err != nil {
				return err
			}
			h.scrubbed++
			h.scrubbedAt = append(h.scrubbedAt, now())
			return nil
		})
	return h
}

// at sends a signal at offset d from submission. An action (or operator
// signal) that names no request is made for the harness's, as the API and
// the reconciliation make theirs; tests of a forged one set another.
func (h *harness) at(d time.Duration, signal string, payload any) {
	payload = forRequest(payload, h.in.RequestID)
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(signal, payload) }, d)
}

// forRequest sets the RequestID of payload's Action (or of an
// OperatorAction or HandlerSet) when it is empty.
func forRequest(payload any, id string) any {
	v := reflect.New(reflect.TypeOf(payload)).Elem()
	v.Set(reflect.ValueOf(payload))
	if v.Kind() != reflect.Struct {
		return payload
	}
	f := v.FieldByName("RequestID") // promoted from Action, or the struct's own
	if f.IsValid() && f.Kind() == reflect.String && f.String() == "" {
		f.SetString(id)
	}
	return v.Interface()
}

// query reads the state at offset d into *st.
func (h *harness) queryAt(d time.Duration, st *State) {
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(QueryState)
		if err != nil {
			h.Errorf("query: %v", err)
			return
		}
		if err := v.Get(st); err != nil {
			h.Errorf("query result: %v", err)
		}
	}, d)
}

// run executes the workflow to its end and returns its final state.
func (h *harness) run() State {
	h.Helper()
	h.env.ExecuteWorkflow(WorkflowName, h.in)
	if !h.env.IsWorkflowCompleted() {
		h.Fatal("the workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.Fatalf("workflow error: %v", err)
	}
	var st State
	if err := h.env.GetWorkflowResult(&st); err != nil {
		h.Fatal(err)
	}
	return st
}

// alertTimes lists the offsets of the alerts of kind.
func (h *harness) alertTimes(kinds ...string) []time.Duration {
	var out []time.Duration
	for _, s := range h.alerts {
		if slices.Contains(kinds, s.What) {
			out = append(out, s.At)
		}
	}
	return out
}

func (h *harness) mailKinds() []string {
	var out []string
	for _, m := range h.mails {
		out = append(out, m.What)
	}
	return out
}

// auditActions lists the audited actions, leaving out the mail records
// (mail runs beside the main loop; mailAudits lists those).
func (h *harness) auditActions() []string {
	var out []string
	for _, a := range h.audits {
		if !strings.HasPrefix(a.Action, "mail.") {
			out = append(out, a.Action)
		}
	}
	return out
}

// mailAudits lists the audited mail records as "action kind".
func (h *harness) mailAudits() []string {
	var out []string
	for _, a := range h.audits {
		if strings.HasPrefix(a.Action, "mail.") {
			out = append(out, fmt.Sprintf("%s %v", a.Action, a.Detail["kind"]))
		}
	}
	return out
}

func (h *harness) projectedStatuses() []dsar.Status {
	var out []dsar.Status
	for _, p := range h.projections {
		if len(out) == 0 || out[len(out)-1] != p.Status {
			out = append(out, p.Status)
		}
	}
	return out
}

func equal[T comparable](t testing.TB, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

const staff = "5d1f9b8e-0000-4000-8000-000000000001"

var (
	crm  = "9a3e1c00-0000-4000-8000-00000000c0a1"
	mail = "9a3e1c00-0000-4000-8000-00000000c0a2"
)

// verifyAndAssign verifies the email at 1h, identity at 2h and assigns the
// sources at 3h.
func (h *harness) verifyAndAssign(sources ...string) {
	h.at(time.Hour, SignalEmailVerified, EmailVerified{Action: Action{At: start.Add(time.Hour)}})
	h.at(2*time.Hour, SignalIdentityDecided, IdentityDecision{Verified: true, By: staff})
	if len(sources) > 0 {
		h.at(3*time.Hour, SignalSourcesAssigned, Assignment{DataSourceIDs: sources, By: staff})
	}
}

func TestHappyPath(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign(crm, mail)
	h.at(2*day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, Note: "exported", By: staff})
	h.at(2*day+time.Hour, SignalTaskCompleted, TaskCompletion{DataSourceID: mail, Note: "nothing held", By: staff})
	h.at(3*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	st := h.run()

	if st.Status != dsar.StatusCompleted || st.ClosedAt == nil || !st.ClosedAt.Equal(start.Add(3*day)) {
		t.Errorf("final state: status %s closed at %v", st.Status, st.ClosedAt)
	}
	equal(t, "projected statuses", h.projectedStatuses(), []dsar.Status{
		dsar.StatusPendingEmailVerification, dsar.StatusAwaitingIdentity, dsar.StatusIdentityVerified,
		dsar.StatusInProgress, dsar.StatusReadyToClose, dsar.StatusCompleted,
	})
	equal(t, "mails to the requester", h.mailKinds(), []string{
		activities.MailVerification, activities.MailPortalInvitation, activities.MailCompleted,
	})
	if h.mails[0].At != 0 || !strings.HasSuffix(h.mails[0].Key, ":verification") {
		t.Errorf("verification mail: at %v key %q", h.mails[0].At, h.mails[0].Key)
	}
	equal(t, "audit", h.auditActions(), []string{
		"request.email_verified", "request.identity_verified", "request.data_sources_assigned",
		"task.completed", "task.completed", "request.completed", "request.pii_scrubbed",
	})
	equal(t, "mail audited", h.mailAudits(), []string{
		"mail.sent " + activities.MailVerification, "mail.sent " + activities.MailPortalInvitation, "mail.sent " + activities.MailCompleted,
	})
	equal(t, "alerts", h.alertTimes(store.AlertNewRequest, store.AlertTaskAssigned), []time.Duration{time.Hour, 3 * time.Hour})
	if got := h.alerts[1].Alert.DataSourceIDs; !slices.Equal(got, []string{crm, mail}) {
		t.Errorf("assignment alert goes to the owners of %v", got)
	}
	if h.deletedDocs != 1 || h.scrubbed != 1 {
		t.Errorf("identity document deleted %d times, PII scrubbed %d times; want once each", h.deletedDocs, h.scrubbed)
	}
	last := h.projections[len(h.projections)-1]
	if len(last.Tasks) != 2 || last.Tasks[0].Status != TaskCompleted || last.Tasks[0].Note != "exported" || last.Tasks[1].CompletedBy != staff {
		t.Errorf("projected tasks: %+v", last.Tasks)
	}
	if last.IdentityVerified == nil || !*last.IdentityVerified || last.EmailVerifiedAt == nil || last.ClosedAt == nil {
		t.Errorf("projection misses the identity outcome or the times: %+v", last)
	}
}

func TestUnassignedRemindersOnDays0_5_10(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign() // verified at 1h, identity at 2h, never assigned
	h.at(12*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectIncomplete}, By: staff})
	h.run()
	equal(t, "unassigned reminders", h.alertTimes(store.AlertNewRequest, store.AlertUnassigned),
		[]time.Duration{time.Hour, time.Hour + 5*day, time.Hour + 10*day})
	if h.alerts[0].What != store.AlertNewRequest || !h.alerts[0].Alert.OrgOwners {
		t.Errorf("the first alert should tell the org owners of the new request: %+v", h.alerts[0])
	}
}

func TestAssignmentStopsUnassignedReminders(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign()
	h.at(6*day, SignalSourcesAssigned, Assignment{DataSourceIDs: []string{crm}, By: staff})
	h.at(6*day+time.Hour, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff})
	h.at(20*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	h.run()
	equal(t, "unassigned reminders", h.alertTimes(store.AlertNewRequest, store.AlertUnassigned),
		[]time.Duration{time.Hour, time.Hour + 5*day})
}

func TestStallReminders(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign(crm, mail)
	h.at(4*day, SignalTaskCompleted, TaskCompletion{DataSourceID: mail, By: staff})
	h.at(12*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	h.run()
	equal(t, "stall reminders", h.alertTimes(store.AlertTaskStalled), []time.Duration{3*time.Hour + 5*day, 3*time.Hour + 10*day})
	for _, s := range h.alerts {
		if s.What == store.AlertTaskStalled && !slices.Equal(s.Alert.DataSourceIDs, []string{crm}) {
			t.Errorf("stall alert for %v; only the crm task stalled", s.Alert.DataSourceIDs)
		}
	}
}

func TestDeadlineWarningAndOverdue(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign(crm)
	var before, after State
	h.queryAt(30*day-time.Minute, &before)
	h.queryAt(30*day+time.Minute, &after)
	h.at(33*day+time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	h.run()
	equal(t, "deadline warnings", h.alertTimes(store.AlertDeadlineWarning), []time.Duration{25 * day})
	equal(t, "overdue alerts", h.alertTimes(store.AlertOverdue), []time.Duration{30 * day, 31 * day, 32 * day, 33 * day})
	for _, s := range h.alerts {
		if (s.What == store.AlertOverdue || s.What == store.AlertDeadlineWarning) && (!s.Alert.OrgOwners || !slices.Equal(s.Alert.DataSourceIDs, []string{crm})) {
			t.Errorf("%s should reach org owners and open tasks' owners: %+v", s.What, s.Alert)
		}
	}
	if before.Overdue || !after.Overdue {
		t.Errorf("overdue before the deadline %v, after %v", before.Overdue, after.Overdue)
	}
	overdue := false
	for _, p := range h.projections {
		overdue = overdue || p.Overdue
	}
	if !overdue {
		t.Error("the queue never showed the request overdue")
	}
	if !slices.Contains(h.auditActions(), "request.overdue") {
		t.Error("overdue not audited")
	}
}

func TestExtensionMovesTimers(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign(crm)
	h.at(20*day, SignalDeadlineExtended, Extension{Days: 10, Reason: "many systems", By: staff})
	h.at(40*day+time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	st := h.run()
	equal(t, "deadline warnings", h.alertTimes(store.AlertDeadlineWarning), []time.Duration{35 * day})
	equal(t, "overdue alerts", h.alertTimes(store.AlertOverdue), []time.Duration{40 * day})
	if !st.Deadline.Equal(start.Add(40*day)) || !st.Extended || st.ExtensionDays != 10 {
		t.Errorf("state after extension: deadline %v extended %v days %d", st.Deadline, st.Extended, st.ExtensionDays)
	}
	i := slices.Index(h.mailKinds(), activities.MailExtension)
	if i < 0 {
		t.Fatal("the requester was not told of the extension")
	}
	if m := h.mails[i].Mail; m.ExtensionDays != 10 || m.ExtensionReason != "many systems" || !m.Deadline.Equal(start.Add(40*day)) {
		t.Errorf("extension mail: %d days, %q, due %v", m.ExtensionDays, m.ExtensionReason, m.Deadline)
	}
}

func TestExtensionAfterOverdueClearsIt(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign(crm)
	var st State
	h.at(31*day+time.Hour, SignalDeadlineExtended, Extension{Days: 10, Reason: "complex", By: staff})
	h.queryAt(32*day, &st)
	h.at(41*day+2*time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	h.run()
	if st.Overdue {
		t.Error("still overdue after the deadline moved into the future")
	}
	equal(t, "overdue alerts", h.alertTimes(store.AlertOverdue), []time.Duration{30 * day, 31 * day, 40 * day, 41 * day})
	// The new deadline (day 40) is warned of again, five days before it.
	equal(t, "deadline warnings", h.alertTimes(store.AlertDeadlineWarning), []time.Duration{25 * day, 35 * day})
}

func TestRejectionFromEveryOpenState(t *testing.T) {
	reject := Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectExcessive}, Note: "third this month", By: staff}
	for _, tc := range []struct {
		from  dsar.Status
		setup func(h *harness)
	}{
		{dsar.StatusPendingEmailVerification, func(*harness) {}},
		{dsar.StatusAwaitingIdentity, func(h *harness) {
			h.at(time.Hour, SignalEmailVerified, EmailVerified{})
		}},
		{dsar.StatusIdentityVerified, func(h *harness) { h.verifyAndAssign() }},
		{dsar.StatusInProgress, func(h *harness) { h.verifyAndAssign(crm) }},
		{dsar.StatusReadyToClose, func(h *harness) {
			h.verifyAndAssign(crm)
			h.at(5*time.Hour, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff})
		}},
	} {
		t.Run(string(tc.from), func(t *testing.T) {
			h := newHarness(t)
			tc.setup(h)
			var before State
			h.queryAt(10*time.Hour-time.Minute, &before)
			h.at(10*time.Hour, SignalRequestClosed, reject)
			st := h.run()
			if before.Status != tc.from {
				t.Fatalf("setup reached %s, want %s", before.Status, tc.from)
			}
			if st.Status != dsar.StatusRejected || !slices.Equal(st.CloseReasons, reject.Reasons) || st.CloseNote != reject.Note {
				t.Errorf("final: %s %v %q", st.Status, st.CloseReasons, st.CloseNote)
			}
			last := h.projections[len(h.projections)-1]
			if last.Status != dsar.StatusRejected || !slices.Equal(last.CloseReasons, []string{"excessive"}) || last.ClosedAt == nil {
				t.Errorf("projection after rejection: %+v", last)
			}
			sentRejection := slices.Contains(h.mailKinds(), activities.MailRejected)
			if verified := tc.from != dsar.StatusPendingEmailVerification; sentRejection != verified {
				t.Errorf("rejection mail sent %v; want it only to a verified address (%v)", sentRejection, verified)
			}
			if h.scrubbed != 1 {
				t.Errorf("scrubbed %d times", h.scrubbed)
			}
		})
	}
}

func TestIdentityRefusedRejects(t *testing.T) {
	h := newHarness(t)
	h.at(time.Hour, SignalEmailVerified, EmailVerified{})
	h.at(2*time.Hour, SignalIdentityDecided, IdentityDecision{Verified: false, Note: "blurry", By: staff})
	st := h.run()
	if st.Status != dsar.StatusRejected || !slices.Equal(st.CloseReasons, []dsar.RejectReason{dsar.RejectIdentityNotVerified}) {
		t.Errorf("final: %s %v", st.Status, st.CloseReasons)
	}
	// The erasure deletes the document with the rest (the API serves it no
	// more once identity is decided).
	if h.deletedDocs != 0 || h.scrubbed != 1 {
		t.Errorf("document deleted %d times on its own, scrubbed %d", h.deletedDocs, h.scrubbed)
	}
	equal(t, "mails", h.mailKinds(), []string{activities.MailVerification, activities.MailPortalInvitation, activities.MailRejected})
}

func TestVerificationReminderAndExpiry(t *testing.T) {
	h := newHarness(t)
	st := h.run()
	if st.Status != dsar.StatusExpired || st.ClosedAt == nil || !st.ClosedAt.Equal(start.Add(7*day)) {
		t.Errorf("final: %s at %v", st.Status, st.ClosedAt)
	}
	equal(t, "mails", h.mailKinds(), []string{activities.MailVerification, activities.MailVerificationReminder})
	if h.mails[1].At != day {
		t.Errorf("reminder at %v, want after one day", h.mails[1].At)
	}
	if h.scrubbed != 1 {
		t.Errorf("scrubbed %d times", h.scrubbed)
	}
	if len(h.alerts) != 0 {
		t.Errorf("an unverified request alerted staff: %+v", h.alerts)
	}
	equal(t, "projected statuses", h.projectedStatuses(), []dsar.Status{dsar.StatusPendingEmailVerification, dsar.StatusExpired})
}

func TestOutOfStateSignalIgnoredAndAudited(t *testing.T) {
	h := newHarness(t)
	h.at(time.Hour, SignalIdentityDecided, IdentityDecision{Verified: true, By: staff}) // email not verified yet
	h.at(2*time.Hour, SignalEmailVerified, EmailVerified{})
	h.at(3*time.Hour, SignalEmailVerified, EmailVerified{}) // twice
	h.at(4*time.Hour, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff})
	h.at(5*time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	h.at(6*time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	st := h.run()
	if st.Status != dsar.StatusRejected {
		t.Errorf("final status %s", st.Status)
	}
	var ignored []string
	for _, ev := range h.audits {
		if ev.Action == "signal.ignored" {
			ignored = append(ignored, ev.Detail["signal"].(string))
			if ev.Detail["reason"] == "" || ev.Detail["status"] == "" {
				t.Errorf("ignored signal audited without a reason: %+v", ev.Detail)
			}
		}
	}
	equal(t, "ignored signals", ignored, []string{SignalIdentityDecided, SignalEmailVerified, SignalTaskCompleted, SignalRequestClosed})
	first := h.audits[slices.IndexFunc(h.audits, func(a store.Audit) bool { return a.Action == "signal.ignored" })]
	if first.ActorKind != store.ActorStaff || first.ActorID != staff {
		t.Errorf("ignored signal audited for %s %q, want the staff user", first.ActorKind, first.ActorID)
	}
	if h.deletedDocs != 0 {
		t.Error("an ignored identity decision deleted the document")
	}
}

func TestQuery(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign(crm, mail)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, Note: "done", By: staff})
	var st State
	h.queryAt(2*day, &st)
	h.at(3*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	h.run()
	if st.Status != dsar.StatusInProgress || st.RequestID != h.in.RequestID || !st.Deadline.Equal(h.in.Deadline) || st.DeadlineRule != "default" {
		t.Errorf("query: %+v", st)
	}
	if len(st.Tasks) != 2 || st.Tasks[0].Status != TaskCompleted || st.Tasks[0].Note != "done" || st.Tasks[1].Status != TaskOpen || st.OpenTasks() != 1 {
		t.Errorf("query tasks: %+v", st.Tasks)
	}
	var events []string
	for _, e := range st.Timeline {
		events = append(events, e.Event)
	}
	for _, want := range []string{EventSubmitted, EventVerificationSent, EventEmailVerified, EventIdentityVerified, EventSourcesAssigned, EventTaskCompleted} {
		if !slices.Contains(events, want) {
			t.Errorf("timeline %v lacks %s", events, want)
		}
	}
	// The API asks the state before signalling: a second completion is a conflict.
	if err := st.Allows(SignalTaskCompleted, TaskCompletion{DataSourceID: crm}); dsar.ErrorCode(err) != dsar.ECONFLICT {
		t.Errorf("Allows on a completed task: %v", err)
	}
}

// BenchmarkLifecycle measures the wall time of a whole time-skipped
// lifecycle: submission to completion over three weeks, with reminders.
func BenchmarkLifecycle(b *testing.B) {
	for b.Loop() {
		h := newHarness(b)
		h.verifyAndAssign(crm, mail)
		h.at(12*day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff})
		h.at(13*day, SignalTaskCompleted, TaskCompletion{DataSourceID: mail, By: staff})
		h.at(21*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
		if st := h.run(); st.Status != dsar.StatusCompleted {
			b.Fatalf("status %s", st.Status)
		}
	}
}

func TestContinueAsNewCarriesTheRequestOn(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign(crm, mail)
	// The server suggests continuing as new once the history is long; two
	// signals arrive together, so one is still buffered when the workflow
	// notices.
	h.env.RegisterDelayedCallback(func() {
		h.env.SetContinueAsNewSuggested(true)
		h.env.SignalWorkflow(SignalTaskCompleted, forRequest(TaskCompletion{DataSourceID: mail, Note: "none", By: staff}, h.in.RequestID))
		h.env.SignalWorkflow(SignalDeadlineExtended, forRequest(Extension{Days: 5, Reason: "volume", By: staff}, h.in.RequestID))
	}, 6*day+time.Hour)
	h.env.ExecuteWorkflow(WorkflowName, h.in)
	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.Resume == nil || next.Resume.State.Status != dsar.StatusInProgress || next.RequestID != h.in.RequestID {
		t.Fatalf("continued with %+v", next.Resume)
	}
	if task, _ := next.Resume.State.Task(mail); task.Status != TaskCompleted || next.Resume.State.ExtensionDays != 5 {
		t.Errorf("a signal buffered before continuing was lost: %+v, extension %d", next.Resume.State.Tasks, next.Resume.State.ExtensionDays)
	}

	// The new run picks up the timers where the old one left them.
	h2 := newHarness(t)
	h2.env.SetStartTime(start.Add(6*day + time.Hour))
	h2.in = next
	h2.at(5*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	st := h2.run()
	if st.Status != dsar.StatusRejected || len(st.Tasks) != 2 {
		t.Errorf("final: %s, %d tasks", st.Status, len(st.Tasks))
	}
	if slices.Contains(h2.mailKinds(), activities.MailVerification) {
		t.Error("the new run sent the verification mail again")
	}
	// crm was assigned at 3h: stalled at 5d3h (old run) and 10d3h (new run).
	equal(t, "stall reminders after continuing", h2.alertTimes(store.AlertTaskStalled), []time.Duration{10*day + 3*time.Hour})
	equal(t, "new-request alerts after continuing", h2.alertTimes(store.AlertNewRequest, store.AlertUnassigned), nil)
}
