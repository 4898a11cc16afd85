package activities

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// Kinds of mail to the requester; each is a template in mail/templates.
const (
	MailVerification         = "verify_email"
	MailVerificationReminder = "verify_email_reminder"
	MailPortalInvitation     = "portal_invitation"
	MailExtension            = "deadline_extended"
	MailCompleted            = "request_completed"
	MailRejected             = "request_rejected"
)

// RequesterMail asks for one mail to a request's requester. Key is the
// mail's idempotency key, derived by the workflow from its id and the event,
// so a retried activity never delivers twice.
type RequesterMail struct {
	RequestID       string
	Kind            string
	Key             string
	RequestType     dsar.RequestType
	Deadline        time.Time
	ExtensionDays   int
	ExtensionReason string
	Reasons         []dsar.RejectReason
	TokenTTL        time.Duration // the verification link's validity
}

// SendRequesterMail renders and sends one mail to the requester. The
// verification mails carry a new single-use link; a retry makes another
// token but the idempotency key stops a second delivery. Errors: EGONE
// (non-retryable) once the request's PII is erased; permanent mail failures
// are non-retryable.
func (a *Activities) SendRequesterMail(ctx context.Context, m RequesterMail) error {
	pii, err := a.DB.RequestPII(ctx, a.Keys, m.RequestID)
	if err != nil {
		return classify(fmt.Errorf("activities: requester of %s: %w", m.RequestID, err))
	}
	data := a.mailData()
	data["FirstName"] = pii.FirstName
	data["RequestID"] = m.RequestID
	data["RequestType"] = m.RequestType.Label()
	data["Deadline"] = formatDate(m.Deadline)
	data["PortalURL"] = a.link("/portal", nil)
	tmpl := m.Kind
	switch m.Kind {
	case MailVerification, MailVerificationReminder:
		raw, err := a.DB.CreateToken(ctx, store.TokenEmailVerification, m.RequestID, a.Keys.BlindIndex(pii.Email), m.TokenTTL)
		if err != nil {
			return classify(err)
		}
		data["Link"] = a.link("/verify-email", url.Values{"token": {raw}})
		data["Expires"] = formatDate(time.Now().Add(m.TokenTTL))
		data["Reminder"] = m.Kind == MailVerificationReminder
		tmpl = MailVerification
	case MailExtension:
		data["ExtensionDays"] = m.ExtensionDays
		data["ExtensionReason"] = m.ExtensionReason
	case MailCompleted:
	case MailRejected:
		reasons := make([]string, 0, len(m.Reasons))
		for _, r := range m.Reasons {
			if text, ok := dsar.RejectReasons[r]; ok {
				reasons = append(reasons, text)
			}
		}
		data["Reasons"] = reasons
	default:
		return classify(dsar.Errorf(dsar.EINVALID, "unknown requester mail %q", m.Kind))
	}
	return a.send(ctx, tmpl, pii.Email, m.Key, data)
}

// PortalInvitation asks for the portal invitation of a request's requester.
type PortalInvitation struct {
	RequestID string
	Key       string
}

// SendPortalInvitation invites the requester to set a portal password,
// unless a portal account already exists for their email. It reports
// whether a mail went out.
func (a *Activities) SendPortalInvitation(ctx context.Context, in PortalInvitation) (bool, error) {
	pii, err := a.DB.RequestPII(ctx, a.Keys, in.RequestID)
	if err != nil {
		return false, classify(fmt.Errorf("activities: requester of %s: %w", in.RequestID, err))
	}
	hash := a.Keys.BlindIndex(pii.Email)
	exists, err := a.DB.HasPortalAccountFor(ctx, hash)
	if err != nil || exists {
		return false, err
	}
	raw, err := a.DB.CreateToken(ctx, store.TokenPortalInvitation, in.RequestID, hash, a.Config.Intake.TokenExpiry)
	if err != nil {
		return false, classify(err)
	}
	data := a.mailData()
	data["FirstName"] = pii.FirstName
	data["RequestID"] = in.RequestID
	data["Link"] = a.link("/portal/accounts/new", url.Values{"token": {raw}})
	data["Expires"] = formatDate(time.Now().Add(a.Config.Intake.TokenExpiry))
	if err := a.send(ctx, MailPortalInvitation, pii.Email, in.Key, data); err != nil {
		return false, err
	}
	return true, nil
}

// send renders template name for addressee to and sends it with key.
func (a *Activities) send(ctx context.Context, name, to, key string, data map[string]any) error {
	msg, err := a.Templates.Render(name, to, data)
	if err != nil {
		return classify(dsar.Errorf(dsar.EINVALID, "render %s: %v", name, err))
	}
	msg.IdempotencyKey = key
	if err := a.Mailer.Send(ctx, msg); err != nil {
		return classify(fmt.Errorf("activities: send %s: %w", name, err))
	}
	return nil
}

// mailData is the data every mail template starts from.
func (a *Activities) mailData() map[string]any {
	return map[string]any{"Company": a.Config.Company}
}

// link is an absolute link to path on the service's public URL.
func (a *Activities) link(path string, query url.Values) string {
	u := strings.TrimRight(a.Config.PublicURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return u
}

// formatDate is how mails show a date.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2 January 2006")
}
