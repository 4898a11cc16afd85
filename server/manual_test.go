package server

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/workflows"
)

// manualForm is a valid body of POST /api/v1/requests/manual, received
// three days ago (a date), changed by the fields of with.
func manualForm(email string, with map[string]any) map[string]any {
	b := map[string]any{
		"first_name": "Grace", "last_name": "Hopper", "email": email, "country": "DE",
		"requestor_type": "customer", "request_type": "info", "description": "She asked on the phone which data we hold.",
		"channel": "phone", "received_at": time.Now().UTC().AddDate(0, 0, -3).Format(time.DateOnly),
	}
	for k, v := range with {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return b
}

// count is the number of rows a query counts.
func (e *staffEnv) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.GetContext(e.ctx, &n, q, args...); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestManualRequest: a manager records a request received by phone three
// days ago. It is answered 201; its deadline counts from the day it was
// received, as the form's rule gives it for the same country; its channel
// shows; the workflow is told who recorded it and how identity was checked,
// and starts the request identity-verified with the note (no link to
// click; a portal invitation instead); the recording is audited
// once. The same Idempotency-Key again gives the same request and records
// nothing more.
func TestManualRequest(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	manager, managerTok := e.user(dsar.RoleManager)
	const email = "grace@example.org"
	body := manualForm(email, map[string]any{"identity_checked": true, "identity_note": "called back on the number in our CRM", "language": "de"})

	first := e.want(e.doKeyed("POST", "/api/v1/requests/manual", managerTok, "phone-call-1", body), http.StatusCreated, "record").JSON(t)
	id, _ := first["id"].(string)
	if id == "" || first["status"] != string(dsar.StatusPendingEmailVerification) {
		t.Fatalf("answer = %v, want {id, status: pending_email_verification}", first)
	}
	t.Cleanup(func() { _ = e.temporal.TerminateWorkflow(e.ctx, workflows.WorkflowID(id), "", "test over") })
	again := e.want(e.doKeyed("POST", "/api/v1/requests/manual", managerTok, "phone-call-1", body), http.StatusCreated, "record again").JSON(t)
	if again["id"] != id {
		t.Fatalf("the same Idempotency-Key recorded %v, then %v", id, again["id"])
	}
	if n := e.count(`SELECT count(*) FROM requests`); n != 1 {
		t.Fatalf("%d requests stored, want 1", n)
	}

	// The deadline counts from the day received, as the form counts it from
	// submission for the same country.
	received, _ := time.Parse(time.DateOnly, body["received_at"].(string))
	d := e.want(e.do("GET", "/api/v1/requests/"+id, managerTok, nil), http.StatusOK, "detail").JSON(t)
	if d["language"] != "de" || d["language_name"] != "Deutsch" {
		t.Errorf("the request writes in %v (%v), want de (Deutsch), as recorded", d["language"], d["language_name"])
	}
	formDeadline, ruleID, _, _, _ := e.server.deadline("DE", "", dsar.RequestInfo, received)
	rule, _ := e.cfg.Jurisdictions.Match("DE", "")
	if got := mustTime(t, d["deadline"]); !got.Equal(formDeadline) || !got.Equal(rule.Period.AddTo(received)) {
		t.Errorf("deadline %v, want %v (%s from %v)", got, formDeadline, rule.Period, received)
	}
	if got := mustTime(t, d["submitted_at"]); !got.Equal(received) {
		t.Errorf("submitted_at %v, want the day received %v", got, received)
	}
	if r := d["deadline_rule"].(map[string]any); r["id"] != ruleID {
		t.Errorf("deadline rule %v, want %s", r, ruleID)
	}
	if d["channel"] != "phone" || d["channel_label"] != "Phone" {
		t.Errorf("channel %v (%v), want phone", d["channel"], d["channel_label"])
	}
	if d["email"] != email || d["first_name"] != "Grace" {
		t.Errorf("the detail shows %v %v", d["first_name"], d["email"])
	}
	var recordedBy *string
	if err := e.db.GetContext(e.ctx, &recordedBy, `SELECT recorded_by::text FROM requests WHERE id = $1`, id); err != nil || recordedBy == nil || *recordedBy != manager.ID {
		t.Errorf("recorded_by = %v (%v), want the manager %s", recordedBy, err, manager.ID)
	}

	// The workflow starts from the day received, knowing who recorded it
	// and how identity was checked.
	var in workflows.Input
	start := e.history(id)[0].GetWorkflowExecutionStartedEventAttributes()
	if err := codec.DataConverter(e.keys).FromPayloads(start.GetInput(), &in); err != nil {
		t.Fatal(err)
	}
	want := workflows.ManualIntake{Channel: dsar.ChannelPhone, RecordedBy: manager.ID, IdentityChecked: true,
		IdentityNote: "called back on the number in our CRM"}
	if in.Manual == nil || *in.Manual != want || !in.SubmittedAt.Equal(received) || !in.Deadline.Equal(formDeadline) {
		t.Errorf("workflow input: manual %+v, submitted %v, deadline %v; want %+v from %v", in.Manual, in.SubmittedAt, in.Deadline, want, received)
	}

	// Identity was checked on the call: the request starts verified, with
	// the note, and the requester is invited to the portal instead of being
	// sent a link to confirm the address they gave on the call.
	e.eventually("the email and identity show verified", func() bool {
		d := e.want(e.do("GET", "/api/v1/requests/"+id, managerTok, nil), http.StatusOK, "detail").JSON(t)
		return d["email_verified_at"] != nil && d["status"] == string(dsar.StatusIdentityVerified) &&
			d["identity_note"] == "called back on the number in our CRM"
	})
	e.eventually("the portal invitation reaches the requester", func() bool {
		for _, m := range e.mailsTo(email) {
			if strings.Contains(m.Text, "/portal/accounts/new?token=") {
				return true
			}
		}
		return false
	})
	for _, m := range e.mailsTo(email) {
		if verifyLink.MatchString(m.Text) {
			t.Errorf("a verification link was sent for a request whose identity staff checked: %q", m.Subject)
		}
	}

	// The recording is in the audit trail, once, by the manager.
	evs := e.want(e.do("GET", "/api/v1/requests/"+id+"/audit", managerTok, nil), http.StatusOK, "audit").JSON(t)["items"].([]any)
	recorded := 0
	for _, ev := range evs {
		m := ev.(map[string]any)
		if m["action"] != dsar.AuditRequestRecorded {
			continue
		}
		recorded++
		det := m["detail"].(map[string]any)
		if m["actor_kind"] != "staff" || m["actor_id"] != manager.ID || det["channel"] != "phone" || det["identity_checked"] != true ||
			m["label"] != "Request recorded by staff" {
			t.Errorf("the recording's audit event = %v", m)
		}
	}
	if recorded != 1 {
		t.Errorf("%d request.recorded events, want 1", recorded)
	}

	// The same key with another body is refused and records nothing.
	other := manualForm("someone@example.org", nil)
	bad := e.want(e.doKeyed("POST", "/api/v1/requests/manual", managerTok, "phone-call-1", other), http.StatusUnprocessableEntity, "reuse a key").JSON(t)
	if _, ok := bad["error"].(map[string]any)["fields"].(map[string]any)["idempotency_key"]; !ok {
		t.Errorf("reusing a key for another request: %v", bad)
	}
	if n := e.count(`SELECT count(*) FROM requests`); n != 1 {
		t.Fatalf("%d requests stored, want 1", n)
	}
}

// TestManualRequestRefusals: bad input is 422 naming each bad field and
// stores nothing; the form's fields get the form's own words; a source
// owner may not record (403), nor may anyone without a session (401).
func TestManualRequestRefusals(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, adminTok := e.user(dsar.RoleAdmin)
	_, ownerTok := e.user(dsar.RoleSourceOwner)
	now := time.Now().UTC()

	for _, c := range []struct {
		name  string
		with  map[string]any
		field string
		says  string
	}{
		{"an unknown channel", map[string]any{"channel": "fax"}, "channel", "phone"},
		{"the form as a channel", map[string]any{"channel": "form"}, "channel", "phone"},
		{"no channel", map[string]any{"channel": nil}, "channel", "phone"},
		{"received in the future", map[string]any{"received_at": now.Add(72 * time.Hour).Format(time.RFC3339)}, "received_at", "future"},
		{"received on a day still to come everywhere", map[string]any{"received_at": now.AddDate(0, 0, 2).Format(time.DateOnly)}, "received_at", "future"},
		{"received two years ago", map[string]any{"received_at": now.AddDate(-2, 0, 0).Format(time.DateOnly)}, "received_at", "year"},
		{"received_at not a date", map[string]any{"received_at": "last Tuesday"}, "received_at", "date"},
		{"no received_at", map[string]any{"received_at": nil}, "received_at", "when"},
		{"identity checked without a note", map[string]any{"identity_checked": true}, "identity_note", "how"},
		{"identity checked with a blank note", map[string]any{"identity_checked": true, "identity_note": "   "}, "identity_note", "how"},
		{"a note without the check", map[string]any{"identity_note": "looked fine"}, "identity_note", "identity_checked"},
		{"a bad email", map[string]any{"email": "grace at example"}, "email", "name@example.com"},
		{"no first name", map[string]any{"first_name": ""}, "first_name", "first name"},
		{"a region of another country", map[string]any{"region": "US-CA"}, "region", "subdivision"},
		{"a captcha", map[string]any{"captcha": "x"}, "captcha", "unknown"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := e.want(e.do("POST", "/api/v1/requests/manual", adminTok, manualForm("ada@example.org", c.with)),
				http.StatusUnprocessableEntity, c.name).JSON(t)
			fields, _ := a["error"].(map[string]any)["fields"].(map[string]any)
			if got, _ := fields[c.field].(string); !strings.Contains(got, c.says) {
				t.Errorf("fields = %v, want %s saying %q", fields, c.field, c.says)
			}
		})
	}

	// The form's fields are checked as the form checks them: the same bad
	// address gets the same words from both.
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	for k, v := range map[string]string{"first_name": "Ada", "last_name": "Lovelace", "email": "grace at example", "country": "DE",
		"requestor_type": "customer", "request_type": "info", "description": "x"} {
		_ = w.WriteField(k, v)
	}
	_ = w.Close()
	resp, err := http.Post(e.http.URL+"/api/v1/requests", w.FormDataContentType(), &mp)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	formAnswer := answer{Status: resp.StatusCode, Body: raw}
	formFields := formAnswer.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)
	manual := e.want(e.do("POST", "/api/v1/requests/manual", adminTok, manualForm("grace at example", nil)),
		http.StatusUnprocessableEntity, "bad email").JSON(t)["error"].(map[string]any)["fields"].(map[string]any)
	if formFields["email"] == nil || manual["email"] != formFields["email"] {
		t.Errorf("the form says %q of a bad address, the manual recording %q", formFields["email"], manual["email"])
	}

	e.want(e.do("POST", "/api/v1/requests/manual", ownerTok, manualForm("ada@example.org", nil)), http.StatusForbidden, "a source owner records")
	e.want(e.do("POST", "/api/v1/requests/manual", "", manualForm("ada@example.org", nil)), http.StatusUnauthorized, "no session")

	if n := e.count(`SELECT count(*) FROM requests`); n != 0 {
		t.Errorf("%d requests stored after refusals, want none", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE action = $1`, dsar.AuditRequestRecorded); n != 0 {
		t.Errorf("%d recordings audited after refusals, want none", n)
	}
	if mails := e.mailsTo(""); len(mails) != 0 {
		t.Errorf("%d mails after refusals, want none", len(mails))
	}
}

// TestParseReceivedAt pins the edges of received_at: a date counts from
// its start in the zone the requester's rule counts days in (UTC here, but
// for the Pacific cases) and may be today anywhere on Earth; a time a
// little ahead is now; a year back is the limit.
func TestParseReceivedAt(t *testing.T) {
	now := time.Date(2026, 12, 1, 20, 30, 0, 0, time.UTC)
	pacific, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   string
		want time.Time
		bad  bool
		zone *time.Location
	}{
		{in: "2026-11-28", want: time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC), zone: pacific},
		{in: "2026-12-01", want: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), zone: pacific},
		{in: "2026-12-02", want: now, zone: pacific}, // begun in Asia, not yet in California
		{in: "2026-12-03", bad: true, zone: pacific},
		{in: "2026-11-28", want: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)},
		{in: "2026-12-01", want: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2026-12-02", want: now}, // already 2 December east of UTC+3:30
		{in: "2026-12-03", bad: true},
		{in: "2026-11-28T09:15:00+01:00", want: time.Date(2026, 11, 28, 8, 15, 0, 0, time.UTC)},
		{in: "2026-12-01T20:32:00Z", want: now}, // a clock slightly ahead
		{in: "2026-12-01T21:00:00Z", bad: true},
		{in: "2025-12-02", want: time.Date(2025, 12, 2, 0, 0, 0, 0, time.UTC)},
		{in: "2025-11-30", bad: true},
		{in: "", bad: true},
		{in: "01/12/2026", bad: true},
	} {
		if c.zone == nil {
			c.zone = time.UTC
		}
		got, why := parseReceivedAt(c.in, now, c.zone)
		if c.bad != (why != "") || !c.bad && !got.Equal(c.want) {
			t.Errorf("parseReceivedAt(%q) = %v, %q; want %v (refused: %v)", c.in, got, why, c.want, c.bad)
		}
	}
}

// TestReceivedZone: a date of receipt is read where the requester's rule
// counts days: Pacific time in California, UTC under the GDPR (no zone) and
// where no rule covers the requester.
func TestReceivedZone(t *testing.T) {
	for _, c := range []struct{ country, region, want string }{
		{"US", "US-CA", "America/Los_Angeles"}, {"GB", "", "Europe/London"}, {"DE", "", "UTC"}, {"JP", "", "UTC"},
	} {
		if got, err := receivedZone(dsar.DefaultRules, c.country, c.region); err != nil || got.String() != c.want {
			t.Errorf("%s %s: %v (%v), want %s", c.country, c.region, got, err, c.want)
		}
	}
}
