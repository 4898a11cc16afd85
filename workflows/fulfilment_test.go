package workflows

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// packages records the package steps the workflow asked for, in a store of
// its own: one package per request, like the real one.
type packages struct {
	h       *harness
	steps   []string // "build", "approve", "publish", "expire", "discard", at their offsets
	at      []time.Duration
	current activities.PackageInfo
	n       int
	builds  []activities.PackageBuild
	removed []string
	// failUntil: builds fail for good (a corrupt file) until this offset.
	failUntil time.Duration
	failures  []string // the failures recorded
}

const (
	fileA = "f0000000-0000-4000-8000-00000000000a"
	fileB = "f0000000-0000-4000-8000-00000000000b"
)

// withPackages makes the harness an access request whose sources export
// two files (fileA from crm, fileB from mail).
func withPackages(h *harness) *packages {
	h.in.RequestType = dsar.RequestInfo
	p := &packages{h: h}
	now := func() time.Duration { return h.env.Now().Sub(start) }
	step := func(s string) { p.steps = append(p.steps, s); p.at = append(p.at, now()) }
	build := func(b activities.PackageBuild) activities.PackageInfo {
		p.n++
		p.builds = append(p.builds, b)
		ids := []string{}
		for _, f := range []string{fileA, fileB} {
			if !slices.Contains(p.removed, f) {
				ids = append(ids, f)
			}
		}
		p.current = activities.PackageInfo{ID: "p" + strings.Repeat("0", p.n), Status: store.PackageReady, Size: int64(1000 * len(ids)),
			SHA256: strings.Repeat("ab", 32), FileIDs: ids}
		return p.current
	}
	h.env.OnActivity(a.BuildPackage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, b activities.PackageBuild) (activities.PackageInfo, error) {
			if err := h.db("BuildPackage"); err != nil {
				return activities.PackageInfo{}, err
			}
			if now() < p.failUntil {
				return activities.PackageInfo{}, temporal.NewNonRetryableApplicationError(
					"store: open task file "+fileB+" chunk 0: stored content is corrupt", activities.ErrTypeInvalid, nil)
			}
			step("build")
			return build(b), nil
		})
	h.env.OnActivity(a.ApprovePackage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PackageApproval) (activities.PackageInfo, error) {
			if err := h.db("ApprovePackage"); err != nil {
				return activities.PackageInfo{}, err
			}
			step("approve")
			p.removed = append(p.removed, in.RemovedFileIDs...)
			if len(in.RemovedFileIDs) > 0 {
				build(in.Build)
			}
			p.current.Status = store.PackageApproved
			return p.current, nil
		})
	h.env.OnActivity(a.PublishPackage, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ string, expires time.Time) (activities.PackageInfo, error) {
			if err := h.db("PublishPackage"); err != nil {
				return activities.PackageInfo{}, err
			}
			step("publish")
			p.current.Status, p.current.ExpiresAt = store.PackagePublished, &expires
			return p.current, nil
		})
	h.env.OnActivity(a.ExpirePackage, mock.Anything, mock.Anything).Return(
		func(context.Context, string) error {
			if err := h.db("ExpirePackage"); err != nil {
				return err
			}
			step("expire")
			return nil
		})
	h.env.OnActivity(a.RecordPackageFailure, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ string, why string) error {
			p.failures = append(p.failures, why)
			step("failed")
			return nil
		})
	h.env.OnActivity(a.DiscardPackage, mock.Anything, mock.Anything).Return(
		func(context.Context, string) error {
			step("discard")
			return nil
		})
	return p
}

// refusals lists the refused actions' ids with their reasons.
func (h *harness) refusals() map[string]string {
	out := map[string]string{}
	for _, p := range h.projections {
		for _, o := range p.Actions {
			if !o.Applied {
				out[o.ActionID] = o.Code + ": " + o.Reason
			}
		}
	}
	return out
}

