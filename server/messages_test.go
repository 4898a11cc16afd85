package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// TestMessageExchange is the whole conversation: staff write, the requester
// is told by mail (without the text), reads and replies, staff see the reply
// and the unread count, and the staff who wrote are alerted.
func TestMessageExchange(t *testing.T) {
	e := newPortalEnv(t, nil)
	id := e.insertRequest("ada@example.org", dsar.StatusInProgress)
	owner, _ := e.staff(dsar.RoleOrgOwner)
	manager, managerTok := e.staff(dsar.RoleManager)
	bystander, _ := e.staff(dsar.RoleManager) // never wrote on the request, handles nothing
	ada := e.requester(id, "ada@example.org", "ada's long password")

	const secret = "Your export is ready: the password for the archive is Tr0ub4dor&3"
	var created struct{ ID string }
	e.decode(e.expect("POST", "/api/v1/requests/"+id+"/messages", managerTok, map[string]string{"body": secret}, http.StatusCreated), &created)

	// The nudge: to the requester, with the portal link, never the text.
	mails, err := e.outbox.List(e.ctx, "ada@example.org", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) != 1 {
		t.Fatalf("the requester got %d mails, want 1 nudge", len(mails))
	}
	m := mails[0]
	if strings.Contains(m.Text+m.HTML+m.Subject, "Tr0ub4dor") || strings.Contains(m.Text+m.HTML, "export is ready") {
		t.Errorf("the nudge mail holds the message text:\n%s\n%s", m.Text, m.HTML)
	}
	if !strings.Contains(m.Text, e.cfg.PublicURL+"/portal") || !strings.Contains(m.HTML, e.cfg.PublicURL+"/portal") {
		t.Errorf("the nudge mail has no portal link:\n%s", m.Text)
	}

	// The requester sees one unread message on the list, reads it, and the count drops.
	var list struct {
		Items []struct {
			ID, RequestType, Status, SubmittedAt, Deadline string
			Unread                                         int
		}
	}
	e.decode(e.expect("GET", "/api/v1/portal/requests", ada, nil, http.StatusOK), &list)
	if len(list.Items) != 1 || list.Items[0].ID != id || list.Items[0].Unread != 1 {
		t.Fatalf("portal list = %+v, want the request with 1 unread", list.Items)
	}
	var raw map[string][]map[string]any
	_ = json.Unmarshal(e.expect("GET", "/api/v1/portal/requests", ada, nil, http.StatusOK), &raw)
	for _, f := range []string{"id", "request_type", "status", "submitted_at", "deadline", "unread"} {
		if _, ok := raw["items"][0][f]; !ok {
			t.Errorf("portal list item has no %q: %v", f, raw["items"][0])
		}
	}
	var msgs portalMessages
	e.decode(e.expect("GET", "/api/v1/portal/requests/"+id+"/messages", ada, nil, http.StatusOK), &msgs)
	if len(msgs.Items) != 1 || msgs.Items[0].Body != secret || msgs.Items[0].From != "staff" || msgs.Items[0].ID != created.ID || msgs.Items[0].SentAt == "" {
		t.Fatalf("the requester reads %+v, want the staff message", msgs.Items)
	}
	if msgs.Unread != 1 {
		t.Errorf("unread = %d on first read, want 1", msgs.Unread)
	}
	e.decode(e.expect("GET", "/api/v1/portal/requests", ada, nil, http.StatusOK), &list)
	if list.Items[0].Unread != 0 {
		t.Errorf("after reading, the list still shows %d unread", list.Items[0].Unread)
	}

	// The reply.
	e.expect("POST", "/api/v1/portal/requests/"+id+"/messages", ada, map[string]string{"body": "Thank you, got it."}, http.StatusCreated)
	var staffView portalMessages
	e.decode(e.expect("GET", "/api/v1/requests/"+id+"/messages", managerTok, nil, http.StatusOK), &staffView)
	if len(staffView.Items) != 2 || staffView.Items[1].From != "requester" || staffView.Items[1].Body != "Thank you, got it." {
		t.Fatalf("staff read %+v, want the message and the reply in order", staffView.Items)
	}
	if staffView.Unread != 1 {
		t.Errorf("staff unread = %d, want 1 (the reply)", staffView.Unread)
	}
	e.decode(e.expect("GET", "/api/v1/requests/"+id+"/messages", managerTok, nil, http.StatusOK), &staffView)
	if staffView.Unread != 0 {
		t.Errorf("staff unread after reading = %d, want 0", staffView.Unread)
	}

	// Alerts for the digest: without a handler, the org owner (and admins, none here) and the
	// manager who wrote; not the bystander.
	var recipients []string
	if err := e.db.SelectContext(e.ctx, &recipients, `SELECT recipient_id::text FROM alerts WHERE request_id = $1 AND kind = $2`, id, store.AlertRequesterReplied); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(recipients, ",")
	if len(recipients) != 2 || !strings.Contains(got, owner.ID) || !strings.Contains(got, manager.ID) || strings.Contains(got, bystander.ID) {
		t.Errorf("reply alerts went to %v; want the org owner %s and the manager %s only", recipients, owner.ID, manager.ID)
	}

	// Both messages are in the audit trail, in order, without their text.
	events, err := e.db.RequestAudit(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	for _, ev := range events {
		if bytes.Contains(ev.Detail, []byte("Tr0ub4dor")) || bytes.Contains(ev.Detail, []byte("got it")) {
			t.Errorf("audit event %s holds message text: %s", ev.Action, ev.Detail)
		}
		if ev.Action == "message_sent" {
			sent = append(sent, ev.ActorKind)
		}
	}
	if strings.Join(sent, ",") != "staff,requester" {
		t.Errorf("audited messages from %v, want staff then requester", sent)
	}

	// Bad input names the field and stores nothing.
	var bad struct {
		Error struct{ Fields map[string]string }
	}
	e.decode(e.expect("POST", "/api/v1/portal/requests/"+id+"/messages", ada, map[string]string{"body": "  "}, http.StatusUnprocessableEntity), &bad)
	if bad.Error.Fields["body"] == "" {
		t.Errorf("an empty message: the error names no body field")
	}
	e.decode(e.expect("GET", "/api/v1/requests/"+id+"/messages", managerTok, nil, http.StatusOK), &staffView)
	if len(staffView.Items) != 2 {
		t.Errorf("a refused message was stored: %d messages", len(staffView.Items))
	}
}

// TestMessagesOfOthers checks that someone else's request and messages do
// not exist for a requester, nor for staff who may not read messages.
func TestMessagesOfOthers(t *testing.T) {
	e := newPortalEnv(t, nil)
	adaReq := e.insertRequest("ada@example.org", dsar.StatusInProgress)
	bobReq := e.insertRequest("bob@example.org", dsar.StatusInProgress)
	_, adminTok := e.staff(dsar.RoleAdmin)
	_, sourceOwnerTok := e.staff(dsar.RoleSourceOwner)
	ada := e.requester(adaReq, "ada@example.org", "ada's long password")

	e.expect("POST", "/api/v1/requests/"+bobReq+"/messages", adminTok, map[string]string{"body": "for Bob only"}, http.StatusCreated)
	var list struct{ Items []struct{ ID string } }
	e.decode(e.expect("GET", "/api/v1/portal/requests", ada, nil, http.StatusOK), &list)
	if len(list.Items) != 1 || list.Items[0].ID != adaReq {
		t.Errorf("Ada's list = %+v, want only her request", list.Items)
	}
	for _, r := range []struct {
		method, path, token string
		body                any
	}{
		{"GET", "/api/v1/portal/requests/" + bobReq + "/messages", ada, nil},
		{"POST", "/api/v1/portal/requests/" + bobReq + "/messages", ada, map[string]string{"body": "hi"}},
		{"GET", "/api/v1/portal/requests/00000000-0000-0000-0000-000000000000/messages", ada, nil},
		{"GET", "/api/v1/portal/requests/not-an-id/messages", ada, nil},
		{"GET", "/api/v1/requests/" + bobReq + "/messages", sourceOwnerTok, nil},
		{"POST", "/api/v1/requests/" + bobReq + "/messages", sourceOwnerTok, map[string]string{"body": "hi"}},
		{"GET", "/api/v1/requests/00000000-0000-0000-0000-000000000000/messages", adminTok, nil},
	} {
		resp, body := e.do(r.method, r.path, r.token, r.body)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s: status %d, want 404: %s", r.method, r.path, resp.StatusCode, body)
		}
	}
	// The page too.
	req, _ := http.NewRequest("GET", e.srv.URL+"/portal/requests/"+bobReq, nil)
	req.AddCookie(&http.Cookie{Name: "dsar_portal", Value: ada})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the page of Bob's request for Ada: status %d, want 404", resp.StatusCode)
	}
	e.expect("GET", "/api/v1/portal/requests/"+adaReq+"/messages", "", nil, http.StatusUnauthorized)
}

