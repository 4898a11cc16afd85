-- +goose Up
-- A mistyped email address corrected by staff waits here, sealed under the
-- request's data key, until the request's workflow takes the correction
-- (it may refuse it: the address was verified in the meantime).
ALTER TABLE requests ADD COLUMN corrected_pii bytea;
ALTER TABLE requests ADD COLUMN corrected_email_hash bytea;
