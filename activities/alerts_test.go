package activities_test

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/mail"
	"github.com/opendsar/dsar/mail/resendtest"
	"github.com/opendsar/dsar/store"
)

// resendFixture is the fixture with mail going through the Resend client
// to a local server that speaks Resend's API.
// mode is alerts.mode.
func resendFixture(t *testing.T, mode string) (*fixture, *resendtest.Server) {
	t.Helper()
	f := newFixture(t)
	f.acts.Config.Alerts.Mode = mode
	srv := resendtest.New(t, "re_test_key")
	r, err := mail.NewResend("re_test_key", srv.URL, f.acts.Config.Email.From)
	if err != nil {
		t.Fatal(err)
	}
	f.acts.Mailer = r
	return f, srv
}

// openRequest makes a request verified and open in status, due in days (negative:
// overdue), with an open task on each data source.
func (f *fixture) openRequest(status dsar.Status, days int, sources ...string) string {
	f.t.Helper()
	id := f.request(alice)
	f.sql(`UPDATE requests SET status = $2, email_verified_at = now(), deadline = now() + make_interval(days => $3) WHERE id = $1`, id, status, days)
	for _, s := range sources {
		f.sql(`INSERT INTO tasks (request_id, data_source_id, assigned_at, last_activity_at) VALUES ($1, $2, now(), now())`, id, s)
	}
	return id
}

func (f *fixture) sql(q string, args ...any) {
	f.t.Helper()
	if _, err := f.db.Exec(q, args...); err != nil {
		f.t.Fatal(err)
	}
}

