package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// TestAppealThroughTheAPI: a Virginia requester whose request was
// rejected sees in the portal until when they may appeal, appeals with
// their reasons (201 with the appeal's id and its 60-day deadline); a
// second appeal is 409, an empty reason 422, someone else's request 404.
// Staff list the appeal (source owners may not: 403); the manager who
// rejected the request may not decide it (403); another decides it
// upheld; deciding again is 409. The requester is mailed the decision with
// the attorney general's complaint contact, and the portal shows it.
func TestAppealThroughTheAPI(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	decider, deciderTok := e.user(dsar.RoleManager)
	_, reviewerTok := e.user(dsar.RoleAdmin)
	_, ownerTok := e.user(dsar.RoleSourceOwner)
	email := "virginia-" + time.Now().Format("150405.000") + "@example.org"
	id := e.request(newRequest{Email: email, Country: "US", Region: "US-VA"})
	e.verifyEmail(id)
	other := e.request(newRequest{Email: "eve-va@example.org", Country: "US", Region: "US-VA"})
	e.verifyEmail(other)
	requester := e.portalSession(id, email)
	eve := e.portalSession(other, "eve-va@example.org")

	appeal := "/api/v1/portal/requests/" + id + "/appeal"
	e.want(e.do("POST", appeal, requester, map[string]any{"reason": "I disagree"}), http.StatusConflict, "an open request")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/rejection", deciderTok, map[string]any{"reasons": []string{"manifestly_unfounded"}}),
		http.StatusOK, "reject")
	closedAt := time.Now()

	detail := e.want(e.do("GET", "/api/v1/portal/requests/"+id, requester, nil), http.StatusOK, "portal detail").JSON(t)
	ap, _ := detail["appeal"].(map[string]any)
	until, _ := time.Parse(time.RFC3339, stringOf(ap["until"]))
	if ap == nil || ap["can_appeal"] != true || until.Sub(closedAt.AddDate(0, 0, 60)).Abs() > time.Minute {
		t.Fatalf("the portal does not offer the appeal for 60 days: %v", detail["appeal"])
	}
	e.eventually("the rejection mail says until when to appeal", func() bool {
		ms := e.mailsTo(email)
		return len(ms) > 0 && strings.Contains(ms[0].Text, "You may appeal our decision until")
	})

	e.want(e.do("POST", appeal, requester, map[string]any{"reason": "  "}), http.StatusUnprocessableEntity, "no reason")
	e.want(e.do("POST", appeal, eve, map[string]any{"reason": "mine"}), http.StatusNotFound, "someone else's request")
	filed := e.want(e.do("POST", appeal, requester, map[string]any{"reason": "You hold my order history; I can prove it."}),
		http.StatusCreated, "appeal").JSON(t)
	deadline, _ := time.Parse(time.RFC3339, stringOf(filed["deadline"]))
	appealID := stringOf(filed["id"])
	if appealID == "" || deadline.Sub(time.Now().AddDate(0, 0, 60)).Abs() > time.Minute {
		t.Fatalf("filed: %v", filed)
	}
	e.want(e.do("POST", appeal, requester, map[string]any{"reason": "again"}), http.StatusConflict, "a second appeal")

	msgs := e.want(e.do("GET", "/api/v1/requests/"+id+"/messages", reviewerTok, nil), http.StatusOK, "messages")
	if !strings.Contains(string(msgs.Body), "I can prove it") {
		t.Errorf("the reasons are not in the request's messages: %s", msgs.Body)
	}
	e.want(e.do("GET", "/api/v1/appeals", ownerTok, nil), http.StatusForbidden, "a source owner lists appeals")
	list := e.want(e.do("GET", "/api/v1/appeals?status=open", reviewerTok, nil), http.StatusOK, "appeals").JSON(t)
	items, _ := list["items"].([]any)
	var item map[string]any
	for _, it := range items {
		if m := it.(map[string]any); m["id"] == appealID {
			item = m
		}
	}
	if item == nil || item["request_id"] != id || item["reference"] != dsar.Reference(id) || item["status"] != "open" ||
		item["overdue"] != false || item["filed_at"] == nil || item["deadline"] == nil {
		t.Fatalf("the appeal in the list: %v", item)
	}
	e.want(e.do("GET", "/api/v1/appeals?status=pending", reviewerTok, nil), http.StatusUnprocessableEntity, "a bad status filter")

	decision := "/api/v1/appeals/" + appealID + "/decision"
	e.want(e.do("POST", decision, deciderTok, map[string]any{"outcome": "upheld", "explanation": "I stand by it."}),
		http.StatusForbidden, "the request's decider")
	e.want(e.do("POST", decision, reviewerTok, map[string]any{"outcome": "maybe", "explanation": "x"}),
		http.StatusUnprocessableEntity, "a bad outcome")
	e.want(e.do("POST", decision, reviewerTok, map[string]any{"outcome": "upheld"}), http.StatusUnprocessableEntity, "no explanation")
	got := e.want(e.do("POST", decision, reviewerTok, map[string]any{"outcome": "upheld",
		"explanation": "We hold no order history for this address."}), http.StatusOK, "decide").JSON(t)
	if got["status"] != "upheld" || got["decided_at"] == nil {
		t.Fatalf("decision: %v", got)
	}
	e.want(e.do("POST", decision, reviewerTok, map[string]any{"outcome": "reversed", "explanation": "On second thought."}),
		http.StatusConflict, "deciding again")

	e.eventually("the decision is mailed with the authority's contact", func() bool {
		ms := e.mailsTo(email)
		return len(ms) > 0 && strings.Contains(ms[0].Text, "Virginia Office of the Attorney General") &&
			strings.Contains(ms[0].Text, "We hold no order history for this address.")
	})
	detail = e.want(e.do("GET", "/api/v1/portal/requests/"+id, requester, nil), http.StatusOK, "portal detail").JSON(t)
	ap, _ = detail["appeal"].(map[string]any)
	if ap["status"] != "upheld" || ap["authority"] != "Virginia Office of the Attorney General" || ap["authority_contact"] == "" ||
		ap["explanation"] != "We hold no order history for this address." {
		t.Errorf("the portal's appeal after the decision: %v", ap)
	}
	trail := e.want(e.do("GET", "/api/v1/requests/"+id+"/audit", reviewerTok, nil), http.StatusOK, "audit")
	for _, want := range []string{`"appeal.filed"`, `"appeal.decided"`} {
		if !strings.Contains(string(trail.Body), want) {
			t.Errorf("no %s in the trail", want)
		}
	}
	// The contact details are kept, sealed, until the window ends.
	if c, err := e.db.RequestContact(e.ctx, e.keys, id); err != nil || c.Email != email {
		t.Errorf("the contact kept for the appeal: %+v, %v", c, err)
	}
	if _, err := e.db.RequestPII(e.ctx, e.keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("the rest of the PII after close: %v", err)
	}
	// Staff read whom the appeal is about: the name and email kept, the rest erased.
	d := e.want(e.do("GET", "/api/v1/requests/"+id, reviewerTok, nil), http.StatusOK, "request detail").JSON(t)
	dap, _ := d["appeal"].(map[string]any)
	if d["contact_kept"] != true || d["pii_erased"] != true || d["email"] != email || d["description"] != "" ||
		d["decided_by"] != decider.ID || d["appeal_until"] == nil || dap["status"] != "upheld" {
		t.Errorf("the request's detail: contact kept %v, erased %v, email %v, decided by %v, appeal %v",
			d["contact_kept"], d["pii_erased"], d["email"], d["decided_by"], d["appeal"])
	}
}