// TestAccessPackageReviewedAndDelivered: once the tasks of an access
// request are done its package is built; completing it before approval is
// refused; approval without one file builds it again; completion publishes
// it (the mail says so, with its expiry) and it is erased when it expires,
// after the request's PII.
func TestAccessPackageReviewedAndDelivered(t *testing.T) {
	h := newHarness(t)
	h.in.Periods.PackageTTL = 10 * day
	p := withPackages(h)
	h.verifyAndAssign(crm, mail)
	count := int64(3)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff, Outcome: dsar.TaskDataProvided, RecordCount: &count})
	h.at(day+time.Hour, SignalTaskCompleted, TaskCompletion{Action: Action{ID: "wrong-outcome"}, DataSourceID: mail, By: staff, Outcome: dsar.TaskErased})
	h.at(day+2*time.Hour, SignalTaskCompleted, TaskCompletion{DataSourceID: mail, By: staff, Outcome: dsar.TaskNoData})
	var ready State
	h.queryAt(day+3*time.Hour, &ready)
	h.at(2*day, SignalRequestClosed, Closure{Action: Action{ID: "too-soon"}, Outcome: OutcomeCompleted, By: staff})
	h.at(2*day+time.Hour, SignalPackageApproved, PackageApproval{Action: Action{ID: "no-reason"}, RemovedFileIDs: []string{fileB}, By: staff})
	h.at(2*day+2*time.Hour, SignalPackageApproved, PackageApproval{Action: Action{ID: "approve"}, RemovedFileIDs: []string{fileB},
		Note: "holds a colleague's messages", By: staff})
	h.at(3*day, SignalRequestClosed, Closure{Action: Action{ID: "done"}, Outcome: OutcomeCompleted, By: staff})
	h.at(5*day, SignalTaskCompleted, TaskCompletion{Action: Action{ID: "after-close"}, DataSourceID: crm, By: staff})
	st := h.run()

	if ready.Status != dsar.StatusReadyToClose || ready.Package == nil || ready.Package.Status != store.PackageReady ||
		!slices.Equal(ready.Package.FileIDs, []string{fileA, fileB}) {
		t.Fatalf("once the tasks are done: %s, package %+v", ready.Status, ready.Package)
	}
	refused := h.refusals()
	for id, want := range map[string]string{"wrong-outcome": dsar.EINVALID, // a data source of an access request erases nothing
		"too-soon": "approve it first", "no-reason": dsar.EINVALID, "after-close": "completed"} {
		if !strings.Contains(refused[id], want) {
			t.Errorf("action %s: refused with %q, want it to say %q", id, refused[id], want)
		}
	}
	if want := []string{"build", "approve", "publish", "expire"}; !slices.Equal(p.steps, want) {
		t.Fatalf("package steps %v, want %v", p.steps, want)
	}
	if len(p.builds) != 2 || len(p.builds[0].Tasks) != 2 || p.builds[0].Tasks[0].Outcome != dsar.TaskDataProvided ||
		*p.builds[0].Tasks[0].RecordCount != 3 {
		t.Errorf("built from %+v", p.builds)
	}
	if p.at[3] != 13*day {
		t.Errorf("the package expired at %v, want 13 days (completed on day 3, kept 10)", p.at[3])
	}
	if st.Status != dsar.StatusCompleted || st.Package == nil || st.Package.Status != store.PackageExpired ||
		!slices.Equal(st.Package.FileIDs, []string{fileA}) || st.Package.ApprovedBy != staff {
		t.Fatalf("final state %s, package %+v", st.Status, st.Package)
	}
	i := slices.IndexFunc(h.mails, func(s seen) bool { return s.What == activities.MailCompleted })
	if i < 0 || h.mails[i].Mail.Package == nil || !h.mails[i].Mail.Package.ExpiresAt.Equal(start.Add(13*day)) {
		t.Fatalf("completion mail: %+v", h.mails)
	}
	if h.scrubbed != 1 {
		t.Errorf("scrubbed %d times", h.scrubbed)
	}
	audits := h.auditActions()
	for _, want := range []string{dsar.AuditPackageBuilt, dsar.AuditPackageFileRemoved, dsar.AuditPackageApproved,
		dsar.AuditPackagePublished, dsar.AuditPIIScrubbed, dsar.AuditPackageExpired} {
		if !slices.Contains(audits, want) {
			t.Errorf("audit trail %v lacks %s", audits, want)
		}
	}
	if slices.Index(audits, dsar.AuditPIIScrubbed) > slices.Index(audits, dsar.AuditPackageExpired) {
		t.Errorf("the package outlived nothing: %v", audits)
	}
	for _, ev := range h.audits {
		if ev.Action == dsar.AuditPackageBuilt && ev.Detail["sha256"] != strings.Repeat("ab", 32) {
			t.Errorf("the package's hash is not in the audit trail: %+v", ev)
		}
	}
	last := h.projections[len(h.projections)-1]
	if !last.PackageRequired {
		t.Errorf("the projection does not say the request needs a package")
	}
}

