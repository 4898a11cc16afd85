package dsar

// Audit actions: what an audit event records, one word for the workflow,
// the API, the store and the pages. Tools read them (API.md), so a value
// never changes once released; add new ones with a label.
const (
	AuditRequestSubmitted      = "request.submitted"
	AuditRequestRecorded       = "request.recorded" // staff recorded a request that arrived another way
	AuditEmailVerified         = "request.email_verified"
	AuditIdentityVerified      = "request.identity_verified"
	AuditIdentityRefused       = "request.identity_refused"
	AuditSourcesAssigned       = "request.data_sources_assigned"
	AuditTaskCompleted         = "task.completed"
	AuditDeadlineExtended      = "request.deadline_extended"
	AuditOverdue               = "request.overdue"
	AuditCompleted             = "request.completed"
	AuditRejected              = "request.rejected"
	AuditExpired               = "request.expired"
	AuditWithdrawn             = "request.withdrawn"
	AuditTaskDeclined          = "task.declined"
	AuditTaskReassigned        = "task.reassigned"
	AuditEmailCorrected        = "request.email_corrected"
	AuditPIIScrubbed           = "request.pii_scrubbed"
	AuditPIIViewed             = "request.pii_viewed"
	AuditDocumentViewed        = "identity_document.viewed"
	AuditSignalIgnored         = "signal.ignored"
	AuditMailSent              = "mail.sent"
	AuditMailFailed            = "mail.failed"
	AuditMessageSent           = "message_sent"
	AuditAttachmentDownloaded  = "message_attachment_downloaded"
	AuditPortalAccountCreated  = "portal_account_created"
	AuditPortalSignedInByLink  = "portal.signed_in_by_link"
	AuditPortalPasswordSet     = "portal.password_set"
	AuditStaffLogin            = "staff.login"
	AuditStaffLoginFailed      = "staff.login_failed"
	AuditStaffLoginFailures    = "staff.login_failures"
	AuditStaffLogout           = "staff.logout"
	AuditStaffMFAEnrolled      = "staff.mfa_enrolled"
	AuditStaffMFAFailed        = "staff.mfa_failed"
	AuditStaffMFARecoveryUsed  = "staff.mfa_recovery_code_used"
	AuditStaffMFAReset         = "staff.mfa_reset"
	AuditStaffPasswordChanged  = "staff.password_changed" // by the user themself
	AuditUserCreated           = "user.created"
	AuditUserUpdated           = "user.updated"
	AuditDataSourceCreated     = "data_source.created"
	AuditDataSourceUpdated     = "data_source.updated"
	AuditDataSourceDeleted     = "data_source.deleted"
	AuditHandlerSet            = "request.handler_set"
	AuditTaskFileUploaded      = "task_file.uploaded"
	AuditTaskFileDownloaded    = "task_file.downloaded"
	AuditPackageBuilt          = "package.built"
	AuditPackageApproved       = "package.approved"
	AuditPackageFileRemoved    = "package.file_removed"
	AuditPackagePublished      = "package.published"
	AuditPackageDownloaded     = "package.downloaded"
	AuditPackageExpired        = "package.expired"
	AuditNothingToSend         = "package.nothing_to_send"
	AuditPackageFailed         = "package.build_failed"
	AuditPayloadsDecoded       = "codec.decoded"                       // staff read Temporal payloads through the codec endpoint
	AuditConnectorTokenCreated = "data_source.connector_token_created" // a new connector token; the old one is void
	AuditConnectorSubjectRead  = "connector.subject_read"              // a source's connector read the subject's email
	AuditConnectorStep         = "connector.step"                      // a step of an automated source ran: counts, file hash, verify result
	AuditAutomationAttention   = "task.automation_attention"           // an automated source's step needs a person
	AuditAutomationNoConnector = "task.automation_no_connector"        // no connector polls an automated source's task queue
	AuditAutomationRetried     = "task.automation_retried"             // staff retried the step that needed attention
	AuditAutomationManual      = "task.automation_manual"              // staff switched an automated task to manual
	AuditAutomationApproval    = "task.automation_approval"            // staff approved or refused a dry run's erasure
	AuditAppealFiled           = "appeal.filed"
	AuditAppealDecided         = "appeal.decided"
	AuditAppealOverdue         = "appeal.overdue"
	AuditContactShredded       = "request.contact_shredded" // the contact details kept for an appeal were destroyed
	AuditRequestReopened       = "request.reopened"         // an appeal reversed the decision
	AuditWebhookSent           = "webhook.sent"             // a job went to a webhook source's endpoint (accepted or not)
	AuditWebhookCallback       = "webhook.callback"         // the source's owner posted a job's result, applied
	AuditWebhookRefused        = "webhook.refused"          // a job's callback was refused (signature, stale, replay, used, expired)
	AuditLegalHoldSet          = "legal_hold.set"
	AuditLegalHoldLifted       = "legal_hold.lifted"
	AuditRetentionSwept        = "retention.swept"               // the retention sweep deleted what outlived its period (counts)
	AuditIdentityNotRequired   = "request.identity_not_required" // the rule forbids requiring proof of identity (opt-out track)
	AuditOptOutAccepted        = "request.accepted_unconfirmed"  // an opt-out accepted at submission, without email confirmation, under its rule
	AuditClockPaused           = "request.clock_paused"          // staff stopped the clock, with a reason code
	AuditClockResumed          = "request.clock_resumed"         // staff restarted the clock; the deadline moved
)

