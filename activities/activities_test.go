package activities_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/mail"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// fixture is a real database with the activities over it and the dev
// outbox as mailer.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	db     *store.DB
	keys   *crypto.Keyring
	outbox *mail.Outbox
	acts   *activities.Activities
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := testenv.DB(t)
	cfg := testenv.Config(t, "", "", map[string]any{
		"public_url": "https://privacy.example.org", "company.authority_name": "the Example Data Protection Authority",
	})
	keys, err := crypto.NewKeyring(cfg.Crypto.MasterKeyID, cfg.Crypto.MasterKey, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := mail.LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	outbox := mail.NewOutbox(db, cfg.Email.From)
	return &fixture{t: t, ctx: context.Background(), db: db, keys: keys, outbox: outbox,
		acts: &activities.Activities{DB: db, Mailer: outbox, Templates: tmpl, Keys: keys, Config: cfg}}
}

// request inserts an accepted request with sealed PII and an identity
// document, the way intake stores one, and returns its id.
func (f *fixture) request(pii store.PII) string {
	f.t.Helper()
	id := uuid.NewString()
	s, err := store.NewSealedRequest(f.keys, id, pii, []byte("%PDF-1.4 passport"))
	if err != nil {
		f.t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO requests (id, accepted, status, request_type, requestor_type, country, submitted_at, deadline,
			original_deadline, deadline_rule, deadline_rule_name, email_hash, pii)
			VALUES ($1, true, 'pending_email_verification', 'info', 'customer', 'DE', $2, $3, $3, 'gdpr', 'GDPR', $4, $5)`,
			[]any{id, now, now.Add(30 * 24 * time.Hour), s.EmailHash, s.PII}},
		{`INSERT INTO request_keys (request_id, key_id, wrapped_key) VALUES ($1, $2, $3)`, []any{id, s.KeyID, s.WrappedKey}},
		{`INSERT INTO identity_documents (request_id, content_type, size, sealed) VALUES ($1, 'application/pdf', 17, $2)`, []any{id, s.Document}},
	} {
		if _, err := f.db.Exec(q.sql, q.args...); err != nil {
			f.t.Fatal(err)
		}
	}
	return id
}

func (f *fixture) user(email string, role dsar.Role) store.User {
	f.t.Helper()
	u, err := f.db.CreateUser(f.ctx, store.User{Email: email, Name: strings.Split(email, "@")[0], Role: role, PasswordHash: "x"})
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f *fixture) dataSource(name string, owners ...store.User) string {
	f.t.Helper()
	id := uuid.NewString()
	if _, err := f.db.Exec(`INSERT INTO data_sources (id, name) VALUES ($1, $2)`, id, name); err != nil {
		f.t.Fatal(err)
	}
	for _, o := range owners {
		if _, err := f.db.Exec(`INSERT INTO data_source_owners (data_source_id, user_id) VALUES ($1, $2)`, id, o.ID); err != nil {
			f.t.Fatal(err)
		}
	}
	return id
}

func (f *fixture) mails(to string) []mail.OutboxMail {
	f.t.Helper()
	ms, err := f.outbox.List(f.ctx, to, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	return ms
}

// linkToken pulls the token out of the first link to path in body.
func linkToken(t *testing.T, body, path string) string {
	t.Helper()
	i := strings.Index(body, path+"?token=")
	if i < 0 {
		t.Fatalf("no link to %s in:\n%s", path, body)
	}
	end := strings.IndexAny(body[i:], " \n\"")
	if end < 0 {
		end = len(body) - i
	}
	u, err := url.Parse(body[i : i+end])
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

func nonRetryable(err error, errType string) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.NonRetryable() && ae.Type() == errType
}

var alice = store.PII{FirstName: "Alice", LastName: "Liddell", Email: "alice@example.net", Description: "all my data"}

func TestProject(t *testing.T) {
	f := newFixture(t)
	id := f.request(alice)
	// Intake may die between starting the workflow and accepting the row:
	// the first projection accepts it.
	if _, err := f.db.Exec(`UPDATE requests SET accepted = false WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	owner := f.user("dpo@example.com", dsar.RoleAdmin)
	crm := f.dataSource("CRM", owner)
	mailer := f.dataSource("Newsletter")
	now := time.Now().UTC().Truncate(time.Microsecond)
	verified := true
	p := store.Projection{
		RequestID: id, Status: dsar.StatusInProgress, Deadline: now.Add(40 * 24 * time.Hour), Overdue: true,
		ExtendedAt: &now, ExtensionDays: 10, ExtensionReason: "many systems", EmailVerifiedAt: &now,
		IdentityDecidedAt: &now, IdentityVerified: &verified,
		Tasks: []store.ProjectedTask{
			{DataSourceID: crm, Status: "open", AssignedAt: now, AssignedBy: owner.ID, LastActivityAt: now},
			{DataSourceID: mailer, Status: "open", AssignedAt: now, AssignedBy: "not-a-user", LastActivityAt: now},
			{DataSourceID: uuid.NewString(), Status: "open", AssignedAt: now, LastActivityAt: now}, // deleted source: skipped
		},
	}
	if err := f.acts.Project(f.ctx, p); err != nil {
		t.Fatal(err)
	}
	// The same state again, then a task completed: still two tasks, updated.
	if err := f.acts.Project(f.ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Tasks[0].Status, p.Tasks[0].CompletedAt, p.Tasks[0].CompletedBy, p.Tasks[0].Note = "completed", &now, owner.ID, "exported"
	p.Status, p.ClosedAt, p.CloseReasons, p.CloseNote = dsar.StatusRejected, &now, []string{"excessive"}, "third time"
	if err := f.acts.Project(f.ctx, p); err != nil {
		t.Fatal(err)
	}
	var row struct {
		Status    string     `db:"status"`
		Overdue   bool       `db:"overdue"`
		Days      int        `db:"extension_days"`
		Reason    string     `db:"extension_reason"`
		Verified  *bool      `db:"identity_verified"`
		ClosedAt  *time.Time `db:"closed_at"`
		Reasons   string     `db:"close_reasons"`
		CloseNote string     `db:"close_note"`
		Deadline  time.Time  `db:"deadline"`
		Accepted  bool       `db:"accepted"`
	}
	if err := f.db.Get(&row, `SELECT accepted, status, overdue, extension_days, extension_reason, identity_verified, closed_at,
		close_reasons::text, close_note, deadline FROM requests WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if row.Status != "rejected" || !row.Overdue || row.Days != 10 || row.Reason != "many systems" || row.Verified == nil || !*row.Verified ||
		row.ClosedAt == nil || row.Reasons != "{excessive}" || row.CloseNote != "third time" || !row.Deadline.Equal(p.Deadline) || !row.Accepted {
		t.Errorf("request row: %+v", row)
	}
	var tasks []struct {
		Source      string  `db:"data_source_id"`
		Status      string  `db:"status"`
		AssignedBy  *string `db:"assigned_by"`
		CompletedBy *string `db:"completed_by"`
		Note        string  `db:"note"`
	}
	if err := f.db.Select(&tasks, `SELECT data_source_id, status, assigned_by, completed_by, note FROM tasks WHERE request_id = $1 ORDER BY data_source_id = $2 DESC`, id, crm); err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 || tasks[0].Status != "completed" || tasks[0].Note != "exported" || tasks[0].CompletedBy == nil || *tasks[0].CompletedBy != owner.ID ||
		tasks[1].Status != "open" || tasks[1].AssignedBy != nil {
		t.Errorf("tasks: %+v", tasks)
	}
	if err := f.acts.Project(f.ctx, store.Projection{RequestID: uuid.NewString(), Status: dsar.StatusInProgress}); !nonRetryable(err, activities.ErrTypeNotFound) {
		t.Errorf("projecting an unknown request: %v, want a non-retryable not-found", err)
	}
}

func TestVerificationMail(t *testing.T) {
	f := newFixture(t)
	id := f.request(alice)
	m := activities.RequesterMail{RequestID: id, Kind: activities.MailVerification, Key: "dsar-" + id + ":verification",
		RequestType: dsar.RequestInfo, TokenTTL: 7 * 24 * time.Hour}
	for range 2 { // a retried activity: one delivery
		if err := f.acts.SendRequesterMail(f.ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	ms := f.mails(alice.Email)
	if len(ms) != 1 {
		t.Fatalf("%d mails, want 1", len(ms))
	}
	if !strings.Contains(ms[0].Text, "Hello,") || strings.Contains(ms[0].Text, "Alice") || !strings.Contains(ms[0].Subject, "confirm your email") {
		t.Errorf("mail: %s\n%s", ms[0].Subject, ms[0].Text)
	}
	tok := linkToken(t, ms[0].Text, "https://privacy.example.org/verify-email")
	got, err := f.db.PeekToken(f.ctx, tok, store.TokenEmailVerification)
	if err != nil || got.RequestID == nil || *got.RequestID != id {
		t.Errorf("the link's token: %+v, %v", got, err)
	}
	m.Kind, m.Key = activities.MailVerificationReminder, "dsar-"+id+":verification-reminder"
	if err := f.acts.SendRequesterMail(f.ctx, m); err != nil {
		t.Fatal(err)
	}
	if ms := f.mails(alice.Email); len(ms) != 2 || !strings.HasPrefix(ms[0].Subject, "Reminder") {
		t.Errorf("reminder: %d mails, newest %q", len(ms), ms[0].Subject)
	}
}

// sentMail records every message a retried step hands to the mailer.
type sentMail struct{ msgs []mail.Message }

func (s *sentMail) Send(_ context.Context, m mail.Message) error {
	s.msgs = append(s.msgs, m)
	return nil
}

func TestRetriedMailsSendTheSameLinkAndBody(t *testing.T) {
	f := newFixture(t)
	sent := &sentMail{}
	f.acts.Mailer = sent
	id := f.request(alice)
	expires := time.Date(2027, 3, 9, 12, 0, 0, 0, time.UTC)
	verification := activities.RequesterMail{RequestID: id, Kind: activities.MailVerification, Key: "dsar-" + id + ":verification",
		RequestType: dsar.RequestInfo, TokenTTL: 7 * 24 * time.Hour, ExpiresAt: expires}
	invitation := activities.PortalInvitation{RequestID: id, Key: "dsar-" + id + ":portal-invitation"} // no ExpiresAt: the first attempt's
	for range 2 {
		if err := f.acts.SendRequesterMail(f.ctx, verification); err != nil {
			t.Fatal(err)
		}
		if ok, err := f.acts.SendPortalInvitation(f.ctx, invitation); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if len(sent.msgs) != 4 {
		t.Fatalf("%d attempts, want 4", len(sent.msgs))
	}
	for i, path := range []string{"https://privacy.example.org/verify-email", "https://privacy.example.org/portal/accounts/new"} {
		first, retry := sent.msgs[i], sent.msgs[i+2]
		if first != retry {
			t.Errorf("a retry sent another mail:\n%+v\n%+v", first, retry)
		}
		if _, err := f.db.PeekToken(f.ctx, linkToken(t, first.Text, path), store.TokenEmailVerification, store.TokenPortalInvitation); err != nil {
			t.Errorf("the link of %s: %v", path, err)
		}
	}
	if !strings.Contains(sent.msgs[0].Text, "9 March 2027") {
		t.Errorf("the verification mail does not show its expiry:\n%s", sent.msgs[0].Text)
	}
	var tokens int
	_ = f.db.Get(&tokens, `SELECT count(*) FROM tokens WHERE request_id = $1`, id)
	if tokens != 2 {
		t.Errorf("%d tokens stored, want one per mail", tokens)
	}
	// Another mail (the reminder) has a link of its own.
	verification.Kind, verification.Key = activities.MailVerificationReminder, "dsar-"+id+":verification-reminder"
	if err := f.acts.SendRequesterMail(f.ctx, verification); err != nil {
		t.Fatal(err)
	}
	if reminder := sent.msgs[4]; linkToken(t, reminder.Text, "https://privacy.example.org/verify-email") ==
		linkToken(t, sent.msgs[0].Text, "https://privacy.example.org/verify-email") {
		t.Error("the reminder has the first mail's link")
	}
}

func TestClosingMailsAndScrub(t *testing.T) {
	f := newFixture(t)
	id := f.request(alice)
	rej := activities.RequesterMail{RequestID: id, Kind: activities.MailRejected, Key: "dsar-" + id + ":rejected",
		RequestType: dsar.RequestDeletion, Reasons: []dsar.RejectReason{dsar.RejectExcessive, dsar.RejectLegalExemption}}
	if err := f.acts.SendRequesterMail(f.ctx, rej); err != nil {
		t.Fatal(err)
	}
	ms := f.mails(alice.Email)
	if len(ms) != 1 {
		t.Fatalf("%d mails", len(ms))
	}
	for _, want := range []string{dsar.RejectReasons[dsar.RejectExcessive], dsar.RejectReasons[dsar.RejectLegalExemption],
		"the Example Data Protection Authority", "https://privacy.example.org/portal"} {
		if !strings.Contains(ms[0].Text, want) || !strings.Contains(ms[0].HTML, want) {
			t.Errorf("rejection mail lacks %q:\n%s", want, ms[0].Text)
		}
	}

	if err := f.acts.DeleteIdentityDocument(f.ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.RequestIdentityDocument(f.ctx, f.keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("identity document after delete: %v", err)
	}
	if err := f.acts.ScrubRequest(f.ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.RequestPII(f.ctx, f.keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("PII after scrub: %v", err)
	}
	done := activities.RequesterMail{RequestID: id, Kind: activities.MailCompleted, Key: "dsar-" + id + ":completed"}
	if err := f.acts.SendRequesterMail(f.ctx, done); !nonRetryable(err, activities.ErrTypeGone) {
		t.Errorf("mail after scrub: %v, want a non-retryable gone", err)
	}
}

func TestPermanentMailFailureIsNotRetried(t *testing.T) {
	f := newFixture(t)
	id := f.request(store.PII{FirstName: "No", Email: ""}) // the outbox refuses a mail without an address
	err := f.acts.SendRequesterMail(f.ctx, activities.RequesterMail{RequestID: id, Kind: activities.MailCompleted, Key: "k"})
	if !nonRetryable(err, activities.ErrTypeMailPermanent) {
		t.Errorf("got %v, want a non-retryable permanent mail failure", err)
	}
}

func TestPortalInvitation(t *testing.T) {
	f := newFixture(t)
	id := f.request(alice)
	sent, err := f.acts.SendPortalInvitation(f.ctx, activities.PortalInvitation{RequestID: id, Key: "dsar-" + id + ":portal-invitation"})
	if err != nil || !sent {
		t.Fatalf("sent %v, %v", sent, err)
	}
	ms := f.mails(alice.Email)
	if len(ms) != 1 {
		t.Fatalf("%d mails", len(ms))
	}
	tok := linkToken(t, ms[0].Text, "https://privacy.example.org/portal/accounts/new")
	if _, err := f.db.PeekToken(f.ctx, tok, store.TokenPortalInvitation); err != nil {
		t.Errorf("invitation token: %v", err)
	}
	// Once the requester has an account, a new request does not invite again.
	if _, err := f.db.Exec(`INSERT INTO portal_accounts (id, email_hash, password_hash) VALUES ($1, $2, 'x')`,
		uuid.NewString(), f.keys.BlindIndex(alice.Email)); err != nil {
		t.Fatal(err)
	}
	second := f.request(alice)
	sent, err = f.acts.SendPortalInvitation(f.ctx, activities.PortalInvitation{RequestID: second, Key: "dsar-" + second + ":portal-invitation"})
	if err != nil || sent {
		t.Errorf("with an account: sent %v, %v", sent, err)
	}
	if n := len(f.mails(alice.Email)); n != 1 {
		t.Errorf("%d mails, want still 1", n)
	}
}

func TestAlertsAndDigest(t *testing.T) {
	f := newFixture(t)
	id := f.request(alice)
	boss := f.user("boss@example.com", dsar.RoleOrgOwner)
	f.user("co-owner@example.com", dsar.RoleOrgOwner)
	gone := f.user("gone@example.com", dsar.RoleOrgOwner)
	if _, err := f.db.Exec(`UPDATE users SET disabled_at = now() WHERE id = $1`, gone.ID); err != nil {
		t.Fatal(err)
	}
	crmOwner := f.user("crm@example.com", dsar.RoleSourceOwner)
	crm := f.dataSource("Salesforce CRM", crmOwner, boss)
	deadline := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

	n, err := f.acts.RecordAlerts(f.ctx, activities.AlertRequest{RequestID: id, Kind: store.AlertNewRequest, Key: "unassigned-0", OrgOwners: true, Deadline: deadline})
	if err != nil || n != 2 {
		t.Fatalf("new request alerts: %d, %v; want 2 (the active org owners)", n, err)
	}
	if n, _ := f.acts.RecordAlerts(f.ctx, activities.AlertRequest{RequestID: id, Kind: store.AlertNewRequest, Key: "unassigned-0", OrgOwners: true}); n != 0 {
		t.Errorf("recording the same event again added %d alerts", n)
	}
	n, err = f.acts.RecordAlerts(f.ctx, activities.AlertRequest{RequestID: id, Kind: store.AlertOverdue, Key: "overdue-1-0",
		OrgOwners: true, DataSourceIDs: []string{crm}, Deadline: deadline})
	if err != nil || n != 3 {
		t.Fatalf("overdue alerts: %d, %v; want one each for 2 org owners and the crm owner", n, err)
	}
	if len(f.mails("")) != 0 {
		t.Fatal("digest mode sent mail before the digest")
	}

	sent, err := f.acts.SendAlertDigest(f.ctx)
	if err != nil || sent != 3 {
		t.Fatalf("digest sent %d mails, %v; want 3", sent, err)
	}
	bossMail := f.mails(boss.Email)
	if len(bossMail) != 1 {
		t.Fatalf("boss got %d mails, want one digest", len(bossMail))
	}
	for _, want := range []string{"2 privacy request alert", store.AlertLabel(store.AlertNewRequest), store.AlertLabel(store.AlertOverdue),
		"https://privacy.example.org/console/requests/" + id, "Salesforce CRM", "1 April 2026"} {
		if !strings.Contains(bossMail[0].Subject+bossMail[0].Text, want) {
			t.Errorf("digest lacks %q:\n%s\n%s", want, bossMail[0].Subject, bossMail[0].Text)
		}
	}
	if strings.Contains(bossMail[0].Text, alice.Email) || strings.Contains(bossMail[0].Text, "Alice") {
		t.Error("the digest names the requester")
	}
	if len(f.mails(gone.Email)) != 0 {
		t.Error("a disabled user got alerts")
	}
	if sent, err := f.acts.SendAlertDigest(f.ctx); err != nil || sent != 0 {
		t.Errorf("second digest sent %d, %v; want nothing left", sent, err)
	}
	alerts, err := f.db.RequestAlerts(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, al := range alerts {
		if al.SentAt == nil {
			t.Errorf("alert %d %s not marked sent", al.ID, al.Kind)
		}
	}
}

func TestImmediateAlerts(t *testing.T) {
	f := newFixture(t)
	id := f.request(alice)
	owner := f.user("crm@example.com", dsar.RoleSourceOwner)
	crm := f.dataSource("CRM", owner)
	n, err := f.acts.RecordAlerts(f.ctx, activities.AlertRequest{RequestID: id, Kind: store.AlertTaskAssigned, Key: "assigned-1",
		DataSourceIDs: []string{crm}, Immediate: true})
	if err != nil || n != 1 {
		t.Fatalf("%d, %v", n, err)
	}
	ms := f.mails(owner.Email)
	if len(ms) != 1 || !strings.Contains(ms[0].Text, store.AlertLabel(store.AlertTaskAssigned)) {
		t.Fatalf("immediate alert mail: %+v", ms)
	}
	if sent, _ := f.acts.SendAlertDigest(f.ctx); sent != 0 {
		t.Errorf("the digest sent %d mails for an alert already sent", sent)
	}
}

func TestAudit(t *testing.T) {
	f := newFixture(t)
	id := f.request(alice)
	if err := f.acts.Audit(f.ctx, store.Audit{RequestID: id, ActorKind: store.ActorSystem, Action: "request.overdue"}); err != nil {
		t.Fatal(err)
	}
	evs, err := f.db.RequestAudit(f.ctx, id)
	if err != nil || len(evs) != 1 || evs[0].Action != "request.overdue" {
		t.Fatalf("audit: %+v, %v", evs, err)
	}
	if _, brk, err := f.db.VerifyAudit(f.ctx); err != nil || brk != nil {
		t.Errorf("chain: %v %v", brk, err)
	}
}

func TestDigestGoesOnPastABadAddress(t *testing.T) {
	f := newFixture(t)
	id := f.request(alice)
	f.user("@broken", dsar.RoleOrgOwner)
	if _, err := f.db.Exec(`UPDATE users SET email = '' WHERE email = '@broken'`); err != nil { // the outbox refuses it for good
		t.Fatal(err)
	}
	good := f.user("good@example.com", dsar.RoleOrgOwner)
	if _, err := f.acts.RecordAlerts(f.ctx, activities.AlertRequest{RequestID: id, Kind: store.AlertNewRequest, Key: "unassigned-0", OrgOwners: true}); err != nil {
		t.Fatal(err)
	}
	sent, err := f.acts.SendAlertDigest(f.ctx)
	if err != nil || sent != 1 || len(f.mails(good.Email)) != 1 {
		t.Errorf("digest sent %d, %v; want the good address served", sent, err)
	}
}

// TestEveryMailKindHasALabel: each kind of requester mail is named in
// words in the request's history, and each has its templates.
func TestEveryMailKindHasALabel(t *testing.T) {
	tmpl, err := mail.LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range activities.MailKinds() {
		if l := activities.MailLabel(k); l == k || l == "" {
			t.Errorf("mail kind %q has no label", k)
		}
		name := k
		if k == activities.MailVerificationReminder {
			name = activities.MailVerification // one template, with a reminder line
		}
		if _, err := tmpl.Render(name, "someone@example.org", map[string]any{}); err != nil && strings.Contains(err.Error(), "no template") {
			t.Errorf("mail kind %q has no template: %v", k, err)
		}
	}
}

// TestMailDatesInTheRequestsZone: a California opt-out received at 18:00
// on Friday 11 December 2026, Pacific time (02:00 UTC on Saturday), is
// told in every language that it was received on the 11th and is due on
// 5 January, the Pacific dates its deadline was counted in; the same mail
// without a zone (no rule, or one from before rules had zones) keeps the
// UTC dates, the 12th and 6 January. Every date of the mail is the zone's:
// the link's expiry, the package's, the appeal's.
func TestMailDatesInTheRequestsZone(t *testing.T) {
	f := newFixture(t)
	sent := &sentMail{}
	f.acts.Mailer = sent
	received := time.Date(2026, 12, 12, 2, 0, 0, 0, time.UTC) // Friday 18:00 Pacific
	due := time.Date(2027, 1, 6, 2, 0, 0, 0, time.UTC)        // 15 business days on: Tuesday 5 January, 18:00 Pacific
	for _, c := range []struct {
		lang          string
		zone          string
		received, due string
	}{
		{"en", "America/Los_Angeles", "11 December 2026", "5 January 2027"},
		{"de", "America/Los_Angeles", "11. Dezember 2026", "5. Januar 2027"},
		{"fr", "America/Los_Angeles", "11 décembre 2026", "5 janvier 2027"},
		{"es", "America/Los_Angeles", "11 de diciembre de 2026", "5 de enero de 2027"},
		{"en", "", "12 December 2026", "6 January 2027"},
		{"de", "", "12. Dezember 2026", "6. Januar 2027"},
	} {
		id := f.request(alice)
		if _, err := f.db.Exec(`UPDATE requests SET language = $2, deadline_rule = 'us_ccpa' WHERE id = $1`, id, c.lang); err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{activities.MailAcknowledgement, activities.MailAccepted} {
			sent.msgs = nil
			if err := f.acts.SendRequesterMail(f.ctx, activities.RequesterMail{RequestID: id, Kind: kind, Key: id + ":" + kind,
				RequestType: dsar.RequestOptOut, Deadline: due, Received: received, ExpiresAt: due, Zone: c.zone}); err != nil {
				t.Fatalf("%s %s: %v", c.lang, kind, err)
			}
			if len(sent.msgs) != 1 {
				t.Fatalf("%s %s: %d mails", c.lang, kind, len(sent.msgs))
			}
			m := sent.msgs[0]
			for _, want := range []string{c.received, c.due} {
				if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
					t.Errorf("the %s %s mail in zone %q does not say %q:\n%s", c.lang, kind, c.zone, want, m.Text)
				}
			}
			if c.lang == "en" && (!strings.Contains(m.Text, "on "+c.received+".") || !strings.Contains(m.Text, "by "+c.due+" at the latest")) {
				t.Errorf("the %s mail in zone %q:\n%s", kind, c.zone, m.Text)
			}
		}
	}

	// The closing mail's dates: the package's expiry and the appeal's end.
	id := f.request(alice)
	sent.msgs = nil
	until := time.Date(2027, 3, 1, 3, 0, 0, 0, time.UTC) // 28 February, 19:00 Pacific
	if err := f.acts.SendRequesterMail(f.ctx, activities.RequesterMail{RequestID: id, Kind: activities.MailCompleted, Key: id + ":completed",
		RequestType: dsar.RequestInfo, Package: &activities.MailPackage{Size: 2048, ExpiresAt: until}, AppealUntil: &until,
		Zone: "America/Los_Angeles"}); err != nil {
		t.Fatal(err)
	}
	if m := sent.msgs[0]; !strings.Contains(m.Text, "available until 28 February 2027") || !strings.Contains(m.Text, "appeal our decision until 28 February 2027") {
		t.Errorf("the completion mail's dates are not Pacific:\n%s", m.Text)
	}
	// The portal invitation's link expiry.
	sent.msgs = nil
	if _, err := f.acts.SendPortalInvitation(f.ctx, activities.PortalInvitation{RequestID: id, Key: id + ":invite", ExpiresAt: received,
		Zone: "America/Los_Angeles"}); err != nil {
		t.Fatal(err)
	}
	if m := sent.msgs[0]; !strings.Contains(m.Text, "11 December 2026") {
		t.Errorf("the invitation's expiry is not Pacific:\n%s", m.Text)
	}
}
