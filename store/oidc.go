package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
)

// OIDCIdentity is who an OpenID Connect ID token says signed in.
type OIDCIdentity struct {
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Role          dsar.Role // from the token's groups
}

// SignInWithOIDC finds the staff user of id (by issuer and subject; else,
// when the provider verified the email, the user with that email, whom it
// links) and brings their name and role in line with the token, or creates
// them just in time without a password. created says whether it did. A
// disabled user is returned as they are, for the caller to refuse.
func (db *DB) SignInWithOIDC(ctx context.Context, id OIDCIdentity) (u User, created bool, err error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return User{}, false, fmt.Errorf("store: oidc sign-in: %w", Translate(err))
	}
	defer func() { _ = tx.Rollback() }()
	const qSub = `SELECT ` + userColumns + ` FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2 FOR UPDATE`
	err = tx.GetContext(ctx, &u, qSub, id.Issuer, id.Subject)
	if dsar.ErrorCode(Translate(err)) == dsar.ENOTFOUND && id.EmailVerified {
		const qEmail = `SELECT ` + userColumns + ` FROM users WHERE lower(email) = lower($1) AND oidc_subject IS NULL FOR UPDATE`
		err = tx.GetContext(ctx, &u, qEmail, id.Email)
	}
	switch dsar.ErrorCode(Translate(err)) {
	case "":
		before := u.Role
		const q = `UPDATE users SET oidc_issuer = $2, oidc_subject = $3, role = $4,
			name = CASE WHEN $5 = '' THEN name ELSE $5 END, updated_at = now()
			WHERE id = $1 RETURNING ` + userColumns
		if err := tx.GetContext(ctx, &u, q, u.ID, id.Issuer, id.Subject, id.Role, id.Name); err != nil {
			return User{}, false, fmt.Errorf("store: oidc sign-in: %w", Translate(err))
		}
		if before != u.Role { // the provider's groups changed the role: in the trail, with the change
			if _, err := db.AppendAuditTx(ctx, tx, Audit{ActorKind: ActorSystem, Action: dsar.AuditUserUpdated,
				Detail: map[string]any{"user_id": u.ID, "role": string(u.Role), "role_before": string(before), "by": "single sign-on"}}); err != nil {
				return User{}, false, err
			}
		}
	case dsar.ENOTFOUND:
		name := id.Name
		if name == "" {
			name = id.Email
		}
		const q = `INSERT INTO users (id, email, name, role, password_hash, oidc_issuer, oidc_subject)
			VALUES ($1, $2, $3, $4, '', $5, $6) RETURNING ` + userColumns
		if err := tx.GetContext(ctx, &u, q, uuid.NewString(), id.Email, name, id.Role, id.Issuer, id.Subject); err != nil {
			if dsar.ErrorCode(Translate(err)) == dsar.ECONFLICT {
				return User{}, false, dsar.Errorf(dsar.ECONFLICT,
					"a staff user with this email exists, but the identity provider did not say the email is verified")
			}
			return User{}, false, fmt.Errorf("store: oidc sign-in: %w", Translate(err))
		}
		created = true
	default:
		return User{}, false, fmt.Errorf("store: oidc sign-in: %w", Translate(err))
	}
	if err := tx.Commit(); err != nil {
		return User{}, false, fmt.Errorf("store: oidc sign-in: %w", Translate(err))
	}
	db.forgetSessions()
	return u, created, nil
}