// TestNothingToSend: an access request completes without a package when
// staff say why nothing is sent; the mail says there is no download.
func TestNothingToSend(t *testing.T) {
	h := newHarness(t)
	p := withPackages(h)
	h.verifyAndAssign(crm)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff, Outcome: dsar.TaskNoData})
	h.at(2*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, NothingToSend: "sent by post at the requester's wish", By: staff})
	st := h.run()

	if st.Status != dsar.StatusCompleted || st.Package != nil || st.NothingToSend == "" {
		t.Fatalf("final state %s, package %+v, nothing to send %q", st.Status, st.Package, st.NothingToSend)
	}
	if want := []string{"build", "discard"}; !slices.Equal(p.steps, want) {
		t.Errorf("package steps %v, want %v", p.steps, want)
	}
	i := slices.IndexFunc(h.mails, func(s seen) bool { return s.What == activities.MailCompleted })
	if i < 0 || !h.mails[i].Mail.NothingToSend || h.mails[i].Mail.Package != nil {
		t.Fatalf("completion mail: %+v", h.mails)
	}
	if !slices.Contains(h.auditActions(), dsar.AuditNothingToSend) {
		t.Errorf("not audited: %v", h.auditActions())
	}
}

// TestNewSourceDiscardsThePackage: a data source assigned after the package
// was built (even approved) sends it back: it is built again once that
// task is done, and must be approved again.
func TestNewSourceDiscardsThePackage(t *testing.T) {
	h := newHarness(t)
	p := withPackages(h)
	h.verifyAndAssign(crm)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff, Outcome: dsar.TaskDataProvided})
	h.at(day+time.Hour, SignalPackageApproved, PackageApproval{By: staff})
	h.at(2*day, SignalSourcesAssigned, Assignment{DataSourceIDs: []string{mail}, By: staff})
	h.at(2*day+time.Hour, SignalRequestClosed, Closure{Action: Action{ID: "stale"}, Outcome: OutcomeCompleted, By: staff})
	h.at(3*day, SignalTaskCompleted, TaskCompletion{DataSourceID: mail, By: staff, Outcome: dsar.TaskDataProvided})
	h.at(3*day+time.Hour, SignalPackageApproved, PackageApproval{By: staff})
	h.at(4*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	st := h.run()

	if want := []string{"build", "approve", "discard", "build", "approve", "publish", "expire"}; !slices.Equal(p.steps, want) {
		t.Errorf("package steps %v, want %v", p.steps, want)
	}
	if r := h.refusals()["stale"]; !strings.Contains(r, "complete") {
		t.Errorf("completion with a discarded package: refused %q", r)
	}
	if p.at[len(p.at)-1] != 34*day {
		t.Errorf("expired at %v, want the default 30 days after completion", p.at[len(p.at)-1])
	}
	if st.Status != dsar.StatusCompleted {
		t.Errorf("final status %s", st.Status)
	}
}

