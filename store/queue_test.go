package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// queueEnv is a fresh database with a keyring, for the queue's tests.
type queueEnv struct {
	t    *testing.T
	ctx  context.Context
	db   *store.DB
	keys *crypto.Keyring
}

func newQueueEnv(t *testing.T) *queueEnv {
	t.Helper()
	keys, err := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return &queueEnv{t: t, ctx: context.Background(), db: testenv.DB(t), keys: keys}
}

// row stores an accepted request as the workflow's projection leaves it,
// made with email, submitted and due when given.
func (e *queueEnv) row(st dsar.Status, email string, submitted, deadline time.Time) string {
	e.t.Helper()
	id := uuid.NewString()
	sealed, err := store.NewSealedRequest(e.keys, id, store.PII{FirstName: "Ada", Email: email}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	const q = `INSERT INTO requests (id, accepted, status, request_type, requestor_type, country, submitted_at, deadline,
			original_deadline, deadline_rule, deadline_rule_name, email_hash, pii)
		VALUES ($1, true, $2, 'info', 'customer', 'DE', $3, $4, $4, 'gdpr', 'GDPR', $5, $6)`
	if _, err := e.db.Exec(q, id, st, submitted, deadline, sealed.EmailHash, sealed.PII); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// ids runs the queue with f and lists the ids it gives, in order, every
// page followed.
func (e *queueEnv) ids(f store.QueueFilter) []string {
	e.t.Helper()
	var out []string
	for pages := 0; ; pages++ {
		items, next, err := e.db.Queue(e.ctx, f)
		if err != nil {
			e.t.Fatalf("queue %+v: %v", f, err)
		}
		for _, it := range items {
			out = append(out, it.ID)
		}
		if next == nil || pages > 100 {
			return out
		}
		f.After = next
	}
}

func (e *queueEnv) user(role dsar.Role) store.User {
	e.t.Helper()
	u, err := e.db.CreateUser(e.ctx, store.User{Email: uuid.NewString()[:8] + "@example.com", Name: "A " + string(role), Role: role, PasswordHash: "x"})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func TestQueueHidesUnverifiedFindsByReferenceAndEmailAndSortsByDeadline(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return base.AddDate(0, 0, n) }
	// Submitted a day apart; due in another order.
	a := e.row(dsar.StatusInProgress, "ada@example.org", day(0), day(40))
	b := e.row(dsar.StatusAwaitingIdentity, "bob@example.org", day(1), day(20))
	c := e.row(dsar.StatusCompleted, "ada@example.org", day(2), day(30))
	d := e.row(dsar.StatusInProgress, "cy@example.org", day(3), day(10))
	pending := e.row(dsar.StatusPendingEmailVerification, "ada@example.org", day(4), day(34))
	expired := e.row(dsar.StatusExpired, "eve@example.org", day(5), day(35))

	yes := true
	dueBefore := day(30)
	for _, tc := range []struct {
		name string
		f    store.QueueFilter
		want []string
	}{
		{"default: unverified left out", store.QueueFilter{}, []string{d, c, b, a}},
		{"unverified included", store.QueueFilter{IncludeUnverified: true}, []string{expired, pending, d, c, b, a}},
		{"an explicit status shows unverified ones", store.QueueFilter{Statuses: []dsar.Status{dsar.StatusPendingEmailVerification}}, []string{pending}},
		{"explicit statuses, mixed", store.QueueFilter{Statuses: []dsar.Status{dsar.StatusExpired, dsar.StatusInProgress}}, []string{expired, d, a}},
		{"by reference", store.QueueFilter{IDPrefix: prefix(t, dsar.Reference(b))}, []string{b}},
		{"by reference in lower case without its prefix", store.QueueFilter{IDPrefix: prefix(t, b[:8])}, []string{b}},
		{"by whole id", store.QueueFilter{IDPrefix: prefix(t, c)}, []string{c}},
		// A search finds unverified submissions too: the requester who
		// never got the link quotes their reference or address.
		{"by email, unverified ones found", store.QueueFilter{EmailHash: e.keys.BlindIndex("ada@example.org")}, []string{pending, c, a}},
		{"by email in another case", store.QueueFilter{EmailHash: e.keys.BlindIndex(" ADA@Example.ORG")}, []string{pending, c, a}},
		{"by email, unverified included", store.QueueFilter{EmailHash: e.keys.BlindIndex("ada@example.org"), IncludeUnverified: true}, []string{pending, c, a}},
		{"by email, an expired one found", store.QueueFilter{EmailHash: e.keys.BlindIndex("eve@example.org")}, []string{expired}},
		{"by reference, a pending one found", store.QueueFilter{IDPrefix: prefix(t, dsar.Reference(pending))}, []string{pending}},
		{"by whole id, an expired one found", store.QueueFilter{IDPrefix: prefix(t, expired)}, []string{expired}},
		{"by email and a status", store.QueueFilter{EmailHash: e.keys.BlindIndex("ada@example.org"), Statuses: []dsar.Status{dsar.StatusInProgress}}, []string{a}},
		{"by part of an email", store.QueueFilter{EmailHash: e.keys.BlindIndex("ada@example")}, nil},
		{"due before", store.QueueFilter{DueBefore: &dueBefore}, []string{d, b}},
		{"by deadline", store.QueueFilter{Sort: store.SortDeadline}, []string{d, b, c, a}},
		{"by deadline, two a page", store.QueueFilter{Sort: store.SortDeadline, Limit: 2}, []string{d, b, c, a}},
		{"by deadline, one a page, unverified included", store.QueueFilter{Sort: store.SortDeadline, Limit: 1, IncludeUnverified: true},
			[]string{d, b, c, pending, expired, a}},
		{"newest first, named", store.QueueFilter{Sort: store.SortNewest, Limit: 3}, []string{d, c, b, a}},
		{"awaiting a reply (none yet)", store.QueueFilter{AwaitingReply: &yes}, nil},
	} {
		if got := e.ids(tc.f); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}

	// Equal deadlines page by id, with no row twice or left out.
	var same []string
	for range 5 {
		same = append(same, e.row(dsar.StatusInProgress, "x@example.org", day(6), day(25)))
	}
	got := e.ids(store.QueueFilter{Sort: store.SortDeadline, Limit: 2, Statuses: []dsar.Status{dsar.StatusInProgress}})
	if len(got) != 7 || got[0] != d || got[6] != a {
		t.Fatalf("by deadline with ties: %v", got)
	}
	for i := 2; i < 6; i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("ties out of id order: %v", got)
		}
	}

	// A cursor belongs to its order.
	_, next, err := e.db.Queue(e.ctx, store.QueueFilter{Limit: 1})
	if err != nil || next == nil {
		t.Fatalf("first page: %v, %v", next, err)
	}
	cur, err := store.DecodeCursor(next.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.db.Queue(e.ctx, store.QueueFilter{Sort: store.SortDeadline, After: &cur}); dsar.ErrorCode(err) != dsar.EINVALID {
		t.Fatalf("a newest-first cursor in the deadline order: %v, want EINVALID", err)
	}
	_, next, _ = e.db.Queue(e.ctx, store.QueueFilter{Limit: 1, Sort: store.SortDeadline})
	cur, err = store.DecodeCursor(next.Encode())
	if err != nil || cur.Sort != store.SortDeadline {
		t.Fatalf("a deadline cursor decodes as %+v, %v", cur, err)
	}
	if _, _, err := e.db.Queue(e.ctx, store.QueueFilter{After: &cur}); dsar.ErrorCode(err) != dsar.EINVALID {
		t.Fatalf("a deadline cursor newest first: %v, want EINVALID", err)
	}

	// Items carry their reference.
	items, _, err := e.db.Queue(e.ctx, store.QueueFilter{IDPrefix: prefix(t, a)})
	if err != nil || len(items) != 1 || items[0].Reference != dsar.Reference(a) || items[0].HandlerID != nil || items[0].AwaitingReply {
		t.Fatalf("item = %+v, %v", items, err)
	}
}

func prefix(t *testing.T, s string) string {
	t.Helper()
	p, ok := dsar.ParseReference(s)
	if !ok {
		t.Fatalf("%q is no reference", s)
	}
	return p
}

func TestQueueAwaitingReplyUntilStaffRead(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t)
	now := time.Now().UTC()
	quiet := e.row(dsar.StatusInProgress, "q@example.org", now.Add(-time.Hour), now.AddDate(0, 1, 0))
	talking := e.row(dsar.StatusInProgress, "t@example.org", now, now.AddDate(0, 1, 0))
	manager := e.user(dsar.RoleManager)
	yes, no := true, false

	if _, err := e.db.AddMessage(e.ctx, e.keys, store.NewMessage{RequestID: quiet, Sender: store.SenderStaff, StaffUserID: manager.ID,
		ActorID: manager.ID, Body: "We are on it."}); err != nil {
		t.Fatal(err)
	}
	if got := e.ids(store.QueueFilter{AwaitingReply: &yes}); got != nil {
		t.Fatalf("awaiting a reply after a staff message: %v", got)
	}
	if _, err := e.db.AddMessage(e.ctx, e.keys, store.NewMessage{RequestID: talking, Sender: store.SenderRequester, Body: "Any news?"}); err != nil {
		t.Fatal(err)
	}
	if got := e.ids(store.QueueFilter{AwaitingReply: &yes}); fmt.Sprint(got) != fmt.Sprint([]string{talking}) {
		t.Fatalf("awaiting a reply: %v, want %s", got, talking)
	}
	if got := e.ids(store.QueueFilter{AwaitingReply: &no}); fmt.Sprint(got) != fmt.Sprint([]string{quiet}) {
		t.Fatalf("not awaiting a reply: %v, want %s", got, quiet)
	}
	items, _, err := e.db.Queue(e.ctx, store.QueueFilter{})
	if err != nil || len(items) != 2 || !items[0].AwaitingReply || items[1].AwaitingReply {
		t.Fatalf("items = %+v, %v", items, err)
	}
	counts, err := e.db.CountQueue(e.ctx, "")
	if err != nil || counts.AwaitingReply != 1 {
		t.Fatalf("counts = %+v, %v; want 1 awaiting a reply", counts, err)
	}

	if _, err := e.db.MarkMessagesRead(e.ctx, talking, store.SenderStaff); err != nil {
		t.Fatal(err)
	}
	if got := e.ids(store.QueueFilter{AwaitingReply: &yes}); got != nil {
		t.Fatalf("awaiting a reply once staff read it: %v", got)
	}
	if counts, err := e.db.CountQueue(e.ctx, ""); err != nil || counts.AwaitingReply != 0 {
		t.Fatalf("counts once read = %+v, %v", counts, err)
	}
}

