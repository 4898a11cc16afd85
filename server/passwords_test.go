package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

// Password hashing is capped per process: with every slot taken, a login
// waits its turn briefly and is then answered 503 with Retry-After, and
// goes through once a slot is free. Opening a portal account checks its
// token before it queues for a hash, so a made-up token costs no hash.
func TestPasswordHashingIsCapped(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, map[string]any{"auth.password_hashes": 2, "auth.password_hash_wait": "20ms"})
	u, _ := e.user(dsar.RoleAdmin)
	login := map[string]string{"email": u.Email, "password": "correct horse battery"}

	for range 2 { // everyone else is hashing
		e.server.hashing.slots <- struct{}{}
	}
	busy := e.want(e.do("POST", "/api/v1/sessions", "", login), http.StatusServiceUnavailable, "a login with every slot taken")
	if busy.Header.Get("Retry-After") == "" || busy.JSON(t)["error"].(map[string]any)["code"] != dsar.EUNAVAILABLE {
		t.Fatalf("busy answer: %v %s", busy.Header, busy.Body)
	}
	e.want(e.do("POST", "/api/v1/portal/sessions", "", map[string]string{"email": "ada@example.org", "password": "a long password"}),
		http.StatusServiceUnavailable, "a portal login with every slot taken")
	e.want(e.do("POST", "/api/v1/portal/accounts", "", map[string]string{"token": strings.Repeat("x", 43), "password": "a long password"}),
		http.StatusNotFound, "a portal account with a made-up token, every slot taken")

	<-e.server.hashing.slots
	e.want(e.do("POST", "/api/v1/sessions", "", login), http.StatusCreated, "a login with a slot free")
	<-e.server.hashing.slots
}

// doFrom is do without a token, from the client address addr (told by a
// trusted proxy's X-Forwarded-For).
func (e *staffEnv) doFrom(addr, method, path string, body map[string]string) answer {
	e.t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(e.ctx, method, e.http.URL+path, bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: got}
}

// trustLoopback is the config of a server behind a proxy on loopback, whose
// X-Forwarded-For is the client's address.
var trustLoopback = []string{"127.0.0.1/32", "::1/128"}

// Limits per address take an IPv6 /64 as one address: its holder cannot
// take a fresh budget with each of its addresses. Another /64 and IPv4
// addresses keep their own.
func TestAddressLimitsGroupIPv6By64(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, map[string]any{"intake.rate_per_minute": 3, "http.trusted_proxies": trustLoopback})
	ask := func(addr string, i int) int {
		return e.doFrom(addr, "POST", "/api/v1/portal/sign-in-links", map[string]string{"email": fmt.Sprintf("nobody-%d@example.org", i)}).Status
	}
	for i := range 3 {
		if got := ask(fmt.Sprintf("2001:db8:1:2::%x", i+1), i); got != http.StatusAccepted {
			t.Fatalf("address %d of the /64: %d", i+1, got)
		}
	}
	if got := ask("2001:db8:1:2:ffff:ffff:ffff:ffff", 3); got != http.StatusTooManyRequests {
		t.Fatalf("a fourth address of the same /64: %d, want 429", got)
	}
	if got := ask("2001:db8:1:3::1", 4); got != http.StatusAccepted {
		t.Fatalf("another /64: %d", got)
	}
	for i := range 4 {
		if got := ask(fmt.Sprintf("198.51.100.%d", i+1), 5+i); got != http.StatusAccepted {
			t.Fatalf("IPv4 address %d: %d (each has its own budget)", i+1, got)
		}
	}
}
