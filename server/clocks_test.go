package server

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
)

// TestClockPauseAndResume: under the UK GDPR a manager stops the clock
// while waiting for identity: the request detail shows the pause and says
// so in its deadline's words; a second pause is 409; restarting it clears
// the pause. A pause with an unknown reason is 422 naming the field, and a
// request under the GDPR, whose rule does not allow it, answers 409.
func TestClockPauseAndResume(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, tok := e.user(dsar.RoleManager)
	uk := e.request(newRequest{Country: "GB", Clocks: true})
	e.verifyEmail(uk)

	bad := e.want(e.do("POST", "/api/v1/requests/"+uk+"/pause", tok, map[string]any{"reason": "holiday"}), http.StatusUnprocessableEntity, "bad reason")
	if !strings.Contains(string(bad.Body), `"reason"`) {
		t.Errorf("a bad reason should name the field: %s", bad.Body)
	}
	e.want(e.do("POST", "/api/v1/requests/"+uk+"/pause", tok, map[string]any{"reason": "identity", "note": "asked for a bill"}), http.StatusOK, "pause")
	d := e.want(e.do("GET", "/api/v1/requests/"+uk, tok, nil), http.StatusOK, "detail").JSON(t)
	p, _ := d["paused"].(map[string]any)
	if p == nil || p["reason"] != "identity" || p["reason_label"] != "waiting for identity" || d["pause_allowed"] != true {
		t.Fatalf("detail while paused: paused %v, pause_allowed %v", d["paused"], d["pause_allowed"])
	}
	if why, _ := d["deadline_why"].(string); !strings.Contains(why, "while waiting for identity") || !strings.Contains(why, "UK GDPR") {
		t.Errorf("deadline_why %q should say the rule and the pause", why)
	}
	again := e.want(e.do("POST", "/api/v1/requests/"+uk+"/pause", tok, map[string]any{"reason": "clarification"}), http.StatusConflict, "second pause")
	if !strings.Contains(string(again.Body), "stopped since") {
		t.Errorf("second pause: %s", again.Body)
	}
	e.want(e.do("POST", "/api/v1/requests/"+uk+"/resume", tok, map[string]any{}), http.StatusOK, "resume")
	d = e.want(e.do("GET", "/api/v1/requests/"+uk, tok, nil), http.StatusOK, "detail").JSON(t)
	if d["paused"] != nil {
		t.Errorf("still paused after resuming: %v", d["paused"])
	}
	if why, _ := d["deadline_why"].(string); !strings.Contains(why, "paused 0 days") {
		t.Errorf("deadline_why %q should count the pause", why)
	}
	e.want(e.do("POST", "/api/v1/requests/"+uk+"/resume", tok, nil), http.StatusConflict, "resume when running")

	de := e.request(newRequest{Country: "DE", Clocks: true})
	e.verifyEmail(de)
	refused := e.want(e.do("POST", "/api/v1/requests/"+de+"/pause", tok, map[string]any{"reason": "identity"}), http.StatusConflict, "GDPR pause")
	if !strings.Contains(string(refused.Body), "does not allow") {
		t.Errorf("GDPR pause: %s", refused.Body)
	}
}

// TestExtensionRefusedAfterItsNoticePeriod: a GDPR request received 40
// days ago can no longer be extended (the extension had to be noticed in
// the first month): 409 naming the date; one received today can.
func TestExtensionRefusedAfterItsNoticePeriod(t *testing.T) {
	t.Parallel()
	// The link of a request received 40 days ago has not expired yet.
	e := newStaffEnv(t, map[string]any{"workflow.verification_reminder_after": "1000h", "workflow.verification_expiry": "2000h"})
	_, tok := e.user(dsar.RoleManager)
	old := e.request(newRequest{Country: "DE", Clocks: true, Submitted: time.Now().UTC().AddDate(0, 0, -40).Truncate(time.Second)})
	e.verifyEmail(old)
	a := e.want(e.do("POST", "/api/v1/requests/"+old+"/extension", tok, map[string]any{"days": 30, "reason": "many systems"}),
		http.StatusConflict, "late extension")
	if !strings.Contains(string(a.Body), "noticed by") {
		t.Errorf("late extension: %s", a.Body)
	}
	fresh := e.request(newRequest{Country: "DE", Clocks: true})
	e.verifyEmail(fresh)
	e.want(e.do("POST", "/api/v1/requests/"+fresh+"/extension", tok, map[string]any{"days": 30, "reason": "many systems"}),
		http.StatusOK, "extension in time")
}

