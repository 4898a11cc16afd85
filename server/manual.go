package server

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// How far back a request staff record may have been received: further is a
// typing mistake more often than a request found in a drawer.
const maxReceivedAgo = 365 * 24 * time.Hour

// receivedSkew is how far in the future a received_at time may be (clocks
// differ); it is then taken as now.
const receivedSkew = 5 * time.Minute

// manualBody is the body of POST /api/v1/requests/manual: the form's text
// fields, and how and when the request arrived.
type manualBody struct {
	FirstName       string `json:"first_name"`
	LastName        string `json:"last_name"`
	Email           string `json:"email"`
	Country         string `json:"country"`
	Region          string `json:"region"`
	RequestorType   string `json:"requestor_type"`
	RequestType     string `json:"request_type"`
	Description     string `json:"description"`
	Channel         string `json:"channel"`
	ReceivedAt      string `json:"received_at"`
	IdentityChecked bool   `json:"identity_checked"`
	IdentityNote    string `json:"identity_note"`
	// Language is what the requester is answered in: en (default), de,
	// fr or es.
	Language string `json:"language"`
}

// readManual parses and validates a request staff record, with the form's
// own checks of the form's fields (the same input gets the same 422 naming
// the field) and those of its channel, date and identity check. recordedBy
// is the staff user; rules the jurisdiction table, whose rule covering the
// requester says the zone a date of receipt is read in. Errors are
// *dsar.Error; EINVALID names every bad field.
func readManual(c *gin.Context, recordedBy string, now time.Time, rules dsar.Rules) (submission, error) {
	var b manualBody
	if err := bindJSON(c, &b); err != nil {
		return submission{}, err
	}
	sub := submission{
		FirstName: strings.TrimSpace(b.FirstName), LastName: strings.TrimSpace(b.LastName), Email: strings.TrimSpace(b.Email),
		Country: strings.ToUpper(strings.TrimSpace(b.Country)), Region: strings.ToUpper(strings.TrimSpace(b.Region)),
		RequestorType: dsar.RequestorType(strings.TrimSpace(b.RequestorType)), RequestType: dsar.RequestType(strings.TrimSpace(b.RequestType)),
		Description: strings.TrimSpace(b.Description),
		Language:    locale.Lang(strings.ToLower(strings.TrimSpace(b.Language))),
	}
	if sub.Language == "" {
		sub.Language = locale.English
	}
	bad := validate(sub, true) // no captcha: staff are signed in
	channel := dsar.Channel(strings.TrimSpace(b.Channel))
	if !slices.Contains(dsar.ManualChannels, channel) {
		names := make([]string, len(dsar.ManualChannels))
		for i, ch := range dsar.ManualChannels {
			names[i] = string(ch)
		}
		bad["channel"] = "choose how the request arrived: " + strings.Join(names, ", ")
	}
	zone, err := receivedZone(rules, sub.Country, sub.Region)
	if err != nil {
		return submission{}, err
	}
	received, why := parseReceivedAt(strings.TrimSpace(b.ReceivedAt), now, zone)
	if why != "" {
		bad["received_at"] = why
	}
	note := strings.TrimSpace(b.IdentityNote)
	switch {
	case b.IdentityChecked && note == "":
		bad["identity_note"] = "say how the identity was checked (it is kept in the audit trail)"
	case !b.IdentityChecked && note != "":
		bad["identity_note"] = "give a note only when identity_checked is true"
	case !utf8.ValidString(note):
		bad["identity_note"] = "is not valid text"
	case utf8.RuneCountInString(note) > maxNote:
		bad["identity_note"] = fmt.Sprintf("must be at most %d characters", maxNote)
	}
	if len(bad) > 0 {
		return submission{}, dsar.Invalid(bad)
	}
	sub.ReceivedAt = received
	sub.Manual = &workflows.ManualIntake{Channel: channel, RecordedBy: recordedBy, IdentityChecked: b.IdentityChecked, IdentityNote: note}
	sub.hash = digest(nil, sub.FirstName, sub.LastName, sub.Email, sub.Country, sub.Region,
		string(sub.RequestorType), string(sub.RequestType), sub.Description, string(channel),
		received.Format(time.RFC3339), strconv.FormatBool(b.IdentityChecked), note, recordedBy, string(sub.Language))
	return sub, nil
}

