package workflows

import (
	"errors"
	"github.com/opendsar/dsar"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// Mail to the requester. On the durable path mail runs beside the main
// loop (workflow.Go), one mail after the other in the order the workflow
// asked for them: a provider down for hours delays the mail, never the
// timers or the staff's actions, and the requester never reads a
// rejection before the verification link. The workflow joins pending mail
// before erasing the PII that mail needs, and before continuing as new.

// requesterMail sends a mail to the requester, keyed by the workflow id and
// the event so that a retry never delivers twice. tweak, if any, adjusts the
// mail's data.
func (r *run) requesterMail(ctx workflow.Context, kind, event, timelineEvent string, tweak ...func(*activities.RequesterMail)) {
	m := r.mailOf(kind, event)
	if kind == activities.MailVerificationReminder {
		m.TokenTTL = r.in.Periods.VerificationExpiry - r.in.Periods.VerificationReminderAfter
	}
	for _, f := range tweak {
		f(&m)
	}
	r.sendMail(ctx, kind, func(ctx workflow.Context) (bool, error) {
		return true, r.mailActivity(ctx, kind, a.SendRequesterMail, m).Get(ctx, nil)
	}, timelineEvent)
}

// mailOf is the mail of kind to the requester for event, with the state's
// data, its dates written in the request's zone.
func (r *run) mailOf(kind, event string) activities.RequesterMail {
	return activities.RequesterMail{
		RequestID: r.in.RequestID, Kind: kind, Key: r.wid + ":" + event, RequestType: r.in.RequestType,
		Deadline: r.st.Deadline, ExtensionDays: r.st.ExtensionDays, ExtensionReason: r.st.ExtensionReason,
		Reasons: r.st.CloseReasons, TokenTTL: r.in.Periods.VerificationExpiry,
		AddressUnverified: r.st.OptOutAcceptedAt != nil && r.st.EmailVerifiedAt == nil,
		Zone:              r.mailZone(),
	}
}

// mailZone is the time zone of the request's rule, in which the
// requester's mail is dated: "" (UTC) without a rule, and for a rule
// carried before rules had zones, whose mail stays dated in UTC. It only
// changes an activity's input, which replay does not compare.
func (r *run) mailZone() string {
	if r.in.Rule == nil {
		return ""
	}
	return r.in.Rule.Timezone
}

// portalInvitation invites the verified requester to the portal (no mail
// when they already have an account).
func (r *run) portalInvitation(ctx workflow.Context) {
	in := activities.PortalInvitation{RequestID: r.in.RequestID, Key: r.wid + ":portal-invitation", Zone: r.mailZone()}
	r.sendMail(ctx, activities.MailPortalInvitation, func(ctx workflow.Context) (bool, error) {
		var sent bool
		err := r.mailActivity(ctx, "portal invitation", a.SendPortalInvitation, in).Get(ctx, &sent)
		return sent, err
	}, EventPortalInvited)
}

// sendMail runs send (beside the main loop on the durable path) and
// records its outcome: the timeline event when sent, a failure note when
// it failed for good; on the durable path also the audit trail (mail.sent
// or mail.failed with its kind) and the projection.
func (r *run) sendMail(ctx workflow.Context, kind string, send func(workflow.Context) (bool, error), timelineEvent string) {
	if r.abandoned {
		return // an abandoned workflow writes and sends nothing more
	}
	record := func(ctx workflow.Context) {
		sent, err := send(ctx)
		if r.abandoned {
			return
		}
		switch {
		case err != nil:
			r.log.Error("requester mail failed", "kind", kind, "error", err)
			r.note(ctx, EventRequesterMailFailed, "", kind)
			if r.seedFlow && kind == r.closingKind {
				r.closingFailed = true
			}
		case sent && timelineEvent != "":
			r.note(ctx, timelineEvent, "", "")
		}
		if !r.durable || (err == nil && !sent) {
			return
		}
		action, detail := dsar.AuditMailSent, map[string]any{"kind": kind}
		if err != nil {
			action, detail["error"] = dsar.AuditMailFailed, errorText(err)
		}
		r.audit(ctx, store.ActorSystem, "", action, detail)
		r.publish(ctx, false)
	}
	if !r.durable {
		record(ctx)
		return
	}
	r.mailQueue = append(r.mailQueue, record)
	r.mailPending++
	if r.mailRunning {
		return
	}
	r.mailRunning = true
	workflow.Go(ctx, func(ctx workflow.Context) {
		for len(r.mailQueue) > 0 {
			next := r.mailQueue[0]
			r.mailQueue = r.mailQueue[1:]
			next(ctx)
			r.mailPending--
		}
		r.mailRunning = false
		r.mailIdle.SendAsync(true)
	})
}

// joinMail waits until every mail started beside the main loop is done.
func (r *run) joinMail(ctx workflow.Context) {
	r.flushAudits(ctx)
	if r.mailPending > 0 {
		_ = workflow.Await(ctx, func() bool { return r.mailPending == 0 || r.abandoned })
	}
}

// mailActivity runs an activity that sends mail: retried for up to a day
// (a provider outage), never for a permanent failure (the activity marks
// those non-retryable).
func (r *run) mailActivity(ctx workflow.Context, summary string, fn any, args ...any) workflow.Future {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 24 * time.Hour,
		Summary:                summary,
		RetryPolicy: &temporal.RetryPolicy{
			// At most a minute between tries: once the provider is back the
			// requester's link goes out within a minute, not ten (a retry
			// costs the server a task, not the history an event).
			InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: retryForever, // until ScheduleToClose
		},
	})
	return workflow.ExecuteActivity(ctx, fn, args...)
}

// errorText says what kind of failure err is, in words that hold no PII
// (a provider's message may quote the address): its application error
// type, or a timeout.
func errorText(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() != "" {
		return app.Type()
	}
	var to *temporal.TimeoutError
	if errors.As(err, &to) {
		return "timed out"
	}
	return "failed"
}
