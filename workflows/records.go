package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// Legal holds (versionRecords): staff with a reason keep a request's data
// from being erased. While a hold is on, the erasure at close (the PII
// scrub, the access package's expiry) waits until it is lifted: the
// request is closed and its workflow stays open. The deadline's timers of
// an open request keep running as ever. The compliance record is written
// with every projection (store.Project) whatever the run's version.

// versionRecords is the change id of legal holds. Runs started before it
// refuse them (the API answers 409).
const versionRecords = "records"

// errBeforeLegalHolds refuses a legal hold on a run started before them.
var errBeforeLegalHolds = dsar.Errorf(dsar.ECONFLICT, "this request was opened before legal holds: its erasure cannot be held")

// LegalHoldSet is the payload of SignalLegalHold: On places the hold (with
// a reason), off lifts it.
type LegalHoldSet struct {
	Action
	On     bool
	Reason string
	By     string
}

// Held reports whether a legal hold is on.
func (s State) Held() bool { return s.LegalHold != nil && s.LegalHold.On }

// allowsLegalHold checks a legal hold's change: placing one needs a reason
// and no hold on already; lifting one, a hold on.
func (s *State) allowsLegalHold(p any) error {
	h, _ := p.(LegalHoldSet)
	switch {
	case h.On && strings.TrimSpace(h.Reason) == "":
		return dsar.Invalid(map[string]string{"reason": "a legal hold needs a reason"})
	case h.On && s.Held():
		return dsar.Errorf(dsar.ECONFLICT, "a legal hold is already on (since %s)", s.LegalHold.Since.UTC().Format("2006-01-02"))
	case !h.On && !s.Held():
		return dsar.Errorf(dsar.ECONFLICT, "no legal hold is on")
	}
	return nil
}

// onLegalHold places or lifts the hold.
func (r *run) onLegalHold(ctx workflow.Context, p LegalHoldSet) {
	if !r.allowed(ctx, SignalLegalHold, p, p.By) {
		return
	}
	at := r.when(ctx, p.Action)
	var was store.LegalHold
	if r.st.LegalHold != nil {
		was = *r.st.LegalHold
	}
	ch := legalHoldChange(p, was, at)
	r.st.LegalHold = &ch.Hold
	r.noteAt(at, ch.Timeline.Event, p.By, "")
	r.audit(ctx, ch.Audit.ActorKind, p.By, ch.Audit.Action, ch.Audit.Detail)
	r.changed(ctx)
}

// legalHoldChange is what placing or lifting hold p at at records (was is
// the hold before): the hold it leaves, the timeline's entry and the audit
// event. The audit trail, which holds no free text, proves which
// reason was given by its hash; a lift says since when the hold was on.
func legalHoldChange(p LegalHoldSet, was store.LegalHold, at time.Time) store.LegalHoldChange {
	ch := store.LegalHoldChange{Hold: store.LegalHold{On: false}, Timeline: TimelineEntry{At: at, Event: EventLegalHoldLifted, Actor: p.By},
		Audit: store.Audit{ActorKind: actorKind(p.By), ActorID: p.By, Action: dsar.AuditLegalHoldLifted,
			Detail: map[string]any{"since": was.Since.UTC().Format("2006-01-02T15:04:05Z07:00")}}}
	if p.On {
		ch.Hold = store.LegalHold{On: true, Reason: strings.TrimSpace(p.Reason), Since: at, By: p.By}
		ch.Timeline.Event = EventLegalHoldSet
		ch.Audit.Action, ch.Audit.Detail = dsar.AuditLegalHoldSet, map[string]any{"reason_sha256": digest(ch.Hold.Reason)}
	}
	return ch
}

// EndedLegalHold is the change staff's hold p makes to a request whose
// workflow has ended, cur being its hold as stored: what the workflow
// would have recorded (the same hold, timeline entry and audit event, at
// the time of p's action), or why not, in the workflow's words (ECONFLICT:
// a hold already on, or none to lift; EINVALID: no reason). After the end
// the erasure is done; the hold keeps what the retention sweep would
// delete (store.SetEndedLegalHold writes it).
func EndedLegalHold(p LegalHoldSet, cur store.LegalHold) (store.LegalHoldChange, error) {
	var st State
	if cur.On {
		st.LegalHold = &cur
	}
	if err := st.allowsLegalHold(p); err != nil {
		return store.LegalHoldChange{}, err
	}
	return legalHoldChange(p, cur, p.At.UTC()), nil
}

// awaitLift keeps a closed request's erasure waiting while a legal hold is
// on: every action but the hold's own is refused meanwhile (the request is
// closed), and the erasure goes ahead once the hold is lifted.
func (r *run) awaitLift(ctx workflow.Context) {
	if !r.records || !r.st.Held() || r.abandoned {
		return
	}
	r.note(ctx, EventErasureHeld, "", "")
	r.changed(ctx)
	takeHold := func(p pendingAction) bool { return p.signal == SignalLegalHold }
	for r.st.Held() && !r.abandoned {
		if p, ok := r.closedWait(ctx, time.Time{}, "", takeHold, nil); ok {
			r.apply(ctx, p)
		}
	}
}

// recordFacts is what the compliance record needs from the run's input.
func (r *run) recordFacts() store.RecordFacts {
	f := store.RecordFacts{RequestType: r.in.RequestType, RequestorType: r.in.RequestorType, Rule: r.in.DeadlineRule,
		ReceivedAt: r.in.SubmittedAt, AcknowledgedAt: r.st.AcknowledgedAt}
	if r.in.RequestID != "" {
		f.Channel = dsar.ChannelForm
		if m := r.in.Manual; m != nil {
			f.Channel = m.Channel
		}
	}
	return f
}
