package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/store"
)

// WorkflowName is the registered name of the request workflow.
const WorkflowName = "DSAR"

// WorkflowID is the id of a request's workflow: its business key.
func WorkflowID(requestID string) string { return "dsar-" + requestID }

// Signal and query names of the request workflow.
const (
	SignalEmailVerified    = "email-verified"
	SignalIdentityDecided  = "identity-decided"
	SignalSourcesAssigned  = "data-sources-assigned"
	SignalTaskCompleted    = "task-completed"
	SignalDeadlineExtended = "deadline-extended"
	SignalRequestClosed    = "request-closed"
	SignalWithdrawn        = "withdrawn"        // the requester withdrew the request from the portal
	SignalTaskDeclined     = "task-declined"    // a source owner declined a task, with a reason
	SignalTaskReassigned   = "task-reassigned"  // staff gave a task to one person
	SignalEmailCorrected   = "email-corrected"  // staff corrected a mistyped address: verification starts again
	SignalMailResent       = "mail-resent"      // staff send the closing mail again after it failed
	SignalPackageApproved  = "package-approved" // staff reviewed the access package and approved it
	SignalLegalHold        = "legal-hold"       // staff placed or lifted a legal hold (versionRecords)
	SignalOperator         = "operator"         // an operator's answer to a step that needs attention
	SignalHandlerSet       = "handler-set"      // the API set (or cleared) the request's handler: for the search attribute
	SignalClockPaused      = "clock-paused"     // staff stopped the clock, where the rule allows (versionClocks)
	SignalClockResumed     = "clock-resumed"    // staff restarted the clock: the deadline moves by the time stopped
	QueryState             = "state"
)

// queueRoles are the roles that work the queue.
var queueRoles = []dsar.Role{dsar.RoleOrgOwner, dsar.RoleAdmin, dsar.RoleManager}

// taskRoles are the roles that work tasks: the queue's and source owners
// (on their own tasks), never operators.
var taskRoles = []dsar.Role{dsar.RoleOrgOwner, dsar.RoleAdmin, dsar.RoleManager, dsar.RoleSourceOwner}

// holdRoles are the roles that place and lift legal holds.
var holdRoles = []dsar.Role{dsar.RoleOrgOwner, dsar.RoleAdmin}

// ActorRoles are the roles whose staff may take the action of signal (the
// API's access table says the same of its routes); nil for the requester's
// own actions. A source owner acting on a task must also own its source
// or have been given it.
func ActorRoles(signal string) []dsar.Role {
	switch signal {
	case SignalTaskCompleted, SignalTaskDeclined, SignalAutomationRetry, SignalAutomationManual, SignalAutomationApproval:
		return taskRoles
	case SignalIdentityDecided, SignalSourcesAssigned, SignalDeadlineExtended, SignalRequestClosed,
		SignalTaskReassigned, SignalEmailCorrected, SignalMailResent, SignalPackageApproved,
		SignalClockPaused, SignalClockResumed:
		return queueRoles
	case SignalLegalHold:
		return holdRoles
	}
	return nil
}

// ActionSignals are the signals that carry a person's Action: each is
// answered exactly, applied or refused, in the request_actions table.
var ActionSignals = []string{SignalEmailVerified, SignalIdentityDecided, SignalSourcesAssigned,
	SignalTaskCompleted, SignalDeadlineExtended, SignalRequestClosed,
	SignalWithdrawn, SignalTaskDeclined, SignalTaskReassigned, SignalEmailCorrected, SignalMailResent,
	SignalPackageApproved, SignalAppealFiled,
	SignalAutomationRetry, SignalAutomationManual, SignalAutomationApproval, SignalLegalHold, SignalClockPaused, SignalClockResumed}

// Action identifies one person's action and when they took it. Every
// action signal's payload embeds it. The workflow records the outcome of
// each action ID once (applied, or refused with the reason) in the same
// write as the projection, and a repeated ID does nothing more.
type Action struct {
	ID string    `json:",omitempty"` // unique per request: the API's Idempotency-Key (scoped to the caller) or a new UUID
	At time.Time // when the person acted, by the API's clock; the workflow clamps it to its own
	// RequestID is the request the action was made for. A sealed payload
	// copied from one request's history into another's signal is refused
	// (versionActorCheck): the seal covers this id.
	RequestID string `json:",omitempty"`
}

