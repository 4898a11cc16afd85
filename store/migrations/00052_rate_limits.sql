-- +goose Up
-- Attempt budgets shared by every API process (store.TakeToken): a token
-- bucket per scope and key. The key is a keyed hash (the blind index of an
-- account's email), never an address or an email itself. A row idle for a
-- minute is a full bucket again, the same as no row, and is swept.
CREATE TABLE rate_limits (
    scope  text             NOT NULL,
    key    bytea            NOT NULL,
    tokens double precision NOT NULL,
    at     timestamptz      NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX rate_limits_at_idx ON rate_limits (at);

-- +goose Down
DROP TABLE rate_limits;