func TestQueueHandlerSetClearedAndKeptByTheProjection(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t)
	now := time.Now().UTC().Truncate(time.Second)
	id := e.row(dsar.StatusInProgress, "h@example.org", now, now.AddDate(0, 1, 0))
	e.row(dsar.StatusInProgress, "i@example.org", now.Add(-time.Minute), now.AddDate(0, 1, 0)) // handled by nobody
	manager, admin := e.user(dsar.RoleManager), e.user(dsar.RoleAdmin)
	owner := e.user(dsar.RoleSourceOwner)
	gone := e.user(dsar.RoleManager)
	disabled := true
	if _, err := e.db.UpdateUser(e.ctx, gone.ID, store.UserPatch{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}

	h, err := e.db.SetHandler(e.ctx, id, manager.ID, admin.ID)
	if err != nil || h == nil || *h != manager.ID {
		t.Fatalf("set: %v, %v", h, err)
	}
	if got := e.ids(store.QueueFilter{HandlerID: manager.ID}); fmt.Sprint(got) != fmt.Sprint([]string{id}) {
		t.Fatalf("handled by the manager: %v", got)
	}
	items, _, err := e.db.Queue(e.ctx, store.QueueFilter{HandlerID: manager.ID})
	if err != nil || *items[0].HandlerID != manager.ID || items[0].HandlerName == nil || *items[0].HandlerName != manager.Name {
		t.Fatalf("item = %+v, %v", items, err)
	}

	// The workflow's projection writes over the row and leaves the handler.
	if err := e.db.Project(e.ctx, store.Projection{RequestID: id, Status: dsar.StatusReadyToClose, Deadline: now.AddDate(0, 1, 0), Seq: 7}); err != nil {
		t.Fatal(err)
	}
	row, err := e.db.Request(e.ctx, id, "")
	if err != nil || row.Status != dsar.StatusReadyToClose || row.HandlerID == nil || *row.HandlerID != manager.ID || row.Reference != dsar.Reference(id) {
		t.Fatalf("after a projection: %+v, %v", row, err)
	}

	for _, tc := range []struct{ who, user string }{
		{"a source owner", owner.ID}, {"a disabled user", gone.ID}, {"nobody", uuid.NewString()}, {"no id", "42"},
	} {
		if _, err := e.db.SetHandler(e.ctx, id, tc.user, admin.ID); !namesField(err, "user_id") {
			t.Errorf("%s as handler: %v, want EINVALID naming user_id", tc.who, err)
		}
	}
	for _, req := range []string{uuid.NewString(), "junk"} {
		if _, err := e.db.SetHandler(e.ctx, req, manager.ID, admin.ID); dsar.ErrorCode(err) != dsar.ENOTFOUND {
			t.Errorf("handler of request %s: %v, want ENOTFOUND", req, err)
		}
	}
	// Setting the same handler again records nothing; clearing does.
	if _, err := e.db.SetHandler(e.ctx, id, manager.ID, admin.ID); err != nil {
		t.Fatal(err)
	}
	if h, err := e.db.SetHandler(e.ctx, id, "", admin.ID); err != nil || h != nil {
		t.Fatalf("clear: %v, %v", h, err)
	}
	if got := e.ids(store.QueueFilter{HandlerID: manager.ID}); got != nil {
		t.Fatalf("handled by the manager once cleared: %v", got)
	}
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM audit_events WHERE request_id = $1 AND action = $2 AND actor_id = $3`,
		id, dsar.AuditHandlerSet, admin.ID); err != nil || n != 2 {
		t.Fatalf("%d handler events (%v), want 2: set and cleared", n, err)
	}
	if got := e.ids(store.QueueFilter{HandlerID: "junk"}); got != nil {
		t.Fatalf("handler junk: %v", got)
	}
}

// namesField reports whether err is EINVALID naming field.
func namesField(err error, field string) bool {
	var e *dsar.Error
	return errors.As(err, &e) && e.Code == dsar.EINVALID && e.Fields[field] != ""
}

func TestQueueEachStreamsEveryRowInBatches(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t)
	// More than a batch, in one statement.
	const n = 1203
	const q = `INSERT INTO requests (id, accepted, status, request_type, requestor_type, country, submitted_at, deadline,
			original_deadline, deadline_rule, deadline_rule_name, email_hash, pii)
		SELECT gen_random_uuid(), true, 'in_progress', 'info', 'customer', 'DE', now() - i * interval '1 minute',
			now() + (i % 17) * interval '1 day', now(), 'gdpr', 'GDPR', '\x00', NULL
		FROM generate_series(1, $1) AS i`
	if _, err := e.db.Exec(q, n); err != nil {
		t.Fatal(err)
	}
	for _, sort := range []string{"", store.SortDeadline} {
		seen := map[string]bool{}
		batches := 0
		var last time.Time
		err := e.db.QueueEach(e.ctx, store.QueueFilter{Sort: sort, Limit: 5}, func(items []store.QueueRow) error {
			batches++
			for _, it := range items {
				if seen[it.ID] {
					return fmt.Errorf("%s twice", it.ID)
				}
				seen[it.ID] = true
				if sort == store.SortDeadline && it.Deadline.Before(last) {
					return fmt.Errorf("deadline %s after %s", it.Deadline, last)
				}
				last = it.Deadline
			}
			return nil
		})
		if err != nil || len(seen) != n || batches < 2 {
			t.Fatalf("sort %q: %d rows in %d batches, %v; want all %d", sort, len(seen), batches, err, n)
		}
	}
}
