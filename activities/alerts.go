package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/store"
)

// AlertRequest asks for staff alerts about one event of a request. Key
// names the event uniquely within the request (e.g. "unassigned-2"), so
// recording it again adds nothing. Who receives it follows its kind
// (store.AlertRecipients).
type AlertRequest struct {
	RequestID string
	Kind      string // one of the store.Alert* kinds
	Key       string
	// OrgOwners is no longer read: the kind says who hears of it (the
	// request's handler, or the org owners and admins while it has none).
	// Workflow code and recorded histories still carry it.
	OrgOwners     bool
	DataSourceIDs []string // the data sources the event concerns (their tasks)
	Deadline      time.Time
	Immediate     bool // send at once instead of waiting for the digest
}

// RecordAlerts records one alert per recipient of the event (each once, as
// store.AlertRecipients resolves them) and, when Immediate, sends each
// recipient their pending alerts at once. It returns how many alerts were
// new.
func (a *Activities) RecordAlerts(ctx context.Context, r AlertRequest) (int, error) {
	recipients, err := a.DB.AlertRecipients(ctx, store.AlertSubject{Kind: r.Kind, RequestID: r.RequestID, DataSourceIDs: r.DataSourceIDs})
	if err != nil {
		return 0, classify(err)
	}
	// Whoever hears of an event about data sources (a declined task, say)
	// reads their names, not only their owners.
	var named []string
	if len(r.DataSourceIDs) > 0 {
		names, err := a.DB.DataSourceNames(ctx, r.DataSourceIDs)
		if err != nil {
			return 0, classify(err)
		}
		for _, id := range r.DataSourceIDs {
			if n, ok := names[id]; ok {
				named = append(named, n)
			}
		}
	}
	alerts := make([]store.NewAlert, 0, len(recipients))
	for _, rc := range recipients {
		detail := map[string]any{}
		if !r.Deadline.IsZero() {
			detail["deadline"] = r.Deadline.UTC().Format(time.RFC3339)
		}
		if len(rc.DataSources) > 0 {
			detail["data_sources"] = rc.DataSources
		} else if len(named) > 0 {
			detail["data_sources"] = named
		}
		if len(rc.Unowned) > 0 {
			detail["unowned_sources"] = rc.Unowned
		}
		alerts = append(alerts, store.NewAlert{
			DedupeKey: r.RequestID + ":" + r.Key + ":" + rc.UserID, RecipientID: rc.UserID,
			RequestID: r.RequestID, Kind: r.Kind, Detail: detail,
		})
	}
	n, err := a.DB.RecordAlerts(ctx, alerts)
	if err != nil {
		return 0, classify(err)
	}
	if r.Immediate {
		for _, rc := range recipients {
			if _, err := a.sendAlerts(ctx, rc.UserID, false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// SendAlertDigest sends every recipient with pending alerts one mail
// listing them all, and marks them sent. It returns how many mails went out.
// The daily digest workflow runs it.
//
// With alerts.mode=digest it first records the day's notice of outstanding
// work (store.RecordOutstandingAlerts) for every user that work waits on,
// and each mail ends with the recipient's outstanding requests: a user with
// no event that day but work waiting still hears of it, once a day. With
// alerts.mode=immediate the events went out as they came; the run sends only
// what is left (a requester's replies).
func (a *Activities) SendAlertDigest(ctx context.Context) (int, error) {
	digest := a.Config.Alerts.Mode != "immediate"
	if digest {
		day := digestDay(time.Now(), a.Config.Alerts.DigestTime, a.Config.DigestLocation())
		if _, err := a.DB.RecordOutstandingAlerts(ctx, day); err != nil {
			return 0, classify(err)
		}
	}
	recipients, err := a.DB.PendingAlertRecipients(ctx)
	if err != nil {
		return 0, err
	}
	sent := 0
	var retry error
	for _, id := range recipients {
		ok, err := a.sendAlerts(ctx, id, digest)
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

// digestDay names the digest a run belongs to: the date, in the digest's
// zone, of the latest digest time (HH:MM) at or before now. A run retried
// past midnight, or started by hand the next morning, belongs to the
// evening before, so nobody gets that day's notice of outstanding work
// twice.
func digestDay(now time.Time, at string, loc *time.Location) string {
	local := now.In(loc)
	if hm, err := time.Parse("15:04", at); err == nil {
		due := time.Date(local.Year(), local.Month(), local.Day(), hm.Hour(), hm.Minute(), 0, 0, loc)
		if local.Before(due) {
			local = local.AddDate(0, 0, -1)
		}
	}
	return local.Format(time.DateOnly)
}

// outstandingShown is how many requests each list of outstanding work in
// the digest shows; the rest are counted, with a link to the console.
const outstandingShown = 25

// alertItem is one event of an alert mail.
type alertItem struct {
	Label       string
	Reference   string
	Link        string
	Deadline    string
	DataSources []string
	Unowned     []string // of DataSources, those without an active owner
}

// openItem is one outstanding request of the digest.
type openItem struct {
	Reference   string
	Link        string
	Type        string
	Status      string
	Deadline    string
	Overdue     bool
	DataSources []string
	Unowned     []string
}

// openList is one list of outstanding work in the digest.
type openList struct {
	Title string
	Total int
	Items []openItem
	More  int // beyond those listed
}

// sendAlerts sends one recipient their pending alerts in one mail and marks
// them sent; with digest, the mail ends with the recipient's outstanding
// requests. A disabled recipient's alerts are marked sent without a mail,
// and so is a lone notice of outstanding work when the work is done. The
// idempotency key covers the alerts listed, so a retry after a lost answer
// does not deliver twice.
func (a *Activities) sendAlerts(ctx context.Context, recipientID string, digest bool) (bool, error) {
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
		if al.Kind == store.AlertOutstanding {
			continue
		}
		var d struct {
			Deadline    time.Time `json:"deadline"`
			DataSources []string  `json:"data_sources"`
			Unowned     []string  `json:"unowned_sources"`
		}
		_ = json.Unmarshal(al.Detail, &d)
		it := alertItem{Label: store.AlertLabel(al.Kind), Deadline: a.staffDate(d.Deadline, al.DeadlineRule), DataSources: d.DataSources, Unowned: d.Unowned}
		if al.RequestID != nil {
			it.Reference = dsar.Reference(*al.RequestID)
			it.Link = a.requestLink(*al.RequestID)
		}
		items = append(items, it)
	}
	var open []openList
	openCount := 0
	if digest {
		o, err := a.DB.Outstanding(ctx, recipientID, outstandingShown)
		if err != nil {
			return false, err
		}
		for _, l := range []struct {
			title string
			list  store.OutstandingList
		}{
			{"Requests you handle", o.Handled},
			{"Requests without a handler", o.Unhandled},
			{"Open tasks of your data sources", o.Tasks},
		} {
			if l.list.Total == 0 {
				continue
			}
			ol := openList{Title: l.title, Total: l.list.Total, More: l.list.Total - len(l.list.Items)}
			for _, r := range l.list.Items {
				ol.Items = append(ol.Items, openItem{Reference: dsar.Reference(r.RequestID), Link: a.requestLink(r.RequestID),
					Type: r.RequestType.Label(), Status: r.Status.Label(), Deadline: a.staffDate(r.Deadline, r.DeadlineRule), Overdue: r.Overdue,
					DataSources: r.DataSources, Unowned: r.Unowned})
			}
			open = append(open, ol)
			openCount += l.list.Total
		}
	}
	if len(items) == 0 && openCount == 0 {
		// Only a notice of work that got done since: nothing to say.
		return false, a.DB.MarkAlertsSent(ctx, ids)
	}
	data := a.mailData()
	data["Name"] = u.Name
	data["Alerts"] = items
	data["Count"] = len(items)
	data["Open"] = open
	data["OpenCount"] = openCount
	data["ConsoleLink"] = a.link("/console", nil)
	key := fmt.Sprintf("alerts-%s-%d-%d", recipientID, ids[0], ids[len(ids)-1])
	if err := a.send(ctx, locale.English, "staff_alerts", u.Email, key, data); err != nil {
		return false, err
	}
	if err := a.DB.MarkAlertsSent(ctx, ids); err != nil {
		return true, err
	}
	return true, nil
}

// requestLink is a link to a request's page in the staff console.
func (a *Activities) requestLink(id string) string {
	return a.link("/console/requests/"+id, nil)
}

// staffDate is how staff mail shows a request's deadline: its date where
// the rule counted it, with the zone named ("2 December 2026 (Pacific
// time)"), since a deadline at the end of a Californian day already falls
// on the next day in UTC. A rule without a zone (or no longer configured)
// has its date in UTC, as before.
func (a *Activities) staffDate(t time.Time, rule string) string {
	loc, zone := a.Config.Jurisdictions.Zone(rule)
	if t.IsZero() || zone == "" {
		return formatDate(t)
	}
	return t.In(loc).Format("2 January 2006") + " (" + dsar.ZoneWords(zone) + ")"
}