// Operator actions (OperatorAction.Action).
const (
	OperatorRetry   = "retry"   // run the step that needs attention again now
	OperatorAbandon = "abandon" // end the workflow without further writes (its request row is gone)
)

// OperatorAction is the payload of SignalOperator.
type OperatorAction struct {
	Action    string // OperatorRetry or OperatorAbandon
	Reason    string
	By        string
	RequestID string `json:",omitempty"` // the request it is meant for: required from versionActorCheck on
}

// HandlerSet is the payload of SignalHandlerSet. It is not an action: the
// handler lives in Postgres, where the API set it; the workflow only
// mirrors it in the DsarHandler search attribute for operators.
type HandlerSet struct {
	UserID    string // "" when the request has no handler any more
	RequestID string // the request it is meant for
}

// Periods are the lifecycle's periods, read from config when a request
// starts and carried in its input: workflow code never reads config.
type Periods struct {
	ReminderEvery             time.Duration // unassigned reminders to org owners
	StallAfter                time.Duration // a task that has not moved for this long alerts its owners
	DeadlineWarningBefore     time.Duration
	OverdueAlertEvery         time.Duration
	VerificationReminderAfter time.Duration
	VerificationExpiry        time.Duration
	AssignmentAlertEvery      time.Duration // at most one assignment alert per owner in this period
	// MailResendWindow is how long a closed request whose closing mail
	// failed keeps the address for staff to send it again, before the
	// erasure (zero: defaultMailResendWindow).
	MailResendWindow time.Duration `json:",omitempty"`
	// PackageTTL is how long a published access package can be downloaded
	// before it is erased (zero: defaultPackageTTL).
	PackageTTL time.Duration `json:",omitempty"`
}

// PeriodsOf is the periods config's workflow section sets.
func PeriodsOf(cfg *config.Config) Periods {
	w := cfg.Workflow
	return Periods{
		ReminderEvery: w.ReminderEvery, StallAfter: w.StallAfter, DeadlineWarningBefore: w.DeadlineWarningBefore,
		OverdueAlertEvery: w.OverdueAlertEvery, VerificationReminderAfter: w.VerificationReminderAfter,
		VerificationExpiry: w.VerificationExpiry, AssignmentAlertEvery: w.AssignmentAlertEvery,
		MailResendWindow: w.MailResendWindow, PackageTTL: cfg.Fulfilment.PackageTTL,
	}
}

// Input starts a request workflow. It holds the request id and non-PII
// metadata only; PII stays sealed in Postgres.
type Input struct {
	RequestID     string
	RequestType   dsar.RequestType
	RequestorType dsar.RequestorType
	Country       string
	Region        string
	SubmittedAt   time.Time
	Deadline      time.Time
	DeadlineRule  string      // rule id, or "default"
	MaxExtension  dsar.Period // how far the deadline may be extended in all
	// Rule is the jurisdiction rule matched at intake, as config held it
	// then: the workflow's clocks (acknowledgement, opt-out track, pause,
	// extension notice, appeal) read it, never config. Nil for the default
	// deadline and on runs started before it was carried.
	Rule *dsar.Rule `json:",omitempty"`
	// Holidays are the non-business days of Rule's calendar from the date
	// of receipt on, so business-day arithmetic in the workflow needs no
	// calendar. Their dates, and every date business days are counted by,
	// are read in the zone the rule carries (Rule.Timezone, beside its
	// calendar, so the two cannot disagree). A rule carried before rules
	// had zones has none: such a run reads dates in UTC as it always did,
	// and its history replays unchanged without a GetVersion.
	Holidays        dsar.Holidays `json:",omitempty"`
	Periods         Periods
	ImmediateAlerts bool // send staff alerts at once instead of in the daily digest

	// Manual is set when staff recorded a request that arrived another way
	// (SubmittedAt is then the day it was received); nil for the form.
	Manual *ManualIntake `json:",omitempty"`

	// Resume is set only when the workflow continues as new: the running
	// request's state. Callers starting a request leave it nil.
	Resume *Checkpoint `json:",omitempty"`
}

