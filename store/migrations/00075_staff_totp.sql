-- +goose Up
-- Staff second factor: a TOTP secret (RFC 6238) per user, sealed under a
-- key derived from the master key named by key_id, and single-use recovery
-- codes stored as hashes. A secret without confirmed_at is an enrolment not
-- yet confirmed with a code. last_step is the time step of the last code
-- accepted: a code is good once.
CREATE TABLE staff_totp (
    user_id       uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed bytea NOT NULL,
    key_id        text NOT NULL,
    confirmed_at  timestamptz,
    last_step     bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE staff_recovery_codes (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash text NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- A staff session that still owes its second factor: 'totp' (enter a code)
-- or 'enrol' (set one up first). NULL is a full session.
ALTER TABLE sessions ADD COLUMN mfa text CHECK (mfa IN ('totp', 'enrol'));
