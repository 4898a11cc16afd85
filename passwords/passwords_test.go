package passwords_test

import (
	"strings"
	"testing"

	"github.com/opendsar/dsar/passwords"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		password string
		min      int
		ok       bool
	}{
		{"correct horse battery", passwords.MinStaff, true},
		{"Password1234", passwords.MinStaff, false},  // common, whatever its case
		{"iloveyou2024!", passwords.MinStaff, false}, // a common word with a common ending
		{"qwertyuiop123", passwords.MinStaff, false},
		{"short but ok", passwords.MinStaff, true},
		{"elevenchars", passwords.MinStaff, false}, // too short for staff
		{"elevenchars", passwords.MinPortal, true}, // long enough for the portal
		{"12345678", passwords.MinPortal, false},
		{"p@ssw0rd", passwords.MinPortal, false},
		{strings.Repeat("x", passwords.Max+1), passwords.MinPortal, false},
		{strings.Repeat("é", passwords.Max), passwords.MinPortal, true}, // characters, not bytes
	} {
		if why := passwords.Check(c.password, c.min); (why == "") != c.ok {
			t.Errorf("Check(%q, %d) = %q, want ok %v", c.password, c.min, why, c.ok)
		}
	}
	if why := passwords.Check("short", 12); why != "must be at least 12 characters" {
		t.Errorf("the length rule reads %q", why)
	}
}

// The list is what Common's binary search needs: sorted, unique, lower
// case, and long (a few thousand of the most common at least).
func TestTheListIsSortedLowerCase(t *testing.T) {
	n := 0
	prev := ""
	for _, p := range []string{"password", "123456789", "qwertyuiop", "iloveyou", "football1"} {
		if !passwords.Common(p) {
			t.Errorf("%q is not on the list", p)
		}
	}
	for line := range strings.Lines(passwords.ListText()) {
		line = strings.TrimSuffix(line, "\n")
		if line != strings.ToLower(line) || line <= prev {
			t.Fatalf("line %d %q: not lower case or not after %q", n+1, line, prev)
		}
		prev = line
		n++
	}
	if n < 5000 {
		t.Fatalf("the list has %d entries", n)
	}
}
