package app

import (
	"context"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
)

// ValidateNewUser checks a new staff user's fields and returns an EINVALID
// error naming each bad one.
func ValidateNewUser(email, name, role, password string) error {
	bad := map[string]string{}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		bad["email"] = "must be a valid email address"
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(name)); n < 1 || n > 200 {
		bad["name"] = "must be 1 to 200 characters"
	}
	if !dsar.Role(role).Valid() {
		bad["role"] = "must be org_owner, admin, manager or source_owner"
	}
	if n := utf8.RuneCountInString(password); n < crypto.MinPasswordLen || n > crypto.MaxPasswordLen {
		bad["password"] = "must be 8 to 128 characters"
	}
	if len(bad) > 0 {
		return dsar.Invalid(bad)
	}
	return nil
}

// CreateUser validates and stores a staff user with an argon2id password
// hash, and audits it.
func (a *App) CreateUser(ctx context.Context, email, name, role, password string) (store.User, error) {
	if err := ValidateNewUser(email, name, role, password); err != nil {
		return store.User{}, err
	}
	u, err := a.DB.CreateUser(ctx, store.User{Email: email, Name: strings.TrimSpace(name), Role: dsar.Role(role), PasswordHash: crypto.HashPassword(password)})
	if err != nil {
		return store.User{}, err
	}
	_, err = a.DB.AppendAudit(ctx, store.Audit{ActorKind: store.ActorSystem, ActorID: "cli", Action: "user.created",
		Detail: map[string]any{"user_id": u.ID, "role": role}})
	return u, err
}
