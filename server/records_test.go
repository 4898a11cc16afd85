package server

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// seedRecord stores a compliance record with the given dates (responded
// nil: open).
func (e *staffEnv) seedRecord(typ dsar.RequestType, rule string, received time.Time, responded *time.Time, due time.Time, outcome dsar.RecordOutcome) string {
	e.t.Helper()
	id := uuid.NewString()
	if err := e.db.PutRecord(e.ctx, store.Record{RequestID: id, Reference: dsar.Reference(id), RequestType: typ,
		RequestorType: dsar.RequestorCustomer, Rule: rule, Channel: dsar.ChannelForm, ReceivedAt: received, DueAt: due,
		RespondedAt: responded, Outcome: outcome}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func atp(s string) *time.Time { return new(at(s)) }

// TestYearlyMetricsMatchHandComputedFigures seeds compliance records with
// known dates and checks the metrics against figures computed by hand:
// counts per outcome, and median and mean calendar days from the date
// received to the date answered (withdrawn and open requests count as
// received only; a request received on 31 December belongs to its year).
func TestYearlyMetricsMatchHandComputedFigures(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, nil)
	_, manager := e.user(dsar.RoleManager)
	_, owner := e.user(dsar.RoleSourceOwner)
	due := at("2026-06-01T00:00:00Z")
	info, del := dsar.RequestInfo, dsar.RequestDeletion
	e.seedRecord(info, "us_ccpa", at("2025-01-10T10:00:00Z"), atp("2025-01-20T09:00:00Z"), due, dsar.RecordCompletedWhole)    // 10 days
	e.seedRecord(info, "us_ccpa", at("2025-03-01T23:30:00Z"), atp("2025-03-02T00:30:00Z"), due, dsar.RecordCompletedPart)     // 1 day (the next date)
	e.seedRecord(info, "us_ccpa", at("2025-06-01T08:00:00Z"), atp("2025-07-16T17:00:00Z"), due, dsar.RecordDenied)            // 45 days
	e.seedRecord(info, "us_ccpa", at("2025-08-01T08:00:00Z"), nil, due, "")                                                   // open
	e.seedRecord(info, "us_ccpa", at("2025-09-01T08:00:00Z"), atp("2025-09-03T08:00:00Z"), due, dsar.RecordWithdrawn)         // received only
	e.seedRecord(del, "us_ccpa", at("2025-02-01T12:00:00Z"), atp("2025-02-15T12:00:00Z"), due, dsar.RecordCompletedWhole)     // 14 days
	e.seedRecord(del, "us_ccpa", at("2025-12-31T20:00:00Z"), atp("2026-01-02T10:00:00Z"), due, dsar.RecordCompletedWhole)     // 2 days, in 2025
	e.seedRecord(del, "us_ccpa", at("2024-12-31T20:00:00Z"), atp("2025-01-05T10:00:00Z"), due, dsar.RecordCompletedWhole)     // 2024
	e.seedRecord(dsar.RequestOptOut, "gdpr", at("2025-05-05T08:00:00Z"), atp("2025-05-08T08:00:00Z"), due, dsar.RecordDenied) // 3 days

	type figures struct {
		received, whole, part, denied, open int
		median, mean                        any
	}
	check := func(what string, m map[string]any, want figures) {
		t.Helper()
		got := figures{int(m["received"].(float64)), int(m["complied_whole"].(float64)), int(m["complied_part"].(float64)),
			int(m["denied"].(float64)), int(m["open"].(float64)), m["median_days"], m["mean_days"]}
		if got != want {
			t.Errorf("%s: got %+v, want %+v", what, got, want)
		}
	}
	byType := func(rep map[string]any, typ dsar.RequestType) map[string]any {
		for _, x := range rep["by_type"].([]any) {
			if m := x.(map[string]any); m["request_type"] == string(typ) {
				return m
			}
		}
		t.Fatalf("no %s row in %v", typ, rep["by_type"])
		return nil
	}

	ccpa := e.want(e.do("GET", "/api/v1/reports/metrics?year=2025&rule=us_ccpa", manager, nil), http.StatusOK, "metrics").JSON(t)
	check("info, us_ccpa", byType(ccpa, info), figures{5, 1, 1, 1, 1, 10.0, 18.7})
	check("deletion, us_ccpa", byType(ccpa, del), figures{2, 2, 0, 0, 0, 8.0, 8.0})
	check("opt-out, us_ccpa", byType(ccpa, dsar.RequestOptOut), figures{0, 0, 0, 0, 0, nil, nil})
	check("totals, us_ccpa", ccpa["totals"].(map[string]any), figures{7, 3, 1, 1, 1, 10.0, 14.4})

	all := e.want(e.do("GET", "/api/v1/reports/metrics?year=2025", manager, nil), http.StatusOK, "metrics, every rule").JSON(t)
	check("totals, every rule", all["totals"].(map[string]any), figures{8, 3, 1, 2, 1, 6.5, 12.5})
	y2024 := e.want(e.do("GET", "/api/v1/reports/metrics?year=2024", manager, nil), http.StatusOK, "metrics 2024").JSON(t)
	check("totals 2024", y2024["totals"].(map[string]any), figures{1, 1, 0, 0, 0, 5.0, 5.0})

	if f := fieldsOf(t, e.want(e.do("GET", "/api/v1/reports/metrics?year=last", manager, nil), http.StatusUnprocessableEntity, "bad year")); f["year"] == nil {
		t.Error("a bad year is not named")
	}
	e.want(e.do("GET", "/api/v1/reports/metrics?year=2025", owner, nil), http.StatusForbidden, "a source owner reads metrics")
}

// TestSLAReportAndChart: requests received in the range counted as they
// stand against their deadlines (closed on time or late, open on time, at
// risk within the deadline warning, overdue), by type, rule and month,
// and the same drawn as an SVG chart with a title and a description.
func TestSLAReportAndChart(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, nil) // deadline warning: 120h
	_, admin := e.user(dsar.RoleAdmin)
	now := time.Now().UTC()
	day := 24 * time.Hour
	recv := now.Add(-10 * day)
	e.seedRecord(dsar.RequestInfo, "gdpr", recv, new(now.Add(-5*day)), now.Add(-4*day), dsar.RecordCompletedWhole) // on time
	e.seedRecord(dsar.RequestInfo, "gdpr", recv, new(now.Add(-2*day)), now.Add(-3*day), dsar.RecordDenied)         // late
	e.seedRecord(dsar.RequestDeletion, "us_ccpa", recv, nil, now.Add(-day), "")                                    // overdue
	e.seedRecord(dsar.RequestDeletion, "us_ccpa", recv, nil, now.Add(2*day), "")                                   // at risk
	e.seedRecord(dsar.RequestDeletion, "us_ccpa", recv, nil, now.Add(20*day), "")                                  // on time (open)
	e.seedRecord(dsar.RequestDeletion, "us_ccpa", now.AddDate(-2, 0, 0), nil, now.Add(-day), "")                   // outside the range

	q := "?from=" + now.AddDate(0, -1, 0).Format(time.DateOnly) + "&to=" + now.Format(time.DateOnly)
	rep := e.want(e.do("GET", "/api/v1/reports/sla"+q, admin, nil), http.StatusOK, "sla").JSON(t)
	counts := func(m any) [5]int {
		c := m.(map[string]any)
		return [5]int{int(c["on_time"].(float64)), int(c["at_risk"].(float64)), int(c["overdue"].(float64)), int(c["late"].(float64)), int(c["total"].(float64))}
	}
	if got := counts(rep["totals"]); got != [5]int{2, 1, 1, 1, 5} {
		t.Errorf("totals (on time, at risk, overdue, late, total): %v", got)
	}
	rules := map[string][5]int{}
	for _, g := range rep["by_rule"].([]any) {
		rules[g.(map[string]any)["key"].(string)] = counts(g)
	}
	if rules["gdpr"] != [5]int{1, 0, 0, 1, 2} || rules["us_ccpa"] != [5]int{1, 1, 1, 0, 3} {
		t.Errorf("by rule: %v", rules)
	}
	var trendTotal int
	for _, g := range rep["trend"].([]any) {
		trendTotal += counts(g)[4]
	}
	if n := len(rep["trend"].([]any)); n < 2 || trendTotal != 5 {
		t.Errorf("trend: %d months holding %d requests", n, trendTotal)
	}

	svg := e.want(e.do("GET", "/api/v1/reports/sla.svg"+q+"&by=rule", admin, nil), http.StatusOK, "chart")
	body := string(svg.Body)
	if !strings.HasPrefix(svg.Header.Get("Content-Type"), "image/svg+xml") || !strings.Contains(body, `role="img"`) ||
		!strings.Contains(body, "<title id=\"sla-rule-title\">Requests by jurisdiction rule") ||
		!strings.Contains(body, "us_ccpa: 1 on time, 1 at risk, 1 overdue") {
		t.Errorf("chart: %s %s", svg.Header.Get("Content-Type"), body)
	}
	if f := fieldsOf(t, e.want(e.do("GET", "/api/v1/reports/sla.svg?by=colour", admin, nil), http.StatusUnprocessableEntity, "bad grouping")); f["by"] == nil {
		t.Error("a bad grouping is not named")
	}
	if f := fieldsOf(t, e.want(e.do("GET", "/api/v1/reports/sla?from=2026-02-01&to=2026-01-01", admin, nil), http.StatusUnprocessableEntity, "range backwards")); f["to"] == nil {
		t.Error("a backward range does not name to")
	}
}

