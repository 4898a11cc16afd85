package server

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/store"
)

// due sets a request's deadline, as an extension by the workflow would.
func (e *staffEnv) due(id string, deadline time.Time) {
	e.t.Helper()
	if _, err := e.db.Exec(`UPDATE requests SET deadline = $2 WHERE id = $1`, id, deadline); err != nil {
		e.t.Fatal(err)
	}
}

// requesterWrites stores a message from the requester on a request.
func (e *staffEnv) requesterWrites(id, body string) {
	e.t.Helper()
	if _, err := e.db.AddMessage(e.ctx, e.keys, store.NewMessage{RequestID: id, Sender: store.SenderRequester, Body: body}); err != nil {
		e.t.Fatal(err)
	}
}

// queueIDs follows every page of the queue for query (which sets the page's
// limit) and lists the ids of its items in order; more than ten pages fail.
func (e *staffEnv) queueIDs(query, token string) []string {
	e.t.Helper()
	var out []string
	next := ""
	for range 10 {
		p := e.want(e.do("GET", "/api/v1/requests?"+query+next, token, nil), http.StatusOK, query).JSON(e.t)
		for _, it := range p["items"].([]any) {
			out = append(out, it.(map[string]any)["id"].(string))
		}
		cur, _ := p["next_cursor"].(string)
		if cur == "" {
			return out
		}
		next = "&cursor=" + url.QueryEscape(cur)
	}
	e.t.Fatalf("?%s: more than ten pages", query)
	return nil
}

// fieldsOf is the fields a 422 answer names.
func fieldsOf(t *testing.T, a answer) map[string]any {
	t.Helper()
	f, _ := a.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)
	return f
}

