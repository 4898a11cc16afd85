package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
)

// User is a staff user.
type User struct {
	ID           string     `db:"id" json:"id"`
	Email        string     `db:"email" json:"email"`
	Name         string     `db:"name" json:"name"`
	Role         dsar.Role  `db:"role" json:"role"`
	PasswordHash string     `db:"password_hash" json:"-"`
	DisabledAt   *time.Time `db:"disabled_at" json:"disabled_at,omitempty"`
	CreatedAt    time.Time  `db:"created_at" json:"created_at"`
}

const userColumns = `id, email, name, role, password_hash, disabled_at, created_at`

// CreateUser stores a new user with an id of its own. A taken email is
// ECONFLICT.
func (db *DB) CreateUser(ctx context.Context, u User) (User, error) {
	u.ID = uuid.NewString()
	const q = `INSERT INTO users (id, email, name, role, password_hash)
		VALUES (:id, :email, :name, :role, :password_hash) RETURNING created_at`
	rows, err := db.NamedQueryContext(ctx, q, u)
	if err != nil {
		if dsar.ErrorCode(Translate(err)) == dsar.ECONFLICT {
			return User{}, &dsar.Error{Code: dsar.ECONFLICT, Message: "a user with this email exists",
				Fields: map[string]string{"email": "is taken"}}
		}
		return User{}, fmt.Errorf("store: create user: %w", Translate(err))
	}
	defer rows.Close()
	if rows.Next() {
		_ = rows.Scan(&u.CreatedAt)
	}
	return u, rows.Err()
}

// UserByEmail finds a user by email, case-insensitively. ENOTFOUND if none.
func (db *DB) UserByEmail(ctx context.Context, email string) (User, error) {
	const q = `SELECT ` + userColumns + ` FROM users WHERE lower(email) = lower($1)`
	var u User
	if err := db.GetContext(ctx, &u, q, email); err != nil {
		return User{}, Translate(err)
	}
	return u, nil
}

// User finds a user by id. ENOTFOUND if none.
func (db *DB) User(ctx context.Context, id string) (User, error) {
	if _, err := uuid.Parse(id); err != nil {
		return User{}, dsar.Errorf(dsar.ENOTFOUND, "no such user")
	}
	const q = `SELECT ` + userColumns + ` FROM users WHERE id = $1`
	var u User
	if err := db.GetContext(ctx, &u, q, id); err != nil {
		return User{}, Translate(err)
	}
	return u, nil
}

// Users lists every user by name.
func (db *DB) Users(ctx context.Context) ([]User, error) {
	const q = `SELECT ` + userColumns + ` FROM users ORDER BY name, email`
	us := []User{}
	if err := db.SelectContext(ctx, &us, q); err != nil {
		return nil, fmt.Errorf("store: users: %w", err)
	}
	return us, nil
}

// UsersByRole lists the active users with a role.
func (db *DB) UsersByRole(ctx context.Context, role dsar.Role) ([]User, error) {
	const q = `SELECT ` + userColumns + ` FROM users WHERE role = $1 AND disabled_at IS NULL ORDER BY email`
	us := []User{}
	if err := db.SelectContext(ctx, &us, q, role); err != nil {
		return nil, fmt.Errorf("store: users by role: %w", err)
	}
	return us, nil
}

// UserPatch changes some of a user's fields; nil ones stay.
type UserPatch struct {
	Name         *string
	Role         *dsar.Role
	PasswordHash *string
	Disabled     *bool
}

// UpdateUser changes a user. ENOTFOUND if there is none.
func (db *DB) UpdateUser(ctx context.Context, id string, p UserPatch) (User, error) {
	if _, err := uuid.Parse(id); err != nil {
		return User{}, dsar.Errorf(dsar.ENOTFOUND, "no such user")
	}
	const q = `UPDATE users SET name = coalesce($2, name), role = coalesce($3, role),
		password_hash = coalesce($4, password_hash),
		disabled_at = CASE WHEN $5::boolean IS NULL THEN disabled_at WHEN $5 THEN coalesce(disabled_at, now()) END,
		updated_at = now()
		WHERE id = $1 RETURNING ` + userColumns
	var u User
	if err := db.GetContext(ctx, &u, q, id, p.Name, p.Role, p.PasswordHash, p.Disabled); err != nil {
		return User{}, fmt.Errorf("store: update user %s: %w", id, Translate(err))
	}
	db.forgetSessions()
	return u, nil
}