// TestRecordsExport: the records of a date range as CSV (formula-guarded
// cells, no personal data) and as JSON; outside the range, none.
func TestRecordsExport(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, nil)
	_, manager := e.user(dsar.RoleManager)
	_, owner := e.user(dsar.RoleSourceOwner)
	id := e.seedRecord(dsar.RequestDeletion, "=HYPERLINK(\"x\")", at("2025-04-02T10:00:00Z"), atp("2025-04-10T10:00:00Z"),
		at("2025-05-02T10:00:00Z"), dsar.RecordDenied)
	e.seedRecord(dsar.RequestDeletion, "gdpr", at("2025-06-02T10:00:00Z"), nil, at("2025-07-02T10:00:00Z"), "")

	a := e.want(e.do("GET", "/api/v1/records.csv?from=2025-04-01&to=2025-04-30", manager, nil), http.StatusOK, "records.csv")
	if !strings.HasPrefix(a.Header.Get("Content-Type"), "text/csv") || !strings.Contains(a.Header.Get("Content-Disposition"), "records-2025-04-01-2025-04-30.csv") {
		t.Errorf("headers: %v", a.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(string(a.Body))).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv: %d rows, %v: %s", len(rows), err, a.Body)
	}
	if strings.Join(rows[0], ",") != strings.Join(recordsCSVHeader, ",") {
		t.Errorf("header: %v", rows[0])
	}
	row := map[string]string{}
	for i, k := range rows[0] {
		row[k] = rows[1][i]
	}
	if row["request_id"] != id || row["rule"] != `'=HYPERLINK("x")` || row["outcome"] != "denied" ||
		row["received_at"] != "2025-04-02T10:00:00Z" || row["responded_at"] != "2025-04-10T10:00:00Z" || row["legal_hold"] != "false" {
		t.Errorf("row: %v", row)
	}

	empty := e.want(e.do("GET", "/api/v1/records.csv?from=2024-01-01&to=2024-12-31", manager, nil), http.StatusOK, "records.csv, none")
	if got := strings.TrimSpace(string(empty.Body)); got != strings.Join(recordsCSVHeader, ",") {
		t.Errorf("a range without records: %q, want the header alone", got)
	}

	j := e.want(e.do("GET", "/api/v1/records.json?from=2025-01-01&to=2025-12-31", manager, nil), http.StatusOK, "records.json")
	var out struct {
		Items []store.Record `json:"items"`
	}
	if err := json.Unmarshal(j.Body, &out); err != nil || len(out.Items) != 2 || out.Items[0].RequestID != id || out.Items[1].Outcome != "" {
		t.Errorf("json: %v %s", err, j.Body)
	}
	if f := fieldsOf(t, e.want(e.do("GET", "/api/v1/records.csv?from=April", manager, nil), http.StatusUnprocessableEntity, "bad from")); f["from"] == nil {
		t.Error("a bad from is not named")
	}
	e.want(e.do("GET", "/api/v1/records.csv", owner, nil), http.StatusForbidden, "a source owner exports records")
}