// mailTo is the one email srv delivered to addr, or fails.
func mailTo(t *testing.T, srv *resendtest.Server, addr string) resendtest.Email {
	t.Helper()
	var got []resendtest.Email
	for _, e := range srv.Emails() {
		if slices.Contains(e.To, addr) {
			got = append(got, e)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%s got %d mails, want 1", addr, len(got))
	}
	return got[0]
}

func (f *fixture) recordAlert(r activities.AlertRequest) int {
	f.t.Helper()
	n, err := f.acts.RecordAlerts(f.ctx, r)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// TestAlertsGoToTheHandlerElseTheTeam: a request's alerts go to its handler;
// without one to the org owners and admins; source alerts to the source's
// owners, or to the org owners when it has no active owner, and the mail
// says why.
func TestAlertsGoToTheHandlerElseTheTeam(t *testing.T) {
	f, srv := resendFixture(t, "digest")
	owner := f.user("owner@example.com", dsar.RoleOrgOwner)
	admin := f.user("admin@example.com", dsar.RoleAdmin)
	handler := f.user("handler@example.com", dsar.RoleManager)
	leaver := f.user("leaver@example.com", dsar.RoleSourceOwner)
	erp := f.dataSource("Old ERP", leaver)
	f.sql(`UPDATE users SET disabled_at = now() WHERE id = $1`, leaver.ID)
	plain := f.openRequest(dsar.StatusIdentityVerified, 20)
	handled := f.openRequest(dsar.StatusIdentityVerified, 20)
	f.sql(`UPDATE requests SET handler_id = $2 WHERE id = $1`, handled, handler.ID)

	if n := f.recordAlert(activities.AlertRequest{RequestID: plain, Kind: store.AlertNewRequest, Key: "unassigned-0", OrgOwners: true}); n != 2 {
		t.Errorf("new request without a handler: %d alerts, want 2 (the org owner and the admin)", n)
	}
	if n := f.recordAlert(activities.AlertRequest{RequestID: handled, Kind: store.AlertNewRequest, Key: "unassigned-0", OrgOwners: true}); n != 1 {
		t.Errorf("new request with a handler: %d alerts, want 1", n)
	}
	if n := f.recordAlert(activities.AlertRequest{RequestID: handled, Kind: store.AlertTaskAssigned, Key: "assigned-1",
		DataSourceIDs: []string{erp}, Immediate: true}); n != 1 {
		t.Errorf("assignment of a source without an active owner: %d alerts, want 1 (the org owner)", n)
	}
	m := mailTo(t, srv, owner.Email) // sent at once: immediate
	for _, want := range []string{store.AlertLabel(store.AlertTaskAssigned), dsar.Reference(handled), "Old ERP",
		"No active owner for Old ERP: you hear of it as an org owner"} {
		if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
			t.Errorf("immediate mail lacks %q:\n%s", want, m.Text)
		}
	}
	for _, u := range []store.User{admin, handler} {
		if ms := f.pendingKinds(u); len(ms) != 1 || ms[0] != store.AlertNewRequest {
			t.Errorf("%s: pending %v, want one new_request", u.Email, ms)
		}
	}
}

func (f *fixture) pendingKinds(u store.User) []string {
	f.t.Helper()
	al, err := f.db.PendingAlerts(f.ctx, u.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	var kinds []string
	for _, a := range al {
		kinds = append(kinds, a.Kind)
	}
	return kinds
}

// rawCode matches an alert kind's code where a line of the digest would
// print it as a label ("- requester_replied: ...").
func rawCode(kind string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)(^- ` + regexp.QuoteMeta(kind) + `\b|<strong>` + regexp.QuoteMeta(kind) + `</strong>)`)
}

// TestDigestSpeaksInWords: every alert kind appears by its label, never
// its code; each request by its reference and a link to it in the console.
func TestDigestSpeaksInWords(t *testing.T) {
	f, srv := resendFixture(t, "digest")
	owner := f.user("owner@example.com", dsar.RoleOrgOwner)
	crm := f.dataSource("Salesforce CRM", owner)
	id := f.openRequest(dsar.StatusInProgress, 20, crm)
	kinds := 0
	for i, kind := range store.AlertKinds {
		if kind == store.AlertOutstanding {
			continue
		}
		if f.recordAlert(activities.AlertRequest{RequestID: id, Kind: kind, Key: "event-" + kind, DataSourceIDs: []string{crm},
			Deadline: time.Date(2026, 4, 1+i, 9, 0, 0, 0, time.UTC)}) == 1 {
			kinds++
		}
	}
	if kinds < 12 {
		t.Fatalf("the org owner got %d kinds of alert; the test needs them all", kinds)
	}
	if sent, err := f.acts.SendAlertDigest(f.ctx); err != nil || sent != 1 {
		t.Fatalf("digest: %d, %v", sent, err)
	}
	m := mailTo(t, srv, owner.Email)
	link := "https://privacy.example.org/console/requests/" + id
	for _, want := range []string{dsar.Reference(id), link, "Salesforce CRM", "1 April 2026", "Requests without a handler (1)"} {
		if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
			t.Errorf("digest lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.HasPrefix(m.Subject, strconv.Itoa(kinds)+" privacy request alert") {
		t.Errorf("subject %q", m.Subject)
	}
	for _, kind := range store.AlertKinds {
		if kind == store.AlertOutstanding {
			continue
		}
		label := store.AlertLabel(kind)
		if !strings.Contains(m.Text, "- "+label+"\n  Request "+dsar.Reference(id)) || !strings.Contains(m.HTML, "<strong>"+label+"</strong>") {
			t.Errorf("digest lacks the line of %s (%q):\n%s", kind, label, m.Text)
		}
		if rawCode(kind).MatchString(m.Text) || rawCode(kind).MatchString(m.HTML) || (strings.Contains(kind, "_") &&
			(strings.Contains(m.Text, kind) || strings.Contains(m.HTML, kind))) {
			t.Errorf("digest prints the code %q", kind)
		}
	}
	if strings.Contains(m.Text, alice.Email) || strings.Contains(m.Text, alice.FirstName) {
		t.Error("the digest names the requester")
	}
}

// TestDigestListsOutstandingWork: at the end of the day each recipient's
// outstanding requests are listed with deadline and whether overdue, also
// for a recipient with no event that day; once a day, and nobody with
// nothing waiting gets mail.
func TestDigestListsOutstandingWork(t *testing.T) {
	f, srv := resendFixture(t, "digest")
	owner := f.user("owner@example.com", dsar.RoleOrgOwner)
	handler := f.user("handler@example.com", dsar.RoleManager)
	idle := f.user("idle@example.com", dsar.RoleManager)
	crmOwner := f.user("crm@example.com", dsar.RoleSourceOwner)
	crm := f.dataSource("Salesforce CRM", crmOwner)
	late := f.openRequest(dsar.StatusInProgress, -3, crm)
	f.sql(`UPDATE requests SET handler_id = $2 WHERE id = $1`, late, handler.ID)
	fresh := f.openRequest(dsar.StatusAwaitingIdentity, 25)
	f.request(alice) // unverified: nothing for staff to do yet

	sent, err := f.acts.SendAlertDigest(f.ctx)
	if err != nil || sent != 3 {
		t.Fatalf("digest sent %d, %v; want 3 (handler, org owner, source owner)", sent, err)
	}
	if len(srv.Emails()) != 3 {
		t.Fatalf("%d mails", len(srv.Emails()))
	}
	due := func(days int) string { return time.Now().AddDate(0, 0, days).UTC().Format("2 January 2006") }

	m := mailTo(t, srv, handler.Email)
	if m.Subject != "1 privacy request(s) waiting on you at "+f.acts.Config.Company.Name {
		t.Errorf("handler's subject %q", m.Subject)
	}
	for _, want := range []string{"Requests you handle (1)", dsar.Reference(late) + " (Info request)", dsar.StatusInProgress.Label(),
		"due " + due(-3) + ", OVERDUE\n", "https://privacy.example.org/console/requests/" + late} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("handler's digest lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, dsar.Reference(fresh)) || strings.Contains(m.Text, "need attention") {
		t.Errorf("handler's digest lists what is not theirs, or events they did not have:\n%s", m.Text)
	}
	if !strings.Contains(m.HTML, "overdue") || !strings.Contains(m.HTML, dsar.Reference(late)) {
		t.Errorf("handler's HTML digest:\n%s", m.HTML)
	}

	m = mailTo(t, srv, owner.Email)
	if !strings.Contains(m.Text, "Requests without a handler (1)") || !strings.Contains(m.Text, dsar.Reference(fresh)+" (Info request)") ||
		!strings.Contains(m.Text, "due "+due(25)) || strings.Contains(m.Text, dsar.Reference(late)) {
		t.Errorf("org owner's digest:\n%s", m.Text)
	}
	m = mailTo(t, srv, crmOwner.Email)
	if !strings.Contains(m.Text, "Open tasks of your data sources (1)") || !strings.Contains(m.Text, "Your task: Salesforce CRM") ||
		!strings.Contains(m.Text, dsar.Reference(late)) {
		t.Errorf("source owner's digest:\n%s", m.Text)
	}
	if len(f.pendingKinds(idle)) != 0 {
		t.Error("a user with nothing waiting has an alert")
	}

	// The same day again (a retry, or a run by hand): nothing new, no mail.
	if sent, err := f.acts.SendAlertDigest(f.ctx); err != nil || sent != 0 || len(srv.Emails()) != 3 {
		t.Errorf("second run: %d, %v, %d mails in all", sent, err, len(srv.Emails()))
	}
}

// TestImmediateModeSendsNoDailyList: with alerts.mode=immediate the daily
// run sends only alerts left pending, without the list of outstanding work.
func TestImmediateModeSendsNoDailyList(t *testing.T) {
	f, srv := resendFixture(t, "immediate")
	f.user("owner@example.com", dsar.RoleOrgOwner)
	f.openRequest(dsar.StatusAwaitingIdentity, 25)
	if sent, err := f.acts.SendAlertDigest(f.ctx); err != nil || sent != 0 || len(srv.Emails()) != 0 {
		t.Errorf("immediate mode's daily run: %d, %v, %d mails", sent, err, len(srv.Emails()))
	}
}

// TestDeclinedTaskAlertNamesTheSource: the handler hears which data
// source's task was declined, by name.
func TestDeclinedTaskAlertNamesTheSource(t *testing.T) {
	f, srv := resendFixture(t, "digest")
	handler := f.user("handler@example.com", dsar.RoleManager)
	olivia := f.user("olivia@example.com", dsar.RoleSourceOwner)
	crm := f.dataSource("CRM", olivia)
	id := f.openRequest(dsar.StatusInProgress, 20, crm)
	f.sql(`UPDATE requests SET handler_id = $2 WHERE id = $1`, id, handler.ID)
	if n := f.recordAlert(activities.AlertRequest{RequestID: id, Kind: store.AlertTaskDeclined, Key: "declined-1",
		DataSourceIDs: []string{crm}, Immediate: true}); n != 1 {
		t.Fatalf("%d alerts, want one to the handler", n)
	}
	m := mailTo(t, srv, handler.Email)
	for _, want := range []string{store.AlertLabel(store.AlertTaskDeclined), "data sources: CRM"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the handler's mail lacks %q:\n%s", want, m.Text)
		}
	}
}

// TestStaffMailDatesInTheRulesZone: a California request due at 18:00
// Pacific on 17 December is due on the 18th in UTC. Staff mail gives its
// date where the rule counts it, naming the zone, in the alert's line and
// in the list of open work; a GDPR request's date stays in UTC.
func TestStaffMailDatesInTheRulesZone(t *testing.T) {
	f, srv := resendFixture(t, "digest")
	owner := f.user("owner@example.com", dsar.RoleOrgOwner)
	due := time.Date(2026, time.December, 18, 2, 0, 0, 0, time.UTC) // 17 December, 18:00 Pacific
	ca := f.openRequest(dsar.StatusIdentityVerified, 10)
	f.sql(`UPDATE requests SET deadline = $2, deadline_rule = 'us_ccpa', deadline_rule_name = 'California CCPA/CPRA' WHERE id = $1`, ca, due)
	eu := f.openRequest(dsar.StatusIdentityVerified, 10)
	f.sql(`UPDATE requests SET deadline = $2 WHERE id = $1`, eu, due.Add(24*time.Hour))
	f.recordAlert(activities.AlertRequest{RequestID: ca, Kind: store.AlertDeadlineWarning, Key: "warning", Deadline: due})

	if sent, err := f.acts.SendAlertDigest(f.ctx); err != nil || sent != 1 {
		t.Fatalf("digest: %d, %v", sent, err)
	}
	m := mailTo(t, srv, owner.Email)
	pacific := "17 December 2026 (Pacific time)"
	if n := strings.Count(m.Text, "due "+pacific); n != 2 {
		t.Errorf("the digest gives the Californian deadline as %q %d times, want 2 (alert and list):\n%s", pacific, n, m.Text)
	}
	if !strings.Contains(m.HTML, pacific) {
		t.Errorf("the HTML digest lacks %q:\n%s", pacific, m.HTML)
	}
	if strings.Contains(m.Text, "18 December 2026") {
		t.Errorf("the digest gives the Californian deadline's UTC date:\n%s", m.Text)
	}
	if !strings.Contains(m.Text, "due 19 December 2026\n") {
		t.Errorf("the GDPR request's deadline is not its UTC date:\n%s", m.Text)
	}
}
