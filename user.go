package dsar

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/opendsar/dsar/passwords"
)

// ValidEmail reports whether s is one plain email address (no display name)
// of at most 254 bytes.
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && len(s) <= 254
}

// ValidatePassword returns why password is not acceptable as a staff
// user's new password, or "" when it is: 12 to 128 characters and not one
// of the common passwords (package passwords).
func ValidatePassword(password string) string {
	return passwords.Check(password, passwords.MinStaff)
}

// ValidateNewUser checks a new staff user's fields and returns an EINVALID
// error naming each bad one, or nil.
func ValidateNewUser(email, name, role, password string) error {
	bad := map[string]string{}
	if !ValidEmail(email) {
		bad["email"] = "must be a valid email address"
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(name)); n < 1 || n > 200 {
		bad["name"] = "must be 1 to 200 characters"
	}
	if !Role(role).Valid() {
		bad["role"] = "must be org_owner, admin, manager, source_owner or operator"
	}
	if why := ValidatePassword(password); why != "" {
		bad["password"] = why
	}
	if len(bad) > 0 {
		return Invalid(bad)
	}
	return nil
}

// HandlesRequests reports whether a user of role r may be a request's
// handler: the roles that work the queue (org owners, admins, managers),
// not source owners, who see only their own tasks.
func (r Role) HandlesRequests() bool {
	return r == RoleOrgOwner || r == RoleAdmin || r == RoleManager
}
