package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// alertWorld is a company's staff, data sources and requests, for the
// alert routing tests.
type alertWorld struct {
	t    *testing.T
	ctx  context.Context
	db   *store.DB
	keys *crypto.Keyring
	name map[string]string // user id → the test's name for the user
}

func newAlertWorld(t *testing.T) *alertWorld {
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), nil, "")
	return &alertWorld{t: t, ctx: context.Background(), db: testenv.DB(t), keys: keys, name: map[string]string{}}
}

// user adds an active user called name.
func (w *alertWorld) user(name string, role dsar.Role) store.User {
	w.t.Helper()
	u, err := w.db.CreateUser(w.ctx, store.User{Email: name + "@example.com", Name: name, Role: role, PasswordHash: "x"})
	if err != nil {
		w.t.Fatal(err)
	}
	w.name[u.ID] = name
	return u
}

func (w *alertWorld) disable(u store.User) {
	w.t.Helper()
	yes := true
	if _, err := w.db.UpdateUser(w.ctx, u.ID, store.UserPatch{Disabled: &yes}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *alertWorld) source(name string, owners ...store.User) string {
	w.t.Helper()
	ids := make([]string, len(owners))
	for i, o := range owners {
		ids[i] = o.ID
	}
	d, err := w.db.CreateDataSource(w.ctx, name, "", ids)
	if err != nil {
		w.t.Fatal(err)
	}
	return d.ID
}

// request adds a request in status with a deadline days from now and an
// open task on each source.
func (w *alertWorld) request(status dsar.Status, days int, sources ...string) string {
	w.t.Helper()
	id := insertRequest(w.t, w.db, w.keys, store.PII{FirstName: "Alice", Email: "alice@example.net"}, nil)
	w.exec(`UPDATE requests SET status = $2, deadline = now() + make_interval(days => $3) WHERE id = $1`, id, status, days)
	for _, s := range sources {
		w.exec(`INSERT INTO tasks (request_id, data_source_id, assigned_at, last_activity_at) VALUES ($1, $2, now(), now())`, id, s)
	}
	return id
}

func (w *alertWorld) exec(q string, args ...any) {
	w.t.Helper()
	if _, err := w.db.Exec(q, args...); err != nil {
		w.t.Fatal(err)
	}
}

// names are the test's names of users, sorted.
func (w *alertWorld) names(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = w.name[id]
		if out[i] == "" {
			out[i] = "unknown " + id
		}
	}
	slices.Sort(out)
	return out
}

func (w *alertWorld) recipients(kind, requestID string, sources []string) []store.AlertRecipient {
	w.t.Helper()
	rs, err := w.db.AlertRecipients(w.ctx, store.AlertSubject{Kind: kind, RequestID: requestID, DataSourceIDs: sources})
	if err != nil {
		w.t.Fatal(err)
	}
	return rs
}

func recipientIDs(rs []store.AlertRecipient) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.UserID
	}
	return ids
}

