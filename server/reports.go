package server

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// Reports are computed from the compliance records (store/records.go),
// which outlive the requests' data: a year's metrics stay right after
// every request of it was erased.

// typeMetrics are the §7102-style metrics of one request type (or all).
// Days are calendar days from the day the request was received to the day
// it was answered (completed or denied), both UTC dates: received and
// answered the same day is 0. Withdrawn and expired requests count as
// received only.
type typeMetrics struct {
	RequestType   dsar.RequestType `json:"request_type,omitempty"`
	Label         string           `json:"label"`
	Received      int              `json:"received"`
	CompliedWhole int              `json:"complied_whole"`
	CompliedPart  int              `json:"complied_part"`
	Denied        int              `json:"denied"`
	Open          int              `json:"open"`
	MedianDays    *float64         `json:"median_days"` // null when none was answered
	MeanDays      *float64         `json:"mean_days"`   // rounded to one decimal; null when none was answered
	days          []int
}

// metricsReport is GET /api/v1/reports/metrics's answer.
type metricsReport struct {
	Year   int           `json:"year"`
	Rule   string        `json:"rule"` // "" for every rule
	ByType []typeMetrics `json:"by_type"`
	Totals typeMetrics   `json:"totals"`
	Note   string        `json:"note"`
}

// metricsNote says how the metrics count, in the answer and on the page.
const metricsNote = "Requests received in the calendar year (UTC). Days to respond are calendar days from the date received " +
	"to the date completed or denied (UTC dates); withdrawn and expired requests, and those still open, count as received only."

// responseDays is the calendar days from received to responded, as UTC
// dates.
func responseDays(received, responded time.Time) int {
	day := func(t time.Time) time.Time {
		u := t.UTC()
		return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	}
	return int(day(responded).Sub(day(received)).Hours() / 24)
}

// add counts one record.
func (m *typeMetrics) add(r store.Record) {
	m.Received++
	switch r.Outcome {
	case dsar.RecordCompletedWhole:
		m.CompliedWhole++
	case dsar.RecordCompletedPart:
		m.CompliedPart++
	case dsar.RecordDenied:
		m.Denied++
	case "":
		m.Open++
	}
	switch r.Outcome {
	case dsar.RecordCompletedWhole, dsar.RecordCompletedPart, dsar.RecordDenied:
		if r.RespondedAt != nil {
			m.days = append(m.days, responseDays(r.ReceivedAt, *r.RespondedAt))
		}
	}
}

// settle computes the median and mean of the days counted.
func (m *typeMetrics) settle() {
	n := len(m.days)
	if n == 0 {
		return
	}
	d := slices.Clone(m.days)
	slices.Sort(d)
	median := float64(d[n/2])
	if n%2 == 0 {
		median = float64(d[n/2-1]+d[n/2]) / 2
	}
	sum := 0
	for _, v := range d {
		sum += v
	}
	mean := math.Round(float64(sum)/float64(n)*10) / 10
	m.MedianDays, m.MeanDays = &median, &mean
}

// computeMetrics is the metrics of records: per request type (every type,
// in the form's order) and in all.
func computeMetrics(records []store.Record) ([]typeMetrics, typeMetrics) {
	byType := make([]typeMetrics, len(dsar.RequestTypes))
	for i, t := range dsar.RequestTypes {
		byType[i] = typeMetrics{RequestType: t, Label: t.Label()}
	}
	total := typeMetrics{Label: "All requests"}
	for _, r := range records {
		if i := slices.Index(dsar.RequestTypes, r.RequestType); i >= 0 {
			byType[i].add(r)
		}
		total.add(r)
	}
	for i := range byType {
		byType[i].settle()
	}
	total.settle()
	return byType, total
}

// metricsOf reads the query's year (default: last year) and rule, and
// computes the report. EINVALID naming the field for a bad one.
func (s *Server) metricsOf(c *gin.Context) (metricsReport, error) {
	year := time.Now().UTC().Year() - 1
	if v := c.Query("year"); v != "" {
		y, err := strconv.Atoi(v)
		if err != nil || y < 1970 || y > 9999 {
			return metricsReport{}, dsar.Invalid(map[string]string{"year": "must be a year, like 2025"})
		}
		year = y
	}
	rule := c.Query("rule")
	if len(rule) > 100 {
		return metricsReport{}, dsar.Invalid(map[string]string{"rule": "must be a rule id"})
	}
	from := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	records, err := s.DB.Records(c.Request.Context(), store.RecordFilter{From: from, To: from.AddDate(1, 0, 0), Rule: rule})
	if err != nil {
		return metricsReport{}, err
	}
	byType, total := computeMetrics(records)
	return metricsReport{Year: year, Rule: rule, ByType: byType, Totals: total, Note: metricsNote}, nil
}

// reportMetrics is GET /api/v1/reports/metrics?year=Y&rule=R.
func (s *Server) reportMetrics(c *gin.Context) {
	rep, err := s.metricsOf(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rep)
}

// slaCounts is how requests stood against their deadlines.
type slaCounts struct {
	OnTime  int `json:"on_time"` // closed by the deadline, or open with more than the warning period left
	AtRisk  int `json:"at_risk"` // open, due within the deadline warning period
	Overdue int `json:"overdue"` // open past the deadline
	Late    int `json:"late"`    // closed after the deadline
	Total   int `json:"total"`   // all of them
}