// auditLabels says each audit action in words, for people.
var auditLabels = map[string]string{
	AuditRequestSubmitted:      "Request submitted",
	AuditRequestRecorded:       "Request recorded by staff",
	AuditEmailVerified:         "Email address verified",
	AuditIdentityVerified:      "Identity verified",
	AuditIdentityRefused:       "Identity refused",
	AuditSourcesAssigned:       "Data sources assigned",
	AuditTaskCompleted:         "Task completed",
	AuditDeadlineExtended:      "Deadline extended",
	AuditOverdue:               "Deadline passed",
	AuditCompleted:             "Request completed",
	AuditRejected:              "Request rejected",
	AuditExpired:               "Request expired (email never verified)",
	AuditWithdrawn:             "Request withdrawn by the requester",
	AuditTaskDeclined:          "Task declined",
	AuditTaskReassigned:        "Task reassigned",
	AuditEmailCorrected:        "Email address corrected",
	AuditPIIScrubbed:           "Personal data erased",
	AuditPIIViewed:             "Personal data viewed",
	AuditDocumentViewed:        "Identity document viewed",
	AuditSignalIgnored:         "Action refused",
	AuditMailSent:              "Mail sent to the requester",
	AuditMailFailed:            "Mail to the requester failed",
	AuditMessageSent:           "Message sent",
	AuditAttachmentDownloaded:  "Message attachment downloaded",
	AuditPortalAccountCreated:  "Portal account created",
	AuditPortalSignedInByLink:  "Requester signed in to the portal with an emailed link",
	AuditPortalPasswordSet:     "Requester set a portal password",
	AuditStaffLogin:            "Staff signed in",
	AuditStaffLoginFailed:      "Staff sign-in failed",
	AuditStaffLoginFailures:    "Staff sign-ins failed (counted)",
	AuditStaffLogout:           "Staff signed out",
	AuditStaffMFAEnrolled:      "Staff set up a second factor",
	AuditStaffMFAFailed:        "Staff second factor refused",
	AuditStaffMFARecoveryUsed:  "Staff signed in with a recovery code",
	AuditStaffMFAReset:         "Staff second factor reset",
	AuditStaffPasswordChanged:  "Staff changed their own password",
	AuditUserCreated:           "User created",
	AuditUserUpdated:           "User changed",
	AuditDataSourceCreated:     "Data source created",
	AuditDataSourceUpdated:     "Data source changed",
	AuditDataSourceDeleted:     "Data source deleted",
	AuditHandlerSet:            "Handler set",
	AuditTaskFileUploaded:      "Export file attached to a task",
	AuditTaskFileDownloaded:    "Export file downloaded",
	AuditPackageBuilt:          "Access package built",
	AuditPackageApproved:       "Access package approved",
	AuditPackageFileRemoved:    "File removed from the access package",
	AuditPackagePublished:      "Access package published to the requester",
	AuditPackageDownloaded:     "Access package downloaded",
	AuditPackageExpired:        "Access package expired and erased",
	AuditNothingToSend:         "Completed with nothing to send",
	AuditPackageFailed:         "Access package could not be built",
	AuditPayloadsDecoded:       "Temporal payloads decoded for reading",
	AuditConnectorStep:         "Automated source step done",
	AuditConnectorTokenCreated: "Connector token created",
	AuditConnectorSubjectRead:  "Connector read the subject's email",
	AuditAutomationAttention:   "Automated task needs attention",
	AuditAutomationNoConnector: "Automated task: no connector polls its task queue",
	AuditAutomationRetried:     "Automated task retried",
	AuditAutomationManual:      "Automated task switched to manual",
	AuditAutomationApproval:    "Dry run erasure decided",
	AuditAppealFiled:           "Requester appealed the decision",
	AuditAppealDecided:         "Appeal decided",
	AuditAppealOverdue:         "Appeal deadline passed",
	AuditContactShredded:       "Contact details kept for an appeal destroyed",
	AuditRequestReopened:       "Request reopened after its appeal was reversed",
	AuditWebhookSent:           "Job sent to the data source's webhook",
	AuditWebhookCallback:       "Result of the data source's webhook job received",
	AuditWebhookRefused:        "Webhook callback refused",
	AuditLegalHoldSet:          "Legal hold placed",
	AuditLegalHoldLifted:       "Legal hold lifted",
	AuditRetentionSwept:        "Retention sweep deleted expired data",
	AuditIdentityNotRequired:   "Identity not required (the law forbids asking for proof)",
	AuditOptOutAccepted:        "Accepted without email confirmation (the law forbids requiring a verifiable request for an opt-out)",
	AuditClockPaused:           "Clock stopped",
	AuditClockResumed:          "Clock restarted, deadline moved",
}

// AuditActions lists every audit action.
func AuditActions() []string {
	out := make([]string, 0, len(auditLabels))
	for a := range auditLabels {
		out = append(out, a)
	}
	return out
}

// AuditLabel is an audit action in words; an unknown action is itself.
func AuditLabel(action string) string {
	if l, ok := auditLabels[action]; ok {
		return l
	}
	return action
}

// AuditClosed is the audit action of a request closing in status s.
func AuditClosed(s Status) string {
	switch s {
	case StatusRejected:
		return AuditRejected
	case StatusExpired:
		return AuditExpired
	case StatusWithdrawn:
		return AuditWithdrawn
	}
	return AuditCompleted
}
