package server

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// defaultPage is the size of a page of the queue and of the task list
// unless limit says otherwise.
const defaultPage = 50

// ownerScope is the user id that limits what a source owner sees, or "" for
// the roles that see every request.
func ownerScope(u store.User) string {
	if u.Role == dsar.RoleSourceOwner {
		return u.ID
	}
	return ""
}

var countryCode = regexp.MustCompile(`^[A-Z]{2}$`)

// queueFilter reads the queue's filters from the query string (the page's
// limit and cursor aside), naming each bad parameter in bad.
func (s *Server) queueFilter(c *gin.Context, bad map[string]string) store.QueueFilter {
	f := store.QueueFilter{Limit: defaultPage}
	if v := c.Query("status"); v != "" {
		for _, p := range strings.Split(v, ",") {
			st := dsar.Status(strings.TrimSpace(p))
			if !st.Valid() {
				bad["status"] = fmt.Sprintf("unknown status %q", p)
				continue
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	if v := c.Query("request_type"); v != "" {
		f.RequestType = dsar.RequestType(v)
		if !f.RequestType.Valid() {
			bad["request_type"] = "must be complaint, correction, deletion, do_not_sell, info or opt_out"
		}
	}
	if v := c.Query("requestor_type"); v != "" {
		f.RequestorType = dsar.RequestorType(v)
		if !f.RequestorType.Valid() {
			bad["requestor_type"] = "must be customer, employee or other"
		}
	}
	if v := c.Query("country"); v != "" {
		f.Country = strings.ToUpper(v)
		if !countryCode.MatchString(f.Country) {
			bad["country"] = "must be an ISO 3166-1 alpha-2 code such as DE"
		}
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
		end  bool
	}{{"submitted_from", &f.SubmittedFrom, false}, {"submitted_to", &f.SubmittedTo, true}, {"due_before", &f.DueBefore, false}} {
		v := c.Query(p.name)
		if v == "" {
			continue
		}
		t, err := parseBound(v, p.end)
		if err != nil {
			bad[p.name] = "must be a date (2026-01-31) or an RFC 3339 time"
			continue
		}
		*p.dst = &t
	}
	f.Overdue = queryBool(c, bad, "overdue")
	f.AwaitingReply = queryBool(c, bad, "awaiting_reply")
	if b := queryBool(c, bad, "include_unverified"); b != nil {
		f.IncludeUnverified = *b
	}
	if v := c.Query("data_source_id"); v != "" {
		if _, err := uuid.Parse(v); err != nil {
			bad["data_source_id"] = "must be a data source id"
		}
		f.DataSourceID = v
	}
	if v := c.Query("handler_id"); v != "" {
		if _, err := uuid.Parse(v); err != nil {
			bad["handler_id"] = "must be a staff user's id"
		}
		f.HandlerID = v
	}
	if v := strings.TrimSpace(c.Query("q")); v != "" {
		// A reference or an exact address: the address is found by its
		// blind index, so a part of one finds nothing.
		if prefix, ok := dsar.ParseReference(v); ok {
			f.IDPrefix = prefix
		} else if strings.Contains(v, "@") {
			f.EmailHash = s.Keys.BlindIndex(v)
		} else {
			bad["q"] = "must be a reference (such as " + dsar.Reference("0b5f7a3e") + ") or a whole email address"
		}
	}
	switch v := c.Query("sort"); v {
	case "", store.SortNewest, store.SortDeadline:
		f.Sort = v
	default:
		bad["sort"] = "must be deadline or -submitted_at"
	}
	return f
}

// queryBool reads a true-or-false query parameter: nil when absent, named
// in bad when neither.
func queryBool(c *gin.Context, bad map[string]string, name string) *bool {
	v := c.Query(name)
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		bad[name] = "must be true or false"
	}
	return &b
}

// readPage reads the page's limit and cursor from the query string into
// *limit and *after, naming each bad one in bad. A cursor of a list keyed
// twice (tasks) must carry its second key (also).
func readPage(c *gin.Context, bad map[string]string, limit *int, after **store.Cursor, also bool) {
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxPage {
			bad["limit"] = fmt.Sprintf("must be 1 to %d", store.MaxPage)
		}
		*limit = n
	}
	if v := c.Query("cursor"); v != "" {
		cur, err := store.DecodeCursor(v)
		if err != nil || (also && cur.Also == "") {
			bad["cursor"] = "is not a cursor from a previous page"
		}
		*after = &cur
	}
}

// parseBound reads a date or an RFC 3339 time. As the end of a range it is
// inclusive: a date covers its whole day (UTC), and the bound returned is
// the first instant after the range.
func parseBound(v string, end bool) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, err
	}
	if end {
		t = t.Add(time.Microsecond)
	}
	return t.UTC(), nil
}

// listRequests is GET /api/v1/requests: the queue, newest first or by
// deadline, a page at a time. Source owners see only requests with a task
// of theirs.
func (s *Server) listRequests(c *gin.Context) {
	bad := map[string]string{}
	f := s.queueFilter(c, bad)
	readPage(c, bad, &f.Limit, &f.After, false)
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	f.OwnerID = ownerScope(staffUser(c))
	items, next, err := s.DB.Queue(c.Request.Context(), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	cursor := ""
	if next != nil {
		cursor = next.Encode()
	}
	body, err := appendQueuePage(make([]byte, 0, 64+256*len(items)), items, cursor)
	if err != nil {
		s.fail(c, fmt.Errorf("server: queue page: %w", err))
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

// requestCounts is GET /api/v1/requests/counts: requests per status, and
// the open, unassigned and overdue ones and those awaiting a reply, for a
// dashboard.
func (s *Server) requestCounts(c *gin.Context) {
	counts, err := s.DB.CountQueue(c.Request.Context(), ownerScope(staffUser(c)))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, counts)
}

// taskItemJSON is a task of GET /api/v1/tasks: the store's item and its
// outcome in words once completed, as the request detail's tasks have it.
type taskItemJSON struct {
	store.TaskItem
	OutcomeLabel string `json:"outcome_label"`
}

// listTasks is GET /api/v1/tasks: a source owner's own tasks, or every task
// for the other roles; status open, completed or declined; newest
// assignment first.
func (s *Server) listTasks(c *gin.Context) {
	f := store.TaskFilter{Status: c.Query("status"), OwnerID: ownerScope(staffUser(c)), Limit: defaultPage}
	bad := map[string]string{}
	switch f.Status {
	case "", workflows.TaskOpen, workflows.TaskCompleted, workflows.TaskDeclined:
	default:
		bad["status"] = "must be open, completed or declined"
	}
	readPage(c, bad, &f.Limit, &f.After, true)
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	items, next, err := s.DB.Tasks(c.Request.Context(), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	list := make([]taskItemJSON, len(items))
	for i, t := range items {
		list[i].TaskItem = t
		if t.Status == workflows.TaskCompleted {
			list[i].OutcomeLabel = dsar.TaskOutcome(t.Outcome).Label()
		}
	}
	out := gin.H{"items": list, "next_cursor": nil}
	if next != nil {
		out["next_cursor"] = next.Encode()
	}
	c.JSON(http.StatusOK, out)
}