// TestAlertRecipientsPerKind holds every alert kind to who receives it,
// for a request without a handler and one with: the handler alone, or the
// org owners and admins while there is none; source alerts to the task's
// assignee, else the source's active owners, else the org owners.
func TestAlertRecipientsPerKind(t *testing.T) {
	w := newAlertWorld(t)
	w.user("owner1", dsar.RoleOrgOwner)
	w.user("owner2", dsar.RoleOrgOwner)
	w.disable(w.user("gone-owner", dsar.RoleOrgOwner))
	w.user("admin", dsar.RoleAdmin)
	w.disable(w.user("gone-admin", dsar.RoleAdmin))
	writer := w.user("writer", dsar.RoleManager)
	w.user("bystander", dsar.RoleManager)
	handler := w.user("handler", dsar.RoleManager)
	crmOwner := w.user("crm-owner", dsar.RoleSourceOwner)
	erpOwner := w.user("erp-owner", dsar.RoleSourceOwner)
	assignee := w.user("assignee", dsar.RoleSourceOwner)
	crm := w.source("CRM", crmOwner)
	erp := w.source("Old ERP", erpOwner) // its only owner leaves: no active owner
	mailer := w.source("Mail tool", crmOwner)
	w.disable(erpOwner)
	sources := []string{crm, erp, mailer}

	plain := w.request(dsar.StatusInProgress, 20, sources...)
	handled := w.request(dsar.StatusInProgress, 20, sources...)
	w.exec(`UPDATE requests SET handler_id = $2 WHERE id = $1`, handled, handler.ID)
	for _, id := range []string{plain, handled} {
		w.exec(`UPDATE tasks SET assignee_id = $3 WHERE request_id = $1 AND data_source_id = $2`, id, mailer, assignee.ID)
		if _, err := w.db.AddMessage(w.ctx, w.keys, store.NewMessage{RequestID: id, Sender: store.SenderStaff,
			StaffUserID: writer.ID, ActorID: writer.ID, Body: "Could you tell us more?"}); err != nil {
			t.Fatal(err)
		}
	}

	team := []string{"admin", "owner1", "owner2"}
	owners := []string{"owner1", "owner2"}
	// What the three sources' tasks bring in: the CRM's owner, the org
	// owners for the ERP (no active owner) and the mail tool's assignee.
	bySource := []string{"assignee", "crm-owner", "owner1", "owner2"}
	union := func(sets ...[]string) []string {
		var out []string
		for _, s := range sets {
			for _, n := range s {
				if !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	type routing struct {
		kind                        string
		withoutHandler, whenHandled []string
	}
	cases := []routing{
		{store.AlertNewRequest, team, []string{"handler"}},
		{store.AlertUnassigned, team, []string{"handler"}},
		{store.AlertTaskAssigned, bySource, bySource},
		{store.AlertTaskStalled, bySource, bySource},
		{store.AlertDeadlineWarning, union(team, bySource), union([]string{"handler"}, bySource)},
		{store.AlertOverdue, union(team, bySource), union([]string{"handler"}, bySource)},
		{store.AlertAttention, team, union([]string{"handler"}, owners)},
		{store.AlertRequesterReplied, union(team, []string{"writer"}), []string{"handler", "writer"}},
		{"ready_to_complete", team, []string{"handler"}},
		{"task_declined", team, []string{"handler"}},
		{"request_withdrawn", union(team, bySource), union([]string{"handler"}, bySource)},
		{"mail_failed", team, []string{"handler"}},
		{store.AlertAcknowledgeDue, team, []string{"handler"}},
		{store.AlertAppealFiled, team, union([]string{"handler"}, owners)},
		{store.AlertAppealWarning, team, union([]string{"handler"}, owners)},
		{store.AlertAppealOverdue, team, union([]string{"handler"}, owners)},
		{store.AlertSourceAttention, union(team, bySource), union([]string{"handler"}, bySource)},
		{store.AlertOutstanding, nil, nil},
	}
	for _, kind := range store.AlertKinds {
		if !slices.ContainsFunc(cases, func(c routing) bool { return c.kind == kind }) {
			t.Errorf("alert kind %q has no row here: say who receives it", kind)
		}
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			if !slices.Contains(store.AlertKinds, c.kind) {
				t.Skipf("%s is not an alert kind (yet)", c.kind)
			}
			for _, r := range []struct {
				what, id string
				want     []string
			}{{"without a handler", plain, c.withoutHandler}, {"with a handler", handled, c.whenHandled}} {
				got := w.names(recipientIDs(w.recipients(c.kind, r.id, sources)))
				if want := union(r.want); !slices.Equal(got, want) {
					t.Errorf("%s: %v, want %v", r.what, got, want)
				}
			}
		})
	}

	// Each source recipient hears which sources concern them, and an org
	// owner that the ERP has no active owner.
	for _, rc := range w.recipients(store.AlertTaskAssigned, plain, sources) {
		var want, unowned []string
		switch w.name[rc.UserID] {
		case "crm-owner":
			want = []string{"CRM"} // not the mail tool: its task has an assignee
		case "assignee":
			want = []string{"Mail tool"}
		case "owner1", "owner2":
			want, unowned = []string{"Old ERP"}, []string{"Old ERP"}
		}
		if !slices.Equal(rc.DataSources, want) || !slices.Equal(rc.Unowned, unowned) {
			t.Errorf("%s: sources %v (unowned %v), want %v (%v)", w.name[rc.UserID], rc.DataSources, rc.Unowned, want, unowned)
		}
	}

	// A disabled handler hands the request back to the team; a disabled
	// assignee hands the task back to the source's owners.
	w.disable(handler)
	w.disable(assignee)
	if got := w.names(recipientIDs(w.recipients(store.AlertOverdue, handled, []string{mailer}))); !slices.Equal(got, union(team, []string{"crm-owner"})) {
		t.Errorf("after the handler and assignee left: %v", got)
	}
}

// TestRequesterReplyAlertsTheHandler goes through AddMessage: a reply to a
// request with a handler alerts the handler (and who wrote to the
// requester), not every org owner.
func TestRequesterReplyAlertsTheHandler(t *testing.T) {
	w := newAlertWorld(t)
	w.user("owner", dsar.RoleOrgOwner)
	handler := w.user("handler", dsar.RoleAdmin)
	w.user("other-admin", dsar.RoleAdmin)
	id := w.request(dsar.StatusInProgress, 20)
	reply := func() []string {
		t.Helper()
		msg, err := w.db.AddMessage(w.ctx, w.keys, store.NewMessage{RequestID: id, Sender: store.SenderRequester, Body: "Any news?"})
		if err != nil {
			t.Fatal(err)
		}
		alerts, err := w.db.RequestAlerts(w.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range alerts {
			if a.Kind == store.AlertRequesterReplied && strings.Contains(a.DedupeKey, msg.ID) {
				ids = append(ids, a.RecipientID)
			}
		}
		return w.names(ids)
	}
	if got := reply(); !slices.Equal(got, []string{"handler", "other-admin", "owner"}) {
		t.Errorf("reply without a handler alerted %v", got)
	}
	w.exec(`UPDATE requests SET handler_id = $2 WHERE id = $1`, id, handler.ID)
	if got := reply(); !slices.Equal(got, []string{"handler"}) {
		t.Errorf("reply with a handler alerted %v, want the handler alone", got)
	}
}

// TestOutstandingPerRecipient: what waits on each user at the end of the
// day, by the same rules, and the digest's notice recorded once a day for
// exactly those users.
func TestOutstandingPerRecipient(t *testing.T) {
	w := newAlertWorld(t)
	owner := w.user("owner", dsar.RoleOrgOwner)
	admin := w.user("admin", dsar.RoleAdmin)
	handler := w.user("handler", dsar.RoleManager)
	idle := w.user("idle", dsar.RoleManager)
	crmOwner := w.user("crm-owner", dsar.RoleSourceOwner)
	erpOwner := w.user("erp-owner", dsar.RoleSourceOwner)
	crm := w.source("CRM", crmOwner)
	erp := w.source("Old ERP", erpOwner)
	w.disable(erpOwner)

	late := w.request(dsar.StatusInProgress, -2, crm) // overdue, handled
	w.exec(`UPDATE requests SET handler_id = $2 WHERE id = $1`, late, handler.ID)
	soon := w.request(dsar.StatusIdentityVerified, 3) // no handler
	erpTask := w.request(dsar.StatusInProgress, 10, erp)
	w.request(dsar.StatusPendingEmailVerification, 30) // nothing to do for staff yet
	closed := w.request(dsar.StatusCompleted, 5, crm)
	w.exec(`UPDATE tasks SET status = 'completed' WHERE request_id = $1`, closed)

	ids := func(l store.OutstandingList) []string {
		var out []string
		for _, r := range l.Items {
			out = append(out, r.RequestID)
		}
		return out
	}
	get := func(u store.User) store.Outstanding {
		t.Helper()
		o, err := w.db.Outstanding(w.ctx, u.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}

	o := get(handler)
	if !slices.Equal(ids(o.Handled), []string{late}) || o.Handled.Total != 1 || !o.Handled.Items[0].Overdue ||
		o.Unhandled.Total != 0 || o.Tasks.Total != 0 {
		t.Errorf("handler: %+v", o)
	}
	for _, u := range []store.User{owner, admin} {
		o := get(u)
		if !slices.Equal(ids(o.Unhandled), []string{soon, erpTask}) || o.Unhandled.Total != 2 || o.Unhandled.Items[0].Overdue {
			t.Errorf("%s: requests without a handler %v (total %d), want %v", u.Name, ids(o.Unhandled), o.Unhandled.Total, []string{soon, erpTask})
		}
	}
	if o := get(owner); !slices.Equal(ids(o.Tasks), []string{erpTask}) || !slices.Equal([]string(o.Tasks.Items[0].Unowned), []string{"Old ERP"}) {
		t.Errorf("owner: the task of a source without an active owner: %+v", o.Tasks)
	}
	if o := get(admin); o.Tasks.Total != 0 {
		t.Errorf("admin: tasks %+v; a source without an owner falls to org owners only", o.Tasks)
	}
	if o := get(crmOwner); !slices.Equal(ids(o.Tasks), []string{late}) || !slices.Equal([]string(o.Tasks.Items[0].DataSources), []string{"CRM"}) ||
		o.Handled.Total+o.Unhandled.Total != 0 {
		t.Errorf("crm owner: %+v", o)
	}
	if o := get(idle); !o.Empty() {
		t.Errorf("idle manager: %+v", o)
	}
	if o, err := w.db.Outstanding(w.ctx, owner.ID, 1); err != nil || len(o.Unhandled.Items) != 1 || o.Unhandled.Total != 2 {
		t.Errorf("limited to 1: %+v %v; want one shown of 2", o.Unhandled, err)
	}

	day := time.Now().UTC().Format(time.DateOnly)
	n, err := w.db.RecordOutstandingAlerts(w.ctx, day)
	if err != nil || n != 4 {
		t.Fatalf("outstanding notices: %d, %v; want 4 (handler, owner, admin, crm owner)", n, err)
	}
	if n, _ := w.db.RecordOutstandingAlerts(w.ctx, day); n != 0 {
		t.Errorf("the same day again recorded %d", n)
	}
	recips, err := w.db.PendingAlertRecipients(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.names(recips); !slices.Equal(got, []string{"admin", "crm-owner", "handler", "owner"}) {
		t.Errorf("notified %v", got)
	}
}

// TestSameDayAlertGathersItsSources: a second assignment alert with the
// same key (the same owner, request and day) adds no alert, but the one
// not yet sent names both data sources; once sent, a repeat changes
// nothing.
func TestSameDayAlertGathersItsSources(t *testing.T) {
	w := newAlertWorld(t)
	owner := w.user("olivia", dsar.RoleSourceOwner)
	rec := func(sources ...string) int {
		n, err := w.db.RecordAlerts(w.ctx, []store.NewAlert{{DedupeKey: "r:assigned-1:" + owner.ID, RecipientID: owner.ID,
			Kind: store.AlertTaskAssigned, Detail: map[string]any{"data_sources": sources}}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	pending := func() []store.Alert {
		as, err := w.db.PendingAlerts(w.ctx, owner.ID)
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	if n := rec("CRM"); n != 1 {
		t.Fatalf("the first alert counted %d new", n)
	}
	if n := rec("Billing"); n != 0 {
		t.Fatalf("the same day's second assignment counted %d new alerts", n)
	}
	rec("CRM") // a retry of the first
	as := pending()
	if len(as) != 1 || !strings.Contains(string(as[0].Detail), "CRM") || !strings.Contains(string(as[0].Detail), "Billing") ||
		strings.Count(string(as[0].Detail), "CRM") != 1 {
		t.Fatalf("pending alerts %+v, want one naming CRM and Billing once each", as)
	}
}