// TestMessageAttachments checks that attachments are type-checked and
// size-limited, and that only the request's staff and requester download
// them, each download audited.
func TestMessageAttachments(t *testing.T) {
	e := newPortalEnv(t, map[string]any{"intake.max_upload_bytes": 4096})
	adaReq := e.insertRequest("ada@example.org", dsar.StatusInProgress)
	bobReq := e.insertRequest("bob@example.org", dsar.StatusInProgress)
	_, managerTok := e.staff(dsar.RoleManager)
	_, sourceOwnerTok := e.staff(dsar.RoleSourceOwner)
	ada := e.requester(adaReq, "ada@example.org", "ada's long password")
	bob := e.requester(bobReq, "bob@example.org", "bob's long password")

	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	e.expect("POST", "/api/v1/requests/"+adaReq+"/messages", managerTok,
		newMultipart(t, "Your data is attached.", map[string][]byte{"../export.pdf": pdf}), http.StatusCreated)

	// Refused: a type that is not accepted (HTML sniffs as text/html), and a file too large.
	e.expect("POST", "/api/v1/requests/"+adaReq+"/messages", managerTok,
		newMultipart(t, "x", map[string][]byte{"page.pdf": []byte("<html><script>alert(1)</script></html>")}), http.StatusUnsupportedMediaType)
	e.expect("POST", "/api/v1/requests/"+adaReq+"/messages", managerTok,
		newMultipart(t, "x", map[string][]byte{"big.txt": bytes.Repeat([]byte("a"), 5000)}), http.StatusRequestEntityTooLarge)

	var msgs portalMessages
	e.decode(e.expect("GET", "/api/v1/portal/requests/"+adaReq+"/messages", ada, nil, http.StatusOK), &msgs)
	if len(msgs.Items) != 1 || len(msgs.Items[0].Attachments) != 1 {
		t.Fatalf("the requester sees %+v, want one message with one attachment", msgs.Items)
	}
	att := msgs.Items[0].Attachments[0]
	if att.Filename != "export.pdf" || att.ContentType != "application/pdf" {
		t.Errorf("attachment = %+v, want export.pdf, application/pdf", att)
	}

	// The requester and the staff download it.
	for _, who := range []struct{ path, token string }{
		{att.URL, ada},
		{"/api/v1/requests/" + adaReq + "/attachments/" + att.ID, managerTok},
	} {
		resp, body := e.do("GET", who.path, who.token, nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, pdf) {
			t.Fatalf("GET %s: status %d, %d bytes; want 200 and the file", who.path, resp.StatusCode, len(body))
		}
		if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "application/pdf" || !strings.HasPrefix(cd, "attachment") {
			t.Errorf("GET %s: Content-Type %q, Content-Disposition %q", who.path, ct, cd)
		}
	}
	// Nobody else does.
	for _, who := range []struct{ path, token string }{
		{"/api/v1/portal/requests/" + adaReq + "/attachments/" + att.ID, bob},
		{"/api/v1/portal/requests/" + bobReq + "/attachments/" + att.ID, bob},
		{"/api/v1/requests/" + adaReq + "/attachments/" + att.ID, sourceOwnerTok},
		{"/api/v1/requests/" + bobReq + "/attachments/" + att.ID, managerTok},
	} {
		if resp, _ := e.do("GET", who.path, who.token, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s by another party: status %d, want 404", who.path, resp.StatusCode)
		}
	}
	if resp, _ := e.do("GET", att.URL, "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET %s without a session: status %d, want 401", att.URL, resp.StatusCode)
	}

	events, err := e.db.RequestAudit(e.ctx, adaReq)
	if err != nil {
		t.Fatal(err)
	}
	var downloads []string
	for _, ev := range events {
		if ev.Action == "message_attachment_downloaded" {
			downloads = append(downloads, ev.ActorKind)
		}
	}
	if strings.Join(downloads, ",") != "requester,staff" {
		t.Errorf("audited downloads by %v, want requester then staff", downloads)
	}
}