// TestPortalNamesTheAppealAuthorityCapturedAtIntake: a Virginia request
// is recorded; then the configured Virginia rule names another authority.
// Its appeal is upheld: the mail names the authority of the rule captured
// at intake, which the workflow carries, and so does the portal, not the
// one configured now.
func TestPortalNamesTheAppealAuthorityCapturedAtIntake(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, deciderTok := e.user(dsar.RoleManager)
	_, reviewerTok := e.user(dsar.RoleAdmin)
	const email = "va-captured@example.org"
	body := manualForm(email, map[string]any{"country": "US", "region": "US-VA", "identity_checked": true,
		"identity_note": "called back on the number we hold"})
	id := stringOf(e.want(e.do("POST", "/api/v1/requests/manual", deciderTok, body), http.StatusCreated, "record").JSON(t)["id"])
	t.Cleanup(func() {
		_ = e.temporal.TerminateWorkflow(context.Background(), workflows.WorkflowID(id), "", "test over")
		_ = e.temporal.TerminateWorkflow(context.Background(), workflows.AppealWorkflowID(id), "", "test over")
	})
	captured, _ := e.cfg.Jurisdictions.Match("US", "US-VA")
	rules := slices.Clone(e.cfg.Jurisdictions)
	for i := range rules {
		if rules[i].ID == captured.ID {
			changed := *rules[i].Appeal
			changed.Authority, changed.Contact = "Virginia Consumer Protection Section", "https://example.org/complaints"
			rules[i].Appeal = &changed
		}
	}
	e.cfg.Jurisdictions = rules // the configuration changes after intake

	e.eventually("the request starts identity-verified", func() bool {
		r, err := e.db.Request(e.ctx, id, "")
		return err == nil && r.Status == dsar.StatusIdentityVerified
	})
	e.want(e.do("POST", "/api/v1/requests/"+id+"/rejection", deciderTok, map[string]any{"reasons": []string{"manifestly_unfounded"}}),
		http.StatusOK, "reject")
	requester := e.portalSession(id, email)
	filed := e.want(e.do("POST", "/api/v1/portal/requests/"+id+"/appeal", requester, map[string]any{"reason": "I disagree."}),
		http.StatusCreated, "appeal").JSON(t)
	e.eventually("the appeal's workflow runs", func() bool {
		_, err := e.temporal.DescribeWorkflowExecution(e.ctx, workflows.AppealWorkflowID(id), "")
		return err == nil
	})
	e.want(e.do("POST", "/api/v1/appeals/"+stringOf(filed["id"])+"/decision", reviewerTok,
		map[string]any{"outcome": "upheld", "explanation": "We hold nothing more."}), http.StatusOK, "decide")

	want := captured.Appeal
	e.eventually("the decision is mailed with the authority", func() bool {
		ms := e.mailsTo(email)
		return len(ms) > 0 && strings.Contains(ms[0].Text, "We hold nothing more.")
	})
	if m := e.mailsTo(email)[0]; !strings.Contains(m.Text, want.Authority) || strings.Contains(m.Text, "Consumer Protection Section") {
		t.Errorf("the mail names another authority than the one captured:\n%s", m.Text)
	}
	ap, _ := e.want(e.do("GET", "/api/v1/portal/requests/"+id, requester, nil), http.StatusOK, "portal detail").JSON(t)["appeal"].(map[string]any)
	if ap["status"] != "upheld" || ap["authority"] != want.Authority || ap["authority_contact"] != want.Contact {
		t.Errorf("the portal names %v (%v), want %q (%q) as the mail does", ap["authority"], ap["authority_contact"], want.Authority, want.Contact)
	}
}