// TestOptOutFormAsksNoDocument: the form's page carries the rule table
// its script hides the document field with; a California opt-out submitted
// without a document is taken (nothing stored for it), needs no identity
// decision, has its receipt acknowledged by the mail saying it is acted on
// (once, the email confirmed or not) and is due in 15 business days; a
// California access request without one is refused naming the field.
func TestOptOutFormAsksNoDocument(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, tok := e.user(dsar.RoleManager)
	page := e.want(e.do("GET", "/", "", nil), http.StatusOK, "form")
	if !strings.Contains(string(page.Body), `id="document-field" data-no-document-rules=`) ||
		!strings.Contains(string(page.Body), "opt_out") {
		t.Error("the form does not carry the rule table for its document field")
	}

	fields := intakeFields("optout@example.org", captchaFrom(t, e.http.URL))
	fields["country"], fields["region"], fields["request_type"] = "US", "US-CA", "opt_out"
	id := submittedID(t, submitFrom(t, e.http.URL, "192.0.2.20", fields, nil), "opt-out without a document")
	if n := e.count(`SELECT count(*) FROM identity_documents WHERE request_id = $1`, id); n != 0 {
		t.Errorf("%d identity documents stored for an opt-out", n)
	}
	e.confirm(e.http.URL, id, "optout@example.org")
	e.eventually("the opt-out is acknowledged", func() bool {
		r, err := e.db.Request(e.ctx, id, "")
		return err == nil && r.AcknowledgedAt != nil
	})
	d := e.want(e.do("GET", "/api/v1/requests/"+id, tok, nil), http.StatusOK, "detail").JSON(t)
	if d["status"] != string(dsar.StatusIdentityVerified) || d["identity_required"] != false || d["identity_verified"] != nil {
		t.Errorf("opt-out after confirmation: status %v, identity_required %v, identity_verified %v", d["status"], d["identity_required"], d["identity_verified"])
	}
	submitted := mustTime(t, d["submitted_at"])
	if due := mustTime(t, d["deadline"]); due.Sub(submitted) < 19*24*time.Hour || due.Sub(submitted) > 25*24*time.Hour {
		t.Errorf("deadline %v for an opt-out submitted %v: want 15 business days", due, submitted)
	}
	if why, _ := d["deadline_why"].(string); !strings.Contains(why, "15 business days") {
		t.Errorf("deadline_why %q", why)
	}
	var kinds []string
	if err := e.db.SelectContext(e.ctx, &kinds, `SELECT detail->>'kind' FROM audit_events WHERE request_id = $1 AND action = 'mail.sent' ORDER BY seq`, id); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(kinds, "request_accepted") || slices.Contains(kinds, "acknowledgement") {
		t.Errorf("mail sent %v: want receipt confirmed once, by the mail that the request is acted on", kinds)
	}

	access := intakeFields("access@example.org", captchaFrom(t, e.http.URL))
	access["country"], access["region"] = "US", "US-CA"
	a := submitFrom(t, e.http.URL, "192.0.2.21", access, nil)
	if a.Status != http.StatusUnprocessableEntity || errorOf(t, a).Fields["identity_document"] == "" {
		t.Errorf("an access request without a document: %d %s, want 422 naming identity_document", a.Status, a.Body)
	}

	// Oregon: opt-outs without authentication (ORS 646A.576(5)(e)), on the
	// rule's 45 days; accepted at submission like California's.
	oregon := intakeFields("oregon@example.org", captchaFrom(t, e.http.URL))
	oregon["country"], oregon["region"], oregon["request_type"] = "US", "US-OR", "opt_out"
	or := submitFrom(t, e.http.URL, "192.0.2.22", oregon, nil)
	orID := submittedID(t, or, "an Oregon opt-out without a document")
	if or.JSON(t)["email_confirmation_required"] != false {
		t.Errorf("an Oregon opt-out answered %s, want email_confirmation_required false", or.Body)
	}
	e.eventually("the Oregon opt-out is in the queue unconfirmed", func() bool {
		r, err := e.db.Request(e.ctx, orID, "")
		return err == nil && r.Status == dsar.StatusIdentityVerified && r.EmailVerifiedAt == nil
	})
	od := e.want(e.do("GET", "/api/v1/requests/"+orID, tok, nil), http.StatusOK, "detail").JSON(t)
	if due := mustTime(t, od["deadline"]).Sub(mustTime(t, od["submitted_at"])); due != 45*24*time.Hour {
		t.Errorf("an Oregon opt-out is due %v after receipt, want 45 days", due)
	}
}
