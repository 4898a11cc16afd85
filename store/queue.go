package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/opendsar/dsar"
)

// MaxPage is the most rows one page of the queue or the task list holds.
const MaxPage = 200

// Cursor is a position in a keyset-paged list: the last row's time and id
// (and data source, for tasks). Clients see it only encoded, as opaque text.
type Cursor struct {
	At   time.Time
	ID   string
	Also string
	// Sort is the queue's order the cursor belongs to ("" for newest
	// first, the only order of the other lists).
	Sort string
}

// Encode is the cursor as opaque URL-safe text.
func (c Cursor) Encode() string {
	s := strconv.FormatInt(c.At.UnixMicro(), 10) + "|" + c.ID + "|" + c.Also
	if c.Sort != "" {
		s += "|" + c.Sort
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// DecodeCursor reads a cursor from Encode. EINVALID (field cursor) for
// anything else.
func DecodeCursor(s string) (Cursor, error) {
	bad := dsar.Invalid(map[string]string{"cursor": "is not a cursor from a previous page"})
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	parts := strings.Split(string(raw), "|")
	sort := ""
	if len(parts) == 4 && parts[3] == SortDeadline {
		sort, parts = parts[3], parts[:3]
	}
	if len(parts) != 3 {
		return Cursor{}, bad
	}
	us, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return Cursor{}, bad
	}
	if _, err := uuid.Parse(parts[1]); err != nil {
		return Cursor{}, bad
	}
	if parts[2] != "" {
		if _, err := uuid.Parse(parts[2]); err != nil {
			return Cursor{}, bad
		}
	}
	return Cursor{At: time.UnixMicro(us).UTC(), ID: parts[1], Also: parts[2], Sort: sort}, nil
}

// The orders of the queue.
const (
	SortNewest   = "-submitted_at" // newest first, the default
	SortDeadline = "deadline"      // the soonest deadline first
)

// unverifiedStatuses are the statuses of submissions whose email was never
// verified: still waiting for it, or expired without it. The queue leaves
// them out unless asked (QueueFilter.IncludeUnverified, a status filter, or
// a search by reference or email).
func unverifiedStatuses() []string {
	return []string{string(dsar.StatusPendingEmailVerification), string(dsar.StatusExpired)}
}

// QueueFilter selects requests of the queue. Zero fields do not filter.
type QueueFilter struct {
	// Statuses, when set, select exactly these statuses, unverified ones
	// included; without them the queue leaves unverified submissions out
	// unless IncludeUnverified or a search (IDPrefix, EmailHash) is set: a
	// requester who never got the link is found by their reference or
	// address.
	Statuses          []dsar.Status
	IncludeUnverified bool
	RequestType       dsar.RequestType
	RequestorType     dsar.RequestorType
	Country           string
	SubmittedFrom     *time.Time // inclusive
	SubmittedTo       *time.Time // exclusive
	DueBefore         *time.Time // deadline before it (exclusive)
	Overdue           *bool
	DataSourceID      string
	// AwaitingReply selects requests with (true) or without (false) a
	// requester's message no staff member has read yet.
	AwaitingReply *bool
	HandlerID     string
	// IDPrefix selects the requests whose id starts with these lower-case
	// hex digits (dsar.ParseReference: a reference, or a whole id).
	IDPrefix string
	// EmailHash selects the requests made with the email of this blind
	// index (crypto.Keyring.BlindIndex): an exact address, never a part.
	EmailHash []byte
	// OwnerID limits the queue to requests with a task of a data source
	// the user owns (a source owner's view).
	OwnerID string
	Sort    string // SortNewest ("" too) or SortDeadline
	Limit   int
	After   *Cursor
}

// QueueItem is one request in the queue. It holds no PII (the handler is
// a staff member, named by their work name).
type QueueItem struct {
	ID            string             `db:"id" json:"id"`
	Reference     string             `db:"-" json:"reference"` // dsar.Reference of the id
	RequestType   dsar.RequestType   `db:"request_type" json:"request_type"`
	RequestorType dsar.RequestorType `db:"requestor_type" json:"requestor_type"`
	Country       string             `db:"country" json:"country"`
	Region        string             `db:"region" json:"region"`
	Status        dsar.Status        `db:"status" json:"status"`
	SubmittedAt   time.Time          `db:"submitted_at" json:"submitted_at"`
	Deadline      time.Time          `db:"deadline" json:"deadline"`
	Overdue       bool               `db:"overdue" json:"overdue"`
	HandlerID     *string            `db:"handler_id" json:"handler_id"`
	HandlerName   *string            `db:"handler_name" json:"handler_name"`
	// AwaitingReply: the requester wrote and no staff member has read it.
	AwaitingReply bool `db:"awaiting_reply" json:"awaiting_reply"`
}

// QueueRow is a request of the queue with what the queue's export adds.
type QueueRow struct {
	QueueItem
	Extended bool       `db:"extended"`
	ClosedAt *time.Time `db:"closed_at"`
}

// unreadByStaff is the condition that request r has a requester's message
// no staff member has read (the partial index of migration 00040).
const unreadByStaff = `EXISTS (SELECT 1 FROM messages m WHERE m.request_id = r.id AND m.sender = 'requester'
			AND m.read_by_staff_at IS NULL)`

// queueColumns are the columns of a QueueItem, of requests r.
const queueColumns = `r.id, r.request_type, r.requestor_type, r.country, r.region, r.status,
		r.submitted_at, r.deadline, r.overdue, r.handler_id,
		(SELECT u.name FROM users u WHERE u.id = r.handler_id) AS handler_name,
		` + unreadByStaff + ` AS awaiting_reply`

// where builds the filter's conditions on requests r, numbering parameters
// after those already in args.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) sql() string { return strings.Join(w.conds, " AND ") }

func (f QueueFilter) where() *where {
	w := &where{}
	w.add("r.accepted")
	if len(f.Statuses) > 0 {
		ss := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			ss[i] = string(s)
		}
		w.add("r.status = ANY(?)", pq.Array(ss))
	} else if !f.IncludeUnverified && f.IDPrefix == "" && f.EmailHash == nil {
		w.add("r.status <> ALL(?)", pq.Array(unverifiedStatuses()))
	}
	if f.RequestType != "" {
		w.add("r.request_type = ?", f.RequestType)
	}
	if f.RequestorType != "" {
		w.add("r.requestor_type = ?", f.RequestorType)
	}
	if f.Country != "" {
		w.add("r.country = ?", f.Country)
	}
	if f.SubmittedFrom != nil {
		w.add("r.submitted_at >= ?", *f.SubmittedFrom)
	}
	if f.SubmittedTo != nil {
		w.add("r.submitted_at < ?", *f.SubmittedTo)
	}
	if f.DueBefore != nil {
		w.add("r.deadline < ?", *f.DueBefore)
	}
	if f.Overdue != nil {
		w.add("r.overdue = ?", *f.Overdue)
	}
	if f.AwaitingReply != nil {
		if *f.AwaitingReply {
			w.add(unreadByStaff)
		} else {
			w.add("NOT " + unreadByStaff)
		}
	}
	if f.HandlerID != "" {
		w.add("r.handler_id = ?", f.HandlerID)
	}
	if f.IDPrefix != "" {
		// The ids starting with the prefix are one range of the primary key.
		w.add("r.id BETWEEN ? AND ?", idBound(f.IDPrefix, '0'), idBound(f.IDPrefix, 'f'))
	}
	if f.EmailHash != nil {
		w.add("r.email_hash = ?", f.EmailHash)
	}
	// The task filters collect the matching request ids first (ARRAY of a
	// subquery): a source's tasks are few next to the queue, and otherwise
	// the planner may walk the whole queue newest first probing each row.
	if f.DataSourceID != "" {
		w.add("r.id = ANY(ARRAY(SELECT t.request_id FROM tasks t WHERE t.data_source_id = ?))", f.DataSourceID)
	}
	if f.OwnerID != "" {
		w.add(`r.id = ANY(ARRAY(SELECT t.request_id FROM tasks t JOIN data_source_owners o ON o.data_source_id = t.data_source_id
			WHERE o.user_id = ? UNION SELECT t.request_id FROM tasks t WHERE t.assignee_id = ?))`, f.OwnerID, f.OwnerID)
	}
	return w
}

