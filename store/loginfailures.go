package store

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
)

// Failed staff sign-ins reach the audit trail in bounded numbers: they are
// counted per window, account, network and reason; the first failure of
// each such group in a window has a row of its own, up to
// LoginFailureRowsPerWindow groups a window; every failure is counted, and
// once the window has closed one summary row says how many there were.
// So whatever an attacker sends, a window adds at most
// LoginFailureRowsPerWindow + 1 rows.
const (
	LoginFailureWindow        = 5 * time.Minute
	LoginFailureRowsPerWindow = 20
)

// LoginFailure is one failed staff sign-in.
type LoginFailure struct {
	UserID  string // the account's user; "" when the email names none
	Account []byte // the email's blind index (crypto.Keyring.BlindIndex): failures are grouped by it
	Address string // the client's address; grouped by network (IPv4 /24, IPv6 /64)
	Reason  string // why it failed: unknown_account, wrong_password, disabled, rate_limited
}

// loginNetwork is the network an address is grouped by: its /24 (IPv4) or
// /64 (IPv6), or the text itself if it does not parse.
func loginNetwork(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p.String()
}

// loginWindow is the start of the current failed-login window.
func (db *DB) loginWindow() time.Time {
	now := time.Now()
	if db.loginNow != nil {
		now = db.loginNow()
	}
	return now.UTC().Truncate(LoginFailureWindow)
}

// AuditLoginFailure records a failed staff sign-in (see LoginFailureWindow):
// as a row of its own (staff.login_failed with the reason and address) when
// it is the first of its group in the window and the window's cap is not
// reached, else only in the count that the window's summary row
// (staff.login_failures) reports once the window has closed. Summaries of
// closed windows are written here and by AnchorAudit.
func (db *DB) AuditLoginFailure(ctx context.Context, f LoginFailure) error {
	window := db.loginWindow()
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		// Under the chain's lock: the cap and the summaries are decided by
		// one process at a time.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(auditLockID)); err != nil {
			return fmt.Errorf("audit lock: %w", err)
		}
		if err := db.flushLoginFailures(ctx, tx); err != nil {
			return err
		}
		const q = `INSERT INTO audit_login_failures (window_start, account, network, reason, user_id, failures)
			VALUES ($1, $2, $3, $4, $5, 1)
			ON CONFLICT (window_start, account, network, reason) DO UPDATE SET failures = audit_login_failures.failures + 1
			RETURNING failures`
		var n int
		if err := tx.GetContext(ctx, &n, q, window, f.Account, loginNetwork(f.Address), f.Reason, f.UserID); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		if n > 1 {
			return nil
		}
		var listed int
		const qListed = `SELECT count(*) FROM audit_login_failures WHERE window_start = $1 AND listed`
		if err := tx.GetContext(ctx, &listed, qListed, window); err != nil {
			return fmt.Errorf("count listed: %w", err)
		}
		if listed >= LoginFailureRowsPerWindow {
			return nil
		}
		const qList = `UPDATE audit_login_failures SET listed = true
			WHERE window_start = $1 AND account = $2 AND network = $3 AND reason = $4`
		if _, err := tx.ExecContext(ctx, qList, window, f.Account, loginNetwork(f.Address), f.Reason); err != nil {
			return fmt.Errorf("list: %w", err)
		}
		_, err := db.AppendAuditTx(ctx, tx, Audit{ActorKind: ActorStaff, ActorID: f.UserID, Action: dsar.AuditStaffLoginFailed,
			Detail: map[string]any{"reason": f.Reason, "address": f.Address}})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: audit failed login: %w", err)
	}
	return nil
}

// flushLoginFailures writes the summary row of each closed window that
// counted a failure without a row of its own, and deletes the closed
// windows' counts, under the chain's lock.
func (db *DB) flushLoginFailures(ctx context.Context, tx *sqlx.Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(auditLockID)); err != nil {
		return fmt.Errorf("store: audit lock: %w", err)
	}
	var groups []struct {
		Window   time.Time `db:"window_start"`
		Account  []byte    `db:"account"`
		Network  string    `db:"network"`
		Reason   string    `db:"reason"`
		UserID   string    `db:"user_id"`
		Failures int       `db:"failures"`
		Listed   bool      `db:"listed"`
	}
	const q = `DELETE FROM audit_login_failures WHERE window_start < $1
		RETURNING window_start, account, network, reason, user_id, failures, listed`
	if err := tx.SelectContext(ctx, &groups, q, db.loginWindow()); err != nil {
		return fmt.Errorf("store: close failed-login windows: %w", err)
	}
	type summary struct {
		failures, unlisted int
		reasons, users     map[string]int
		accounts, networks map[string]bool
	}
	var order []time.Time
	byWindow := map[time.Time]*summary{}
	for _, g := range groups {
		s := byWindow[g.Window]
		if s == nil {
			s = &summary{reasons: map[string]int{}, users: map[string]int{}, accounts: map[string]bool{}, networks: map[string]bool{}}
			byWindow[g.Window] = s
			order = append(order, g.Window)
		}
		s.failures += g.Failures
		s.unlisted += g.Failures
		if g.Listed {
			s.unlisted--
		}
		s.reasons[g.Reason] += g.Failures
		if g.UserID != "" {
			s.users[g.UserID] += g.Failures
		}
		s.accounts[string(g.Account)] = true
		s.networks[g.Network] = true
	}
	slices.SortFunc(order, time.Time.Compare)
	for _, w := range order {
		s := byWindow[w]
		if s.unlisted == 0 { // every failure has its row
			continue
		}
		// Users are staff accounts (a bounded number); unknown emails and
		// networks are only counted, so the row stays small.
		detail := map[string]any{"window_start": w.Format(time.RFC3339), "window_end": w.Add(LoginFailureWindow).Format(time.RFC3339),
			"failures": s.failures, "without_own_row": s.unlisted, "reasons": s.reasons, "users": s.users,
			"accounts": len(s.accounts), "networks": len(s.networks)}
		if _, err := db.AppendAuditTx(ctx, tx, Audit{ActorKind: ActorSystem, Action: dsar.AuditStaffLoginFailures, Detail: detail}); err != nil {
			return err
		}
	}
	return nil
}