// ManualIntake is how a request recorded by staff arrived. The requester
// still verifies the email address; when staff checked the requester's
// identity another way, the request is identity-verified as soon as the
// address is, with their note.
type ManualIntake struct {
	Channel         dsar.Channel
	RecordedBy      string // staff user id
	IdentityChecked bool
	IdentityNote    string
}

// Checkpoint carries a running request across continue-as-new: its state
// and the bookkeeping of its timers.
type Checkpoint struct {
	State              State
	VerificationBase   time.Time
	VerificationRemind bool // the verification reminder was sent
	UnassignedNext     int  // index of the next unassigned reminder
	Stalls             []StallCount
	WarnedFor          time.Time // the deadline the warning was sent for
	OverdueNext        int       // index of the next overdue alert
	Extensions         int
	Seq                int64    `json:",omitempty"` // projection writes so far
	AuditN             int64    `json:",omitempty"` // audit events so far: the next key's counter
	ActionIDs          []string `json:",omitempty"` // the latest action ids handled
	AttentionN         int      `json:",omitempty"` // attention alerts so far: the next key's counter
	ReadyN             int      `json:",omitempty"` // ready-to-complete alerts so far
	DeclinedN          int      `json:",omitempty"` // declined tasks so far
	ReassignedN        int      `json:",omitempty"` // reassigned tasks so far
	Corrections        int      `json:",omitempty"` // email corrections so far
	Handler            string   `json:",omitempty"` // the handler mirrored in DsarHandler
	// Sources are how the automated tasks' sources were assigned: a child
	// started again after it failed runs as the first one did.
	Sources    []AssignedSource `json:",omitempty"`
	AckAlerted bool             `json:",omitempty"` // the acknowledgement alert was sent
}

// StallCount is how many stall alerts a task has had since it last moved.
type StallCount struct {
	DataSourceID string
	Sent         int
}

// EmailVerified is the payload of SignalEmailVerified.
type EmailVerified struct {
	Action
}

// IdentityDecision is the payload of SignalIdentityDecided. Refused closes
// the request as rejected with reason identity_not_verified.
type IdentityDecision struct {
	Action
	Verified bool
	Note     string
	By       string // staff user id
}

// Assignment is the payload of SignalSourcesAssigned: one task per data
// source; sources already assigned are ignored.
type Assignment struct {
	Action
	DataSourceIDs []string
	By            string
	// Sources says how each automated one of DataSourceIDs is fulfilled
	// (versionConnectors); the others are manual.
	Sources []AssignedSource `json:",omitempty"`
}

// TaskCompletion is the payload of SignalTaskCompleted. Outcome is one of
// dsar.TaskOutcomes ("" on the old path: done); RecordCount, when given, is
// how many records the task found, erased or changed.
type TaskCompletion struct {
	Action
	DataSourceID string
	Note         string
	By           string
	Outcome      dsar.TaskOutcome `json:",omitempty"`
	RecordCount  *int64           `json:",omitempty"`
}

// TaskDecline is the payload of SignalTaskDeclined: the owner cannot do
// the task (not their system, not this subject, ...) and says why; the
// task goes back to the request's handler.
type TaskDecline struct {
	Action
	DataSourceID string
	Reason       string
	By           string
}

// TaskReassignment is the payload of SignalTaskReassigned: the task is
// given to one person (UserID), open again if it was declined; its
// alerts then go to them instead of every owner of the source.
type TaskReassignment struct {
	Action
	DataSourceID string
	UserID       string
	By           string
}

// Withdrawal is the payload of SignalWithdrawn, sent for the requester.
// Their reason, if any, is a message on the request (sealed, like every
// message), never workflow state: it is the requester's own words.
type Withdrawal struct {
	Action
}

// MailResend is the payload of SignalMailResent.
type MailResend struct {
	Action
	By string
}