// slaGroup is the counts of one request type, rule or month.
type slaGroup struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	slaCounts
}

// slaReport is GET /api/v1/reports/sla's answer.
type slaReport struct {
	From   string     `json:"from"`
	To     string     `json:"to"`
	AsOf   time.Time  `json:"as_of"`
	Totals slaCounts  `json:"totals"`
	ByType []slaGroup `json:"by_type"`
	ByRule []slaGroup `json:"by_rule"`
	Trend  []slaGroup `json:"trend"` // by month received, every month of the range
	Note   string     `json:"note"`
}

// add counts a record as it stands at now, with warning the deadline
// warning period.
func (c *slaCounts) add(r store.Record, now time.Time, warning time.Duration) {
	c.Total++
	deadline := r.Deadline()
	switch {
	case r.RespondedAt != nil && r.RespondedAt.After(deadline):
		c.Late++
	case r.RespondedAt != nil:
		c.OnTime++
	case now.After(deadline):
		c.Overdue++
	case !now.Before(deadline.Add(-warning)):
		c.AtRisk++
	default:
		c.OnTime++
	}
}

// computeSLA is the SLA report of records received from from to to
// (dates, inclusive) as of now.
func computeSLA(records []store.Record, from, to, now time.Time, warning time.Duration) slaReport {
	rep := slaReport{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), AsOf: now,
		ByType: []slaGroup{}, ByRule: []slaGroup{}, Trend: []slaGroup{},
		Note: fmt.Sprintf("Requests received from %s to %s, as they stand at %s. At risk: open and due within %s.",
			from.Format(time.DateOnly), to.Format(time.DateOnly), now.UTC().Format("2006-01-02 15:04 MST"), warningWords(warning))}
	for _, t := range dsar.RequestTypes {
		rep.ByType = append(rep.ByType, slaGroup{Key: string(t), Label: t.Label()})
	}
	for m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(to); m = m.AddDate(0, 1, 0) {
		rep.Trend = append(rep.Trend, slaGroup{Key: m.Format("2006-01"), Label: m.Format("Jan 2006")})
	}
	for _, r := range records {
		rep.Totals.add(r, now, warning)
		if i := slices.Index(dsar.RequestTypes, r.RequestType); i >= 0 {
			rep.ByType[i].add(r, now, warning)
		}
		i := slices.IndexFunc(rep.ByRule, func(g slaGroup) bool { return g.Key == r.Rule })
		if i < 0 {
			rep.ByRule = append(rep.ByRule, slaGroup{Key: r.Rule, Label: r.Rule})
			i = len(rep.ByRule) - 1
		}
		rep.ByRule[i].add(r, now, warning)
		month := r.ReceivedAt.UTC().Format("2006-01")
		if j := slices.IndexFunc(rep.Trend, func(g slaGroup) bool { return g.Key == month }); j >= 0 {
			rep.Trend[j].add(r, now, warning)
		}
	}
	slices.SortFunc(rep.ByRule, func(a, b slaGroup) int {
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	return rep
}

// warningWords says a warning period in days (or hours under a day).
func warningWords(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", n)
	}
	return d.String()
}

// maxReportRange bounds the dates a report or export spans.
const maxReportRange = 10 * 366 * 24 * time.Hour

// dateRange reads the query's from and to (YYYY-MM-DD, inclusive; by
// default the twelve months to today): the range [from, to + 1 day).
// EINVALID naming the field for a bad one.
func dateRange(c *gin.Context) (from, to time.Time, err error) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	to, from = today, today.AddDate(-1, 0, 1)
	bad := map[string]string{}
	parse := func(key string, into *time.Time) {
		if v := c.Query(key); v != "" {
			t, perr := time.Parse(time.DateOnly, v)
			if perr != nil {
				bad[key] = "must be a date, YYYY-MM-DD"
				return
			}
			*into = t
		}
	}
	parse("from", &from)
	parse("to", &to)
	switch {
	case len(bad) > 0:
	case to.Before(from):
		bad["to"] = "must not be before from"
	case to.Sub(from) > maxReportRange:
		bad["to"] = "the range may span at most ten years"
	}
	if len(bad) > 0 {
		return time.Time{}, time.Time{}, dsar.Invalid(bad)
	}
	return from, to, nil
}

// slaOf reads the query's range and computes the SLA report.
func (s *Server) slaOf(c *gin.Context) (slaReport, error) {
	from, to, err := dateRange(c)
	if err != nil {
		return slaReport{}, err
	}
	records, err := s.DB.Records(c.Request.Context(), store.RecordFilter{From: from, To: to.AddDate(0, 0, 1)})
	if err != nil {
		return slaReport{}, err
	}
	return computeSLA(records, from, to, time.Now().UTC(), s.Config.Workflow.DeadlineWarningBefore), nil
}

// reportSLA is GET /api/v1/reports/sla?from=&to=.
func (s *Server) reportSLA(c *gin.Context) {
	rep, err := s.slaOf(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rep)
}
