package server_test

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/opendsar/dsar"
)

// TestMessagesAreCiphertextAtRest is the seed's "Data in the secure
// messaging portal is encrypted ... at rest": after a staff message with an
// attachment and the requester's reply, both read back in the clear through
// the API, the rows Postgres holds for them (every column) contain neither
// text, nor the attachment's bytes or name, as they are or hex-encoded.
func TestMessagesAreCiphertextAtRest(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t, nil)
	id := e.insertRequest("ada-at-rest@example.org", dsar.StatusInProgress)
	_, managerTok := e.staff(dsar.RoleManager)
	ada := e.requester(id, "ada-at-rest@example.org", "ada's long password")

	const (
		staffText     = "Your export is attached; the archive password is marmalade-heron-6153."
		requesterText = "Thanks, the quince-lantern-2987 entries are the ones I meant."
		filename      = "walrus-ledger-export.pdf"
	)
	pdf := []byte("%PDF-1.4\n1 0 obj << /Title (pumpernickel-orbit-7719) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	e.expect("POST", "/api/v1/requests/"+id+"/messages", managerTok, newMultipart(t, staffText, map[string][]byte{filename: pdf}), http.StatusCreated)
	e.expect("POST", "/api/v1/portal/requests/"+id+"/messages", ada, map[string]string{"body": requesterText}, http.StatusCreated)

	// Both sides read them in the clear.
	var msgs portalMessages
	e.decode(e.expect("GET", "/api/v1/requests/"+id+"/messages", managerTok, nil, http.StatusOK), &msgs)
	if len(msgs.Items) != 2 || msgs.Items[0].Body != staffText || msgs.Items[1].Body != requesterText ||
		len(msgs.Items[0].Attachments) != 1 || msgs.Items[0].Attachments[0].Filename != filename {
		t.Fatalf("staff read %+v, want both messages and the attachment", msgs.Items)
	}
	e.decode(e.expect("GET", "/api/v1/portal/requests/"+id+"/messages", ada, nil, http.StatusOK), &msgs)
	if len(msgs.Items) != 2 || msgs.Items[0].Body != staffText || len(msgs.Items[0].Attachments) != 1 {
		t.Fatalf("the requester reads %+v, want both messages and the attachment", msgs.Items)
	}
	if resp, body := e.do("GET", msgs.Items[0].Attachments[0].URL, ada, nil); resp.StatusCode != http.StatusOK || !bytes.Equal(body, pdf) {
		t.Fatalf("the requester downloads %d bytes (status %d), want the file", len(body), resp.StatusCode)
	}

	// The rows as Postgres holds them: every column, bytea as hex.
	var rows []string
	const q = `SELECT row_to_json(m)::text FROM messages m WHERE m.request_id = $1
		UNION ALL
		SELECT row_to_json(a)::text FROM message_attachments a JOIN messages m ON m.id = a.message_id WHERE m.request_id = $1`
	if err := e.db.SelectContext(e.ctx, &rows, q, id); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d message and attachment rows, want 3 (two messages, one attachment)", len(rows))
	}
	secrets := map[string][]byte{
		"the staff message": []byte("marmalade-heron-6153"), "the requester's message": []byte("quince-lantern-2987"),
		"the attachment's bytes": []byte("pumpernickel-orbit-7719"), "the attachment's name": []byte("walrus-ledger"),
	}
	for _, row := range rows {
		for what, s := range secrets {
			if bytes.Contains([]byte(row), s) || bytes.Contains([]byte(row), []byte(hex.EncodeToString(s))) {
				t.Errorf("a row holds %s in the clear: %s", what, row)
			}
		}
	}
}
