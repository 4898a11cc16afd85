package workflows

import (
	"fmt"
	"math"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// versionClocks is the change id of the jurisdiction rule's clocks: the
// acknowledgement of receipt (an automatic mail, or an alert to staff), the
// opt-out track without proof of identity, stopping the clock where the
// rule allows it, the extension refused once its notice period has passed,
// and the deadline explained in words. They read the rule carried in
// Input.Rule; runs started before it keep one deadline and one extension.
// Chained after versionRecords.
const versionClocks = "clocks"

// Timer summaries of the clocks.
const TimerAcknowledge = "acknowledgement deadline"

// startClocks sets a new request's clocks from its rule (none without one:
// the default deadline has no acknowledgement, track or pause).
func (r *run) startClocks() {
	rule, st := r.in.Rule, &r.st
	if rule == nil {
		return
	}
	if by, ok := rule.AcknowledgeBy(st.SubmittedAt, r.workdays()); ok {
		st.AcknowledgeBy = &by
	}
	if !rule.Extension.IsZero() && !rule.ExtensionNoticeWithin.IsZero() {
		by := rule.ExtensionNoticeWithin.AddTo(st.SubmittedAt)
		st.ExtensionNoticeBy = &by
	}
	st.PauseAllowed = rule.Pause
	if tr := rule.OptOutTrack(r.in.RequestType); tr != nil && tr.NoIdentityDocument {
		st.IdentityNotRequired = true
	}
}

// workdays are the business days of the request's rule: the holidays the
// input carries, their dates read in the rule's time zone. A rule carried
// without one (every run started before rules had zones) reads them in the
// workflow's times' own zone, UTC, as it always did: those runs compute the
// same clocks and their histories replay unchanged without a GetVersion,
// while a run started with a zone counts in it. A zone this worker cannot
// load fails the workflow task, which Temporal retries (on a worker that
// can), rather than counting in another zone.
func (r *run) workdays() dsar.Workdays {
	days, err := r.in.Rule.Workdays(r.in.Holidays)
	if err != nil {
		panic(fmt.Sprintf("workflows: business days of %s: %v", r.in.RequestID, err))
	}
	return days
}

// businessDays reports whether the request's deadline counts business days:
// its track's rule when it runs on the opt-out track, else the rule's.
func (r *run) businessDays() bool {
	rule := r.in.Rule
	if rule == nil {
		return false
	}
	if tr := rule.OptOutTrack(r.in.RequestType); tr != nil {
		return tr.BusinessDays
	}
	return rule.BusinessDays
}

// acknowledge sends the requester the acknowledgement of receipt where the
// rule asks for an automatic one, once the address is verified (nothing is
// sent to an address not shown to be theirs). AcknowledgedAt is set when
// the mail has gone. An opt-out accepted at submission has none: its
// accepted mail confirmed receipt (should that mail fail, the rule's
// acknowledgement alert tells staff).
func (r *run) acknowledge(ctx workflow.Context) {
	if !r.clocks || r.in.Rule == nil || !r.in.Rule.AckMail || r.st.AcknowledgeBy == nil || r.st.AcknowledgedAt != nil ||
		r.st.OptOutAcceptedAt != nil {
		return
	}
	m := r.mailOf(activities.MailAcknowledgement, "acknowledgement")
	m.Received = r.st.SubmittedAt
	r.sendMail(ctx, activities.MailAcknowledgement, func(ctx workflow.Context) (bool, error) {
		if err := r.mailActivity(ctx, activities.MailLabel(m.Kind), a.SendRequesterMail, m).Get(ctx, nil); err != nil {
			return false, err
		}
		at := workflow.Now(ctx)
		r.st.AcknowledgedAt = &at
		return true, nil
	}, EventAcknowledged)
}

// alertAcknowledge tells staff, once, that the rule's acknowledgement
// deadline has come and no confirmation of receipt went out.
func (r *run) alertAcknowledge(ctx workflow.Context) {
	r.ackAlerted = true
	r.note(ctx, EventAcknowledgeDue, "", "confirm receipt to the requester: due "+r.workdays().Local(r.st.AcknowledgeBy.UTC()).Format(time.DateOnly))
	r.alert(ctx, activities.AlertRequest{Kind: store.AlertAcknowledgeDue, Key: "acknowledge-due"})
	r.changed(ctx)
}

// identityNotRequired moves a request on a track where the law forbids
// requiring proof of identity past the identity step: the verified email is
// enough, and the step is recorded as not required.
func (r *run) identityNotRequired(ctx workflow.Context, at time.Time) {
	r.st.Status = dsar.StatusIdentityVerified
	r.st.IdentityDecidedAt = &at
	r.noteAt(at, EventIdentityNotRequired, "", r.in.Rule.Name)
	r.audit(ctx, store.ActorSystem, "", dsar.AuditIdentityNotRequired, map[string]any{"rule": r.in.Rule.ID,
		"request_type": string(r.in.RequestType)})
}

func (r *run) onClockPaused(ctx workflow.Context, p ClockPause) {
	if !r.allowed(ctx, SignalClockPaused, p, p.By) {
		return
	}
	at := r.when(ctx, p.Action)
	r.st.Paused = &Pause{Since: at, Reason: p.Reason, By: p.By}
	detail := PauseReasonWords(p.Reason)
	if note := strings.TrimSpace(p.Note); note != "" {
		detail += ": " + note
	}
	r.noteAt(at, EventClockPaused, p.By, detail)
	r.audit(ctx, actorKind(p.By), p.By, dsar.AuditClockPaused, map[string]any{"reason": p.Reason})
	r.changed(ctx)
}

func (r *run) onClockResumed(ctx workflow.Context, p ClockResume) {
	if !r.allowed(ctx, SignalClockResumed, p, p.By) {
		return
	}
	at := r.when(ctx, p.Action)
	moved := r.endPause(at)
	st := &r.st
	if st.Overdue && st.Deadline.After(at) {
		st.Overdue = false
	}
	if !st.Overdue {
		r.overdueNext = 0
	}
	deadline := st.Deadline.UTC().Format(time.RFC3339)
	r.noteAt(at, EventClockResumed, p.By, fmt.Sprintf("the deadline moved by %s, due %s", r.daysWords(moved), deadline))
	r.audit(ctx, actorKind(p.By), p.By, dsar.AuditClockResumed, map[string]any{"days": moved, "deadline": deadline})
	r.changed(ctx)
}

// endPause ends the pause under way at at: the deadline, the deadline
// before extensions and the extension's notice date move on by the days
// stopped (business days where the rule counts them; the day stopped does
// not count, the day restarted does). It returns the days moved.
func (r *run) endPause(at time.Time) int {
	st := &r.st
	if st.Paused == nil {
		return 0
	}
	pz := *st.Paused
	var moved int
	shift := func(t time.Time) time.Time { return t.AddDate(0, 0, moved) }
	if r.businessDays() {
		days := r.workdays()
		moved = days.BusinessDaysBetween(pz.Since, at)
		shift = func(t time.Time) time.Time { return days.AddBusinessDays(t, moved) }
	} else {
		moved = calendarDaysBetween(pz.Since, at)
	}
	st.Deadline, st.OriginalDeadline = shift(st.Deadline), shift(st.OriginalDeadline)
	if st.ExtensionNoticeBy != nil {
		by := shift(*st.ExtensionNoticeBy)
		st.ExtensionNoticeBy = &by
	}
	pz.Until, pz.Moved = &at, moved
	st.Pauses = append(st.Pauses, pz)
	st.Paused = nil
	return moved
}

// calendarDaysBetween counts the dates after from's up to to's (UTC).
func calendarDaysBetween(from, to time.Time) int {
	day := func(t time.Time) time.Time {
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	return max(0, int(math.Round(day(to).Sub(day(from)).Hours()/24)))
}

// daysWords says n days, business days where the deadline counts them.
func (r *run) daysWords(n int) string {
	unit := "day"
	if r.businessDays() {
		unit = "business day"
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s", n, unit)
}

// periodWords says a legal period in words: "1 month", "15 business days".
func periodWords(p dsar.Period, business bool) string {
	plural := func(n int, unit string) string {
		if n != 1 {
			unit += "s"
		}
		return fmt.Sprintf("%d %s", n, unit)
	}
	unit := "day"
	if business {
		unit = "business day"
	}
	switch {
	case p.Months > 0 && p.Days > 0:
		return plural(p.Months, "month") + " and " + plural(p.Days, unit)
	case p.Months > 0:
		return plural(p.Months, "month")
	}
	return plural(p.Days, unit)
}

// deadlineWhy says why the request is due when it is: the period and the
// rule with its source, the pauses, the extension. Where the rule has a time
// zone its dates are that zone's (as the requester's mail gives them), and
// it names it.
func (r *run) deadlineWhy() string {
	st, rule := &r.st, r.in.Rule
	date := func(t time.Time) string { return t.UTC().Format(time.DateOnly) }
	zone := ""
	if rule != nil && rule.Timezone != "" {
		days := r.workdays()
		date = func(t time.Time) string { return days.Local(t).Format(time.DateOnly) }
		zone = " (" + dsar.ZoneWords(rule.Timezone) + ")"
	}
	var b strings.Builder
	b.WriteString(fmt.Sprintf("Due %s: ", date(st.Deadline)))
	if rule == nil {
		days := calendarDaysBetween(st.SubmittedAt, r.in.Deadline)
		b.WriteString(fmt.Sprintf("%s from receipt on %s, the default deadline (no jurisdiction rule covers the requester's place of residence)",
			periodWords(dsar.Period{Days: days}, false), date(st.SubmittedAt)))
	} else {
		period, business, track := rule.Period, rule.BusinessDays, ""
		if tr := rule.OptOutTrack(r.in.RequestType); tr != nil {
			period, business, track = tr.Period, tr.BusinessDays, " for an opt-out or do-not-sell request"
		}
		b.WriteString(fmt.Sprintf("%s from receipt on %s%s%s under %s", periodWords(period, business), date(st.SubmittedAt), zone, track, rule.Name))
		if rule.Source != "" {
			b.WriteString(fmt.Sprintf(" (%s)", rule.Source))
		}
	}
	for _, p := range st.Pauses {
		b.WriteString(fmt.Sprintf(", paused %s (%s to %s) while %s", r.daysWords(p.Moved), date(p.Since), date(*p.Until), PauseReasonWords(p.Reason)))
	}
	if p := st.Paused; p != nil {
		b.WriteString(fmt.Sprintf(", paused since %s while %s (the deadline moves on when the clock restarts)", date(p.Since), PauseReasonWords(p.Reason)))
	}
	if st.Extended && st.ExtendedAt != nil {
		b.WriteString(fmt.Sprintf(", extended by %d days on %s because %s", st.ExtensionDays, date(*st.ExtendedAt),
			strings.TrimRight(strings.TrimSpace(st.ExtensionReason), ".")))
	}
	b.WriteString(".")
	return b.String()
}
