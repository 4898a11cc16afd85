package server

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/workflows"
)

// TestTaskListByStatusWithOutcomes: GET /api/v1/tasks selects open,
// completed and declined tasks, and each item says what the request
// detail's task says: its outcome (in words), record count, decline
// reason and assignee.
func TestTaskListByStatusWithOutcomes(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, admin := e.user(dsar.RoleAdmin)
	olivia, _ := e.user(dsar.RoleSourceOwner)
	oscar, _ := e.user(dsar.RoleSourceOwner)
	crm, err := e.db.CreateDataSource(e.ctx, "CRM", "", []string{olivia.ID})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	open := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "DE", now, false)
	done := e.row(dsar.StatusReadyToClose, dsar.RequestInfo, dsar.RequestorCustomer, "DE", now, false)
	declined := e.row(dsar.StatusInProgress, dsar.RequestDeletion, dsar.RequestorCustomer, "DE", now, false)
	e.task(open, crm.ID, workflows.TaskOpen)
	e.task(done, crm.ID, workflows.TaskCompleted)
	e.task(declined, crm.ID, workflows.TaskDeclined)
	if _, err := e.db.Exec(`UPDATE tasks SET outcome = 'data_provided', record_count = 42, completed_at = now() WHERE request_id = $1`, done); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(`UPDATE tasks SET decline_reason = 'in the billing system', assignee_id = $2 WHERE request_id = $1`, declined, oscar.ID); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		status string
		want   []string
	}{
		{workflows.TaskOpen, []string{open}},
		{workflows.TaskCompleted, []string{done}},
		{workflows.TaskDeclined, []string{declined}},
	} {
		got := ids(t, e.want(e.do("GET", "/api/v1/tasks?status="+tc.status, admin, nil), http.StatusOK, tc.status), "request_id")
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("?status=%s = %v, want %v", tc.status, got, tc.want)
		}
	}

	items := map[string]map[string]any{}
	for _, it := range e.want(e.do("GET", "/api/v1/tasks", admin, nil), http.StatusOK, "all tasks").JSON(t)["items"].([]any) {
		items[it.(map[string]any)["request_id"].(string)] = it.(map[string]any)
	}
	if it := items[done]; it["status"] != "completed" || it["outcome"] != "data_provided" || it["outcome_label"] != "Data provided" ||
		it["record_count"] != 42.0 {
		t.Errorf("the completed task: %v", it)
	}
	if it := items[declined]; it["status"] != "declined" || it["decline_reason"] != "in the billing system" ||
		it["assignee_id"] != oscar.ID || it["outcome_label"] != "" {
		t.Errorf("the declined task: %v", it)
	}
	if it := items[open]; it["status"] != "open" || it["outcome"] != "" || it["record_count"] != nil || it["assignee_id"] != nil {
		t.Errorf("the open task: %v", it)
	}

	a := e.want(e.do("GET", "/api/v1/tasks?status=done", admin, nil), http.StatusUnprocessableEntity, "an unknown task status")
	if fieldsOf(t, a)["status"] == nil {
		t.Errorf("the refusal does not name status: %s", a.Body)
	}
}
