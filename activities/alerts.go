package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// AlertRequest asks for staff alerts about one event of a request. Key
// names the event uniquely within the request (e.g. "unassigned-2"), so
// recording it again adds nothing.
type AlertRequest struct {
	RequestID     string
	Kind          string // one of the store.Alert* kinds
	Key           string
	OrgOwners     bool     // alert every org owner
	DataSourceIDs []string // and the owners of these data sources
	Deadline      time.Time
	Immediate     bool // send at once instead of waiting for the digest
}

// RecordAlerts records one alert per recipient (org owners and the owners of
// the data sources, each once) and, when Immediate, sends each recipient
// their pending alerts at once. It returns how many alerts were new.
func (a *Activities) RecordAlerts(ctx context.Context, r AlertRequest) (int, error) {
	type recipient struct {
		id      string
		sources []string
	}
	var recipients []*recipient
	byID := map[string]*recipient{}
	add := func(id string) *recipient {
		if rc, ok := byID[id]; ok {
			return rc
		}
		rc := &recipient{id: id}
		byID[id] = rc
		recipients = append(recipients, rc)
		return rc
	}
	if r.OrgOwners {
		owners, err := a.DB.UsersByRole(ctx, dsar.RoleOrgOwner)
		if err != nil {
			return 0, err
		}
		for _, u := range owners {
			add(u.ID)
		}
	}
	if len(r.DataSourceIDs) > 0 {
		owners, err := a.DB.SourceOwners(ctx, r.DataSourceIDs)
		if err != nil {
			return 0, err
		}
		for _, o := range owners {
			rc := add(o.UserID)
			rc.sources = append(rc.sources, o.DataSourceName)
		}
	}
	alerts := make([]store.NewAlert, 0, len(recipients))
	for _, rc := range recipients {
		detail := map[string]any{}
		if !r.Deadline.IsZero() {
			detail["deadline"] = r.Deadline.UTC().Format(time.RFC3339)
		}
		if len(rc.sources) > 0 {
			detail["data_sources"] = rc.sources
		}
		alerts = append(alerts, store.NewAlert{
			DedupeKey: r.RequestID + ":" + r.Key + ":" + rc.id, RecipientID: rc.id,
			RequestID: r.RequestID, Kind: r.Kind, Detail: detail,
		})
	}
	n, err := a.DB.RecordAlerts(ctx, alerts)
	if err != nil {
		return 0, classify(err)
	}
	if r.Immediate {
		for _, rc := range recipients {
			if _, err := a.sendAlerts(ctx, rc.id); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// SendAlertDigest sends every recipient with pending alerts one mail
// listing them all, and marks them sent. It returns how many mails went out.
// The daily digest workflow runs it.
func (a *Activities) SendAlertDigest(ctx context.Context) (int, error) {
	recipients, err := a.DB.PendingAlertRecipients(ctx)
	if err != nil {
		return 0, err
	}
	sent := 0
	var retry error
	for _, id := range recipients {
		ok, err := a.sendAlerts(ctx, id)
		var ae *temporal.ApplicationError
		switch {
		case errors.As(err, &ae) && ae.NonRetryable():
			// One bad address must not hold up everyone else's digest; the
			// alerts stay pending and are tried again tomorrow.
			if a.Log != nil {
				a.Log.Error("alert digest: cannot mail recipient", "user_id", id, "error", err)
			}
		case err != nil:
			retry = err
		case ok:
			sent++
		}
	}
	return sent, retry
}

// alertItem is one line of an alert mail.
type alertItem struct {
	Label       string
	RequestID   string
	Link        string
	Deadline    string
	DataSources []string
}

// sendAlerts sends one recipient their pending alerts in one mail and marks
// them sent. A disabled recipient's alerts are marked sent without a mail.
// The idempotency key covers the alerts listed, so a retry after a lost
// answer does not deliver twice.
func (a *Activities) sendAlerts(ctx context.Context, recipientID string) (bool, error) {
	pending, err := a.DB.PendingAlerts(ctx, recipientID)
	if err != nil || len(pending) == 0 {
		return false, err
	}
	ids := make([]int64, len(pending))
	for i, al := range pending {
		ids[i] = al.ID
	}
	u, err := a.DB.User(ctx, recipientID)
	if err != nil {
		return false, err
	}
	if u.DisabledAt != nil {
		return false, a.DB.MarkAlertsSent(ctx, ids)
	}
	items := make([]alertItem, 0, len(pending))
	for _, al := range pending {
		var d struct {
			Deadline    time.Time `json:"deadline"`
			DataSources []string  `json:"data_sources"`
		}
		_ = json.Unmarshal(al.Detail, &d)
		it := alertItem{Label: store.AlertLabel(al.Kind), Deadline: formatDate(d.Deadline), DataSources: d.DataSources}
		if al.RequestID != nil {
			it.RequestID = *al.RequestID
			it.Link = a.link("/console/requests/"+*al.RequestID, nil)
		}
		items = append(items, it)
	}
	data := a.mailData()
	data["Name"] = u.Name
	data["Alerts"] = items
	data["Count"] = len(items)
	key := fmt.Sprintf("alerts-%s-%d-%d", recipientID, ids[0], ids[len(ids)-1])
	if err := a.send(ctx, "staff_alerts", u.Email, key, data); err != nil {
		return false, err
	}
	if err := a.DB.MarkAlertsSent(ctx, ids); err != nil {
		return true, err
	}
	return true, nil
}
