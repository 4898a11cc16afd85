package activities

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/store"
)

// Kinds of mail to the requester; each is a template in mail/templates.
const (
	MailVerification         = "verify_email"
	MailVerificationReminder = "verify_email_reminder"
	MailPortalInvitation     = "portal_invitation"
	MailExtension            = "deadline_extended"
	MailAcknowledgement      = "acknowledgement" // confirms receipt where the rule asks (CCPA: 10 business days)
	// MailAccepted tells the requester of an opt-out accepted at submission
	// that it was received and is acted on; its link (a verification
	// token) lets them follow it in the portal, and nothing waits for it.
	MailAccepted      = "request_accepted"
	MailCompleted     = "request_completed"
	MailRejected      = "request_rejected"
	MailWithdrawn     = "request_withdrawn"
	MailAppealDecided = "appeal_decided" // the decision on the requester's appeal
	// Sent by the API, not the workflow; recorded in the audit trail the
	// same way.
	MailMessageWaiting = "message_waiting" // a staff message waits in the portal
	MailPortalSignIn   = "portal_sign_in"  // a sign-in link the requester asked for
)

// mailLabels says each kind of requester mail in words, for the request's
// history.
var mailLabels = map[string]string{
	MailVerification:         "verification link",
	MailVerificationReminder: "verification reminder",
	MailPortalInvitation:     "portal invitation",
	MailExtension:            "deadline extension notice",
	MailAcknowledgement:      "acknowledgement of receipt",
	MailAccepted:             "notice that the request is received and acted on",
	MailCompleted:            "completion notice",
	MailRejected:             "rejection notice",
	MailWithdrawn:            "withdrawal confirmation",
	MailAppealDecided:        "appeal decision",
	MailMessageWaiting:       "new message notice",
	MailPortalSignIn:         "portal sign-in link",
}

// MailKinds lists every kind of requester mail.
func MailKinds() []string {
	return []string{MailVerification, MailVerificationReminder, MailPortalInvitation, MailExtension, MailAcknowledgement,
		MailAccepted, MailCompleted, MailRejected, MailWithdrawn, MailMessageWaiting, MailPortalSignIn, MailAppealDecided}
}

// MailLabel is a kind of requester mail in words; an unknown kind is
// itself.
func MailLabel(kind string) string {
	if l, ok := mailLabels[kind]; ok {
		return l
	}
	return kind
}

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
	// Received is when the request was received (the acknowledgement).
	Received time.Time `json:",omitempty"`
	// AddressUnverified: the mail goes to an address not shown to be the
	// requester's (an opt-out accepted at submission, its link not yet
	// opened), so it carries nothing they typed (their name), as the
	// verification mails do not.
	AddressUnverified bool `json:",omitempty"`
	// ExpiresAt is when the verification link expires, set by the workflow
	// so that every attempt shows the same date; zero: TokenTTL from the
	// first attempt.
	ExpiresAt time.Time

	// A completion's answer: the access package published in the portal,
	// nothing sent (an access request with nothing to send), or what each
	// data source did (the other request types).
	Package       *MailPackage  `json:",omitempty"`
	NothingToSend bool          `json:",omitempty"`
	Sources       []PackageTask `json:",omitempty"`

	// AppealUntil, on a closing mail, is until when the requester may
	// appeal (nil: no appeal right). Appeal is the decision on their
	// appeal (MailAppealDecided).
	AppealUntil *time.Time  `json:",omitempty"`
	Appeal      *MailAppeal `json:",omitempty"`

	// Zone is the IANA time zone the mail's dates are written in: the
	// request's rule's, so that a request received at 18:00 on a Friday in
	// California reads as received that Friday. Empty (no rule, or a rule
	// carried before rules had zones): UTC.
	Zone string `json:",omitempty"`
}

// MailAppeal is the decision on an appeal as its mail tells of it. Upheld
// names the authority the requester may complain to; reversed, the
// reopened request's deadline (RequesterMail.Deadline).
type MailAppeal struct {
	Upheld           bool
	Explanation      string
	Authority        string
	AuthorityContact string
}

// MailPackage is the access package as the completion mail tells of it.
type MailPackage struct {
	Size      int64
	ExpiresAt time.Time
}