func TestQueueSearchSortDueAndUnverified(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, admin := e.user(dsar.RoleAdmin)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return base.AddDate(0, 0, n) }
	a := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "DE", day(0), false)
	b := e.row(dsar.StatusAwaitingIdentity, dsar.RequestInfo, dsar.RequestorCustomer, "DE", day(1), false)
	c := e.row(dsar.StatusCompleted, dsar.RequestDeletion, dsar.RequestorCustomer, "FR", day(2), false)
	d := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "DE", day(3), true)
	pending := e.row(dsar.StatusPendingEmailVerification, dsar.RequestInfo, dsar.RequestorCustomer, "DE", day(4), false)
	expired := e.row(dsar.StatusExpired, dsar.RequestInfo, dsar.RequestorCustomer, "DE", day(5), false)
	// Due: d, then b, c, a (submitted a, b, c, d).
	e.due(d, day(10))
	e.due(b, day(20))
	e.due(c, day(30))
	e.due(a, day(40))
	e.due(pending, day(34))
	e.due(expired, day(35))
	// row makes each with the address <id>@example.org.
	email := func(id string) string { return id + "@example.org" }

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{d, c, b, a}},
		{"include_unverified=true", []string{expired, pending, d, c, b, a}},
		{"include_unverified=false", []string{d, c, b, a}},
		{"status=pending_email_verification", []string{pending}},
		{"status=expired,in_progress", []string{expired, d, a}},
		{"q=" + dsar.Reference(b), []string{b}},
		{"q=" + strings.ToLower(dsar.Reference(b)), []string{b}},
		{"q=" + strings.ToUpper(b[:8]), []string{b}},
		{"q=" + c, []string{c}},
		// A search finds unverified submissions without being asked: the
		// requester who never got the link quotes their reference or address.
		{"q=" + url.QueryEscape(dsar.Reference(pending)), []string{pending}},
		{"q=" + url.QueryEscape(dsar.Reference(pending)) + "&include_unverified=true", []string{pending}},
		{"q=" + url.QueryEscape(dsar.Reference(pending)) + "&include_unverified=false", []string{pending}},
		{"q=" + expired, []string{expired}},
		{"q=" + url.QueryEscape(email(pending)), []string{pending}},
		{"q=" + url.QueryEscape(email(expired)), []string{expired}},
		{"q=" + url.QueryEscape(email(pending)) + "&status=in_progress", nil},
		{"q=" + url.QueryEscape(email(a)), []string{a}},
		{"q=" + url.QueryEscape(strings.ToUpper(email(a))), []string{a}},
		{"q=" + url.QueryEscape(" "+email(a)+" "), []string{a}},
		{"q=" + url.QueryEscape(a+"@example"), nil},
		{"q=" + url.QueryEscape(a[:20]+"@example.org"), nil},
		{"sort=deadline", []string{d, b, c, a}},
		{"sort=deadline&include_unverified=true", []string{d, b, c, pending, expired, a}},
		{"sort=-submitted_at", []string{d, c, b, a}},
		{"due_before=2026-03-22", []string{d, b}}, // b is due on the 21st at noon
		{"due_before=2026-03-21", []string{d}},
		{"due_before=2026-03-21T12:00:00Z", []string{d}},
		{"due_before=2026-03-21T12:00:01Z", []string{d, b}},
		{"due_before=2026-04-01&sort=deadline", []string{d, b, c}},
		{"due_before=2026-04-01&country=DE", []string{d, b}},
	} {
		got := ids(t, e.want(e.do("GET", "/api/v1/requests?"+tc.query, admin, nil), http.StatusOK, tc.query), "id")
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("?%s = %v, want %v", tc.query, got, tc.want)
		}
	}

	// Pages by deadline, one at a time, then two at a time: the same order,
	// no repeats, across pages.
	for _, limit := range []string{"1", "2"} {
		pages := e.queueIDs("sort=deadline&include_unverified=true&limit="+limit, admin)
		if want := []string{d, b, c, pending, expired, a}; fmt.Sprint(pages) != fmt.Sprint(want) {
			t.Fatalf("by deadline, %s a page = %v, want %v", limit, pages, want)
		}
	}
	// A cursor belongs to its order.
	first := e.want(e.do("GET", "/api/v1/requests?limit=1", admin, nil), http.StatusOK, "first page").JSON(t)
	bad := e.want(e.do("GET", "/api/v1/requests?sort=deadline&cursor="+first["next_cursor"].(string), admin, nil),
		http.StatusUnprocessableEntity, "a newest-first cursor by deadline")
	if fieldsOf(t, bad)["cursor"] == nil {
		t.Errorf("the refusal does not name the cursor: %s", bad.Body)
	}

	// Bad values are named.
	for _, q := range []string{"sort=status", "sort=submitted_at", "due_before=soon", "due_before=2026-02-30", "q=Ada+Lovelace", "q=DSR-12",
		"awaiting_reply=maybe", "handler_id=42", "include_unverified=yes%3F"} {
		a := e.want(e.do("GET", "/api/v1/requests?"+q, admin, nil), http.StatusUnprocessableEntity, q)
		name, _ := url.ParseQuery(q)
		for k := range name {
			if fieldsOf(t, a)[k] == nil {
				t.Errorf("?%s: the error does not name %s: %s", q, k, a.Body)
			}
		}
	}

	// Items carry their reference, handler and whether they await a reply.
	page := e.want(e.do("GET", "/api/v1/requests?q="+dsar.Reference(a), admin, nil), http.StatusOK, "one").JSON(t)
	item := page["items"].([]any)[0].(map[string]any)
	if item["reference"] != dsar.Reference(a) || item["handler_id"] != nil || item["awaiting_reply"] != false {
		t.Fatalf("item = %v", item)
	}
	if !strings.HasPrefix(dsar.Reference(a), "DSR-") || len(dsar.Reference(a)) != 12 || dsar.Reference(a) != "DSR-"+strings.ToUpper(a[:8]) {
		t.Fatalf("reference %q of %s", dsar.Reference(a), a)
	}
	det := e.want(e.do("GET", "/api/v1/requests/"+a, admin, nil), http.StatusOK, "detail").JSON(t)
	if det["reference"] != dsar.Reference(a) {
		t.Fatalf("the detail's reference is %v", det["reference"])
	}
	// The detail of an unverified request is still there.
	e.want(e.do("GET", "/api/v1/requests/"+pending, admin, nil), http.StatusOK, "an unverified request's detail")
}

