-- +goose Up
-- Failed logins, for the backoff (store.TakeLoginAttempt): per scope (staff
-- or portal), per account (the blind index of the email typed, whether or
-- not an account has it) and per network (a keyed hash of the client's
-- address, an IPv6 /64), so guesses from one network make that network
-- wait without locking the account's owner out elsewhere; the row with an
-- empty network counts the account's failures from every network, beyond a
-- threshold of which a solved captcha is needed. No email, no address.
CREATE TABLE login_failures (
    scope        text        NOT NULL,
    account      bytea       NOT NULL,
    network      bytea       NOT NULL,
    failures     integer     NOT NULL,
    last_at      timestamptz NOT NULL,
    locked_until timestamptz,
    PRIMARY KEY (scope, account, network)
);
CREATE INDEX login_failures_last_at_idx ON login_failures (last_at);

-- +goose Down
DROP TABLE login_failures;