// TestLegalHoldThroughTheAPI: an admin places a legal hold (a manager may
// not; a hold needs a reason); the request page's API shows it; the
// request is rejected and stays unerased while held; lifting the hold lets
// the erasure go ahead; the audit file for a regulator lists both events
// with the chain's hashes, and the chain checks out.
func TestLegalHoldThroughTheAPI(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, admin := e.user(dsar.RoleAdmin)
	_, manager := e.user(dsar.RoleManager)
	id := e.request(newRequest{Country: "DE"})
	e.verifyEmail(id)
	hold := "/api/v1/requests/" + id + "/legal-hold"

	e.want(e.do("POST", hold, manager, map[string]any{"on": true, "reason": "litigation"}), http.StatusForbidden, "a manager holds")
	if f := fieldsOf(t, e.want(e.do("POST", hold, admin, map[string]any{"on": true}), http.StatusUnprocessableEntity, "no reason")); f["reason"] == nil {
		t.Error("a hold without a reason does not name reason")
	}
	if f := fieldsOf(t, e.want(e.do("POST", hold, admin, map[string]any{"reason": "x"}), http.StatusUnprocessableEntity, "no on")); f["on"] == nil {
		t.Error("a body without on does not name on")
	}
	got := e.want(e.do("POST", hold, admin, map[string]any{"on": true, "reason": "Litigation hold, case 42"}), http.StatusOK, "hold").JSON(t)
	if h, _ := got["legal_hold"].(map[string]any); h["on"] != true || h["reason"] != "Litigation hold, case 42" || h["since"] == nil {
		t.Fatalf("answer: %v", got)
	}
	e.want(e.do("POST", hold, admin, map[string]any{"on": true, "reason": "again"}), http.StatusConflict, "hold twice")
	detail := e.want(e.do("GET", "/api/v1/requests/"+id, manager, nil), http.StatusOK, "detail").JSON(t)
	if h, _ := detail["legal_hold"].(map[string]any); h["on"] != true || h["reason"] != "Litigation hold, case 42" {
		t.Errorf("detail's legal_hold: %v", detail["legal_hold"])
	}

	e.want(e.do("POST", "/api/v1/requests/"+id+"/rejection", manager, map[string]any{"reasons": []string{"excessive"}}), http.StatusOK, "reject")
	erased := func() bool {
		r, err := e.db.Request(e.ctx, id, "")
		return err == nil && r.ScrubbedAt != nil
	}
	if erased() {
		t.Fatal("a held request was erased at its close")
	}
	if rec, err := e.db.RecordOf(e.ctx, id); err != nil || rec.Outcome != dsar.RecordDenied || !rec.LegalHold ||
		len(rec.DenialBasis) != 1 || rec.RetainUntil == nil {
		t.Errorf("record while held: %+v %v", rec, err)
	}
	e.want(e.do("POST", hold, admin, map[string]any{"on": false}), http.StatusOK, "lift")
	e.eventually("the erasure after the lift", erased)

	file := e.want(e.do("GET", "/api/v1/requests/"+id+"/audit.json", manager, nil), http.StatusOK, "audit.json")
	var af struct {
		Reference  string `json:"reference"`
		How        string `json:"how_to_verify"`
		ChainCheck struct {
			Intact bool  `json:"intact"`
			Rows   int64 `json:"rows"`
		} `json:"chain_check"`
		Events []struct {
			Seq      int64  `json:"seq"`
			Action   string `json:"action"`
			Label    string `json:"label"`
			PrevHash string `json:"prev_hash"`
			Hash     string `json:"hash"`
		} `json:"events"`
	}
	if err := json.Unmarshal(file.Body, &af); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range af.Events {
		if len(ev.Hash) != 64 || ev.Label == "" {
			t.Errorf("event %d: hash %q label %q", ev.Seq, ev.Hash, ev.Label)
		}
		actions = append(actions, ev.Action)
	}
	joined := strings.Join(actions, " ")
	if !strings.Contains(joined, dsar.AuditLegalHoldSet) || !strings.Contains(joined, dsar.AuditLegalHoldLifted) ||
		!af.ChainCheck.Intact || af.ChainCheck.Rows < int64(len(af.Events)) || af.Reference != dsar.Reference(id) ||
		!strings.Contains(af.How, "dsar audit verify") || !strings.Contains(file.Header.Get("Content-Disposition"), "audit-"+dsar.Reference(id)) {
		t.Errorf("audit file: %s", file.Body)
	}
	if strings.Contains(string(file.Body), "Litigation hold, case 42") {
		t.Error("the audit file holds the hold's reason in words")
	}
}
