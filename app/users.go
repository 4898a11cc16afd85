package app

import (
	"context"
	"strings"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
)

// ValidateNewUser checks a new staff user's fields and returns an EINVALID
// error naming each bad one. The rules live in package dsar, shared with the
// server's POST /api/v1/users.
func ValidateNewUser(email, name, role, password string) error {
	return dsar.ValidateNewUser(email, name, role, password)
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
	_, err = a.DB.AppendAudit(ctx, store.Audit{ActorKind: store.ActorSystem, ActorID: "cli", Action: dsar.AuditUserCreated,
		Detail: map[string]any{"user_id": u.ID, "role": role}})
	return u, err
}
