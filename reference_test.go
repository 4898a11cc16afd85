package dsar

import "testing"

func TestReferenceAndParseReference(t *testing.T) {
	const id = "0b5f7a3e-6c55-4f43-9a52-1c0e4f5c8d21"
	if got := Reference(id); got != "DSR-0B5F7A3E" {
		t.Fatalf("Reference(%s) = %q", id, got)
	}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"DSR-0B5F7A3E", "0b5f7a3e", true},
		{" dsr-0b5f7a3e ", "0b5f7a3e", true},
		{"0B5F7A3E", "0b5f7a3e", true},
		{id, "0b5f7a3e6c554f439a521c0e4f5c8d21", true},
		{"DSR-" + id, "0b5f7a3e6c554f439a521c0e4f5c8d21", true},
		{"DSR-0B5F7A3", "", false},
		{"DSR-0B5F7A3EE", "", false},
		{"DSR-0B5F7A3G", "", false},
		{"0b5f7a3e6c554f439a521c0e4f5c8d21", "0b5f7a3e6c554f439a521c0e4f5c8d21", true},
		{"0b5f7a3e-6c55-4f43-9a52_1c0e4f5c8d21", "", false},
		{"ada@example.org", "", false},
		{"", "", false},
	} {
		got, ok := ParseReference(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseReference(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if got, _ := ParseReference(Reference(id)); got != id[:8] {
		t.Errorf("a reference does not parse back: %q", got)
	}
	for _, r := range []Role{RoleOrgOwner, RoleAdmin, RoleManager} {
		if !r.HandlesRequests() {
			t.Errorf("%s may not handle requests", r)
		}
	}
	if RoleSourceOwner.HandlesRequests() {
		t.Error("a source owner may handle requests")
	}
}