// TestOtherTypesTellWhatEachSourceDid: a deletion request needs no package;
// its completion mail lists each source's outcome.
func TestOtherTypesTellWhatEachSourceDid(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign(crm, mail)
	n := int64(12)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff, Outcome: dsar.TaskErased, RecordCount: &n})
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: mail, By: staff, Outcome: dsar.TaskNoData})
	h.at(2*day, SignalRequestClosed, Closure{Action: Action{ID: "nothing"}, Outcome: OutcomeCompleted, NothingToSend: "x", By: staff})
	h.at(2*day+time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	st := h.run()

	if st.Status != dsar.StatusCompleted || st.PackageRequired {
		t.Fatalf("final %s, package required %v", st.Status, st.PackageRequired)
	}
	if r := h.refusals()["nothing"]; !strings.HasPrefix(r, dsar.EINVALID) {
		t.Errorf("nothing_to_send on a deletion: refused %q", r)
	}
	i := slices.IndexFunc(h.mails, func(s seen) bool { return s.What == activities.MailCompleted })
	if i < 0 {
		t.Fatal("no completion mail")
	}
	got := h.mails[i].Mail.Sources
	if len(got) != 2 || got[0].Outcome != dsar.TaskErased || *got[0].RecordCount != 12 || got[1].Outcome != dsar.TaskNoData {
		t.Errorf("the mail's sources: %+v", got)
	}
}

// TestRejectedAfterTheBuildDiscardsThePackage: an access request rejected
// (or withdrawn) once its package is built keeps nothing of it.
func TestRejectedAfterTheBuildDiscardsThePackage(t *testing.T) {
	h := newHarness(t)
	p := withPackages(h)
	h.verifyAndAssign(crm)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff, Outcome: dsar.TaskDataProvided})
	h.at(day+time.Hour, SignalPackageApproved, PackageApproval{By: staff})
	h.at(2*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectManifestlyUnfounded}, By: staff})
	st := h.run()

	if want := []string{"build", "approve", "discard"}; !slices.Equal(p.steps, want) {
		t.Errorf("package steps %v, want %v", p.steps, want)
	}
	if st.Status != dsar.StatusRejected || st.Package != nil {
		t.Errorf("final %s, package %+v", st.Status, st.Package)
	}
}

// TestActionsOfStrangersAreRefused: a staff action whose actor the users
// do not know (or who is disabled, or lacks the role) is refused by the
// workflow itself, so a signal sent to Temporal around the API does
// nothing; a source owner's task completion is checked against the task.
func TestActionsOfStrangersAreRefused(t *testing.T) {
	const forger = "0f0f0f0f-0000-4000-8000-00000000f0f0"
	h := newHarness(t)
	h.strangers = map[string]string{forger: "the acting staff member does not exist"}
	h.at(time.Hour, SignalEmailVerified, EmailVerified{Action: Action{At: start.Add(time.Hour)}})
	h.at(2*time.Hour, SignalIdentityDecided, IdentityDecision{Action: Action{ID: "forged"}, Verified: true, By: forger})
	var after State
	h.queryAt(3*time.Hour, &after)
	h.at(4*time.Hour, SignalIdentityDecided, IdentityDecision{Verified: true, By: staff})
	h.at(5*time.Hour, SignalSourcesAssigned, Assignment{DataSourceIDs: []string{crm}, By: staff})
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff, Outcome: dsar.TaskErased})
	h.at(2*day, SignalRequestClosed, Closure{Action: Action{ID: "forged-close"}, Outcome: OutcomeRejected,
		Reasons: []dsar.RejectReason{dsar.RejectExcessive}, By: forger})
	h.at(3*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	st := h.run()

	if after.Status != dsar.StatusAwaitingIdentity {
		t.Errorf("after the forged identity decision: %s", after.Status)
	}
	refused := h.refusals()
	for _, id := range []string{"forged", "forged-close"} {
		if !strings.HasPrefix(refused[id], dsar.EFORBIDDEN+": the acting staff member does not exist") {
			t.Errorf("%s: refused %q", id, refused[id])
		}
	}
	if st.Status != dsar.StatusCompleted {
		t.Errorf("final %s", st.Status)
	}
	i := slices.IndexFunc(h.checked, func(c activities.ActorCheck) bool { return c.DataSourceID == crm })
	if i < 0 || slices.Contains(h.checked[i].Roles, dsar.RoleOperator) || !slices.Contains(h.checked[i].Roles, dsar.RoleSourceOwner) ||
		h.checked[i].RequestID != h.in.RequestID {
		t.Errorf("the task completion's actor check: %+v", h.checked)
	}
}

