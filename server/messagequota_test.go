package server_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/server"
)

// A requester's messages have quotas over 24 hours, per request and per
// account (all the requests of their email), in count and in bytes of
// attachments; beyond, 429 names the field. Staff messages have none.
// Before, a signed-in requester could post without end.
func TestPortalMessageQuotas(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t, map[string]any{"intake.max_upload_bytes": 4096,
		"portal.request_messages_per_day": 2, "portal.account_messages_per_day": 3, "portal.request_message_bytes_per_day": 3000})
	first := e.insertRequest("ada@example.org", dsar.StatusInProgress)
	second := e.insertRequest("ada@example.org", dsar.StatusInProgress)
	ada := e.requester(first, "ada@example.org", "ada's long password")
	_, manager := e.staff(dsar.RoleManager)
	post := func(id, body string, files map[string][]byte, want int) server.ErrorBody {
		t.Helper()
		var out server.ErrorBody
		data := e.expect("POST", "/api/v1/portal/requests/"+id+"/messages", ada, newMultipart(t, body, files), want)
		if want >= 400 {
			e.decode(data, &out)
		}
		return out
	}

	post(first, "one", nil, http.StatusCreated)
	post(first, "two", nil, http.StatusCreated)
	if got := post(first, "three", nil, http.StatusTooManyRequests); !strings.Contains(got.Error.Fields["body"], "one request") {
		t.Errorf("a third message on one request: %+v, want the body field to name the request's quota", got)
	}
	post(second, "four", nil, http.StatusCreated)
	if got := post(second, "five", nil, http.StatusTooManyRequests); !strings.Contains(got.Error.Fields["body"], "all your requests") {
		t.Errorf("a fourth message in all: %+v, want the body field to name the account's quota", got)
	}
	e.expect("POST", "/api/v1/requests/"+first+"/messages", manager, map[string]string{"body": "Staff write without a quota."}, http.StatusCreated)

	// Bytes of attachments, per request.
	bob := e.insertRequest("bob@example.org", dsar.StatusInProgress)
	bobTok := e.requester(bob, "bob@example.org", "bob's long password")
	file := map[string][]byte{"export.txt": bytes.Repeat([]byte("a"), 2000)}
	e.expect("POST", "/api/v1/portal/requests/"+bob+"/messages", bobTok, newMultipart(t, "a file", file), http.StatusCreated)
	var over server.ErrorBody
	e.decode(e.expect("POST", "/api/v1/portal/requests/"+bob+"/messages", bobTok, newMultipart(t, "another", file), http.StatusTooManyRequests), &over)
	if !strings.Contains(over.Error.Fields["attachments"], "of files a day") {
		t.Errorf("attachments beyond the day's bytes: %+v, want the attachments field named", over)
	}
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM messages WHERE sender = 'requester'`); err != nil || n != 4 {
		t.Fatalf("requester messages stored: %d (%v), want 4", n, err)
	}
}