// EmailCorrection is the payload of SignalEmailCorrected: the API has
// stored the corrected address; the workflow sends a new verification
// link and counts verification's timers from the correction.
type EmailCorrection struct {
	Action
	By string
}

// Extension is the payload of SignalDeadlineExtended.
type Extension struct {
	Action
	Days   int
	Reason string
	By     string
}

// Outcomes of a closure.
const (
	OutcomeCompleted = "completed"
	OutcomeRejected  = "rejected"
	OutcomeWithdrawn = "withdrawn" // the requester's own closure (SignalWithdrawn)
)

// Closure is the payload of SignalRequestClosed.
type Closure struct {
	Action
	Outcome string // OutcomeCompleted or OutcomeRejected
	Reasons []dsar.RejectReason
	Note    string
	By      string
	// NothingToSend completes a request that needs an access package
	// without one, saying why (staff only; the requester is told that no
	// data is sent).
	NothingToSend string `json:",omitempty"`
}

// PackageApproval is the payload of SignalPackageApproved: the reviewer
// approves the access package, without the files they removed (which hold
// other people's data, say); Note says why when they removed any.
type PackageApproval struct {
	Action
	Note           string
	RemovedFileIDs []string
	By             string
}

// PackageState is the request's access package as the workflow knows it:
// ids, size and hash, never content.
type PackageState struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"` // store.PackageReady, ...
	Size       int64      `json:"size"`
	SHA256     string     `json:"sha256"`
	FileIDs    []string   `json:"file_ids"`
	ApprovedBy string     `json:"approved_by,omitempty"`
	ApprovedAt *time.Time `json:"approved_at,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	FailedAt   *time.Time `json:"failed_at,omitempty"` // the last build failed (Status failed): tried again packageRetryEvery later
	Error      string     `json:"error,omitempty"`
}

// Task statuses.
const (
	TaskOpen      = "open"
	TaskCompleted = "completed"
	TaskDeclined  = "declined" // back with the request's handler, who reassigns or settles it
)

// TaskStatuses lists every task status.
var TaskStatuses = []string{TaskOpen, TaskCompleted, TaskDeclined}

// TaskStatusLabel is a task status in words.
func TaskStatusLabel(s string) string {
	switch s {
	case TaskOpen:
		return "Open"
	case TaskCompleted:
		return "Completed"
	case TaskDeclined:
		return "Declined: back with the handler"
	}
	return s
}

// TaskState is one data source's task.
type TaskState struct {
	DataSourceID   string     `json:"data_source_id"`
	Status         string     `json:"status"`
	AssignedAt     time.Time  `json:"assigned_at"`
	AssignedBy     string     `json:"assigned_by,omitempty"`
	LastActivityAt time.Time  `json:"last_activity_at"`
	CompletedAt    *time.Time `json:"completed_at"`
	CompletedBy    string     `json:"completed_by,omitempty"`
	Note           string     `json:"note"`

	Outcome       dsar.TaskOutcome `json:"outcome,omitempty"`
	RecordCount   *int64           `json:"record_count,omitempty"`
	DeclineReason string           `json:"decline_reason,omitempty"`
	AssigneeID    string           `json:"assignee_id,omitempty"`

	// Connectors (versionConnectors): the source's mode when it was
	// assigned, and where the system stands on the task when automated.
	Mode       dsar.SourceMode `json:"mode,omitempty"`
	Automation *Automation     `json:"automation,omitempty"`
}

// Automation is where an automated task stands (store.Automation).
type Automation = store.Automation

// Automated reports whether the system runs the task now: automated, and
// not done or switched to manual.
func (t *TaskState) Automated() bool {
	return t.Automation != nil && t.Automation.State != AutomationDone && t.Automation.State != AutomationManual
}

// TimelineEntry is one thing that happened to the request.
type TimelineEntry = store.TimelineEntry

// State is the whole state of a request, as QueryState returns it.
type State struct {
	RequestID        string              `json:"request_id"`
	Status           dsar.Status         `json:"status"`
	SubmittedAt      time.Time           `json:"submitted_at"`
	Deadline         time.Time           `json:"deadline"`
	OriginalDeadline time.Time           `json:"original_deadline"`
	DeadlineRule     string              `json:"deadline_rule"`
	MaxExtension     dsar.Period         `json:"max_extension"`
	Extended         bool                `json:"extended"`
	ExtensionDays    int                 `json:"extension_days"`
	ExtensionReason  string              `json:"extension_reason,omitempty"`
	Overdue          bool                `json:"overdue"`
	Tasks            []TaskState         `json:"tasks"`
	CloseReasons     []dsar.RejectReason `json:"close_reasons,omitempty"`
	ClosedAt         *time.Time          `json:"closed_at,omitempty"`
	Timeline         []TimelineEntry     `json:"timeline"`

	EmailVerifiedAt   *time.Time `json:"email_verified_at,omitempty"`
	IdentityDecidedAt *time.Time `json:"identity_decided_at,omitempty"`
	IdentityVerified  *bool      `json:"identity_verified,omitempty"`
	ExtendedAt        *time.Time `json:"extended_at,omitempty"`
	CloseNote         string     `json:"close_note,omitempty"`    // staff only: never sent to the requester
	IdentityNote      string     `json:"identity_note,omitempty"` // staff only: the note given with the identity decision
	// ClosingMailFailed: the request is closed but its closing mail could
	// not be delivered; the address is kept (for MailResendWindow) so that
	// staff can send it again.
	ClosingMailFailed bool `json:"closing_mail_failed,omitempty"`

	// Fulfilment (versionFulfilment): the request's type, whether completing
	// it needs an approved access package (an access request), and that
	// package.
	RequestType     dsar.RequestType `json:"request_type,omitempty"`
	PackageRequired bool             `json:"package_required,omitempty"`
	Package         *PackageState    `json:"package,omitempty"`
	NothingToSend   string           `json:"nothing_to_send,omitempty"` // staff only: why an access request completed without a package

	// Appeals (versionAppeals): who decided the request (a staff user id;
	// "" when the requester or the system closed it), until when the
	// requester may appeal (nil: no appeal right, or the answer is not one
	// to appeal), their appeal, and whether their name and email are kept
	// (sealed, under their own key) for it.
	Decision    string       `json:"decision,omitempty"`
	AppealUntil *time.Time   `json:"appeal_until,omitempty"`
	Appeal      *AppealState `json:"appeal,omitempty"`
	ContactKept bool         `json:"contact_kept,omitempty"`

	// LegalHold is the request's legal hold (versionRecords): while on, its
	// erasure at close waits for the lift. Nil: never placed.
	LegalHold *store.LegalHold `json:"legal_hold,omitempty"`

	// Clocks (versionClocks), from the jurisdiction rule in Input.Rule.
	// AcknowledgeBy is when receipt must be confirmed (nil: the rule asks
	// for no confirmation), AcknowledgedAt when it was.
	AcknowledgeBy  *time.Time `json:"acknowledge_by,omitempty"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	// ExtensionNoticeBy: an extension must be noticed by then (nil: any
	// time before the deadline).
	ExtensionNoticeBy *time.Time `json:"extension_notice_by,omitempty"`
	// PauseAllowed: the rule lets staff stop the clock; Paused is the
	// pause under way, Pauses those ended.
	PauseAllowed bool    `json:"pause_allowed,omitempty"`
	Paused       *Pause  `json:"paused,omitempty"`
	Pauses       []Pause `json:"pauses,omitempty"`
	// IdentityNotRequired: the request runs on a track where the law
	// forbids requiring proof of identity; the verified email is enough.
	IdentityNotRequired bool `json:"identity_not_required,omitempty"`
	// OptOutAcceptedAt is when a request on such a track was accepted at
	// submission, without waiting for the email to be confirmed
	// (versionOptOutAccepted); nil for every other request. The email may
	// still be confirmed after it (EmailVerifiedAt), which changes nothing
	// of the request's course.
	OptOutAcceptedAt *time.Time `json:"opt_out_accepted_at,omitempty"`
	// DeadlineWhy says in words why the request is due when it is: the
	// rule, its source, pauses and extension.
	DeadlineWhy string `json:"deadline_why,omitempty"`
}

