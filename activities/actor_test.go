package activities_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// TestCheckActor: the workflow's own check of who takes an action, against
// the users and tasks in Postgres.
func TestCheckActor(t *testing.T) {
	f := newFixture(t)
	id := f.request(alice)
	manager := f.user("manager@example.com", dsar.RoleManager)
	gone := f.user("gone@example.com", dsar.RoleAdmin)
	if _, err := f.db.Exec(`UPDATE users SET disabled_at = now() WHERE id = $1`, gone.ID); err != nil {
		t.Fatal(err)
	}
	carl := f.user("carl@example.com", dsar.RoleSourceOwner)
	dora := f.user("dora@example.com", dsar.RoleSourceOwner)
	crm := f.dataSource("CRM", carl)
	now := time.Now().UTC()
	if err := f.acts.Project(f.ctx, store.Projection{RequestID: id, Status: dsar.StatusInProgress, Deadline: now.Add(time.Hour),
		Tasks: []store.ProjectedTask{{DataSourceID: crm, Status: "open", AssignedAt: now, LastActivityAt: now}}}); err != nil {
		t.Fatal(err)
	}
	queue := []dsar.Role{dsar.RoleOrgOwner, dsar.RoleAdmin, dsar.RoleManager}
	for _, c := range []struct {
		name  string
		check activities.ActorCheck
		ok    bool
	}{
		{"a manager closes", activities.ActorCheck{UserID: manager.ID, Roles: queue, RequestID: id}, true},
		{"no such user", activities.ActorCheck{UserID: uuid.NewString(), Roles: queue, RequestID: id}, false},
		{"not a user id", activities.ActorCheck{UserID: "admin", Roles: queue, RequestID: id}, false},
		{"a disabled admin", activities.ActorCheck{UserID: gone.ID, Roles: queue, RequestID: id}, false},
		{"a source owner closes", activities.ActorCheck{UserID: carl.ID, Roles: queue, RequestID: id}, false},
		{"the owner completes their task", activities.ActorCheck{UserID: carl.ID, Roles: dsar.Roles, RequestID: id, DataSourceID: crm}, true},
		{"another owner completes it", activities.ActorCheck{UserID: dora.ID, Roles: dsar.Roles, RequestID: id, DataSourceID: crm}, false},
		{"a manager completes it", activities.ActorCheck{UserID: manager.ID, Roles: dsar.Roles, RequestID: id, DataSourceID: crm}, true},
	} {
		v, err := f.acts.CheckActor(f.ctx, c.check)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if v.Allowed != c.ok || (!v.Allowed && v.Reason == "") {
			t.Errorf("%s: %+v, want allowed %v with a reason when not", c.name, v, c.ok)
		}
	}
}