func TestQueueAwaitingReplyUntilStaffReadIt(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	now := time.Now().UTC()
	quiet := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "DE", now.Add(-time.Hour), false)
	talking := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "DE", now, false)
	awaiting := func() []string {
		return ids(t, e.want(e.do("GET", "/api/v1/requests?awaiting_reply=true", manager, nil), http.StatusOK, "awaiting"), "id")
	}
	count := func() any {
		return e.want(e.do("GET", "/api/v1/requests/counts", manager, nil), http.StatusOK, "counts").JSON(t)["awaiting_reply"]
	}
	if got := awaiting(); got != nil || count() != 0.0 {
		t.Fatalf("before any message: %v, count %v", got, count())
	}

	// Staff write first: nothing awaits them.
	e.want(e.do("POST", "/api/v1/requests/"+quiet+"/messages", manager, map[string]string{"body": "We are on it."}), http.StatusCreated, "staff write")
	if got := awaiting(); got != nil {
		t.Fatalf("awaiting after a staff message: %v", got)
	}
	e.requesterWrites(talking, "Any news?")
	e.requesterWrites(talking, "Hello?")
	if got := awaiting(); fmt.Sprint(got) != fmt.Sprint([]string{talking}) || count() != 1.0 {
		t.Fatalf("after the requester wrote: %v, count %v; want %s and 1", got, count(), talking)
	}
	if got := ids(t, e.want(e.do("GET", "/api/v1/requests?awaiting_reply=false", manager, nil), http.StatusOK, "not awaiting"), "id"); fmt.Sprint(got) != fmt.Sprint([]string{quiet}) {
		t.Fatalf("not awaiting: %v", got)
	}
	page := e.want(e.do("GET", "/api/v1/requests", manager, nil), http.StatusOK, "queue").JSON(t)
	if it := page["items"].([]any)[0].(map[string]any); it["id"] != talking || it["awaiting_reply"] != true {
		t.Fatalf("first item = %v", it)
	}

	// Staff open the conversation: read, so nothing awaits any more.
	e.want(e.do("GET", "/api/v1/requests/"+talking+"/messages", manager, nil), http.StatusOK, "read")
	if got := awaiting(); got != nil || count() != 0.0 {
		t.Fatalf("after staff read it: %v, count %v", got, count())
	}
	// A new message awaits again.
	e.requesterWrites(talking, "Thanks!")
	if got := awaiting(); fmt.Sprint(got) != fmt.Sprint([]string{talking}) {
		t.Fatalf("after another message: %v", got)
	}
}