// acceptedUnconfirmed reports whether the request is an open opt-out
// accepted at submission whose address is not confirmed yet: one whose
// address staff may still correct.
func (s *State) acceptedUnconfirmed() bool {
	return s.OptOutAcceptedAt != nil && s.EmailVerifiedAt == nil && !s.Status.Closed()
}

// Why the clock may stop (ClockPause.Reason): the only two grounds the laws
// that allow a pause name.
const (
	PauseIdentity      = "identity"      // waiting for the information needed to confirm the requester's identity
	PauseClarification = "clarification" // waiting for the requester to clarify what they ask for
)

// PauseReasons lists every reason the clock may stop for.
var PauseReasons = []string{PauseIdentity, PauseClarification}

// PauseReasonWords is a pause reason as the deadline's explanation says it.
func PauseReasonWords(reason string) string {
	switch reason {
	case PauseIdentity:
		return "waiting for identity"
	case PauseClarification:
		return "waiting for clarification"
	}
	return reason
}

// Pause is one stop of the clock. Until and Moved are set when it ends:
// Moved is how far the deadline moved, in days (business days where the
// rule counts them).
type Pause struct {
	Since  time.Time  `json:"since"`
	Until  *time.Time `json:"until,omitempty"`
	Reason string     `json:"reason"`
	By     string     `json:"by,omitempty"`
	Moved  int        `json:"moved,omitempty"`
}

