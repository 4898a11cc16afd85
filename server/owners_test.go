package server

import (
	"net/http"
	"slices"
	"testing"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// warningSources are the names of the data sources an answer's warnings
// say have no active owner.
func warningSources(t *testing.T, m map[string]any) []string {
	t.Helper()
	ws, ok := m["warnings"].([]any)
	if !ok {
		t.Fatalf("answer has no warnings array: %v", m)
	}
	var names []string
	for _, w := range ws {
		w := w.(map[string]any)
		ds, _ := w["data_source"].(map[string]any)
		if w["code"] != warnNoActiveOwner || ds == nil || w["message"] == "" {
			t.Errorf("warning %v", w)
			continue
		}
		names = append(names, ds["name"].(string))
	}
	return names
}

// TestDisablingTheLastOwnerWarns: disabling a user warns of each data
// source it leaves without an active owner (the user's other fields as
// before); the source's alerts then go to the org owners; editing such a
// source warns until it has an active owner again.
func TestDisablingTheLastOwnerWarns(t *testing.T) {
	e := newStaffEnvWithoutWorker(t, nil)
	boss, tok := e.user(dsar.RoleOrgOwner)
	ann, _ := e.user(dsar.RoleSourceOwner)
	bob, _ := e.user(dsar.RoleSourceOwner)
	create := func(name string, owners ...store.User) string {
		ids := []string{}
		for _, o := range owners {
			ids = append(ids, o.ID)
		}
		return e.want(e.do("POST", "/api/v1/data-sources", tok, map[string]any{"name": name, "owner_ids": ids}),
			http.StatusCreated, "create "+name).JSON(t)["id"].(string)
	}
	crm := create("CRM", ann, bob)
	erp := create("ERP", ann)
	create("Wiki", bob)

	m := e.want(e.do("PATCH", "/api/v1/users/"+ann.ID, tok, map[string]any{"disabled": true}), http.StatusOK, "disable ann").JSON(t)
	if got := warningSources(t, m); !slices.Equal(got, []string{"ERP"}) {
		t.Errorf("disabling ann warned of %v, want ERP (CRM still has bob)", got)
	}
	if m["id"] != ann.ID || m["email"] != ann.Email || m["role"] != string(dsar.RoleSourceOwner) || m["disabled"] != true {
		t.Errorf("the user's fields changed: %v", m)
	}
	m = e.want(e.do("PATCH", "/api/v1/users/"+bob.ID, tok, map[string]any{"disabled": true}), http.StatusOK, "disable bob").JSON(t)
	if got := warningSources(t, m); !slices.Equal(got, []string{"CRM", "Wiki"}) {
		t.Errorf("disabling bob warned of %v, want CRM and Wiki", got)
	}
	// The ERP's alerts now go to the org owner, instead of nowhere.
	rs, err := e.db.AlertRecipients(e.ctx, store.AlertSubject{Kind: store.AlertTaskAssigned, DataSourceIDs: []string{erp}})
	if err != nil || len(rs) != 1 || rs[0].UserID != boss.ID || !slices.Equal(rs[0].Unowned, []string{"ERP"}) {
		t.Errorf("ERP's alerts go to %+v, %v; want the org owner", rs, err)
	}

	m = e.want(e.do("PATCH", "/api/v1/users/"+bob.ID, tok, map[string]any{"disabled": false}), http.StatusOK, "enable bob").JSON(t)
	if got := warningSources(t, m); len(got) != 0 {
		t.Errorf("enabling bob warned of %v", got)
	}
	m = e.want(e.do("PATCH", "/api/v1/users/"+bob.ID, tok, map[string]any{"name": "Bob B."}), http.StatusOK, "rename bob").JSON(t)
	if got := warningSources(t, m); len(got) != 0 || m["name"] != "Bob B." {
		t.Errorf("renaming bob: %v", m)
	}

	m = e.want(e.do("PATCH", "/api/v1/data-sources/"+erp, tok, map[string]any{"description": "the old one"}), http.StatusOK, "edit ERP").JSON(t)
	if got := warningSources(t, m); !slices.Equal(got, []string{"ERP"}) || m["description"] != "the old one" {
		t.Errorf("editing ERP without an owner: %v", m)
	}
	owners := m["owners"].([]any)
	if len(owners) != 1 || owners[0].(map[string]any)["disabled"] != true {
		t.Errorf("ERP's owners %v: ann, disabled", owners)
	}
	m = e.want(e.do("PATCH", "/api/v1/data-sources/"+erp, tok, map[string]any{"owner_ids": []string{bob.ID}}), http.StatusOK, "give ERP to bob").JSON(t)
	if got := warningSources(t, m); len(got) != 0 {
		t.Errorf("ERP with an owner again still warns: %v", got)
	}
	m = e.want(e.do("PATCH", "/api/v1/data-sources/"+crm, tok, map[string]any{"name": "CRM"}), http.StatusOK, "edit CRM").JSON(t)
	if got := warningSources(t, m); len(got) != 0 {
		t.Errorf("CRM (bob is back) warns: %v", got)
	}
}