// SendRequesterMail renders and sends one mail to the requester. The
// verification mails carry a single-use link made from the mail's key: a
// retried attempt sends the same link and body, so the mail provider's
// idempotency answers "already sent", never a failure. Its dates are the
// days in m.Zone. Errors: EGONE
// (non-retryable) once the request's PII is erased; permanent mail failures
// are non-retryable.
func (a *Activities) SendRequesterMail(ctx context.Context, m RequesterMail) error {
	pii, err := a.requesterAddress(ctx, m.RequestID)
	if err != nil {
		return classify(fmt.Errorf("activities: requester of %s: %w", m.RequestID, err))
	}
	l, data, err := a.requesterData(ctx, m.RequestID)
	if err != nil {
		return err
	}
	data["FirstName"] = pii.FirstName
	data["RequestID"] = m.RequestID
	data["Reference"] = dsar.Reference(m.RequestID) // as the console and the portal show it
	data["RequestType"] = RequestTypeIn(l, m.RequestType)
	loc, err := mailZone(m.Zone)
	if err != nil {
		return err
	}
	date := func(t time.Time) string { return locale.DateIn(l, t, loc) }
	data["Deadline"] = date(m.Deadline)
	data["PortalURL"] = a.link("/portal", nil)
	if m.AddressUnverified || m.Kind == MailVerification || m.Kind == MailVerificationReminder || m.Kind == MailAccepted {
		// The address is not yet shown to be the requester's: whoever typed
		// it may not own it, so nothing they typed (their name) goes to it.
		delete(data, "FirstName")
	}
	tmpl := m.Kind
	switch m.Kind {
	case MailVerification, MailVerificationReminder, MailAccepted:
		raw, expires, err := a.linkToken(ctx, store.TokenEmailVerification, m.RequestID, a.Keys.BlindIndex(pii.Email), m.Key,
			m.ExpiresAt, m.TokenTTL)
		if err != nil {
			return err
		}
		data["Link"] = a.link("/verify-email", url.Values{"token": {raw}})
		data["Expires"] = date(expires)
		if m.Kind == MailAccepted {
			data["Received"] = date(m.Received)
			break
		}
		data["Reminder"] = m.Kind == MailVerificationReminder
		tmpl = MailVerification
	case MailExtension:
		data["ExtensionDays"] = m.ExtensionDays
		data["ExtensionReason"] = m.ExtensionReason
	case MailAcknowledgement:
		data["Received"] = date(m.Received)
	case MailCompleted:
		if err := a.completionData(ctx, l, loc, m, data); err != nil {
			return err
		}
	case MailWithdrawn:
	case MailAppealDecided:
		if m.Appeal == nil {
			return classify(dsar.Errorf(dsar.EINVALID, "an appeal decision mail without its decision"))
		}
		data["Upheld"] = m.Appeal.Upheld
		data["Explanation"] = m.Appeal.Explanation
		data["Authority"] = m.Appeal.Authority
		data["AuthorityContact"] = m.Appeal.AuthorityContact
	case MailRejected:
		reasons := make([]string, 0, len(m.Reasons))
		for _, r := range m.Reasons {
			if r.Valid() {
				reasons = append(reasons, RejectReasonIn(l, r))
			}
		}
		data["Reasons"] = reasons
	default:
		return classify(dsar.Errorf(dsar.EINVALID, "unknown requester mail %q", m.Kind))
	}
	if m.AppealUntil != nil && (m.Kind == MailRejected || m.Kind == MailCompleted) {
		data["AppealUntil"] = date(*m.AppealUntil)
	}
	return a.send(ctx, l, tmpl, pii.Email, m.Key, data)
}

// mailZone loads the time zone a requester mail's dates are written in
// ("" is UTC). A zone this worker cannot load is an error the retries may
// outlast (on another worker), never a mail dated in another zone.
func mailZone(name string) (*time.Location, error) {
	loc, err := dsar.LoadZone(name)
	if err != nil {
		return nil, fmt.Errorf("activities: mail dates: %w", err)
	}
	return loc, nil
}

// requesterAddress is the requester's name and address: from the
// request's PII while it is kept, then from the contact details a closed
// request keeps for its appeal. EGONE once both are erased.
func (a *Activities) requesterAddress(ctx context.Context, id string) (store.PII, error) {
	pii, err := a.DB.RequestPII(ctx, a.Keys, id)
	if dsar.ErrorCode(err) != dsar.EGONE {
		return pii, err
	}
	c, cerr := a.DB.RequestContact(ctx, a.Keys, id)
	if cerr != nil {
		return store.PII{}, cerr
	}
	return store.PII{FirstName: c.FirstName, LastName: c.LastName, Email: c.Email}, nil
}

// PortalInvitation asks for the portal invitation of a request's requester.
// ExpiresAt is when its link expires (zero: intake.token_expiry from the
// first attempt).
type PortalInvitation struct {
	RequestID string
	Key       string
	ExpiresAt time.Time
	// Zone is the time zone the link's expiry is written in, as
	// RequesterMail.Zone.
	Zone string `json:",omitempty"`
}