// ClockPause is the payload of SignalClockPaused.
type ClockPause struct {
	Action
	Reason string // PauseIdentity or PauseClarification
	Note   string // staff only, in the timeline
	By     string
}

// ClockResume is the payload of SignalClockResumed.
type ClockResume struct {
	Action
	By string
}

// Task returns the task of a data source, if there is one.
func (s *State) Task(dataSourceID string) (*TaskState, bool) {
	for i := range s.Tasks {
		if s.Tasks[i].DataSourceID == dataSourceID {
			return &s.Tasks[i], true
		}
	}
	return nil, false
}

// OpenTasks counts the tasks not yet completed (open or declined).
func (s *State) OpenTasks() int {
	n := 0
	for _, t := range s.Tasks {
		if t.Status != TaskCompleted {
			n++
		}
	}
	return n
}

// closedActionWords say what a person tried to do, for the refusal of an
// action on a closed request ("cannot withdraw the request: the request is
// completed"). Every action signal has its words (a test checks).
var closedActionWords = map[string]string{
	SignalEmailVerified: "verify the email", SignalIdentityDecided: "decide identity",
	SignalSourcesAssigned: "assign data sources", SignalTaskCompleted: "complete a task",
	SignalDeadlineExtended: "extend the deadline", SignalRequestClosed: "close the request",
	SignalWithdrawn: "withdraw the request", SignalTaskDeclined: "decline the task",
	SignalTaskReassigned: "reassign the task", SignalPackageApproved: "approve the access package",
	SignalOperator: "answer for a step that needs attention", SignalHandlerSet: "set the handler",
	SignalAutomationRetry: "retry the task's automation", SignalAutomationManual: "switch the task to manual",
	SignalAutomationApproval: "decide the dry run",
	SignalClockPaused:        "stop the clock", SignalClockResumed: "restart the clock",
	SignalEmailCorrected: "correct the email address",
}