// idBound is the smallest (pad '0') or largest (pad 'f') request id that
// starts with the hex digits prefix.
func idBound(prefix string, pad byte) string {
	hex := prefix + strings.Repeat(string(pad), 32-len(prefix))
	return hex[:8] + "-" + hex[8:12] + "-" + hex[12:16] + "-" + hex[16:20] + "-" + hex[20:]
}

// Queue returns a page of the queue in f.Sort's order (newest first unless
// SortDeadline), and the cursor of the next page (nil on the last).
// EINVALID (field cursor) for a cursor of another order.
func (db *DB) Queue(ctx context.Context, f QueueFilter) ([]QueueItem, *Cursor, error) {
	if f.Limit < 1 || f.Limit > MaxPage {
		f.Limit = MaxPage
	}
	rows, next, err := db.queuePage(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	items := make([]QueueItem, len(rows))
	for i := range rows {
		items[i] = rows[i].QueueItem
	}
	return items, next, nil
}

// QueueEach calls fn with every request f selects, in f.Sort's order, a
// batch at a time (f.Limit and f.After are ignored), so that a list of any
// length streams in bounded memory. It stops at fn's first error and
// returns it.
func (db *DB) QueueEach(ctx context.Context, f QueueFilter, fn func([]QueueRow) error) error {
	const batch = 1000
	f.Limit, f.After = batch, nil
	for {
		items, next, err := db.queuePage(ctx, f)
		if err != nil {
			return err
		}
		if len(items) > 0 {
			if err := fn(items); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		f.After = next
	}
}

// queuePage is Queue for any positive f.Limit.
func (db *DB) queuePage(ctx context.Context, f QueueFilter) ([]QueueRow, *Cursor, error) {
	if f.DataSourceID != "" {
		if _, err := uuid.Parse(f.DataSourceID); err != nil {
			return []QueueRow{}, nil, nil
		}
	}
	if f.HandlerID != "" {
		if _, err := uuid.Parse(f.HandlerID); err != nil {
			return []QueueRow{}, nil, nil
		}
	}
	sort := f.Sort
	if sort == SortNewest {
		sort = ""
	}
	if sort != "" && sort != SortDeadline {
		return nil, nil, fmt.Errorf("store: queue: unknown order %q", f.Sort)
	}
	order, key := "r.submitted_at DESC, r.id DESC", "(r.submitted_at, r.id) < (?, ?)"
	if sort == SortDeadline {
		order, key = "r.deadline, r.id", "(r.deadline, r.id) > (?, ?)"
	}
	w := f.where()
	if f.After != nil {
		if f.After.Sort != sort {
			return nil, nil, dsar.Invalid(map[string]string{"cursor": "is a cursor of the queue in another order"})
		}
		w.add(key, f.After.At, f.After.ID)
	}
	w.args = append(w.args, f.Limit+1)
	const q = `SELECT ` + queueColumns + `, r.extended_at IS NOT NULL AS extended, r.closed_at
		FROM requests r WHERE %s ORDER BY %s LIMIT $%d`
	items := []QueueRow{}
	if err := db.SelectContext(ctx, &items, fmt.Sprintf(q, w.sql(), order, len(w.args)), w.args...); err != nil {
		return nil, nil, fmt.Errorf("store: queue: %w", err)
	}
	for i := range items {
		items[i].Reference = dsar.Reference(items[i].ID)
	}
	if len(items) <= f.Limit {
		return items, nil, nil
	}
	items = items[:f.Limit]
	last := items[len(items)-1]
	next := &Cursor{At: last.SubmittedAt, ID: last.ID, Sort: sort}
	if sort == SortDeadline {
		next.At = last.Deadline
	}
	return items, next, nil
}

// QueueCounts are the queue's numbers for a dashboard.
type QueueCounts struct {
	ByStatus      map[dsar.Status]int `json:"by_status"`
	Total         int                 `json:"total"`
	Open          int                 `json:"open"`
	Unassigned    int                 `json:"unassigned"`
	Overdue       int                 `json:"overdue"`
	AwaitingReply int                 `json:"awaiting_reply"` // with a requester's message no staff member read
}

// CountQueue counts the requests per status (every status appears, zero or
// not), plus the open, unassigned and overdue ones and those awaiting a
// reply; ownerID limits it as in QueueFilter.
func (db *DB) CountQueue(ctx context.Context, ownerID string) (QueueCounts, error) {
	// The per-status counts read the counts index alone; the unread
	// messages are few, so those awaiting a reply are counted from them.
	w := QueueFilter{OwnerID: ownerID, IncludeUnverified: true}.where()
	const q = `SELECT r.status, count(*) AS n, count(*) FILTER (WHERE r.overdue) AS overdue
		FROM requests r WHERE %s GROUP BY r.status`
	var rows []struct {
		Status  dsar.Status `db:"status"`
		N       int         `db:"n"`
		Overdue int         `db:"overdue"`
	}
	if err := db.SelectContext(ctx, &rows, fmt.Sprintf(q, w.sql()), w.args...); err != nil {
		return QueueCounts{}, fmt.Errorf("store: queue counts: %w", err)
	}
	c := QueueCounts{ByStatus: map[dsar.Status]int{}}
	const qUnread = `SELECT count(*) FROM requests r WHERE %s AND r.id = ANY(ARRAY(
		SELECT m.request_id FROM messages m WHERE m.sender = 'requester' AND m.read_by_staff_at IS NULL))`
	if err := db.GetContext(ctx, &c.AwaitingReply, fmt.Sprintf(qUnread, w.sql()), w.args...); err != nil {
		return QueueCounts{}, fmt.Errorf("store: queue counts awaiting a reply: %w", err)
	}
	for _, s := range dsar.Statuses {
		c.ByStatus[s] = 0
	}
	for _, r := range rows {
		c.ByStatus[r.Status] = r.N
		c.Total += r.N
		c.Overdue += r.Overdue
		if !r.Status.Closed() {
			c.Open += r.N
		}
		if r.Status.Unassigned() {
			c.Unassigned += r.N
		}
	}
	return c, nil
}

// Request is a request's row in the queue projection, without its PII.
type Request struct {
	QueueItem
	OriginalDeadline  time.Time      `db:"original_deadline" json:"original_deadline"`
	DeadlineRule      string         `db:"deadline_rule" json:"deadline_rule"`
	DeadlineRuleName  string         `db:"deadline_rule_name" json:"deadline_rule_name"`
	MaxExtension      string         `db:"max_extension" json:"max_extension"`
	ExtendedAt        *time.Time     `db:"extended_at" json:"extended_at"`
	ExtensionDays     int            `db:"extension_days" json:"extension_days"`
	ExtensionReason   string         `db:"extension_reason" json:"extension_reason"`
	EmailVerifiedAt   *time.Time     `db:"email_verified_at" json:"email_verified_at"`
	IdentityDecidedAt *time.Time     `db:"identity_decided_at" json:"identity_decided_at"`
	IdentityVerified  *bool          `db:"identity_verified" json:"identity_verified"`
	IdentityNote      string         `db:"identity_note" json:"identity_note"`
	ClosingMailFailed bool           `db:"closing_mail_failed" json:"closing_mail_failed"`
	PackageRequired   bool           `db:"package_required" json:"package_required"`
	ClosedAt          *time.Time     `db:"closed_at" json:"closed_at"`
	CloseReasons      pq.StringArray `db:"close_reasons" json:"close_reasons"`
	CloseNote         string         `db:"close_note" json:"close_note"`
	ScrubbedAt        *time.Time     `db:"scrubbed_at" json:"scrubbed_at"`
	Channel           dsar.Channel   `db:"channel" json:"channel"`
	Language          string         `db:"language" json:"language"`                   // what the requester is written to in
	DecidedBy         *string        `db:"decided_by" json:"decided_by,omitempty"`     // who decided the request
	AppealUntil       *time.Time     `db:"appeal_until" json:"appeal_until,omitempty"` // the requester may appeal until then
	LegalHoldOn       bool           `db:"legal_hold_on" json:"-"`
	LegalHoldReason   string         `db:"legal_hold_reason" json:"-"`
	LegalHoldSince    *time.Time     `db:"legal_hold_since" json:"-"`
	LegalHoldBy       string         `db:"legal_hold_by" json:"-"`
	// AppealAuthority and AppealContact are the appeal authority of the
	// rule captured at intake (nil: no appeal right, or a request from
	// before they were stored).
	AppealAuthority *string `db:"appeal_authority" json:"-"`
	AppealContact   *string `db:"appeal_contact" json:"-"`

	// The jurisdiction rule's clocks, as the workflow projects them.
	AcknowledgeBy       *time.Time      `db:"acknowledge_by" json:"acknowledge_by"`
	AcknowledgedAt      *time.Time      `db:"acknowledged_at" json:"acknowledged_at"`
	ExtensionNoticeBy   *time.Time      `db:"extension_notice_by" json:"extension_notice_by"`
	PauseAllowed        bool            `db:"pause_allowed" json:"pause_allowed"`
	Paused              *ProjectedPause `db:"paused" json:"paused"`
	IdentityNotRequired bool            `db:"identity_not_required" json:"identity_not_required"`
	DeadlineWhy         string          `db:"deadline_why" json:"deadline_why"`
}

// AcceptedUnconfirmed reports whether the request is an opt-out accepted at
// submission whose address is not confirmed: its rule forbids requiring
// proof of identity, it is past the email's step, and the email was never
// verified. The law forbids making it wait for the confirmation.
func (r Request) AcceptedUnconfirmed() bool {
	return r.IdentityNotRequired && r.EmailVerifiedAt == nil &&
		r.Status != dsar.StatusPendingEmailVerification && r.Status != dsar.StatusExpired
}

// LegalHold is the request's legal hold as projected (On false: none).
func (r Request) LegalHold() LegalHold {
	h := LegalHold{On: r.LegalHoldOn, Reason: r.LegalHoldReason, By: r.LegalHoldBy}
	if r.LegalHoldOn && r.LegalHoldSince != nil {
		h.Since = *r.LegalHoldSince
	}
	return h
}

// Request returns an accepted request's row. ENOTFOUND for no such request,
// and, when ownerID is set, for a request with no task of a data source that
// user owns.
func (db *DB) Request(ctx context.Context, id, ownerID string) (Request, error) {
	notFound := dsar.Errorf(dsar.ENOTFOUND, "no such request")
	if _, err := uuid.Parse(id); err != nil {
		return Request{}, notFound
	}
	w := QueueFilter{OwnerID: ownerID, IncludeUnverified: true}.where()
	w.add("r.id = ?", id)
	const q = `SELECT ` + queueColumns + `,
		r.original_deadline, r.deadline_rule, r.deadline_rule_name, r.max_extension,
		r.extended_at, r.extension_days, r.extension_reason, r.email_verified_at, r.identity_decided_at,
		r.identity_verified, r.identity_note, r.closing_mail_failed, r.package_required, r.closed_at, r.close_reasons, r.close_note, r.scrubbed_at, r.channel, r.language,
		r.decided_by::text AS decided_by, r.appeal_until,
		r.legal_hold_on, r.legal_hold_reason, r.legal_hold_since, r.legal_hold_by, r.appeal_authority, r.appeal_contact,
		r.acknowledge_by, r.acknowledged_at, r.extension_notice_by, r.pause_allowed, r.paused, r.identity_not_required, r.deadline_why
		FROM requests r WHERE %s`
	rs := []Request{}
	if err := db.SelectContext(ctx, &rs, fmt.Sprintf(q, w.sql()), w.args...); err != nil {
		return Request{}, fmt.Errorf("store: request %s: %w", id, err)
	}
	if len(rs) == 0 {
		return Request{}, notFound
	}
	rs[0].Reference = dsar.Reference(rs[0].ID)
	return rs[0], nil
}

// Task is one data source's task on a request, with the source's name.
type Task struct {
	RequestID      string      `db:"request_id" json:"request_id"`
	DataSourceID   string      `db:"data_source_id" json:"data_source_id"`
	Name           string      `db:"name" json:"name"`
	Status         string      `db:"status" json:"status"`
	AssignedAt     time.Time   `db:"assigned_at" json:"assigned_at"`
	LastActivityAt time.Time   `db:"last_activity_at" json:"last_activity_at"`
	CompletedAt    *time.Time  `db:"completed_at" json:"completed_at"`
	Note           string      `db:"note" json:"note"`
	Outcome        string      `db:"outcome" json:"outcome"`
	RecordCount    *int64      `db:"record_count" json:"record_count"`
	DeclineReason  string      `db:"decline_reason" json:"decline_reason"`
	AssigneeID     *string     `db:"assignee_id" json:"assignee_id"`
	Mode           string      `db:"mode" json:"mode"`
	Automation     *Automation `db:"automation" json:"automation"`
}

// RequestTasks lists a request's tasks by assignment; ownerID limits them to
// the data sources that user owns and the tasks given to them.
func (db *DB) RequestTasks(ctx context.Context, requestID, ownerID string) ([]Task, error) {
	const q = `SELECT t.request_id, t.data_source_id, d.name, t.status, t.assigned_at, t.last_activity_at,
		t.completed_at, t.note, t.outcome, t.record_count, t.decline_reason, t.assignee_id::text AS assignee_id,
		t.mode, t.automation
		FROM tasks t JOIN data_sources d ON d.id = t.data_source_id
		WHERE t.request_id = $1 AND ($2 = '' OR t.assignee_id::text = $2 OR EXISTS (SELECT 1 FROM data_source_owners o
			WHERE o.data_source_id = t.data_source_id AND o.user_id::text = $2))
		ORDER BY t.assigned_at, d.name`
	ts := []Task{}
	if err := db.SelectContext(ctx, &ts, q, requestID, ownerID); err != nil {
		return nil, fmt.Errorf("store: tasks of %s: %w", requestID, err)
	}
	return ts, nil
}

// DataSourceNames returns the names of data sources by id, deleted ones
// included (a closed task keeps its source's name).
func (db *DB) DataSourceNames(ctx context.Context, ids []string) (map[string]string, error) {
	valid := []string{}
	for _, id := range ids {
		if _, err := uuid.Parse(id); err == nil {
			valid = append(valid, id)
		}
	}
	const q = `SELECT id, name FROM data_sources WHERE id = ANY($1::uuid[])`
	var rows []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	if err := db.SelectContext(ctx, &rows, q, pq.Array(valid)); err != nil {
		return nil, fmt.Errorf("store: data source names: %w", err)
	}
	names := map[string]string{}
	for _, r := range rows {
		names[r.ID] = r.Name
	}
	return names, nil
}

// OwnedDataSources lists the ids of the data sources a user owns.
func (db *DB) OwnedDataSources(ctx context.Context, userID string) ([]string, error) {
	const q = `SELECT data_source_id FROM data_source_owners WHERE user_id = $1`
	ids := []string{}
	if err := db.SelectContext(ctx, &ids, q, userID); err != nil {
		return nil, fmt.Errorf("store: owned data sources: %w", err)
	}
	return ids, nil
}

// TaskFilter selects tasks for GET /api/v1/tasks.
type TaskFilter struct {
	Status  string // open, completed or declined; "" for all
	OwnerID string // only the tasks of data sources this user owns
	Limit   int
	After   *Cursor
}

// TaskItem is a task with what its owner needs to see of the request.
type TaskItem struct {
	Task
	RequestType   dsar.RequestType `db:"request_type" json:"request_type"`
	RequestStatus dsar.Status      `db:"request_status" json:"request_status"`
	Deadline      time.Time        `db:"deadline" json:"deadline"`
	Overdue       bool             `db:"overdue" json:"overdue"`
}

// Tasks lists tasks of accepted requests, most recently assigned first,
// and the cursor of the next page (nil on the last).
func (db *DB) Tasks(ctx context.Context, f TaskFilter) ([]TaskItem, *Cursor, error) {
	if f.Limit < 1 || f.Limit > MaxPage {
		f.Limit = MaxPage
	}
	w := &where{}
	w.add("r.accepted")
	if f.Status != "" {
		w.add("t.status = ?", f.Status)
	}
	if f.OwnerID != "" {
		w.add("(t.assignee_id = ? OR EXISTS (SELECT 1 FROM data_source_owners o WHERE o.data_source_id = t.data_source_id AND o.user_id = ?))",
			f.OwnerID, f.OwnerID)
	}
	if f.After != nil {
		w.add("(t.assigned_at, t.request_id, t.data_source_id) < (?, ?, ?)", f.After.At, f.After.ID, f.After.Also)
	}
	w.args = append(w.args, f.Limit+1)
	const q = `SELECT t.request_id, t.data_source_id, d.name, t.status, t.assigned_at, t.last_activity_at,
		t.completed_at, t.note, t.outcome, t.record_count, t.decline_reason, t.assignee_id::text AS assignee_id,
		r.request_type, r.status AS request_status, r.deadline, r.overdue
		FROM tasks t JOIN requests r ON r.id = t.request_id JOIN data_sources d ON d.id = t.data_source_id
		WHERE %s ORDER BY t.assigned_at DESC, t.request_id DESC, t.data_source_id DESC LIMIT $%d`
	items := []TaskItem{}
	if err := db.SelectContext(ctx, &items, fmt.Sprintf(q, w.sql(), len(w.args)), w.args...); err != nil {
		return nil, nil, fmt.Errorf("store: tasks: %w", err)
	}
	if len(items) <= f.Limit {
		return items, nil, nil
	}
	items = items[:f.Limit]
	last := items[len(items)-1]
	return items, &Cursor{At: last.AssignedAt, ID: last.RequestID, Also: last.DataSourceID}, nil
}

// DocumentInfo describes a request's identity document without opening it.
type DocumentInfo struct {
	ContentType string    `db:"content_type" json:"content_type"`
	Size        int       `db:"size" json:"size"`
	CreatedAt   time.Time `db:"created_at" json:"uploaded_at"`
}

// IdentityDocumentInfo describes a request's identity document, or returns
// nil when there is none (never uploaded, or deleted once identity was
// decided).
func (db *DB) IdentityDocumentInfo(ctx context.Context, requestID string) (*DocumentInfo, error) {
	const q = `SELECT content_type, size, created_at FROM identity_documents WHERE request_id = $1`
	var ds []DocumentInfo
	if err := db.SelectContext(ctx, &ds, q, requestID); err != nil {
		return nil, fmt.Errorf("store: identity document info of %s: %w", requestID, err)
	}
	if len(ds) == 0 {
		return nil, nil
	}
	return &ds[0], nil
}