// parseReceivedAt reads when a request was received: an RFC 3339 time, or
// a date (its start in zone, where the rule covering the requester counts
// its days). It is refused (why says so) in the future, where a date is in
// the future only once it has begun nowhere on Earth, or more than
// maxReceivedAgo before now. A time a little ahead, or a date begun
// elsewhere but not yet in zone, is taken as now.
func parseReceivedAt(v string, now time.Time, zone *time.Location) (time.Time, string) {
	if v == "" {
		return time.Time{}, "enter when the request was received (a date, or an RFC 3339 time)"
	}
	now = now.UTC().Truncate(time.Second)
	t, err := time.Parse(time.RFC3339, v)
	if err == nil {
		t = t.UTC().Truncate(time.Second)
		if t.After(now.Add(receivedSkew)) {
			return time.Time{}, "is in the future"
		}
	} else {
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return time.Time{}, "must be a date (2006-01-02) or an RFC 3339 time"
		}
		// The date has begun somewhere once it is that date at UTC+14.
		if d.After(now.Add(14 * time.Hour).Truncate(24 * time.Hour)) {
			return time.Time{}, "is in the future"
		}
		t = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, zone).UTC()
	}
	switch {
	case t.Before(now.Add(-maxReceivedAgo)):
		return time.Time{}, "is more than a year ago; check the date"
	case t.After(now):
		t = now
	}
	return t, ""
}

// receivedZone is the time zone a date of receipt is read in: the one the
// rule covering the requester counts its days in, UTC without one.
func receivedZone(rules dsar.Rules, country, region string) (*time.Location, error) {
	rule, ok := rules.Match(country, region)
	if !ok {
		return time.UTC, nil
	}
	days, err := rule.Workdays(nil)
	if err != nil || days.Zone == nil {
		return time.UTC, err
	}
	return days.Zone, nil
}

// recordManual is POST /api/v1/requests/manual: staff record a request that
// arrived by phone, post, email or in person. It is made like a submission
// of the form (the requester still verifies the email address) and answered
// 201 {id, status}; with an Idempotency-Key, a repeat is answered 201 with
// the same id and records nothing more.
func (s *Server) recordManual(c *gin.Context) {
	s.submitWith(c, func(c *gin.Context) (submission, error) {
		return readManual(c, staffUser(c).ID, time.Now(), s.Config.Jurisdictions)
	})
}

// auditRecorded writes, for a request staff recorded, who recorded it, from
// which channel and when it was received: once per request however often it
// is called (the event's key follows from the request). Nothing for the
// form. An error is EUNAVAILABLE: the request stands, and the same call
// again with the same Idempotency-Key finishes the record.
func (s *Server) auditRecorded(ctx context.Context, id string, sub submission) error {
	if sub.Manual == nil {
		return nil
	}
	_, err := s.DB.AppendAudit(ctx, store.Audit{RequestID: id, ActorKind: store.ActorStaff, ActorID: sub.Manual.RecordedBy,
		Action: dsar.AuditRequestRecorded, Key: "recorded:" + id, Detail: map[string]any{
			"channel": sub.Manual.Channel, "received_at": sub.ReceivedAt.Format(time.RFC3339),
			"identity_checked": sub.Manual.IdentityChecked,
		}})
	if err != nil {
		s.Log.Error("audit a recorded request", "id", id, "err", err)
		return dsar.Errorf(dsar.EUNAVAILABLE, "request %s was recorded, but its audit entry could not be written; "+
			"send it again with the same Idempotency-Key to finish", id)
	}
	return nil
}