func TestHandlerSetClearedAndRefused(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	boss, bossTok := e.user(dsar.RoleOrgOwner)
	manager, managerTok := e.user(dsar.RoleManager)
	admin, _ := e.user(dsar.RoleAdmin)
	owner, ownerTok := e.user(dsar.RoleSourceOwner)
	gone, _ := e.user(dsar.RoleManager)
	e.want(e.do("PATCH", "/api/v1/users/"+gone.ID, bossTok, map[string]any{"disabled": true}), http.StatusOK, "disable")
	id := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "DE", time.Now(), false)
	other := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "DE", time.Now().Add(-time.Hour), false)
	path := "/api/v1/requests/" + id + "/handler"

	// A manager takes it on.
	if got := e.want(e.do("POST", path, managerTok, map[string]any{"user_id": manager.ID}), http.StatusOK, "take on").JSON(t); got["handler_id"] != manager.ID {
		t.Fatalf("answer = %v", got)
	}
	if got := ids(t, e.want(e.do("GET", "/api/v1/requests?handler_id="+manager.ID, bossTok, nil), http.StatusOK, "mine"), "id"); fmt.Sprint(got) != fmt.Sprint([]string{id}) {
		t.Fatalf("handled by the manager: %v", got)
	}
	page := e.want(e.do("GET", "/api/v1/requests", bossTok, nil), http.StatusOK, "queue").JSON(t)
	items := page["items"].([]any)
	if it := items[0].(map[string]any); it["id"] != id || it["handler_id"] != manager.ID || it["handler_name"] != manager.Name {
		t.Fatalf("the queue shows %v", it)
	}
	if it := items[1].(map[string]any); it["id"] != other || it["handler_id"] != nil {
		t.Fatalf("the other request shows %v", it)
	}
	det := e.want(e.do("GET", "/api/v1/requests/"+id, bossTok, nil), http.StatusOK, "detail").JSON(t)
	if det["handler_id"] != manager.ID || det["handler_name"] != manager.Name {
		t.Fatalf("detail handler = %v, %v", det["handler_id"], det["handler_name"])
	}

	// The org owner hands it to an admin; then clears it, with null and with "".
	e.want(e.do("POST", path, bossTok, map[string]any{"user_id": admin.ID}), http.StatusOK, "hand over")
	if got := e.want(e.do("POST", path, bossTok, map[string]any{"user_id": nil}), http.StatusOK, "clear").JSON(t); got["handler_id"] != nil {
		t.Fatalf("cleared: %v", got)
	}
	e.want(e.do("POST", path, bossTok, map[string]any{"user_id": boss.ID}), http.StatusOK, "boss")
	if got := e.want(e.do("POST", path, bossTok, map[string]any{"user_id": ""}), http.StatusOK, "clear with empty").JSON(t); got["handler_id"] != nil {
		t.Fatalf("cleared with \"\": %v", got)
	}
	if got := ids(t, e.want(e.do("GET", "/api/v1/requests?handler_id="+boss.ID, bossTok, nil), http.StatusOK, "boss's"), "id"); got != nil {
		t.Fatalf("handled by the boss once cleared: %v", got)
	}

	// Refusals.
	for _, tc := range []struct {
		what string
		body any
	}{
		{"a source owner", map[string]any{"user_id": owner.ID}},
		{"a disabled manager", map[string]any{"user_id": gone.ID}},
		{"nobody's id", map[string]any{"user_id": uuid.NewString()}},
		{"not an id", map[string]any{"user_id": "me"}},
		{"a number", map[string]any{"user_id": 7}},
	} {
		a := e.want(e.do("POST", path, bossTok, tc.body), http.StatusUnprocessableEntity, tc.what)
		if fieldsOf(t, a)["user_id"] == nil {
			t.Errorf("%s: the refusal does not name user_id: %s", tc.what, a.Body)
		}
	}
	e.want(e.do("POST", "/api/v1/requests/"+uuid.NewString()+"/handler", bossTok, map[string]any{"user_id": manager.ID}), http.StatusNotFound, "unknown request")
	e.want(e.do("POST", "/api/v1/requests/nope/handler", bossTok, map[string]any{"user_id": manager.ID}), http.StatusNotFound, "no request id")
	e.want(e.do("POST", path, ownerTok, map[string]any{"user_id": owner.ID}), http.StatusForbidden, "a source owner sets it")
	e.want(e.do("POST", path, bossTok, map[string]any{"user_id": manager.ID, "note": "x"}), http.StatusUnprocessableEntity, "an unknown field")

	// Every change is in the audit trail, by whom, with no PII; refusals
	// and a repeat of the same handler add nothing.
	e.want(e.do("POST", path, managerTok, map[string]any{"user_id": manager.ID}), http.StatusOK, "take on again")
	e.want(e.do("POST", path, managerTok, map[string]any{"user_id": manager.ID}), http.StatusOK, "the same again")
	trail := e.want(e.do("GET", "/api/v1/requests/"+id+"/audit", bossTok, nil), http.StatusOK, "audit").JSON(t)
	var set []map[string]any
	for _, ev := range trail["items"].([]any) {
		if ev := ev.(map[string]any); ev["action"] == dsar.AuditHandlerSet {
			set = append(set, ev)
		}
	}
	if len(set) != 6 {
		t.Fatalf("%d handler events, want 6 (manager, admin, none, boss, none, manager): %v", len(set), set)
	}
	if set[0]["actor_id"] != manager.ID || set[0]["label"] != "Handler set" || set[0]["detail"].(map[string]any)["handler_id"] != manager.ID ||
		set[2]["detail"].(map[string]any)["handler_id"] != nil || set[2]["actor_id"] != boss.ID {
		t.Fatalf("handler events = %v", set)
	}
}

// readCSV reads a CSV answer into its rows.
func readCSV(t *testing.T, a answer) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(string(a.Body))).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v: %s", err, a.Body)
	}
	return rows
}

