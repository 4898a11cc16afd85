package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// Fulfilment (versionFulfilment): an access request's answer is a package
// built from the files on its tasks once every task is done, reviewed and
// approved by staff (perhaps without some files), published to the
// requester's portal when the request completes, and erased when it
// expires. The workflow holds the package's ids, size and hash only.

// versionFulfilment is the change id of the access package and its
// delivery. Runs started before it complete as before.
const versionFulfilment = "fulfilment"

// fulfilmentSignals are the actions a run before versionFulfilment refuses.
var fulfilmentSignals = []string{SignalPackageApproved}

// defaultPackageTTL is Periods.PackageTTL for runs started without one.
const defaultPackageTTL = 30 * 24 * time.Hour

// How long one attempt at building a package may take, how long it may go
// without a sign of life (it beats per MiB copied), how long a build (or
// an approval's rebuild) is retried before it counts as failed, and how
// often a failed build is tried again. A build that keeps failing never
// holds the request: staff can still reject it, complete it with nothing
// to send, or add a source, and its timers keep firing.
const (
	buildAttempt      = 30 * time.Minute
	buildHeartbeat    = 2 * time.Minute
	buildGiveUp       = 15 * time.Minute
	packageRetryEvery = time.Hour
)

// allowsCompletion checks a completion against the package: a request that
// needs one completes with it approved, or with a reason for sending
// nothing.
func (s *State) allowsCompletion(c Closure) error {
	nothing := strings.TrimSpace(c.NothingToSend)
	if !s.PackageRequired {
		if nothing != "" {
			return dsar.Invalid(map[string]string{"nothing_to_send": "only an access request sends a package"})
		}
		return nil
	}
	approved := s.Package != nil && s.Package.Status == store.PackageApproved
	switch {
	case approved && nothing != "":
		return dsar.Invalid(map[string]string{"nothing_to_send": "the access package is approved: complete without nothing_to_send, or send nothing by building no package"})
	case !approved && nothing == "":
		status := store.PackageBuilding
		if s.Package != nil {
			status = s.Package.Status
		}
		return dsar.Errorf(dsar.ECONFLICT, "cannot complete: the access package is %s; approve it first, or say why nothing is sent (nothing_to_send)",
			strings.ToLower(store.PackageStatusLabel(status)))
	}
	return nil
}

// allowsApproval checks a package approval.
func (s *State) allowsApproval(p any) error {
	a, _ := p.(PackageApproval)
	switch {
	case !s.PackageRequired:
		return dsar.Errorf(dsar.ECONFLICT, "only an access request has a package to approve")
	case s.Status != dsar.StatusReadyToClose:
		return dsar.Errorf(dsar.ECONFLICT, "cannot approve the access package: the request is %s, not ready to complete", s.Status)
	case s.Package == nil:
		return dsar.Errorf(dsar.ECONFLICT, "cannot approve the access package: it is still being built")
	case s.Package.Status == store.PackageFailed:
		return dsar.Errorf(dsar.ECONFLICT, "cannot approve the access package: it could not be built (%s); it is tried again every hour", s.Package.Error)
	case s.Package.Status != store.PackageReady && s.Package.Status != store.PackageApproved:
		return dsar.Errorf(dsar.ECONFLICT, "cannot approve the access package: it is %s", s.Package.Status)
	}
	for _, id := range a.RemovedFileIDs {
		if !slices.Contains(s.Package.FileIDs, id) {
			return dsar.Invalid(map[string]string{"removed_file_ids": "file " + id + " is not in the package"})
		}
	}
	if len(a.RemovedFileIDs) > 0 && strings.TrimSpace(a.Note) == "" {
		return dsar.Invalid(map[string]string{"note": "say why the files are removed"})
	}
	return nil
}

// packageStep runs a step of the package that streams files (build,
// approval): a regular activity, heartbeating as it copies, retried for
// buildGiveUp. Its failure is returned for the caller to record: a
// package is a product of the request's data, not a write the request
// waits on.
func (r *run) packageStep(ctx workflow.Context, summary string, result any, fn any, args ...any) error {
	r.flushAudits(ctx)
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: buildAttempt, HeartbeatTimeout: buildHeartbeat, ScheduleToCloseTimeout: buildGiveUp, Summary: summary,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: writeMaxInterval, MaximumAttempts: retryForever},
	})
	return workflow.ExecuteActivity(ctx, fn, args...).Get(ctx, result)
}

// stepError is an activity's failure in words, without the SDK's
// wrapping.
func stepError(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Error()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "it did not finish in time (" + timeout.Error() + ")"
	}
	return err.Error()
}