// Allows reports whether the request in state s accepts the signal with
// payload p, and if not, a *dsar.Error (ECONFLICT, or EINVALID for a bad
// payload) saying why. The API calls it before signalling, to answer 409;
// the workflow calls it again on receipt, since a signal can lose a race.
func (s *State) Allows(signal string, p any) error {
	conflict := func(what string) error {
		return dsar.Errorf(dsar.ECONFLICT, "cannot %s: the request is %s", what, s.Status)
	}
	if signal == SignalLegalHold {
		return s.allowsLegalHold(p) // closed requests too: the hold keeps what is left
	}
	if signal == SignalAppealFiled {
		return s.allowsAppeal(p)
	}
	if signal == SignalMailResent {
		if !s.ClosingMailFailed {
			return dsar.Errorf(dsar.ECONFLICT, "cannot send the closing mail again: it did not fail, or the address is erased (the request is %s)", s.Status)
		}
		return nil
	}
	if s.Status.Closed() {
		what, ok := closedActionWords[signal]
		if !ok {
			what = "act on it"
		}
		return conflict(what)
	}
	switch signal {
	case SignalEmailVerified:
		// An opt-out accepted at submission takes the confirmation once,
		// whatever its status: it records the address as the requester's.
		if s.Status != dsar.StatusPendingEmailVerification && (s.OptOutAcceptedAt == nil || s.EmailVerifiedAt != nil) {
			return conflict("verify the email")
		}
	case SignalIdentityDecided:
		if s.Status != dsar.StatusAwaitingIdentity {
			return conflict("decide identity")
		}
	case SignalSourcesAssigned:
		if s.Status == dsar.StatusPendingEmailVerification || s.Status == dsar.StatusAwaitingIdentity {
			return conflict("assign data sources before identity is verified")
		}
		a, _ := p.(Assignment)
		if len(a.DataSourceIDs) == 0 {
			return dsar.Invalid(map[string]string{"data_source_ids": "name at least one data source"})
		}
	case SignalTaskCompleted:
		c, _ := p.(TaskCompletion)
		t, ok := s.Task(c.DataSourceID)
		if !ok {
			return dsar.Errorf(dsar.ENOTFOUND, "no task for data source %s on this request", c.DataSourceID)
		}
		if t.Status == TaskCompleted {
			return dsar.Errorf(dsar.ECONFLICT, "the task is already completed")
		}
		if t.Automated() {
			return errAutomated(t)
		}
		if c.Outcome != "" && !c.Outcome.Valid() {
			return dsar.Invalid(map[string]string{"outcome": "must be one of " + dsar.TaskOutcomesText()})
		}
		if c.Outcome != "" && s.RequestType != "" && !c.Outcome.Fits(s.RequestType) {
			return dsar.Invalid(map[string]string{"outcome": fmt.Sprintf("a %s request's task ends with one of %s",
				s.RequestType.Label(), dsar.TaskOutcomesText(dsar.TaskOutcomesFor(s.RequestType)...))})
		}
		if c.RecordCount != nil && *c.RecordCount < 0 {
			return dsar.Invalid(map[string]string{"record_count": "must not be negative"})
		}
	case SignalTaskDeclined:
		d, _ := p.(TaskDecline)
		t, ok := s.Task(d.DataSourceID)
		if !ok {
			return dsar.Errorf(dsar.ENOTFOUND, "no task for data source %s on this request", d.DataSourceID)
		}
		if t.Status != TaskOpen {
			return dsar.Errorf(dsar.ECONFLICT, "the task is %s, not open", t.Status)
		}
		if t.Automated() {
			return errAutomated(t)
		}
		if strings.TrimSpace(d.Reason) == "" {
			return dsar.Invalid(map[string]string{"reason": "say why the task is declined"})
		}
	case SignalTaskReassigned:
		ra, _ := p.(TaskReassignment)
		t, ok := s.Task(ra.DataSourceID)
		if !ok {
			return dsar.Errorf(dsar.ENOTFOUND, "no task for data source %s on this request", ra.DataSourceID)
		}
		if t.Status == TaskCompleted {
			return dsar.Errorf(dsar.ECONFLICT, "the task is already completed")
		}
		if ra.UserID == "" {
			return dsar.Invalid(map[string]string{"user_id": "name the person to give the task to"})
		}
	case SignalAutomationRetry, SignalAutomationManual, SignalAutomationApproval:
		return s.allowsAutomation(signal, p)
	case SignalWithdrawn:
		// Any open request can be withdrawn.
	case SignalPackageApproved:
		return s.allowsApproval(p)
	case SignalEmailCorrected:
		// While the address is unconfirmed: the request waits for it, or is
		// an opt-out accepted at submission (versionOptOutCorrection).
		switch {
		case s.Status == dsar.StatusPendingEmailVerification || s.acceptedUnconfirmed():
		case s.EmailVerifiedAt != nil:
			return dsar.Errorf(dsar.ECONFLICT, "cannot correct the email address: it was confirmed (the request is %s)", s.Status)
		default:
			return dsar.Errorf(dsar.ECONFLICT, "cannot correct the email address: the request no longer waits for it to be confirmed (the request is %s)", s.Status)
		}
	case SignalDeadlineExtended:
		e, _ := p.(Extension)
		if s.Status == dsar.StatusPendingEmailVerification {
			return conflict("extend the deadline")
		}
		if e.Days < 1 {
			return dsar.Invalid(map[string]string{"days": "must be at least 1"})
		}
		if e.Reason == "" {
			return dsar.Invalid(map[string]string{"reason": "an extension needs a reason"})
		}
		if by := s.ExtensionNoticeBy; by != nil && !e.At.IsZero() && e.At.After(*by) {
			return dsar.Errorf(dsar.ECONFLICT, "cannot extend the deadline: the rule %s asks for an extension to be noticed by %s, and that date has passed",
				s.DeadlineRule, by.UTC().Format(time.DateOnly))
		}
		limit := s.MaxExtension.AddTo(s.OriginalDeadline)
		if s.Deadline.AddDate(0, 0, e.Days).After(limit) {
			return dsar.Invalid(map[string]string{"days": fmt.Sprintf("the rule %s allows extending up to %s (%s in all)",
				s.DeadlineRule, limit.UTC().Format(time.DateOnly), s.MaxExtension)})
		}
	case SignalRequestClosed:
		c, _ := p.(Closure)
		switch c.Outcome {
		case OutcomeCompleted:
			if s.Status != dsar.StatusReadyToClose {
				if s.Status == dsar.StatusInProgress && s.OpenTasks() > 0 {
					return dsar.Errorf(dsar.ECONFLICT, "cannot complete: %d task(s) are still open (the request is %s)", s.OpenTasks(), s.Status)
				}
				return conflict("complete the request")
			}
			if err := s.allowsCompletion(c); err != nil {
				return err
			}
		case OutcomeRejected:
			if len(c.Reasons) == 0 {
				return dsar.Invalid(map[string]string{"reasons": "name at least one reason"})
			}
			for _, r := range c.Reasons {
				if !r.Valid() {
					return dsar.Invalid(map[string]string{"reasons": fmt.Sprintf("unknown reason %q", r)})
				}
			}
		default:
			return dsar.Invalid(map[string]string{"outcome": "must be completed or rejected"})
		}
	case SignalClockPaused, SignalClockResumed:
		return s.allowsPause(signal, p)
	default:
		return dsar.Errorf(dsar.EINVALID, "unknown signal %q", signal)
	}
	return nil
}

