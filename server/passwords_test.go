package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/opendsar/dsar"
)

// New passwords: staff need 12 characters, requesters 8, and nobody may
// choose one of the common passwords, whatever its case.
func TestCommonAndShortPasswordsAreRefused(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, nil)
	_, owner := e.user(dsar.RoleOrgOwner)
	for _, c := range []struct{ password, why string }{
		{"elevenchars", "at least 12"},
		{"Password1234", "common"},
		{"iloveyou2024!", "common"},
		{"QWERTYUIOP123", "common"},
	} {
		body := map[string]string{"email": "new-" + strings.ToLower(c.password[:4]) + "@example.com", "name": "New", "role": "manager", "password": c.password}
		got := fieldsOf(t, e.want(e.do("POST", "/api/v1/users", owner, body), http.StatusUnprocessableEntity, "staff password "+c.password))
		if why, _ := got["password"].(string); !strings.Contains(why, c.why) {
			t.Errorf("staff password %q: fields %v, want the password named (%s)", c.password, got, c.why)
		}
	}
	e.want(e.do("POST", "/api/v1/users", owner, map[string]string{"email": "ok@example.com", "name": "Ok", "role": "manager",
		"password": "twelve chars"}), http.StatusCreated, "a 12-character password that is not common")

	for _, pw := range []string{"iloveyou", "P@ssw0rd", "12345678910"} {
		got := fieldsOf(t, e.want(e.do("POST", "/api/v1/portal/accounts", "", map[string]string{"token": "unknown", "password": pw}),
			http.StatusUnprocessableEntity, "portal password "+pw))
		if why, _ := got["password"].(string); !strings.Contains(why, "common") {
			t.Errorf("portal password %q: fields %v, want the password named as common", pw, got)
		}
	}
}