// packageBuild is what the package is built from: the tasks' outcomes.
func (r *run) packageBuild(ctx workflow.Context) activities.PackageBuild {
	b := activities.PackageBuild{RequestID: r.in.RequestID, RequestType: r.in.RequestType, At: workflow.Now(ctx)}
	for _, t := range r.st.Tasks {
		b.Tasks = append(b.Tasks, activities.PackageTask{DataSourceID: t.DataSourceID, Outcome: t.Outcome,
			RecordCount: t.RecordCount, CompletedAt: t.CompletedAt})
	}
	return b
}

// setPackage keeps what the store says of the package.
func (r *run) setPackage(info activities.PackageInfo) {
	p := r.st.Package
	if p == nil || p.ID != info.ID {
		p = &PackageState{}
		r.st.Package = p
	}
	p.ID, p.Status, p.Size, p.SHA256, p.FileIDs, p.ExpiresAt = info.ID, info.Status, info.Size, info.SHA256, info.FileIDs, info.ExpiresAt
}

// buildPackage assembles the access package once every task is done, and
// records its hash in the audit trail. A build that fails is recorded as
// failed (staff are alerted, and it is tried again packageRetryEvery
// later).
func (r *run) buildPackage(ctx workflow.Context) {
	var info activities.PackageInfo
	if err := r.packageStep(ctx, "build the access package", &info, a.BuildPackage, r.packageBuild(ctx)); err != nil {
		r.packageFailed(ctx, err)
		return
	}
	r.setPackage(info)
	r.note(ctx, EventPackageBuilt, "", "")
	r.audit(ctx, store.ActorSystem, "", dsar.AuditPackageBuilt, map[string]any{
		"package_id": info.ID, "sha256": info.SHA256, "size": info.Size, "file_ids": info.FileIDs})
	r.changed(ctx)
}

// packageFailed records a build that failed: the package's state says why
// (the store too, for the review page), org owners are alerted once per
// failure, and the timer tries again.
func (r *run) packageFailed(ctx workflow.Context, err error) {
	now := workflow.Now(ctx)
	why := stepError(err)
	r.log.Error("the access package could not be built", "error", why)
	first := r.st.Package == nil || r.st.Package.Status != store.PackageFailed
	r.st.Package = &PackageState{Status: store.PackageFailed, FailedAt: &now, Error: why}
	if !r.write(ctx, "record the failed build", a.RecordPackageFailure, r.in.RequestID, why) {
		return
	}
	if first {
		r.attentionN++
		r.note(ctx, EventPackageFailed, "", why)
		r.audit(ctx, store.ActorSystem, "", dsar.AuditPackageFailed, map[string]any{"error": why})
		r.alert(ctx, activities.AlertRequest{Kind: store.AlertAttention, Key: fmt.Sprintf("attention-%d", r.attentionN), OrgOwners: true})
	}
	r.changed(ctx)
}

// resumePackage builds, in a new run, the package a request ready to
// complete is waiting for: it was ready before this run's version built
// packages, or its build was in flight when the last run ended.
func (r *run) resumePackage(ctx workflow.Context) {
	if r.st.PackageRequired && r.st.Status == dsar.StatusReadyToClose && r.st.Package == nil {
		r.buildPackage(ctx)
	}
}

// discardPackage drops a package not to be sent: built before a new task
// was added (it is built again once that task is done), or of a request
// that closed without completing (why says which).
func (r *run) discardPackage(ctx workflow.Context, by, why string) {
	if r.st.Package == nil {
		return
	}
	if !r.write(ctx, "discard the access package", a.DiscardPackage, r.in.RequestID) {
		return
	}
	r.st.Package = nil
	r.note(ctx, EventPackageDiscarded, by, why)
}

