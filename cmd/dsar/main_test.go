package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar/testenv"
)

func TestEveryCommandHasHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"serve", "--help"}, {"worker", "--help"}, {"all", "--help"}, {"migrate", "--help"},
		{"user", "create", "--help"}, {"audit", "verify", "--help"}, {"keys", "rotate", "--help"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
		if err != nil && err.Error() != "flag: help requested" {
			t.Errorf("%v: %v", args, err)
		}
		if !strings.Contains(out.String()+errOut.String(), "Usage") && !strings.Contains(out.String()+errOut.String(), "usage") {
			t.Errorf("%v printed no usage: %q", args, out.String()+errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"frobnicate"}, nil, &out, &errOut); err == nil {
		t.Error("an unknown command must fail")
	}
}

func TestUserCreateAndAuditVerify(t *testing.T) {
	t.Setenv("DSAR_MODE", "dev")
	t.Setenv("DSAR_CONFIG", "")
	dbURL := testenv.DatabaseURL(t)
	t.Setenv("DATABASE_URL", dbURL)
	ctx := context.Background()

	var out, errOut bytes.Buffer
	err := run(ctx, []string{"user", "create", "--email", "owner@example.com", "--name", "Olive Owner", "--role", "org_owner"},
		strings.NewReader("a long enough passphrase\n"), &out, &errOut)
	if err != nil {
		t.Fatalf("user create: %v (%s)", err, errOut.String())
	}
	if !strings.Contains(out.String(), "owner@example.com") || !strings.Contains(out.String(), "org_owner") {
		t.Errorf("user create said %q", out.String())
	}

	// A short password and an unknown role are refused, naming the fields.
	out.Reset()
	err = run(ctx, []string{"user", "create", "--email", "x@example.com", "--name", "X", "--role", "king"},
		strings.NewReader("short\n"), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "password") || !strings.Contains(err.Error(), "role") {
		t.Errorf("bad user: want an error naming password and role, got %v", err)
	}
	// The same email twice is refused.
	err = run(ctx, []string{"user", "create", "--email", "OWNER@example.com", "--name", "Again"},
		strings.NewReader("another long passphrase\n"), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "email") {
		t.Errorf("duplicate email: got %v", err)
	}

	out.Reset()
	if err := run(ctx, []string{"audit", "verify"}, nil, &out, &errOut); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
	if !strings.Contains(out.String(), "intact") {
		t.Errorf("audit verify said %q", out.String())
	}

	// Someone edits the audit row of the user's creation: verify finds it.
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_events SET detail = '{"role": "admin"}' WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = run(ctx, []string{"audit", "verify"}, nil, &out, &errOut)
	if err == nil || !strings.Contains(out.String(), "BROKEN at row 1") {
		t.Errorf("tampered chain: err=%v, said %q", err, out.String())
	}
}
