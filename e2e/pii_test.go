package e2e_test

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/mail/resendtest"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/workflows"
)

// The requester's personal data, each value unlikely to occur by chance.
var requester = person{
	first:       "Zebediah",
	last:        "Quillfeather",
	email:       "zebediah.quillfeather@example.net",
	description: "Kindly export the kumquat-ledger-7731 entries about me.",
}

// secrets are the strings that must appear nowhere at rest.
func secrets() []string {
	return []string{requester.first, requester.last, requester.email, "zebediah.quillfeather", "kumquat-ledger-7731"}
}

// TestNoPIIAtRest runs a request from submission to completion through the
// API, then searches the whole database and the workflow's history (as
// Temporal stores it, and decoded with the codec) for the requester's name,
// email and description: none may be there, and after the close the
// request's data key and identity document are gone.
func TestNoPIIAtRest(t *testing.T) {
	rs := resendtest.New(t, "re_test_key")
	e := start(t, map[string]any{"email.provider": "resend", "email.resend.api_key": "re_test_key", "email.resend.base_url": rs.URL})
	e.resend = rs
	ctx := context.Background()

	c := e.crew()
	id := e.complete(c, requester, nil)
	path := "/api/v1/requests/" + id
	owner := c.owner
	e.eventually("the request is completed and scrubbed", func() bool {
		var n int
		_ = e.app.DB.Get(&n, `SELECT count(*) FROM requests WHERE id = $1 AND status = 'completed' AND scrubbed_at IS NOT NULL`, id)
		return n == 1
	})
	e.settled()

	// After the close: no data key, no document, the PII cannot be read.
	for _, table := range []string{"request_keys", "identity_documents"} {
		var n int
		if err := e.app.DB.Get(&n, `SELECT count(*) FROM `+table+` WHERE request_id = $1`, id); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s still holds %d row(s) of the closed request", table, n)
		}
	}
	if _, err := e.app.DB.RequestPII(ctx, e.app.Keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("the closed request's PII: %v, want EGONE", err)
	}
	e.want(e.get(path+"/identity-document", owner), http.StatusGone, "the closed request's document")

	// The database, all of it.
	dump := dumpDatabase(t, e)
	if !strings.Contains(dump, id) {
		t.Fatalf("the dump does not hold the request's id: it is not a dump of the right database")
	}
	for _, s := range secrets() {
		if strings.Contains(strings.ToLower(dump), strings.ToLower(s)) {
			t.Errorf("the database holds %q", s)
		}
	}

	// The workflow's history as Temporal stores it: a client without the
	// codec, every event as JSON and as protobuf bytes.
	raw, err := client.Dial(client.Options{HostPort: testenv.TemporalAddress(t), Namespace: e.app.Config.Temporal.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	dec := codec.New(e.app.Keys)
	it := raw.GetWorkflowHistory(ctx, workflows.WorkflowID(id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	events, decoded, readable := 0, 0, 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events++
		js, _ := protojson.Marshal(ev)
		bin, _ := proto.Marshal(ev)
		for _, s := range secrets() {
			if bytes.Contains(bytes.ToLower(js), []byte(strings.ToLower(s))) || bytes.Contains(bin, []byte(s)) {
				t.Errorf("history event %d (%s) holds %q", ev.EventId, ev.EventType, s)
			}
		}
		// And decoded with the codec: the personal data never enters the
		// workflow at all, encrypted or not.
		visitPayloads(ev.ProtoReflect(), func(p *commonpb.Payload) {
			if string(p.Metadata["encoding"]) != "binary/encrypted" {
				// Left readable on purpose (summaries, timer and step names:
				// no PII), and searched above as they are.
				readable++
				return
			}
			out, err := dec.Decode([]*commonpb.Payload{p})
			if err != nil {
				t.Errorf("event %d (%s): decode: %v (%s)", ev.EventId, ev.EventType, err, p.Data)
				return
			}
			decoded++
			for _, s := range secrets() {
				if bytes.Contains(out[0].Data, []byte(s)) {
					t.Errorf("history event %d (%s) holds %q under the codec", ev.EventId, ev.EventType, s)
				}
			}
		})
	}
	if events < 10 || decoded == 0 || readable == 0 {
		t.Errorf("the history has %d events, %d sealed payloads and %d readable: not the whole run", events, decoded, readable)
	}
	if len(rs.Emails()) == 0 {
		t.Error("no mail was sent: the run did not reach the requester")
	}
}

// act posts a staff action, retrying while the workflow has not yet caught
// up with the previous one (409), until it is applied or accepted (any 2xx,
// as clients take it).
func (e *env) act(path, token string, body any) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := e.postJSON(path, token, body)
		if a.status/100 == 2 {
			return
		}
		if a.status != http.StatusConflict || time.Now().After(deadline) {
			e.t.Fatalf("POST %s = %d: %s", path, a.status, a.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dumpDatabase is the test database as text: pg_dump when it is installed,
// else every row of every table.
func dumpDatabase(t *testing.T, e *env) string {
	t.Helper()
	if bin, err := exec.LookPath("pg_dump"); err == nil {
		out, err := exec.Command(bin, "--no-owner", "--dbname="+e.app.Config.Database.URL).Output()
		if err == nil {
			return string(out)
		}
		t.Logf("pg_dump failed (%v); reading every table instead", err)
	}
	var tables []string
	if err := e.app.DB.Select(&tables, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, name := range tables {
		var rows []string
		if err := e.app.DB.Select(&rows, `SELECT t::text FROM "`+name+`" t`); err != nil {
			t.Fatal(err)
		}
		b.WriteString(name + "\n" + strings.Join(rows, "\n") + "\n")
	}
	return b.String()
}

// visitPayloads calls visit with every Payload inside m.
func visitPayloads(m protoreflect.Message, visit func(*commonpb.Payload)) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		visit(p)
		return
	}
	if _, ok := m.Interface().(*commonpb.SearchAttributes); ok {
		return // the SDK's own JSON, never through the codec: status, type, country, deadline (checked in the clear above)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					visitPayloads(mv.Message(), visit)
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := range v.List().Len() {
					visitPayloads(v.List().Get(i).Message(), visit)
				}
			}
		case fd.Message() != nil:
			visitPayloads(v.Message(), visit)
		}
		return true
	})
}
