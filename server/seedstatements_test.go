package server

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/mail"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// The seed statements of issue 15's Tests section, each asserted through
// the API against Postgres and the workflow on the Temporal dev server.

// TestAssignmentRefusedBeforeIdentityVerification is the seed's "First,
// the identity of the requester must be verified ... Once verified, the
// data sources must be assigned": assigning a data source to a request
// whose email or identity is not verified yet is 409 naming the status,
// and nothing is assigned: no task, no owner told, nothing in the trail.
// Once identity is verified the same assignment goes through.
func TestAssignmentRefusedBeforeIdentityVerification(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	olivia, oliviaTok := e.user(dsar.RoleSourceOwner)
	crm, err := e.db.CreateDataSource(e.ctx, "CRM", "", []string{olivia.ID})
	if err != nil {
		t.Fatal(err)
	}
	id := e.request(newRequest{Document: pngDocument})
	assign := func() answer {
		return e.do("POST", "/api/v1/requests/"+id+"/assignments", manager, map[string]any{"data_source_ids": []string{crm.ID}})
	}
	refused := func(status dsar.Status) {
		t.Helper()
		msg := e.want(assign(), http.StatusConflict, "assign while "+string(status)).JSON(t)["error"].(map[string]any)["message"].(string)
		if !strings.Contains(msg, string(status)) {
			t.Errorf("the 409 does not name the status %s: %s", status, msg)
		}
	}
	refused(dsar.StatusPendingEmailVerification)
	e.verifyEmail(id)
	refused(dsar.StatusAwaitingIdentity)

	d := e.wantStatus(manager, id, string(dsar.StatusAwaitingIdentity))
	if tasks := d["tasks"].([]any); len(tasks) != 0 {
		t.Errorf("a refused assignment left tasks: %v", tasks)
	}
	if mine := e.want(e.do("GET", "/api/v1/tasks", oliviaTok, nil), http.StatusOK, "the owner's tasks").JSON(t)["items"].([]any); len(mine) != 0 {
		t.Errorf("the owner has tasks after a refused assignment: %v", mine)
	}
	assignedAlerts := func() int {
		alerts, err := e.db.PendingAlerts(e.ctx, olivia.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range alerts {
			if a.Kind == store.AlertTaskAssigned {
				n++
			}
		}
		return n
	}
	if n := assignedAlerts(); n != 0 {
		t.Errorf("the owner has %d task-assigned alerts after a refused assignment", n)
	}
	trail := e.want(e.do("GET", "/api/v1/requests/"+id+"/audit", manager, nil), http.StatusOK, "audit")
	if strings.Contains(string(trail.Body), dsar.AuditSourcesAssigned) {
		t.Errorf("the trail records an assignment that was refused: %s", trail.Body)
	}

	// Verified, the same assignment is made, and the owner is told.
	e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", manager, map[string]any{"verified": true}), http.StatusOK, "verify identity")
	e.want(assign(), http.StatusOK, "assign once identity is verified")
	if tasks := e.wantStatus(manager, id, string(dsar.StatusInProgress))["tasks"].([]any); len(tasks) != 1 {
		t.Errorf("tasks after the assignment: %v", tasks)
	}
	e.eventually("the owner is alerted of the task", func() bool { return assignedAlerts() == 1 })
}

// TestCompletionMailNamesTheRequestAndLinksThePortal is the seed's "Upon
// completion, the requesting data source (end-user) will receive an email
// confirming that the task has been completed" and "They will also be
// given a link to the portal in every request completion ... email", with
// the erasure ("scrubbed upon request completion"): a request completed end
// to end mails its requester, in the text and the HTML, what was asked, a
// link to the portal itself, and that their details were erased.
func TestCompletionMailNamesTheRequestAndLinksThePortal(t *testing.T) {
	t.Parallel()
	const public = "https://privacy.example.org"
	e := newStaffEnv(t, map[string]any{"public_url": public})
	_, admin := e.user(dsar.RoleOrgOwner)
	olivia, oliviaTok := e.user(dsar.RoleSourceOwner)
	crm, err := e.db.CreateDataSource(e.ctx, "CRM", "", []string{olivia.ID})
	if err != nil {
		t.Fatal(err)
	}
	const email = "ada-completed@example.org"
	id := e.request(newRequest{Type: dsar.RequestDoNotSell, Document: pngDocument, Email: email})
	e.verifyEmail(id)
	e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", admin, map[string]any{"verified": true}), http.StatusOK, "verify identity")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/assignments", admin, map[string]any{"data_source_ids": []string{crm.ID}}), http.StatusOK, "assign")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/tasks/"+crm.ID+"/completion", oliviaTok, map[string]any{"note": "opted out"}),
		http.StatusOK, "the owner completes the task")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/completion", admin, map[string]any{"note": "done"}), http.StatusOK, "complete")

	var done mail.OutboxMail
	e.eventually("the completion mail reaches the requester", func() bool {
		for _, m := range e.mailsTo(email) {
			if m.Subject == "Your privacy request is complete" {
				done = m
				return true
			}
		}
		return false
	})
	portal := public + "/portal"
	for part, body := range map[string]string{"text": done.Text, "HTML": done.HTML} {
		flat := strings.Join(strings.Fields(body), " ")
		for _, want := range []string{dsar.RequestDoNotSell.Label(), portal, "erased the contact details"} {
			if !strings.Contains(flat, want) {
				t.Errorf("the completion mail's %s does not say %q:\n%s", part, want, body)
			}
		}
	}
	// The link is the portal itself, on a line of its own in the text.
	if lines := strings.Split(done.Text, "\n"); !slices.ContainsFunc(lines, func(l string) bool { return strings.TrimSpace(l) == portal }) {
		t.Errorf("the completion mail's text has no link to %s:\n%s", portal, done.Text)
	}
}

