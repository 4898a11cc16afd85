package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar/testenv"
)

func TestEveryCommandHasHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"serve", "--help"}, {"worker", "--help"}, {"all", "--help"}, {"migrate", "--help"},
		{"user", "create", "--help"}, {"audit", "verify", "--help"}, {"audit", "anchor", "--help"}, {"keys", "rotate", "--help"},
		{"keys", "connector", "--help"}, {"connector", "--help"},
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
	testenv.TamperAudit(t, db, `UPDATE audit_events SET detail = '{"role": "admin"}' WHERE seq = 1`)
	out.Reset()
	err = run(ctx, []string{"audit", "verify"}, nil, &out, &errOut)
	if err == nil || !strings.Contains(out.String(), "BROKEN at row 1") {
		t.Errorf("tampered chain: err=%v, said %q", err, out.String())
	}
}

func TestAuditAnchorFindsACutTail(t *testing.T) {
	t.Setenv("DSAR_MODE", "dev")
	t.Setenv("DSAR_CONFIG", "")
	dbURL := testenv.DatabaseURL(t)
	t.Setenv("DATABASE_URL", dbURL)
	ctx := context.Background()
	var out, errOut bytes.Buffer
	dsar := func(stdin string, args ...string) error {
		out.Reset()
		errOut.Reset()
		return run(ctx, args, strings.NewReader(stdin), &out, &errOut)
	}
	anchors := filepath.Join(t.TempDir(), "audit-anchors")

	if err := dsar("", "audit", "anchor", "--append", anchors); err != nil || !strings.Contains(errOut.String(), "nothing to anchor") {
		t.Fatalf("anchoring an empty trail: %v %q", err, errOut.String())
	}
	for _, email := range []string{"a@example.com", "b@example.com"} {
		if err := dsar("a long enough passphrase\n", "user", "create", "--email", email, "--name", "N", "--role", "admin"); err != nil {
			t.Fatal(err)
		}
		if err := dsar("", "audit", "anchor", "--append", anchors); err != nil || !strings.HasPrefix(out.String(), "dsar-audit-anchor v1 seq=") {
			t.Fatalf("anchor: %v, printed %q", err, out.String())
		}
	}
	if b, _ := os.ReadFile(anchors); strings.Count(string(b), "\n") != 2 {
		t.Fatalf("the anchor file holds %q, want two lines", b)
	}
	if err := dsar("", "audit", "verify", "--anchor", anchors); err != nil || !strings.Contains(out.String(), "intact: 2 rows verified; 2 anchors reached") {
		t.Fatalf("verify: %v, said %q", err, out.String())
	}

	// Someone cuts the last row off, with the trigger turned off: verify
	// without the anchors cannot tell; with them it can.
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testenv.TamperAudit(t, db, `DELETE FROM audit_events WHERE seq = 2`)
	if err := dsar("", "audit", "verify"); err != nil || !strings.Contains(out.String(), "intact: 1 rows") {
		t.Fatalf("verify without anchors: %v, said %q", err, out.String())
	}
	err = dsar("", "audit", "verify", "--anchor", anchors)
	if err == nil || !strings.Contains(out.String(), "BROKEN at row 2") || !strings.Contains(out.String(), "removed from its end") {
		t.Errorf("verify a cut tail: %v, said %q", err, out.String())
	}
	// The next scheduled anchor refuses to bless the cut chain.
	err = dsar("", "audit", "anchor", "--append", anchors)
	if err == nil || !strings.Contains(out.String(), "nothing anchored") {
		t.Errorf("anchor a cut tail: %v, said %q", err, out.String())
	}
	if b, _ := os.ReadFile(anchors); strings.Count(string(b), "\n") != 2 {
		t.Errorf("the anchor file holds %q, want still two lines", b)
	}
	// A file that is not anchors is refused.
	junk := filepath.Join(t.TempDir(), "junk")
	_ = os.WriteFile(junk, []byte("seq=1 hash=00\n"), 0o644)
	if err := dsar("", "audit", "verify", "--anchor", junk); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a junk anchor file: %v", err)
	}
}