// allowsPause checks a pause or a resumption of the clock against the
// state: only where the rule allows it, once the email is verified, one
// pause at a time, for a reason the law names.
func (s *State) allowsPause(signal string, p any) error {
	if signal == SignalClockResumed {
		if s.Paused == nil {
			return dsar.Errorf(dsar.ECONFLICT, "cannot restart the clock: it is not stopped (the request is %s)", s.Status)
		}
		return nil
	}
	if !s.PauseAllowed {
		return dsar.Errorf(dsar.ECONFLICT, "cannot stop the clock: the rule %s does not allow it (the request is %s)", s.DeadlineRule, s.Status)
	}
	if s.Status == dsar.StatusPendingEmailVerification {
		return dsar.Errorf(dsar.ECONFLICT, "cannot stop the clock: the request is %s", s.Status)
	}
	if s.Paused != nil {
		return dsar.Errorf(dsar.ECONFLICT, "cannot stop the clock: it is stopped since %s (the request is %s)",
			s.Paused.Since.UTC().Format(time.DateOnly), s.Status)
	}
	c, _ := p.(ClockPause)
	if !slices.Contains(PauseReasons, c.Reason) {
		return dsar.Invalid(map[string]string{"reason": "must be one of " + strings.Join(PauseReasons, ", ")})
	}
	return nil
}