func TestQueueCSVExport(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, admin := e.user(dsar.RoleAdmin)
	manager, managerTok := e.user(dsar.RoleManager)
	owner, ownerTok := e.user(dsar.RoleSourceOwner)
	crm, err := e.db.CreateDataSource(e.ctx, "CRM", "", []string{owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	// More than a page of the queue (50), all in the export.
	var many []string
	for i := range 57 {
		many = append(many, e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorEmployee, "DE", old.Add(time.Duration(i)*time.Minute), i%3 == 0))
	}
	closed := e.row(dsar.StatusCompleted, dsar.RequestDeletion, dsar.RequestorCustomer, "US", old.AddDate(0, 0, 1), false)
	if _, err := e.db.Exec(`UPDATE requests SET closed_at = $2, extended_at = $2, region = '=HYPERLINK("http://evil.example","x")' WHERE id = $1`,
		closed, old.AddDate(0, 0, 2)); err != nil {
		t.Fatal(err)
	}
	plus := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "US", old.AddDate(0, 0, 3), false)
	if _, err := e.db.Exec(`UPDATE requests SET region = '+1-2' WHERE id = $1`, plus); err != nil {
		t.Fatal(err)
	}
	hidden := e.row(dsar.StatusPendingEmailVerification, dsar.RequestInfo, dsar.RequestorCustomer, "US", old.AddDate(0, 0, 4), false)
	e.want(e.do("POST", "/api/v1/requests/"+many[0]+"/handler", managerTok, map[string]any{"user_id": manager.ID}), http.StatusOK, "handler")
	e.requesterWrites(many[1], "Hello")
	e.task(many[2], crm.ID, "open")

	a := e.want(e.do("GET", "/api/v1/requests.csv", admin, nil), http.StatusOK, "export")
	if ct := a.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("content type %q", ct)
	}
	if cd := a.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".csv") {
		t.Fatalf("content disposition %q", cd)
	}
	rows := readCSV(t, a)
	if want := "id,reference,request_type,status,country,region,submitted_at,deadline,extended,overdue,handler_id,awaiting_reply,closed_at"; strings.Join(rows[0], ",") != want {
		t.Fatalf("header %v", rows[0])
	}
	if len(rows) != 1+57+2 {
		t.Fatalf("%d rows, want the header and all 59 verified requests", len(rows))
	}
	byID := map[string][]string{}
	for _, r := range rows[1:] {
		byID[r[0]] = r
	}
	if _, ok := byID[hidden]; ok {
		t.Error("an unverified submission is in the default export")
	}
	if r := byID[closed]; r == nil || r[1] != dsar.Reference(closed) || r[2] != "deletion" || r[3] != "completed" || r[4] != "US" ||
		r[5] != `'=HYPERLINK("http://evil.example","x")` || r[6] != "2026-01-06T09:00:00Z" || r[8] != "true" || r[12] != "2026-01-07T09:00:00Z" {
		t.Errorf("closed row = %q", r)
	}
	if r := byID[plus]; r == nil || r[5] != "'+1-2" || r[8] != "false" || r[12] != "" {
		t.Errorf("row with a + region = %q", r)
	}
	if r := byID[many[0]]; r[10] != manager.ID || r[9] != "true" || r[11] != "false" {
		t.Errorf("handled row = %q", r)
	}
	if r := byID[many[1]]; r[10] != "" || r[11] != "true" {
		t.Errorf("awaiting row = %q", r)
	}
	// No PII: the requesters' names and addresses appear nowhere.
	for _, pii := range []string{"@", "Ada"} {
		if strings.Contains(string(a.Body), pii) {
			t.Errorf("the export holds %q", pii)
		}
	}

	// The same filters and order as the queue, every page of it.
	for _, q := range []string{"sort=deadline&country=DE", "overdue=true", "awaiting_reply=true", "handler_id=" + manager.ID,
		"q=" + dsar.Reference(closed), "q=" + dsar.Reference(hidden), "include_unverified=true&country=US", "status=pending_email_verification"} {
		want := e.queueIDs("limit=20&"+q, admin)
		var got []string
		for _, r := range readCSV(t, e.want(e.do("GET", "/api/v1/requests.csv?"+q, admin, nil), http.StatusOK, "csv "+q))[1:] {
			got = append(got, r[0])
		}
		if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("?%s: csv %v, queue %v", q, got, want)
		}
	}
	// Nothing matches: the header alone.
	if rows := readCSV(t, e.want(e.do("GET", "/api/v1/requests.csv?country=JP", admin, nil), http.StatusOK, "none")); len(rows) != 1 {
		t.Errorf("no match: %v", rows)
	}
	// A source owner exports their own requests only.
	if rows := readCSV(t, e.want(e.do("GET", "/api/v1/requests.csv", ownerTok, nil), http.StatusOK, "owner")); len(rows) != 2 || rows[1][0] != many[2] {
		t.Errorf("the owner's export = %v", rows)
	}
	// Bad filters are named, in JSON.
	bad := e.want(e.do("GET", "/api/v1/requests.csv?sort=name&due_before=never", admin, nil), http.StatusUnprocessableEntity, "bad")
	if f := fieldsOf(t, bad); f["sort"] == nil || f["due_before"] == nil {
		t.Errorf("the refusal names %v", f)
	}
	e.want(e.do("GET", "/api/v1/requests.csv", "", nil), http.StatusUnauthorized, "no session")
}

// TestPortalShowsTheQueuesReference: the requester quotes the reference
// staff search by (the portal's pages and its API share requestRow).
func TestPortalShowsTheQueuesReference(t *testing.T) {
	id := uuid.NewString()
	if got := requestRow(locale.English, time.UTC, store.PortalRequest{ID: id}).Ref; got != dsar.Reference(id) {
		t.Fatalf("the portal shows %q, the queue %q", got, dsar.Reference(id))
	}
}
