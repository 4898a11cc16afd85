-- +goose Up
-- Emailed portal sign-in links (issue 15): tokens of a kind of their own,
-- tied to an email's blind index rather than to one request, so they work
-- after every request of the address is closed and erased.
ALTER TABLE tokens DROP CONSTRAINT tokens_kind_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_kind_check
    CHECK (kind IN ('email_verification', 'portal_invitation', 'portal_sign_in'));

-- Attempt budgets over periods longer than a minute (sign-in links an hour):
-- each bucket says when it is full again, and the sweep keeps it until then.
-- NULL (a row written before this column) is full two minutes after its
-- last use, as before.
ALTER TABLE rate_limits ADD COLUMN full_at timestamptz;
CREATE INDEX rate_limits_full_at_idx ON rate_limits (full_at);
