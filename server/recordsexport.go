package server

import (
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar/store"
)

// recordsCSVHeader names the columns of GET /api/v1/records.csv: the
// compliance records, which hold no personal data.
var recordsCSVHeader = []string{"request_id", "reference", "request_type", "requestor_type", "rule", "channel",
	"received_at", "acknowledged_at", "due_at", "extended_to", "responded_at", "outcome", "denial_basis",
	"appeal_filed_at", "appeal_outcome", "appeal_decided_at", "sources", "legal_hold", "retain_until"}

// exportRecordsCSV is GET /api/v1/records.csv?from=&to=: the compliance
// records of the requests received in the range (from and to inclusive),
// as CSV, streamed as they are read; a failure after the first row cuts
// the answer short rather than end it as if it were whole. Text cells are
// guarded against formula injection like the queue's export.
func (s *Server) exportRecordsCSV(c *gin.Context) {
	from, to, err := dateRange(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	w := csv.NewWriter(c.Writer)
	started := false
	start := func() error {
		started = true
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="records-%s-%s.csv"`, from.Format(time.DateOnly), to.Format(time.DateOnly)))
		c.Header("Cache-Control", "no-store")
		c.Status(http.StatusOK)
		return w.Write(recordsCSVHeader)
	}
	n := 0
	err = s.DB.RecordsEach(c.Request.Context(), store.RecordFilter{From: from, To: to.AddDate(0, 0, 1)}, func(r store.Record) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		if err := w.Write(recordCSVRow(r)); err != nil {
			return err
		}
		if n++; n%500 == 0 {
			w.Flush()
		}
		return w.Error()
	})
	if err == nil && !started {
		err = start() // no record in the range: the header alone
	}
	s.endCSV(c, w, started, err, "records csv")
}

// recordCSVRow is one record's row, in recordsCSVHeader's order. Times are
// RFC 3339 UTC; the denial basis is its codes joined by ";"; sources are
// their JSON.
func recordCSVRow(r store.Record) []string {
	stamp := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	sources, _ := json.Marshal(r.Sources)
	row := []string{r.RequestID, r.Reference, string(r.RequestType), string(r.RequestorType), r.Rule, string(r.Channel),
		stamp(&r.ReceivedAt), stamp(r.AcknowledgedAt), stamp(&r.DueAt), stamp(r.ExtendedTo), stamp(r.RespondedAt),
		string(r.Outcome), strings.Join(r.DenialBasis, ";"), stamp(r.AppealFiledAt), r.AppealOutcome, stamp(r.AppealDecidedAt),
		string(sources), strconv.FormatBool(r.LegalHold), stamp(r.RetainUntil)}
	for i, v := range row {
		row[i] = csvText(v)
	}
	return row
}

// exportRecordsJSON is GET /api/v1/records.json?from=&to=: the same
// records as JSON.
func (s *Server) exportRecordsJSON(c *gin.Context) {
	from, to, err := dateRange(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	records, err := s.DB.Records(c.Request.Context(), store.RecordFilter{From: from, To: to.AddDate(0, 0, 1)})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="records-%s-%s.json"`, from.Format(time.DateOnly), to.Format(time.DateOnly)))
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "items": records})
}

// auditFileEvent is one audit event in the file for a regulator, with the
// chain's hashes.
type auditFileEvent struct {
	Seq       int64           `json:"seq"`
	At        time.Time       `json:"created_at"`
	ActorKind string          `json:"actor_kind"`
	ActorID   string          `json:"actor_id"`
	Action    string          `json:"action"`
	Label     string          `json:"label"`
	Detail    json.RawMessage `json:"detail"`
	Key       *string         `json:"key"`        // the event's idempotency key: part of what its hash covers
	PrevHash  string          `json:"prev_hash"`  // hex: the hash of the chain's row before this one (seq - 1)
	Hash      string          `json:"hash"`       // hex: this row's hash
	MACKeyID  *string         `json:"mac_key_id"` // the key the hash is keyed with; null: a plain SHA-256 (rows before keying)
}

// auditVerification says how the file's hashes are checked.
const auditVerification = "The audit trail is one hash chain over every event of the service, in seq order; this file holds " +
	"the events of one request, which are links of that chain (prev_hash is the hash of the event before it in the whole " +
	"chain, which may be another request's). Each hash is HMAC-SHA256, under the audit key derived from the master key " +
	"mac_key_id, over \"dsar-audit-v2\\x00\", the key id and the event's encoding: prev_hash, seq, request_id, actor_kind, " +
	"actor_id, action, detail (canonical JSON: sorted keys, no spaces), created_at (RFC 3339, nanoseconds) and key when " +
	"present, each written as its length in decimal, \":\", and its bytes. The operator proves the file against the chain " +
	"by running \"dsar audit verify --anchor FILE\", which recomputes every hash from the first row and checks the signed " +
	"anchors taken before; chain_check below is that check's result when this file was made."

// auditFile is GET /api/v1/requests/{id}/audit.json: a request's audit
// trail as a file for a regulator, with the chain's hashes and how to
// verify them. The whole chain is checked as the file is made.
func (s *Server) auditFile(c *gin.Context) {
	ctx := c.Request.Context()
	row, err := s.DB.Request(ctx, c.Param("id"), ownerScope(staffUser(c)))
	if err != nil {
		s.fail(c, err)
		return
	}
	evs, err := s.DB.RequestAudit(ctx, row.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	rows, brk, err := s.DB.VerifyAudit(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	check := gin.H{"rows": rows, "intact": brk == nil, "checked_at": time.Now().UTC()}
	if brk != nil {
		check["break"] = gin.H{"seq": brk.Seq, "reason": brk.Reason}
	}
	items := make([]auditFileEvent, len(evs))
	for i, e := range evs {
		detail := e.Detail
		if len(detail) == 0 {
			detail = json.RawMessage("{}")
		}
		items[i] = auditFileEvent{Seq: e.Seq, At: e.CreatedAt, ActorKind: e.ActorKind, ActorID: e.ActorID, Action: e.Action,
			Label: auditEventLabel(e), Detail: detail, Key: e.Key, PrevHash: hex.EncodeToString(e.PrevHash),
			Hash: hex.EncodeToString(e.Hash), MACKeyID: e.MACKeyID}
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.json"`, row.Reference))
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{
		"request_id": row.ID, "reference": row.Reference, "generated_at": time.Now().UTC(),
		"how_to_verify": auditVerification, "chain_check": check, "events": items,
	})
}