// SendPortalInvitation invites the requester to set a portal password,
// unless a portal account already exists for their email. Like the
// verification mail, every attempt sends the same link and body. It reports
// whether a mail went out.
func (a *Activities) SendPortalInvitation(ctx context.Context, in PortalInvitation) (bool, error) {
	loc, err := mailZone(in.Zone)
	if err != nil {
		return false, err
	}
	pii, err := a.DB.RequestPII(ctx, a.Keys, in.RequestID)
	if err != nil {
		return false, classify(fmt.Errorf("activities: requester of %s: %w", in.RequestID, err))
	}
	hash := a.Keys.BlindIndex(pii.Email)
	exists, err := a.DB.HasPortalAccountFor(ctx, hash)
	if err != nil || exists {
		return false, err
	}
	raw, expires, err := a.linkToken(ctx, store.TokenPortalInvitation, in.RequestID, hash, in.Key, in.ExpiresAt,
		a.Config.Intake.TokenExpiry)
	if err != nil {
		return false, err
	}
	l, data, err := a.requesterData(ctx, in.RequestID)
	if err != nil {
		return false, err
	}
	data["FirstName"] = pii.FirstName
	data["RequestID"] = in.RequestID
	data["Reference"] = dsar.Reference(in.RequestID)
	data["Link"] = a.link("/portal/accounts/new", url.Values{"token": {raw}})
	data["Expires"] = locale.DateIn(l, expires, loc)
	if err := a.send(ctx, l, MailPortalInvitation, pii.Email, in.Key, data); err != nil {
		return false, err
	}
	return true, nil
}

// linkToken is the token of the link in the mail with key, stored for the
// request and email hash: made from the key, so every attempt of the mail
// has the same one, and stored once. It returns the token and its expiry,
// that of the first attempt (expiresAt, or ttl from then when zero).
func (a *Activities) linkToken(ctx context.Context, kind, requestID string, emailHash []byte, key string,
	expiresAt time.Time, ttl time.Duration) (string, time.Time, error) {
	if expiresAt.IsZero() {
		expiresAt = time.Now().Add(ttl)
	}
	raw := a.Keys.KeyedToken(kind + "\x00" + key)
	if key == "" { // a mail without a key is not sent idempotently anyway
		raw = crypto.NewToken()
	}
	expires, err := a.DB.PutToken(ctx, raw, kind, requestID, emailHash, expiresAt)
	if err != nil {
		return "", time.Time{}, classify(err)
	}
	return raw, expires, nil
}

// send renders template name in language l for addressee to and sends it
// with key.
func (a *Activities) send(ctx context.Context, l locale.Lang, name, to, key string, data map[string]any) error {
	msg, err := a.Templates.RenderIn(l, name, to, data)
	if err != nil {
		return classify(dsar.Errorf(dsar.EINVALID, "render %s: %v", name, err))
	}
	msg.IdempotencyKey = key
	if err := a.Mailer.Send(ctx, msg); err != nil {
		return classify(fmt.Errorf("activities: send %s: %w", name, err))
	}
	return nil
}

// mailData is the data every staff mail template starts from.
func (a *Activities) mailData() map[string]any {
	return map[string]any{"Company": a.Config.Company}
}

// requesterData is the data every mail to request id's requester starts
// from, in the language recorded with the request, which it returns.
func (a *Activities) requesterData(ctx context.Context, id string) (locale.Lang, map[string]any, error) {
	rl, err := a.DB.RequestLocaleOf(ctx, id)
	if err != nil {
		return "", nil, classify(err)
	}
	l := rl.Language.Or()
	return l, RequesterMailData(a.Config, l, rl.Jurisdiction), nil
}

// RequesterMailData is the data every mail to a requester starts from, in
// language l, for a request under jurisdiction (a rule id; "" for none):
// Company with the privacy notice and the supervisory authority of that
// language and jurisdiction, Signature (company.texts.<l>.signature) and
// Lang.
func RequesterMailData(cfg *config.Config, l locale.Lang, jurisdiction string) map[string]any {
	co := cfg.Company
	texts := cfg.CompanyText(l)
	auth := cfg.AuthorityOf(jurisdiction, l)
	co.PrivacyURL, co.AuthorityName, co.AuthorityURL = texts.PrivacyURL, auth.Name, auth.URL
	return map[string]any{"Company": co, "Signature": texts.Signature, "Lang": string(l)}
}

// RequestTypeIn is a request type in the requester's words in language l.
func RequestTypeIn(l locale.Lang, t dsar.RequestType) string {
	if id := "reqtype." + string(t); locale.Has(id) {
		return locale.T(l, id)
	}
	return t.Label()
}

// RejectReasonIn is a rejection reason's generic text in language l.
func RejectReasonIn(l locale.Lang, r dsar.RejectReason) string {
	if id := "reason." + string(r); locale.Has(id) {
		return locale.T(l, id)
	}
	return dsar.RejectReasons[r]
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
