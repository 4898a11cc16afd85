package workflows

// Timeline events.
const (
	EventSubmitted           = "submitted"
	EventVerificationSent    = "verification_email_sent"
	EventVerificationRemind  = "verification_reminder_sent"
	EventEmailVerified       = "email_verified"
	EventPortalInvited       = "portal_invitation_sent"
	EventIdentityVerified    = "identity_verified"
	EventIdentityRefused     = "identity_refused"
	EventSourcesAssigned     = "data_sources_assigned"
	EventTaskCompleted       = "task_completed"
	EventDeadlineExtended    = "deadline_extended"
	EventDeadlineWarning     = "deadline_warning"
	EventOverdue             = "overdue"
	EventUnassignedReminder  = "unassigned_reminder"
	EventTaskStalled         = "task_stalled"
	EventCompleted           = "completed"
	EventRejected            = "rejected"
	EventExpired             = "expired"
	EventPIIScrubbed         = "pii_scrubbed"
	EventSignalIgnored       = "signal_ignored"
	EventRequesterMailFailed = "requester_mail_failed"
	EventAttentionResolved   = "attention_resolved" // a step that needed an operator has succeeded
	EventWithdrawn           = "withdrawn"
	EventTaskDeclined        = "task_declined"
	EventTaskReassigned      = "task_reassigned"
	EventEmailCorrected      = "email_corrected"
	EventMailResent          = "closing_mail_resent"
	EventMailNotResent       = "closing_mail_given_up"
	EventPackageBuilt        = "package_built"
	EventPackageDiscarded    = "package_discarded"
	EventPackageApproved     = "package_approved"
	EventPackagePublished    = "package_published"
	EventPackageExpired      = "package_expired"
	EventNothingToSend       = "nothing_to_send"
	EventPackageFailed       = "package_failed"
	EventAppealFiled         = "appeal_filed"
	EventAppealDecided       = "appeal_decided"
	EventReopened            = "reopened"
	EventContactShredded     = "contact_shredded"
	EventSourceAttention     = "source_needs_attention"  // an automated source's step needs a person
	EventSourceApproval      = "source_waiting_approval" // a dry run waits for the erasure's approval
	EventSourceApproved      = "source_erasure_approved"
	EventSourceResumed       = "source_resumed"      // the step that needed attention runs again
	EventSourceRetrying      = "source_retrying"     // a step keeps failing for a reason a retry can fix
	EventSourceNoConnector   = "source_no_connector" // no connector polls the source's task queue
	EventSourceRetried       = "source_retried"
	EventSourceManual        = "source_switched_to_manual"
	EventLegalHoldSet        = "legal_hold_set"
	EventLegalHoldLifted     = "legal_hold_lifted"
	EventErasureHeld         = "erasure_held" // the erasure at close waits for a legal hold's lift
	EventAcknowledged        = "acknowledgement_sent"
	EventAcknowledgeDue      = "acknowledgement_due"
	EventIdentityNotRequired = "identity_not_required"
	EventOptOutAccepted      = "accepted_without_email_confirmation"  // an opt-out taken at submission (versionOptOutAccepted)
	EventAcceptedResent      = "acceptance_sent_to_corrected_address" // its address corrected (versionOptOutCorrection)
	EventClockPaused         = "clock_paused"
	EventClockResumed        = "clock_resumed"
)

// eventLabels says each timeline event in words, for the pages.
var eventLabels = map[string]string{
	EventSubmitted:           "Request submitted",
	EventVerificationSent:    "Verification email sent",
	EventVerificationRemind:  "Verification reminder sent",
	EventEmailVerified:       "Email address verified",
	EventPortalInvited:       "Portal invitation sent",
	EventIdentityVerified:    "Identity verified",
	EventIdentityRefused:     "Identity refused",
	EventSourcesAssigned:     "Data source assigned",
	EventTaskCompleted:       "Task completed",
	EventDeadlineExtended:    "Deadline extended",
	EventDeadlineWarning:     "Deadline warning sent",
	EventOverdue:             "Deadline passed",
	EventUnassignedReminder:  "Reminder: no data sources assigned",
	EventTaskStalled:         "Reminder: task not moving",
	EventCompleted:           "Request completed",
	EventRejected:            "Request rejected",
	EventExpired:             "Request expired",
	EventPIIScrubbed:         "Personal data erased",
	EventSignalIgnored:       "Action refused",
	EventRequesterMailFailed: "Mail to the requester failed",
	EventAttentionResolved:   "Stuck step resolved",
	EventWithdrawn:           "Request withdrawn by the requester",
	EventTaskDeclined:        "Task declined",
	EventTaskReassigned:      "Task reassigned",
	EventEmailCorrected:      "Email address corrected, new verification link sent",
	EventMailResent:          "Closing mail sent again",
	EventMailNotResent:       "Closing mail not delivered; the address is erased",
	EventPackageBuilt:        "Access package built, ready for review",
	EventPackageDiscarded:    "Access package discarded",
	EventPackageApproved:     "Access package approved",
	EventPackagePublished:    "Access package available to the requester",
	EventPackageExpired:      "Access package expired and erased",
	EventNothingToSend:       "Completed with nothing to send",
	EventPackageFailed:       "Access package could not be built; tried again every hour",
	EventAppealFiled:         "The requester appealed the decision",
	EventAppealDecided:       "Appeal decided",
	EventReopened:            "Request reopened: the appeal reversed the decision",
	EventContactShredded:     "Contact details kept for an appeal destroyed",
	EventSourceAttention:     "Automated data source needs attention",
	EventSourceApproval:      "Dry run: the erasure waits for approval",
	EventSourceApproved:      "Dry run's erasure approved",
	EventSourceResumed:       "Automated data source running again",
	EventSourceRetrying:      "Automated data source failing: the system retries",
	EventSourceNoConnector:   "Automated data source: no connector polls its task queue",
	EventSourceRetried:       "Automated data source retried",
	EventSourceManual:        "Automated task switched to manual",
	EventLegalHoldSet:        "Legal hold placed",
	EventLegalHoldLifted:     "Legal hold lifted",
	EventErasureHeld:         "Erasure waits: a legal hold is on",
	EventAcknowledged:        "Acknowledgement of receipt sent to the requester",
	EventAcknowledgeDue:      "Acknowledgement deadline reached without a confirmation of receipt",
	EventIdentityNotRequired: "Identity not required: the law forbids asking for proof for this request",
	EventOptOutAccepted:      "Accepted without email confirmation: the law forbids requiring a verifiable request for an opt-out",
	EventAcceptedResent:      "Notice that the request is acted on sent to the corrected address",
	EventClockPaused:         "Clock stopped",
	EventClockResumed:        "Clock restarted",
}

// EventLabel is a timeline event in words; an unknown event is itself.
func EventLabel(event string) string {
	if l, ok := eventLabels[event]; ok {
		return l
	}
	return event
}