// TestFailedBuildHoldsNothingBack: a package that cannot be built (a
// corrupt file) is recorded as failed with the reason, org owners are told
// once, the request's timers keep firing and staff can still act; the
// build is tried again every hour and, once the fault is gone, the package
// is ready for review.
func TestFailedBuildHoldsNothingBack(t *testing.T) {
	h := newHarness(t)
	p := withPackages(h)
	p.failUntil = 27 * day
	h.verifyAndAssign(crm)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff, Outcome: dsar.TaskDataProvided})
	var failed State
	h.queryAt(2*day, &failed)
	h.at(3*day, SignalPackageApproved, PackageApproval{Action: Action{ID: "approve-failed"}, By: staff})
	var rebuilt State
	h.queryAt(27*day+2*time.Hour, &rebuilt)
	h.at(28*day, SignalPackageApproved, PackageApproval{By: staff})
	h.at(28*day+time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	h.run()

	if failed.Package == nil || failed.Package.Status != store.PackageFailed || !strings.Contains(failed.Package.Error, "corrupt") {
		t.Fatalf("after the failed build: %+v", failed.Package)
	}
	if r := h.refusals()["approve-failed"]; !strings.Contains(r, "could not be built") {
		t.Errorf("approving a failed package: refused %q", r)
	}
	if warn := h.alertTimes(store.AlertDeadlineWarning); len(warn) != 1 || warn[0] != 25*day {
		t.Errorf("deadline warnings at %v, want day 25 while the build fails", warn)
	}
	attention := h.alertTimes(store.AlertAttention)
	if len(attention) != 1 || attention[0] != day {
		t.Errorf("attention alerts at %v, want one on day 1", attention)
	}
	if rebuilt.Package == nil || rebuilt.Package.Status != store.PackageReady {
		t.Fatalf("once the fault is gone: %+v", rebuilt.Package)
	}
	if n := len(p.failures); n < 24*26 || n > 24*26+2 {
		t.Errorf("%d failed builds recorded, want one an hour for 26 days", n)
	}
	if last := p.steps[len(p.steps)-1]; last != "expire" {
		t.Errorf("package steps end %v", p.steps[len(p.steps)-3:])
	}
}

// TestSignalsCopiedFromAnotherRequestAreRefused: a sealed action (or
// operator signal) copied from another request's history names that
// request, and is refused (or ignored) here; so is an action naming no
// staff member.
func TestSignalsCopiedFromAnotherRequestAreRefused(t *testing.T) {
	const other = "0c0c0c0c-0000-4000-8000-0000000000cc"
	h := newHarness(t)
	h.at(time.Hour, SignalEmailVerified, EmailVerified{Action: Action{At: start.Add(time.Hour)}})
	h.at(2*time.Hour, SignalIdentityDecided, IdentityDecision{Action: Action{ID: "copied", RequestID: other}, Verified: false, By: staff})
	h.at(3*time.Hour, SignalIdentityDecided, IdentityDecision{Action: Action{ID: "nobody"}, Verified: false})
	h.at(4*time.Hour, SignalOperator, OperatorAction{Action: OperatorAbandon, Reason: "copied", RequestID: other})
	var after State
	h.queryAt(5*time.Hour, &after)
	h.at(6*time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectExcessive}, By: staff})
	st := h.run()

	refused := h.refusals()
	if !strings.Contains(refused["copied"], "not made for this request") || !strings.Contains(refused["nobody"], "names no staff member") {
		t.Errorf("refusals: %v", refused)
	}
	if after.Status != dsar.StatusAwaitingIdentity {
		t.Errorf("after the copied signals: %s", after.Status)
	}
	if st.Status != dsar.StatusRejected || h.scrubbed != 1 {
		t.Errorf("the workflow was not abandoned by the copied signal: final %s, scrubbed %d", st.Status, h.scrubbed)
	}
}
