package server

import (
	"net/http"
	"testing"

	"github.com/opendsar/dsar"
)

// TestDeadlineExtendedAsOftenAsTheRuleAllows (issue 15, item 11): staff
// extend a request's deadline more than once, each time moving it, until
// the rule's limit; a day past it is 422 naming days and leaves the
// deadline where it was.
func TestDeadlineExtendedAsOftenAsTheRuleAllows(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	id := e.request(newRequest{Country: "DE"})
	e.verifyEmail(id)
	ext := "/api/v1/requests/" + id + "/extension"
	detail := func() map[string]any {
		return e.want(e.do("GET", "/api/v1/requests/"+id, manager, nil), http.StatusOK, "detail").JSON(t)
	}
	d := detail()
	original := mustTime(t, d["original_deadline"])
	limit := mustTime(t, d["extension"].(map[string]any)["latest_deadline"])
	if !limit.After(original.AddDate(0, 0, 40)) {
		t.Fatalf("the rule %v allows extending only to %s, from %s", d["deadline_rule"], limit, original)
	}

	// Twice within the rule: each answer and the detail show the deadline moved.
	deadline := original
	for i, days := range []int{20, 20} {
		got := e.want(e.do("POST", ext, manager, map[string]any{"days": days, "reason": "many systems"}), http.StatusOK, "extend").JSON(t)
		want := deadline.AddDate(0, 0, days)
		if at := mustTime(t, got["deadline"]); !at.Equal(want) {
			t.Fatalf("extension %d: answered deadline %s, want %s", i+1, at, want)
		}
		d = detail()
		if at := mustTime(t, d["deadline"]); !at.Equal(want) || d["extended"] != true {
			t.Fatalf("extension %d: the detail shows deadline %s (extended %v), want %s", i+1, at, d["extended"], want)
		}
		deadline = want
	}
	if total := d["extension"].(map[string]any)["days"]; total != 40.0 {
		t.Errorf("the detail counts %v days of extension, want 40", total)
	}

	// A third, one day past the rule's limit: 422 naming days; nothing moves.
	left := int(limit.Sub(deadline).Hours() / 24)
	a := e.want(e.do("POST", ext, manager, map[string]any{"days": left + 1, "reason": "still more systems"}),
		http.StatusUnprocessableEntity, "extend beyond the rule")
	if fieldsOf(t, a)["days"] == nil {
		t.Errorf("the refusal does not name days: %s", a.Body)
	}
	d = detail()
	if at := mustTime(t, d["deadline"]); !at.Equal(deadline) {
		t.Errorf("after the refusal the deadline is %s, want %s unchanged", at, deadline)
	}
	if total := d["extension"].(map[string]any)["days"]; total != 40.0 {
		t.Errorf("after the refusal the detail counts %v days of extension, want 40", total)
	}

	// Up to the limit exactly is still allowed; then not a day more.
	got := e.want(e.do("POST", ext, manager, map[string]any{"days": left, "reason": "the last system"}), http.StatusOK, "extend to the limit").JSON(t)
	if at := mustTime(t, got["deadline"]); !at.Equal(limit) {
		t.Errorf("extended to the limit: deadline %s, want %s", at, limit)
	}
	e.want(e.do("POST", ext, manager, map[string]any{"days": 1, "reason": "one more"}), http.StatusUnprocessableEntity, "a day past the limit")
	if at := mustTime(t, detail()["deadline"]); !at.Equal(limit) {
		t.Errorf("the deadline moved past the limit: %s", at)
	}
}
