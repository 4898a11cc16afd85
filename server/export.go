package server

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// queueCSVHeader names the columns of GET /api/v1/requests.csv. None holds
// PII: the requester is never named, and the handler is an id.
var queueCSVHeader = []string{"id", "reference", "request_type", "status", "country", "region", "submitted_at",
	"deadline", "extended", "overdue", "handler_id", "awaiting_reply", "closed_at"}

// exportRequests is GET /api/v1/requests.csv: every request the queue's
// filters select (not a page of them), in the queue's order, as CSV without
// PII. The rows stream as they are read; a failure after the first row cuts
// the answer short rather than end it as if it were whole.
func (s *Server) exportRequests(c *gin.Context) {
	bad := map[string]string{}
	f := s.queueFilter(c, bad)
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	f.OwnerID = ownerScope(staffUser(c))
	w := csv.NewWriter(c.Writer)
	started := false
	start := func() error {
		started = true
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="requests-%s.csv"`, time.Now().UTC().Format("2006-01-02")))
		c.Header("Cache-Control", "no-store")
		c.Status(http.StatusOK)
		return w.Write(queueCSVHeader)
	}
	err := s.DB.QueueEach(c.Request.Context(), f, func(items []store.QueueRow) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		for _, it := range items {
			if err := w.Write(queueCSVRow(it)); err != nil {
				return err
			}
		}
		w.Flush()
		return w.Error()
	})
	if err == nil && !started {
		err = start() // no request matches: the header alone
	}
	s.endCSV(c, w, started, err, "requests csv")
}

// queueCSVRow is one request's row of the CSV, in queueCSVHeader's order.
// Times are RFC 3339 UTC; text cells are guarded against formula injection.
func queueCSVRow(it store.QueueRow) []string {
	stamp := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	handler := ""
	if it.HandlerID != nil {
		handler = *it.HandlerID
	}
	row := []string{it.ID, it.Reference, string(it.RequestType), string(it.Status), it.Country, it.Region,
		stamp(&it.SubmittedAt), stamp(&it.Deadline), strconv.FormatBool(it.Extended), strconv.FormatBool(it.Overdue),
		handler, strconv.FormatBool(it.AwaitingReply), stamp(it.ClosedAt)}
	for i, v := range row {
		row[i] = csvText(v)
	}
	return row
}

// csvText keeps a cell from being read as a formula by a spreadsheet: text
// starting with =, +, -, @, a tab or a carriage return gets a leading
// apostrophe, which spreadsheets show as text and do not run.
func csvText(v string) string {
	if v != "" {
		switch v[0] {
		case '=', '+', '-', '@', '\t', '\r':
			return "'" + v
		}
	}
	return v
}

// endCSV ends a streamed CSV answer (what names it in the log): an error
// before the first byte is answered as any error; one after it cuts the
// connection, so the client sees the answer end early rather than a
// shorter list.
func (s *Server) endCSV(c *gin.Context, w *csv.Writer, started bool, err error, what string) {
	if err != nil {
		if !started {
			s.fail(c, err)
			return
		}
		s.Log.Error(what+": cut short", "err", err)
		if conn, _, herr := c.Writer.Hijack(); herr == nil {
			_ = conn.Close()
		}
		return
	}
	w.Flush()
	if err := w.Error(); err != nil {
		s.Log.Error(what, "err", err)
	}
}