// TestMessagesAfterScrub checks that the history stays readable once the
// request is closed and its PII scrubbed, and that a later staff message
// is stored but mails nobody (there is no address left).
func TestMessagesAfterScrub(t *testing.T) {
	e := newPortalEnv(t, nil)
	id := e.insertRequest("ada@example.org", dsar.StatusInProgress)
	_, adminTok := e.staff(dsar.RoleAdmin)
	ada := e.requester(id, "ada@example.org", "ada's long password")
	e.expect("POST", "/api/v1/requests/"+id+"/messages", adminTok, map[string]string{"body": "We have deleted your data."}, http.StatusCreated)
	e.expect("POST", "/api/v1/portal/requests/"+id+"/messages", ada, map[string]string{"body": "Thanks!"}, http.StatusCreated)

	if _, err := e.db.ExecContext(e.ctx, `UPDATE requests SET status = 'completed', closed_at = now() WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if err := e.db.ScrubRequest(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.RequestPII(e.ctx, e.keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Fatalf("RequestPII after scrubbing: %v, want EGONE", err)
	}

	e.expect("POST", "/api/v1/requests/"+id+"/messages", adminTok, map[string]string{"body": "One more thing."}, http.StatusCreated)
	for _, who := range []struct{ path, token string }{
		{"/api/v1/requests/" + id + "/messages", adminTok},
		{"/api/v1/portal/requests/" + id + "/messages", ada},
	} {
		var msgs portalMessages
		e.decode(e.expect("GET", who.path, who.token, nil, http.StatusOK), &msgs)
		var bodies []string
		for _, m := range msgs.Items {
			bodies = append(bodies, m.Body)
		}
		if strings.Join(bodies, "|") != "We have deleted your data.|Thanks!|One more thing." {
			t.Errorf("GET %s after scrubbing: %q", who.path, bodies)
		}
	}
	mails, err := e.outbox.List(e.ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) != 1 {
		t.Errorf("%d mails after scrubbing, want only the first nudge (no address is left for the second)", len(mails))
	}
}