// onPackageApproved applies a reviewer's approval: the files they removed
// are marked (with their note as the reason) and the package is built
// again without them before it is approved.
func (r *run) onPackageApproved(ctx workflow.Context, p PackageApproval) {
	if !r.allowed(ctx, SignalPackageApproved, p, p.By) {
		return
	}
	now := r.when(ctx, p.Action)
	in := activities.PackageApproval{Build: r.packageBuild(ctx), RemovedFileIDs: p.RemovedFileIDs, Note: p.Note, By: p.By}
	if len(p.RemovedFileIDs) > 0 {
		in.Reason = p.Note
	}
	var info activities.PackageInfo
	if err := r.packageStep(ctx, "approve the access package", &info, a.ApprovePackage, in); err != nil {
		// The action is answered: refused, saying why; the files stay
		// marked removed and the next approval builds again without them.
		r.current = nil
		err = dsar.Errorf(dsar.ECONFLICT, "the access package could not be built again without the removed files: %s", stepError(err))
		r.ignoreErr(ctx, SignalPackageApproved, p.By, err)
		if p.Action.ID != "" {
			r.outcomes = append(r.outcomes, store.ActionOutcome{ActionID: p.Action.ID, Signal: SignalPackageApproved,
				Code: dsar.ErrorCode(err), Reason: dsar.ErrorMessage(err), ActedAt: now})
		}
		return
	}
	r.setPackage(info)
	r.st.Package.ApprovedBy, r.st.Package.ApprovedAt = p.By, &now
	for _, id := range p.RemovedFileIDs {
		r.audit(ctx, actorKind(p.By), p.By, dsar.AuditPackageFileRemoved, map[string]any{"file_id": id, "reason_sha256": digest(p.Note)})
	}
	r.noteAt(now, EventPackageApproved, p.By, "")
	detail := map[string]any{"package_id": info.ID, "sha256": info.SHA256, "size": info.Size, "removed_file_ids": p.RemovedFileIDs}
	if p.Note != "" {
		detail["note_sha256"] = digest(p.Note)
	}
	r.audit(ctx, actorKind(p.By), p.By, dsar.AuditPackageApproved, detail)
	r.changed(ctx)
}

// deliver settles the package as the request completes: published for the
// package's time to live, or, with nothing to send, none.
func (r *run) deliver(ctx workflow.Context, at time.Time, nothingToSend, by string) {
	if !r.st.PackageRequired {
		return
	}
	if r.st.Status != dsar.StatusCompleted {
		r.discardPackage(ctx, by, "the request closed without it")
		return
	}
	if nothingToSend != "" {
		r.st.NothingToSend = nothingToSend
		r.write(ctx, "discard the access package", a.DiscardPackage, r.in.RequestID)
		r.st.Package = nil
		r.noteAt(at, EventNothingToSend, by, nothingToSend)
		r.audit(ctx, actorKind(by), by, dsar.AuditNothingToSend, map[string]any{"reason_sha256": digest(nothingToSend)})
		return
	}
	ttl := r.in.Periods.PackageTTL
	if ttl <= 0 {
		ttl = defaultPackageTTL
	}
	var info activities.PackageInfo
	if !r.writeInto(ctx, "publish the access package", &info, a.PublishPackage, r.in.RequestID, at.Add(ttl)) {
		return
	}
	r.setPackage(info)
	r.noteAt(at, EventPackagePublished, "", "")
	r.audit(ctx, store.ActorSystem, "", dsar.AuditPackagePublished, map[string]any{
		"package_id": info.ID, "sha256": info.SHA256, "size": info.Size, "expires_at": at.Add(ttl).UTC().Format(time.RFC3339)})
}

// keepPackage keeps a closed request's workflow until its published
// package expires, refusing every action meanwhile, then erases the
// package.
func (r *run) keepPackage(ctx workflow.Context) {
	p := r.st.Package
	if p == nil || p.Status != store.PackagePublished || p.ExpiresAt == nil || r.abandoned {
		return
	}
	r.refuseUntil(ctx, *p.ExpiresAt, TimerPackageExpiry, nil)
	r.awaitLift(ctx)
	if !r.abandoned {
		r.expirePackage(ctx)
	}
}

// digest is the SHA-256 of staff's free text, for the audit trail, which
// holds no free text but proves which text was given.
func digest(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// closingMail adds to a completion mail what the requester gets: the
// package's size and expiry, or, for the other request types, what each
// data source did.
func (r *run) closingMail(m *activities.RequesterMail) {
	if r.appeals && (m.Kind == activities.MailRejected || m.Kind == activities.MailCompleted) {
		m.AppealUntil = r.st.AppealUntil
	}
	if !r.fulfil || m.Kind != activities.MailCompleted {
		return
	}
	if p := r.st.Package; p != nil && p.Status == store.PackagePublished && p.ExpiresAt != nil {
		m.Package = &activities.MailPackage{Size: p.Size, ExpiresAt: *p.ExpiresAt}
	}
	m.NothingToSend = r.st.PackageRequired && r.st.NothingToSend != ""
	if !r.st.PackageRequired {
		for _, t := range r.st.Tasks {
			m.Sources = append(m.Sources, activities.PackageTask{DataSourceID: t.DataSourceID, Outcome: t.Outcome, RecordCount: t.RecordCount})
		}
	}
}