// TestPortalListsEveryRequestOfOneEmail is the seed's "Once logged in,
// they will see any requests they have made with that email": two
// requests made with one address, one portal account, and the portal
// lists both, the closed and erased one too.
func TestPortalListsEveryRequestOfOneEmail(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	const email = "ada-twice@example.org"
	// The account is opened from the first request's verification link.
	first, password := e.verifiedWithPortal(email)
	second := e.request(newRequest{Email: email, Type: dsar.RequestDeletion})
	other := e.request(newRequest{Email: "bob-once@example.org"})
	for _, id := range []string{second, other} {
		e.verifyEmail(id)
	}
	ada := e.want(e.do("POST", "/api/v1/portal/sessions", "", map[string]string{"email": email, "password": password}),
		http.StatusCreated, "portal sign-in").JSON(t)["token"].(string)

	listed := func() map[string]string {
		out := map[string]string{}
		for _, it := range e.want(e.do("GET", "/api/v1/portal/requests", ada, nil), http.StatusOK, "portal list").JSON(t)["items"].([]any) {
			r := it.(map[string]any)
			out[r["id"].(string)] = r["request_type"].(string) + " " + r["status"].(string)
		}
		return out
	}
	want := map[string]string{first: "info awaiting_identity", second: "deletion awaiting_identity"}
	if got := listed(); len(got) != 2 || got[first] != want[first] || got[second] != want[second] {
		t.Fatalf("the portal lists %v, want %v", got, want)
	}

	// Closed and erased, the first is still among the requester's requests.
	e.want(e.do("POST", "/api/v1/requests/"+first+"/rejection", manager, map[string]any{"reasons": []string{"duplicate"}}), http.StatusOK, "reject")
	e.eventually("the rejected request is erased", func() bool {
		r, err := e.db.Request(e.ctx, first, "")
		return err == nil && r.ScrubbedAt != nil
	})
	want[first] = "info rejected"
	if got := listed(); len(got) != 2 || got[first] != want[first] || got[second] != want[second] {
		t.Errorf("after the first closed, the portal lists %v, want %v", got, want)
	}
}

// TestIdentityNoteInTimelineAndTrail is issue 15's "the identity decision
// keeps its note": the note given with "verified" is on the request (also
// checked by TestAdminStory) and in its timeline, and the audit trail holds
// its hash, never its text.
func TestIdentityNoteInTimelineAndTrail(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	id := e.request(newRequest{Document: pngDocument})
	e.verifyEmail(id)
	const note = "passport matches the name and the photo"
	e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", manager, map[string]any{"verified": true, "note": note}),
		http.StatusOK, "verify identity")

	d := e.wantStatus(manager, id, string(dsar.StatusIdentityVerified))
	if d["identity_note"] != note {
		t.Errorf("the request shows the identity note %q, want %q", d["identity_note"], note)
	}
	var noted bool
	for _, ev := range d["timeline"].([]any) {
		m := ev.(map[string]any)
		noted = noted || (m["event"] == workflows.EventIdentityVerified && m["detail"] == note && m["label"] == "Identity verified")
	}
	if !noted {
		t.Errorf("the timeline does not show the identity note: %v", d["timeline"])
	}

	sum := sha256.Sum256([]byte(note))
	var trail answer
	var decision map[string]any // the detail of the decision's audit event
	e.eventually("the decision is in the audit trail", func() bool {
		trail = e.want(e.do("GET", "/api/v1/requests/"+id+"/audit", manager, nil), http.StatusOK, "audit")
		for _, ev := range trail.JSON(t)["items"].([]any) {
			if m := ev.(map[string]any); m["action"] == dsar.AuditIdentityVerified {
				decision, _ = m["detail"].(map[string]any)
				return true
			}
		}
		return false
	})
	if decision["note_sha256"] != hex.EncodeToString(sum[:]) {
		t.Errorf("the audit of the decision: %v; want the note's SHA-256 %x", decision, sum)
	}
	if strings.Contains(string(trail.Body), "passport matches") {
		t.Errorf("the audit trail holds the note's text: %s", trail.Body)
	}
}
