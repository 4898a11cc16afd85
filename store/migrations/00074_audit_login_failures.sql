-- +goose Up
-- Failed staff sign-ins, counted per window, account (the email's blind
-- index), network and reason (store.AuditLoginFailure). The first failure
-- of each group gets an audit row of its own, up to a cap per window; the
-- rest are counted here and reach the trail as one summary row per window
-- once it has closed, and the window's rows are deleted. So a flood of
-- failed logins cannot flood the audit trail.
CREATE TABLE audit_login_failures (
    window_start timestamptz NOT NULL,
    account      bytea       NOT NULL,
    network      text        NOT NULL,
    reason       text        NOT NULL,
    user_id      text        NOT NULL DEFAULT '',
    failures     integer     NOT NULL,
    listed       boolean     NOT NULL DEFAULT false, -- the first failure has a row of its own
    PRIMARY KEY (window_start, account, network, reason)
);

-- +goose Down
DROP TABLE audit_login_failures;