// TestNoAppealWithoutTheRight: a request under a rule without an appeal
// right (GDPR) cannot be appealed (409), and its contact details are
// erased at close with the rest.
func TestNoAppealWithoutTheRight(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	email := "gdpr-appeal@example.org"
	id := e.request(newRequest{Email: email, Country: "DE", Region: "DE-BE"})
	e.verifyEmail(id)
	requester := e.portalSession(id, email)
	e.want(e.do("POST", "/api/v1/requests/"+id+"/rejection", manager, map[string]any{"reasons": []string{"excessive"}}), http.StatusOK, "reject")
	e.eventually("the request is erased", func() bool {
		r, err := e.db.Request(e.ctx, id, "")
		return err == nil && r.ScrubbedAt != nil
	})
	e.want(e.do("POST", "/api/v1/portal/requests/"+id+"/appeal", requester, map[string]any{"reason": "please"}), http.StatusConflict, "appeal")
	if _, err := e.db.RequestContact(e.ctx, e.keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("contact details kept without an appeal right: %v", err)
	}
	detail := e.want(e.do("GET", "/api/v1/portal/requests/"+id, requester, nil), http.StatusOK, "portal detail").JSON(t)
	if detail["appeal"] != nil {
		t.Errorf("the portal offers an appeal: %v", detail["appeal"])
	}
	var appeals []store.Appeal
	if appeals, _ = e.db.Appeals(e.ctx, ""); len(appeals) != 0 {
		t.Errorf("appeals: %+v", appeals)
	}
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

// TestAppealDecidedTheMomentItIsFiled: staff deciding an appeal the moment
// the requester files it (before the request's workflow has started the
// appeal's) get the decision applied, not a refusal saying it was decided.
func TestAppealDecidedTheMomentItIsFiled(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, deciderTok := e.user(dsar.RoleManager)
	_, reviewerTok := e.user(dsar.RoleAdmin)
	for i := range 3 {
		_, appeal := e.appealFiled(fmt.Sprintf("at-once-%d@example.org", i), deciderTok)
		got := e.want(e.decide(appeal, reviewerTok), http.StatusOK, "a decision sent at once").JSON(t)
		if got["status"] != "upheld" {
			t.Errorf("appeal %d decided at once: %v", i, got)
		}
	}
}

// appealFiled makes a Virginia request whose requester (email) appeals its
// rejection by the holder of deciderTok, and returns the request's id and
// the appeal's.
func (e *staffEnv) appealFiled(email, deciderTok string) (id, appeal string) {
	e.t.Helper()
	id = e.request(newRequest{Email: email, Country: "US", Region: "US-VA"})
	e.verifyEmail(id)
	requester := e.portalSession(id, email)
	e.want(e.do("POST", "/api/v1/requests/"+id+"/rejection", deciderTok, map[string]any{"reasons": []string{"manifestly_unfounded"}}),
		http.StatusOK, "reject")
	filed := e.want(e.do("POST", "/api/v1/portal/requests/"+id+"/appeal", requester, map[string]any{"reason": "Please look again."}),
		http.StatusCreated, "appeal").JSON(e.t)
	return id, stringOf(filed["id"])
}

// decide upholds appeal, by the holder of token.
func (e *staffEnv) decide(appeal, token string) answer {
	e.t.Helper()
	return e.do("POST", "/api/v1/appeals/"+appeal+"/decision", token, map[string]any{"outcome": "upheld", "explanation": "We looked again."})
}

// TestDecisionOnAnEndedAppealIsRefusedAtOnce: an appeal whose workflow has
// ended (terminated by an operator) while its row still reads open is
// refused at once with 409, not after waiting for a workflow that is
// "still being opened" (503).
func TestDecisionOnAnEndedAppealIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, deciderTok := e.user(dsar.RoleManager)
	_, reviewerTok := e.user(dsar.RoleAdmin)
	id, appeal := e.appealFiled("ended-appeal@example.org", deciderTok)
	wid := workflows.AppealWorkflowID(id)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := e.temporal.DescribeWorkflowExecution(e.ctx, wid, ""); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the appeal's workflow did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := e.temporal.TerminateWorkflow(e.ctx, wid, "", "an operator ended it"); err != nil {
		t.Fatal(err)
	}
	if ap, err := e.db.AppealByID(e.ctx, appeal); err != nil || ap.Status != dsar.AppealOpen {
		t.Fatalf("the appeal's row: %+v %v; want it still open", ap, err)
	}
	began := time.Now()
	e.want(e.decide(appeal, reviewerTok), http.StatusConflict, "a decision on an ended appeal")
	if took := time.Since(began); took > appealStartWait/2 {
		t.Errorf("the refusal took %v: it waited for a workflow that had ended", took)
	}
}
